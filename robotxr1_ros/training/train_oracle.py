"""Oracle parameters for the training prompts, on the training track only.

The packaged oracle cache (evaluation/oracle.py, data/oracle/oracle.json) already holds the
circle's entries for the cases scored at one reference (center, reverse, smooth); its refvel
entries are the evaluation speeds, which training must not see. The training speeds (those named
by the train phrasings) are searched here with a smaller budget and kept in their own cache,
data/training/oracle_train.json, shipped with the package so SFT data builds without a search.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

from ..evaluation.control_cases import EVAL_SCENARIO, SCORED_CASES, ControlPrompt
from ..evaluation.oracle import OracleCache, OracleEntry, SearchBudget, search
from ..llm.phrasings import load_phrasings
from ..track import Track
from ..track.library import get_track

TRAIN_TRACK = "circle"
TRAIN_BUDGET = SearchBudget(random=60, refine=60)  # ~120 rollouts per training speed


def training_oracle_file() -> Path:
    return Path(str(resources.files("robotxr1_ros") / "data" / "training" / "oracle_train.json"))


def train_prompts(cases: Iterable[str] = SCORED_CASES) -> list[ControlPrompt]:
    """Every train phrasing of the scored cases as a ControlPrompt (never an eval phrasing)."""
    phrasings = load_phrasings()
    return [ControlPrompt.of(case, text) for case in cases for text in phrasings[case].train]


@dataclass
class TrainingOracle:
    """Looks a training prompt up in the packaged cache, then in the training cache; searches
    (and saves) what neither holds."""

    track: Track
    packaged: OracleCache
    own: OracleCache
    own_path: Path

    @classmethod
    def load(cls, track_name: str = TRAIN_TRACK, path: str | Path | None = None) -> "TrainingOracle":
        own_path = Path(path) if path is not None else training_oracle_file()
        own = OracleCache.load(own_path)
        if not own.entries:
            own = OracleCache(budget=TRAIN_BUDGET, scenario=EVAL_SCENARIO)
        return cls(get_track(track_name), OracleCache.load(), own, own_path)

    def get(self, prompt: ControlPrompt) -> OracleEntry | None:
        return self.packaged.get(self.track, prompt) or self.own.get(self.track, prompt)

    def entry(self, prompt: ControlPrompt, progress: Callable[[int], None] | None = None) -> OracleEntry:
        found = self.get(prompt)
        if found is None:
            found = search(self.track, prompt, self.own.budget, self.own.scenario, progress)
            self.own.add(found)
            self.own.save(self.own_path)
        return found
