"""Stop intents: the instructions that stop the car at once, without waiting for the model.

A model call takes 1-2 s on the car and once answered "Stop the car" with `v_max 1.0`: the car
rolled on. An instruction that is nothing but a stop therefore takes a fast path (llm/supervisor.py):
the standstill set goes to the controller at once, and the decision module confirms the stop
afterwards against the "Don't move" rule. Everything else goes to the model.

The instruction is cut into clauses (at `.,;:!?` and at "and", "then"), and every clause must be
one of:
- a stop, STOP_PHRASES: "stop", "emergency stop", "e-stop", "full stop", "halt", "freeze",
  "stand/stay/hold/keep/be/remain still", "stay put", "stay in place", "stay where you are",
  "hold (your) position", "don't/do not move", "don't/do not drive", "stop moving/driving/rolling/
  going", "brake/come/slow (down)/roll to a (complete/full/dead) stop/halt/standstill", "park";
  optionally with an object ("the car", "the vehicle", "it", ...) and OPENERS/ADVERBS around it
  ("please", "can you", "now", "immediately", "right here", ...);
- something a stop may come with: "wait" (here/there, for me/further instructions), or "stop
  <doing something>" ("Stop oscillating and stand still"), or only openers and adverbs ("Stop. Now!");
and at least one clause must be a stop. So a negation or a condition is never a stop ("don't
stop", "never stop", "drive non-stop", "stop at the finish line", "stop if you see a wall"), nor is
ceasing a behaviour ("stop oscillating", "stop reversing": "stop <verb>ing" stands still only for
moving, driving, rolling and going), nor a stop followed by something else ("stop, then reverse").
Those go to the model, which reads them whole. The list is deliberately short: a word added here
bypasses the model, so a phrase only belongs here when it cannot mean anything but standing still.
"""
from __future__ import annotations

import re
import unicodedata

from ..cases.decision import DECISION_RULES
from ..params import MpcParams

STOP_RULE = "Don't move"  # the decision rule that judges whether a stopped car obeys
# The MPC parameters that hold the car still: what the behaviour catalog drives "Don't move" with
# (v_min = v_max = 0). The safety filter then caps every command to zero speed at once.
_STOPPED = DECISION_RULES[STOP_RULE].behaviour
assert _STOPPED is not None, "the 'Don't move' rule names the behaviour that shows it"
STANDSTILL: dict[str, float] = {name: value for name, value in _STOPPED.params.as_dict().items()
                                if value != MpcParams().as_dict()[name]}

STOP_PHRASES: tuple[str, ...] = (
    r"(?:emergency |e |full )?stop",
    r"halt",
    r"freeze",
    r"(?:stand|stay|hold|keep|be|remain) still",
    r"stay (?:put|in place|where you are)",
    r"hold (?:your )?position",
    r"(?:don't|do not) (?:move|drive)",
    r"stop (?:moving|driving|rolling|going)",
    r"(?:brake|come|slow|slow down|roll) to (?:a )?(?:complete |full |dead )?(?:stop|halt|standstill)",
    r"park",
)
OBJECTS = r"(?:the |your |this )?(?:car|vehicle|robot)|it|yourself"
OPENERS = r"please|ok|okay|hey|just|(?:can|could|would|will) you|i want you to|i need you to|you must|you need to"
ADVERBS = (r"now|right now|immediately|instantly|at once|right away|asap|this instant|quickly|safely|"
           r"completely|fully|here|right here|there|right there|please")
# May come with a stop, never a stop alone.
COMPANIONS = r"wait(?: here| there)?(?: for (?:me|further instructions))?|stop [a-z']+ing"

_AROUND = rf"(?:(?:{OPENERS}|{ADVERBS}) )*"
_AFTER = rf"(?: (?:{ADVERBS}))*"
_STOP = rf"(?:{'|'.join(STOP_PHRASES)})(?: (?:{OBJECTS}))?{_AFTER}"
_STOP_CLAUSE = re.compile(rf"{_AROUND}(?P<stop>{'|'.join(STOP_PHRASES)})(?: (?:{OBJECTS}))?{_AFTER}(?: {_STOP})*")
_COMPANION_CLAUSE = re.compile(rf"{_AROUND}(?:{COMPANIONS}){_AFTER}")
_FILLER_CLAUSE = re.compile(rf"(?:{OPENERS}|{ADVERBS})(?: (?:{OPENERS}|{ADVERBS}))*")
_CLAUSE_BREAKS = re.compile(r"[.,;:!?]+| and then | then | and | & ")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def stop_phrase(instruction: str) -> str:
    """The stop phrase `instruction` asks for ("" unless it is a stop and nothing else).

    >>> stop_phrase("Stop the car!"), stop_phrase("Please come to a complete stop"), stop_phrase("Don't stop")
    ('stop', 'come to a complete stop', '')
    """
    stops = []
    for clause in _clauses(instruction):
        match = _STOP_CLAUSE.fullmatch(clause)
        if match is not None:
            stops.append(match["stop"])
        elif not (_COMPANION_CLAUSE.fullmatch(clause) or _FILLER_CLAUSE.fullmatch(clause)):
            return ""
    return stops[0] if stops else ""


def is_stop(instruction: str) -> bool:
    return bool(stop_phrase(instruction))


def _clauses(instruction: str) -> list[str]:
    """Lower-case clauses of words: apostrophes unified ("don't", "dont" -> "don't"), hyphens
    split words ("e-stop" -> "e stop", "non-stop" -> "non stop"), other symbols dropped."""
    text = unicodedata.normalize("NFKC", instruction).translate(_APOSTROPHES).lower().replace("-", " ")
    text = re.sub(r"\bdont\b", "don't", text)
    clauses = []
    for part in _CLAUSE_BREAKS.split(f" {text} "):
        words = re.sub(r"[^a-z' ]+", " ", part).split()
        if words:
            clauses.append(" ".join(words))
    return clauses
