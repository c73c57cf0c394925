"""The decision rules: does a state window adhere to an instruction?

One entry per instruction in DECISION_RULES (docs/reference.md's table, in its order), each
holding everything about it:
- `adheres`: the label, over the window's summary (summary.py), with the thresholds below;
- `evidence`: what the SFT reasoning quotes of the window (training/sft_data.py);
- `words`: what the state text says of the window about it (llm/prompts.state_text; where on the
  text: WORDED_LINES), None for a window it has nothing to say about;
- `hint`: the fact the decision module may retrieve (data/decision_hints.json, written from here);
- `restatements` and `variants`: other ways the training asks it, judged by its rule or, for a
  variant, at another threshold;
- `behaviour`: how to drive a window that shows it (the datasets, bags and training windows);
- `scored`: one of the reference's eight instructions, which the decision accuracy asks. The open
  intents' rules ("Go slower than 3 m/s", "Reverse at 1 m/s", "Drive smoothly") are trained and
  asked by the stress suite, not by the reference's tester; they add no hint or behaviour, and
  their words ("smooth") only to the prompt with facts, so the default prompts (and the hints BM25
  ranks) stay those the earlier adapters were trained on; their windows are the catalog's driven
  at varied speeds. "Stop" is "Don't move"'s.

The labels are the reference's rules to the letter where they are explicit (mean |speed| for
"Don't move", max |d| for "Oscillate!"); where they leave a detail open the papers' tester's choice
is used: "while moving" means mean s_speed > MOVING_SPEED, and a window that is not moving adheres
to "Drive on the centerline" trivially (which no word says). A rule's label, words and hint read
the same thresholds; the labels compare with summary.TOLERANCE, the words (and the variants) the
numbers as they are, as the shipped adapters were trained.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Robotxr1Error
from ..params import MpcParams
from .behaviours import (
    SINE_AMPLITUDE,
    SINE_WAVELENGTH,
    WALL_CLEARANCE,
    Behaviour,
    fast_at_random_speed,
    forward_at_random_speed,
    reversing_at_random_speed,
    scripted_at_random_speed,
)
from .control import SPEED_TOLERANCE
from .summary import WindowSummary, above, at_least, at_most, below

STOPPED_SPEED = 0.1  # m/s: mean |s_speed| and mean |d_speed| below this is standing still
MOVING_SPEED = 0.1  # m/s: mean s_speed above this is driving forward ("while moving" in other rules)
OSCILLATION_AMPLITUDE = 0.3  # m: max |d_pos| at least this ...
OSCILLATION_SIGN_CHANGES = 1  # ... with more sign changes of d_pos than this
CLOSE_TO_WALL = 0.4  # m: a mean wall distance below this is close
CENTERLINE_TOLERANCE = 0.3  # m: |d_left - d_right| at most this at every sample is on the centerline
FAST_SPEED = 3.0  # m/s: mean s_speed above this is faster than 3 m/s
RACING_LINE_TOLERANCE = 0.3  # m: |mean d_pos| at most this is on the racing line
SPEED_THRESHOLDS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.5, 4.0, 4.5, 5.0)  # m/s the training also asks "faster than"
SLOW_SPEED = 3.0  # m/s: mean s_speed below this is slower than 3 m/s
REVERSE_AT_SPEED = 1.0  # m/s: backwards at a mean speed within SPEED_TOLERANCE of this is reversing at 1 m/s
REVERSE_THRESHOLDS = (0.5, 1.5, 2.0)  # m/s the training also asks "reverse at" (the catalog reverses at 0.2-2 m/s)
SPEED_THRESHOLD_RANGE = (0.3, 9.5)  # m/s: any "faster / slower than" threshold the training may ask
REVERSE_THRESHOLD_RANGE = (0.3, 3.0)  # m/s: any "reverse at" speed the training may ask
SMOOTH_ACCELERATION = 1.5  # m/s^2: the largest change of s_speed between two samples, per second, that is smooth
SMOOTH_LATERAL_SPEED = 0.3  # m/s: mean |d_speed| at most this is smooth (no swerving)

Judge = Callable[[WindowSummary], bool]


@dataclass(frozen=True)
class Hint:
    """A short fact that helps the model read a state window, retrieved by BM25 over its text and keywords."""

    id: str
    text: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    """The instruction at another threshold, judged by that threshold."""

    text: str
    adheres: Judge


@dataclass(frozen=True)
class DecisionRule:
    instruction: str
    adheres: Judge
    evidence: Callable[[WindowSummary], str]
    words: Callable[[WindowSummary], str | None] | None = None
    hint: Hint | None = None
    restatements: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    behaviour: Behaviour | None = None
    scored: bool = True
    at_threshold: Callable[[float], Variant] | None = None  # the instruction at any threshold ...
    threshold_range: tuple[float, float] = (0.0, 0.0)  # ... in this range


def standing_still(w: WindowSummary) -> bool:
    """The words' test (no tolerance); "Don't move" labels with `below`."""
    return w.mean_abs_speed < STOPPED_SPEED and w.mean_abs_lateral_speed < STOPPED_SPEED


