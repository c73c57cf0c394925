"""The decision module's hints: every rule's own (decision.py) and the facts about the state that no
one rule owns, written to data/decision_hints.json, which the car retrieves from (llm/retrieval.py).

BM25 breaks ties between equal scores by a passage's place in the file, and the adapters were
trained on what it retrieved, so hints already in the file keep their place when it is written
again; a new hint goes last, a hint no longer defined is dropped.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import Robotxr1Error
from .decision import DECISION_RULES, Hint

HINTS_FILE = Path(__file__).resolve().parent.parent / "data" / "decision_hints.json"
ABOUT = ("Short facts that help the decision model read a state window. Retrieved by BM25 over 'text' and "
         "'keywords'. Written from robotxr1_ros/cases/ by `robotxr1 make-datasets`: edit them there.")

STATE_HINTS = (
    Hint("lateral_speed_high", "A d_speed above 0.5 m/s in magnitude is high: the car is moving sideways fast.",
         ("oscillate", "swerve", "zigzag", "weave", "lateral", "sideways")),
    Hint("crashed", "A crashed car cannot follow any driving instruction except to stop.",
         ("crash", "collision", "hit", "stuck")),
    Hint("facing_wall", "facing_wall true means the car points at a nearby wall and will hit it if it keeps going.",
         ("wall", "facing", "collision", "danger", "safe")),
)


def decision_hints() -> list[Hint]:
    """Every hint: the rules' in rule order, then the state's."""
    return [rule.hint for rule in DECISION_RULES.values() if rule.hint] + list(STATE_HINTS)


def hints_file_text(previous: str | None = None) -> str:
    """The hints file for decision_hints(), in the order of the `previous` file's text where it has them."""
    hints = {hint.id: hint for hint in decision_hints()}
    if len(hints) != len(decision_hints()):
        raise Robotxr1Error(f"two hints share an id: {[hint.id for hint in decision_hints()]}")
    placed = [entry["id"] for entry in json.loads(previous)["hints"]] if previous else []
    order = [name for name in placed if name in hints] + [name for name in hints if name not in placed]
    entries = [{"id": name, "text": hints[name].text, "keywords": list(hints[name].keywords)} for name in order]
    lines = ",\n".join("    " + json.dumps(entry) for entry in entries)
    return f'{{\n  "_about": {json.dumps(ABOUT)},\n  "hints": [\n{lines}\n  ]\n}}\n'
