"""The driving cases, each written once: what an instruction asks for and how that is judged.

- control.py: the control cases (intents) of the MPC module: the paper's four (center, refvel,
  reverse, smooth), the racing line, and the open benchmark's (stop, slower, faster, walls,
  speed_smooth, reverse_careful, reset, out_of_scope): the RMSE that scores each (if any), its
  "behaviour achieved" check, goal words, reference speed, the teacher's candidate answers and the
  phrasings (train, eval, open).
- decision.py: the decision rules of the decision module (the eight instructions): the label, its
  thresholds, the state text's words, the hint, the restatements and the behaviour that shows it.
- summary.py, behaviours.py, hints.py: what those entries are written with.

Labels, state text, hints, SFT data, the teacher, both evaluators, the behaviour catalog and the
datasets read from here. Adding a case is one entry, then `make data` (`robotxr1 make-datasets`
for the datasets, the hints file and the teacher's choice, then `robotxr1 eval oracle`).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import Robotxr1Error
from .control import CONTROL_CASES, ControlCase
from .decision import DECISION_RULES, DecisionRule


@contextmanager
def registered(*entries: ControlCase | DecisionRule) -> Iterator[None]:
    """The catalog with `entries` added, for the duration of the block (a test's toy cases)."""
    added: list[tuple[dict[str, Any], str]] = []
    try:
        for entry in entries:
            catalog: dict[str, Any] = CONTROL_CASES if isinstance(entry, ControlCase) else DECISION_RULES
            name = entry.name if isinstance(entry, ControlCase) else entry.instruction
            if name in catalog:
                raise Robotxr1Error(f"a case named {name!r} is already registered")
            catalog[name] = entry
            added.append((catalog, name))
        yield
    finally:
        for catalog, name in added:
            del catalog[name]