def moving_forward(w: WindowSummary) -> bool:
    return above(w.mean_speed, MOVING_SPEED)


def close_walls(w: WindowSummary) -> str:
    """
    >>> close_walls(WindowSummary({"d_left": [0.3, 0.3], "d_right": [1.6, 1.6]}))
    'close to the left wall'
    """
    close = [f"close to the {side} wall" for side, distance in (("left", w.mean_left), ("right", w.mean_right))
             if distance < CLOSE_TO_WALL]
    return ", ".join(close or ["close to neither wall"])


def speed_evidence(w: WindowSummary) -> str:
    """What the speed rules read of the window."""
    return f"mean s_speed {w.mean_speed:.2f} m/s"


def faster_than(speed: float) -> Variant:
    return Variant(f"Drive faster than {speed:g} m/s", lambda w: w.mean_speed > speed)


def slower_than(speed: float) -> Variant:
    """Along the track, as "faster than" reads it: a car going backwards is slower than any forward speed."""
    return Variant(f"Go slower than {speed:g} m/s", lambda w: below(w.mean_speed, speed))


def reversing_at(w: WindowSummary, speed: float) -> bool:
    """Backwards along the track at a mean speed within SPEED_TOLERANCE of `speed` (a magnitude),
    the tolerance of the control cases' speed requests."""
    return below(w.mean_speed, 0.0) and at_most(abs(-w.mean_speed - speed), SPEED_TOLERANCE)


def reverse_at(speed: float) -> Variant:
    return Variant(f"Reverse at {speed:g} m/s", lambda w: reversing_at(w, speed))


def smooth(w: WindowSummary) -> bool:
    """Moving forward without abrupt speed changes or swerving; a window held at one speed is smooth.

    >>> smooth(WindowSummary({"time": 2.0, "s_speed": [3.0, 3.5, 4.0], "d_speed": [0.1, 0.0, -0.1]}))
    True
    >>> smooth(WindowSummary({"time": 1.0, "s_speed": [3.0, 4.0, 4.0], "d_speed": [0.0, 0.0, 0.0]}))
    False
    """
    return (moving_forward(w) and at_most(w.max_abs_acceleration, SMOOTH_ACCELERATION)
            and at_most(w.mean_abs_lateral_speed, SMOOTH_LATERAL_SPEED))


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


