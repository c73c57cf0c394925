"""The driving-case instructions (robotxr1_ros/data/phrasings.json): train and held-out eval lists.

Every refvel phrasing names exactly one speed in m/s, which
evaluation.control_cases.parse_reference_speed reads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from .retrieval import DATA_DIR

PHRASINGS_FILE = DATA_DIR / "phrasings.json"


@dataclass(frozen=True)
class CasePhrasings:
    case: str
    train: tuple[str, ...]
    eval: tuple[str, ...]


@lru_cache(maxsize=None)
def load_phrasings() -> dict[str, CasePhrasings]:
    """Case name -> phrasings, in file order (keys starting with '_' are comments)."""
    data = json.loads(PHRASINGS_FILE.read_text(encoding="utf-8"))
    return {case: CasePhrasings(case, tuple(lists["train"]), tuple(lists["eval"]))
            for case, lists in data.items() if not case.startswith("_")}


def eval_phrasings() -> list[tuple[str, str]]:
    """(case, instruction) for every held-out phrasing, in file order."""
    return [(case, text) for case, phrasings in load_phrasings().items() for text in phrasings.eval]