DECISION_RULES: dict[str, DecisionRule] = {rule.instruction: rule for rule in (
    DecisionRule(
        "Don't move",
        adheres=lambda w: below(w.mean_abs_speed, STOPPED_SPEED) and below(w.mean_abs_lateral_speed, STOPPED_SPEED),
        evidence=lambda w: f"mean |s_speed| {w.mean_abs_speed:.2f} m/s, mean |d_speed| "
                           f"{w.mean_abs_lateral_speed:.2f} m/s",
        words=lambda w: "standing still" if standing_still(w) else None,
        hint=Hint("stopped", f"An s_speed close to 0 (below {STOPPED_SPEED:g} m/s in magnitude) means the car is "
                             "standing still.", ("stop", "still", "move", "halt", "park", "stand", "wait")),
        restatements=("Stop the car.", "Stand still.", "Stay where you are.", "Park the car and wait.",
                      "Halt and do not drive."),
        behaviour=Behaviour("stopped", MpcParams(v_min=0.0, v_max=0.0), start_offset=0.3,
                            note="speed bounds v_min = v_max = 0: the MPC holds the car still, 0.3 m off the "
                                 "racing line")),
    DecisionRule(
        "Reverse the car",
        adheres=lambda w: below(w.mean_speed, 0.0) or w.reversing,
        evidence=lambda w: f"mean s_speed {w.mean_speed:.2f} m/s, reversing {w.reversing}",
        words=lambda w: "moving backwards" if w.mean_speed < 0.0 and not standing_still(w) else None,  # still first
        hint=Hint("backwards", "A negative s_speed means the car travels backwards along the track; reversing is "
                               "true when it drives backwards relative to its own nose.",
                  ("reverse", "backwards", "back", "rear")),
        restatements=("Drive backwards.", "Go in reverse.", "Reverse, please.", "Drive tail first.",
                      "Roll backwards along the track."),
        behaviour=Behaviour("reversing", MpcParams(v_min=-1.5, v_max=-0.5), note="v_max < 0 forces reversing",
                            vary=reversing_at_random_speed)),
    DecisionRule(
        "Drive forward",
        adheres=moving_forward,
        evidence=speed_evidence,
        words=lambda w: "moving forward" if w.mean_speed > MOVING_SPEED else None,
        hint=Hint("forward", f"Driving forward means a mean s_speed above {MOVING_SPEED:g} m/s.",
                  ("forward", "drive", "go", "move", "ahead")),
        restatements=("Go forward.", "Move ahead.", "Keep driving forwards.", "Drive the car forward along the track.",
                      "Go ahead and drive."),
        behaviour=Behaviour("forward", MpcParams(v_max=2.5), note="default weights, v_max = 2.5 m/s",
                            vary=forward_at_random_speed)),
    DecisionRule(
        "Oscillate!",
        adheres=lambda w: w.sign_changes > OSCILLATION_SIGN_CHANGES
        and at_least(w.max_abs_offset, OSCILLATION_AMPLITUDE),
        evidence=lambda w: f"d changes sign {w.sign_changes} times, max |d| {w.max_abs_offset:.2f} m",
        words=lambda w: ("swinging across it" if w.sign_changes > OSCILLATION_SIGN_CHANGES
                         and w.max_abs_offset >= OSCILLATION_AMPLITUDE else "not swinging across it"),
        hint=Hint("oscillating", f"Oscillating means d_pos changes sign more than {_times(OSCILLATION_SIGN_CHANGES)} "
                                 f"and reaches at least {OSCILLATION_AMPLITUDE:g} m in magnitude.",
                  ("oscillate", "slalom", "weave", "zigzag", "wiggle")),
        restatements=("Weave from side to side.", "Zigzag across the racing line.", "Swerve left and right.",
                      "Slalom along the track.", "Wiggle across the line."),
        behaviour=Behaviour("oscillating", MpcParams(qn=60.0, v_max=3.0), path="oscillating", path_speed=2.5,
                            note=f"scripted path: racing line + {SINE_AMPLITUDE} m sine offset, "
                                 f"{SINE_WAVELENGTH:g} m wavelength", vary=scripted_at_random_speed)),
    DecisionRule(
        "Drive close to the left wall",
        adheres=lambda w: below(w.mean_left, CLOSE_TO_WALL) and moving_forward(w),
        evidence=lambda w: f"mean d_left {w.mean_left:.2f} m, mean s_speed {w.mean_speed:.2f} m/s",
        words=close_walls,
        hint=Hint("wall_close", f"A wall closer than {CLOSE_TO_WALL:g} m (d_left or d_right) is close to the car.",
                  ("wall", "close", "near", "left", "right", "hug")),
        restatements=("Hug the left wall.", "Stay near the left boundary.", "Keep tight to the left side.",
                      "Drive along the left wall.", "Move close to the wall on your left."),
        behaviour=Behaviour("close_to_left_wall", MpcParams(track_safety_margin=0.05, v_max=2.5), path="left_wall",
                            path_speed=2.0, note=f"scripted path {WALL_CLEARANCE} m from the left wall",
                            vary=scripted_at_random_speed)),
    DecisionRule(
        "Drive on the centerline",
        adheres=lambda w: not moving_forward(w) or at_most(w.max_wall_gap, CENTERLINE_TOLERANCE),
        evidence=lambda w: f"largest |d_left - d_right| {w.max_wall_gap:.2f} m, mean s_speed {w.mean_speed:.2f} m/s",
        words=lambda w: "on the centerline" if w.max_wall_gap <= CENTERLINE_TOLERANCE else "not on the centerline",
        hint=Hint("centerline", f"Nearly equal d_left and d_right (differing by at most {CENTERLINE_TOLERANCE:g} m) "
                                "mean the car is on the centerline.",
                  ("center", "centre", "middle", "centerline", "midline", "walls")),
        restatements=("Stay centred between the walls.", "Drive down the middle of the track.",
                      "Keep equal distance to both walls.", "Follow the centre line.", "Keep to the midline."),
        behaviour=Behaviour("centerline", MpcParams(qn=60.0, v_max=3.5), path="centre", path_speed=3.0,
                            note="scripted path: the centre line, equidistant to both walls",
                            vary=scripted_at_random_speed)),
    DecisionRule(
        "Drive faster than 3 m/s",
        adheres=lambda w: above(w.mean_speed, FAST_SPEED),
        evidence=speed_evidence,
        hint=Hint("speed_request", "To judge a speed request, compare the mean s_speed with the requested speed in "
                                   "m/s.", ("speed", "fast", "faster", "slow", "slower", "velocity")),
        restatements=("Go faster than 3 m/s.", "Keep your speed above 3 metres per second.",
                      "Drive quicker than 3 m/s."),
        variants=tuple(faster_than(speed) for speed in SPEED_THRESHOLDS),
        behaviour=Behaviour("fast", MpcParams(v_min=3.5), note="v_min = 3.5 m/s keeps the car above 3 m/s",
                            vary=fast_at_random_speed),
        at_threshold=faster_than, threshold_range=SPEED_THRESHOLD_RANGE),
    DecisionRule(
        "Drive on the racing line",
        adheres=lambda w: at_most(abs(w.mean_offset), RACING_LINE_TOLERANCE) and moving_forward(w),
        evidence=lambda w: f"mean d {w.mean_offset:.2f} m, mean s_speed {w.mean_speed:.2f} m/s",
        words=lambda w: ("on the racing line" if abs(w.mean_offset) <= RACING_LINE_TOLERANCE
                         else "off the racing line"),
        hint=Hint("off_raceline", f"A |d_pos| above {RACING_LINE_TOLERANCE:g} m means the car is off the racing line.",
                  ("racing", "line", "raceline", "follow", "ideal")),
        restatements=("Follow the racing line.", "Stick to the ideal line.", "Stay on the racing line.",
                      "Drive the optimal line.", "Keep to the raceline."),
        behaviour=Behaviour("racing_line", MpcParams(), note="default parameters", vary=forward_at_random_speed)),
    # The open intents' rules (not scored: the reference's tester asks the eight above).
    DecisionRule(
        "Go slower than 3 m/s",
        adheres=slower_than(SLOW_SPEED).adheres,
        evidence=speed_evidence,
        restatements=("Keep your speed below 3 m/s.", "Stay under 3 metres per second.",
                      "Drive at less than 3 m/s."),
        variants=tuple(slower_than(speed) for speed in SPEED_THRESHOLDS),
        scored=False, at_threshold=slower_than, threshold_range=SPEED_THRESHOLD_RANGE),
    DecisionRule(
        "Reverse at 1 m/s",
        adheres=reverse_at(REVERSE_AT_SPEED).adheres,
        evidence=speed_evidence,
        restatements=("Drive backwards at 1 m/s.", "Back up at 1 metre per second.",
                      "Go in reverse at 1 m/s."),
        variants=tuple(reverse_at(speed) for speed in REVERSE_THRESHOLDS),
        scored=False, at_threshold=reverse_at, threshold_range=REVERSE_THRESHOLD_RANGE),
    DecisionRule(
        "Drive smoothly",
        adheres=smooth,
        evidence=lambda w: f"largest speed change {w.max_abs_acceleration:.2f} m/s^2, mean |d_speed| "
                           f"{w.mean_abs_lateral_speed:.2f} m/s, mean s_speed {w.mean_speed:.2f} m/s",
        words=lambda w: ("smooth" if smooth(w) else "not smooth") if moving_forward(w) else None,
        restatements=("Drive gently.", "Keep the ride smooth.", "No abrupt speed changes, please."),
        scored=False),
)}

# The lines of the state text that end in words (llm/prompts.state_text): the words of these rules, in
# this order, or the line's default when none of them says anything. A rule with words is named here;
# an open intent's rule (not scored) says its words only in the prompt with facts.
WORDED_LINES: dict[str, tuple[tuple[str, ...], str]] = {
    "s_speed": (("Don't move", "Drive forward", "Drive smoothly", "Reverse the car"), "barely moving"),
    "d_pos": (("Drive on the racing line", "Oscillate!"), ""),
    "walls": (("Drive close to the left wall", "Drive on the centerline"), ""),
}


def decision_instructions() -> tuple[str, ...]:
    """The instructions the decision accuracy asks: the scored rules' (the reference's eight)."""
    return tuple(instruction for instruction, rule in DECISION_RULES.items() if rule.scored)


def rule_instructions() -> tuple[str, ...]:
    """Every rule's instruction, scored or not: what the training and the stress suite ask."""
    return tuple(DECISION_RULES)


def decision_rule(instruction: str) -> DecisionRule:
    try:
        return DECISION_RULES[instruction]
    except KeyError:
        raise Robotxr1Error(f"no label rule for instruction {instruction!r}; known: {list(DECISION_RULES)}") from None


def label(instruction: str, record: Mapping[str, Any]) -> bool:
    """True if the window `record` (a feature record) adheres to `instruction`."""
    return decision_rule(instruction).adheres(WindowSummary(record))


def all_labels(record: Mapping[str, Any]) -> dict[str, bool]:
    """The label of `record` for every instruction the decision accuracy asks (decision_instructions)."""
    summary = WindowSummary(record)
    return {instruction: DECISION_RULES[instruction].adheres(summary) for instruction in decision_instructions()}


def state_words(summary: WindowSummary, open_intents: bool = False) -> dict[str, str]:
    """What each worded line of the state text says; `open_intents`: the open intents' rules' words
    too (the prompt with facts), else exactly the words the earlier adapters were trained on.

    >>> said = state_words(WindowSummary({"s_speed": [-0.7, -0.9], "d_speed": [0.1, 0.1], "d_pos": [0.4, 0.5],
    ...                                   "d_left": [0.3, 0.3], "d_right": [1.6, 1.6]}))
    >>> said["s_speed"], said["d_pos"]
    ('moving backwards', 'off the racing line, not swinging across it')
    >>> said["walls"]
    'close to the left wall, not on the centerline'
    """
    said = {}
    for line, (instructions, default) in WORDED_LINES.items():
        rules = [DECISION_RULES[instruction] for instruction in instructions]
        says = [rule.words for rule in rules if rule.scored or open_intents]
        said[line] = ", ".join(word for say in says if say and (word := say(summary))) or default
    return said
