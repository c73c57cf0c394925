"""What the decision model learns from: state windows driven on the training track, and the
questions asked about them.

Windows: the catalog's eight behaviours (evaluation.behaviours), each also driven at varied
speeds, so a verdict such as "faster than 3 m/s" turns on the numbers and not on one speed per
behaviour. Questions: the eight decision instructions, their training restatements
(data/training/decision_phrasings.json, judged by the instruction's rule) and the speed question
at other thresholds. Never an evaluation phrasing, and never the evaluation track.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from ..evaluation.behaviours import BEHAVIOURS, Behaviour
from ..evaluation.decision_dataset import generate_behaviour
from ..evaluation.labels import DECISION_INSTRUCTIONS, label
from ..llm.features import InsufficientData, StateFeatures, features_from_record
from ..llm.retrieval import DATA_DIR
from ..track.library import get_track
from .train_prompts import TRAIN_TRACK

PHRASINGS_FILE = DATA_DIR / "training" / "decision_phrasings.json"
SPEED_QUESTION = "Drive faster than 3 m/s"
TRAIN_THRESHOLDS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.5, 4.0, 4.5, 5.0)  # m/s for the speed question


@dataclass(frozen=True)
class DecisionQuestion:
    """An instruction as the car receives it, judged by the rule of one of the eight (`rule`), or
    for the speed question against `faster_than` m/s."""

    text: str
    rule: str  # one of DECISION_INSTRUCTIONS
    faster_than: float | None = None

    def label(self, record: Mapping[str, Any]) -> bool:
        if self.faster_than is not None:
            return float(np.mean(np.asarray(record["s_speed"], dtype=float))) > self.faster_than
        return label(self.rule, record)


@lru_cache(maxsize=None)
def restatements() -> dict[str, tuple[str, ...]]:
    """Rule -> its training restatements, in file order."""
    data = json.loads(PHRASINGS_FILE.read_text(encoding="utf-8"))
    return {rule: tuple(texts) for rule, texts in data.items() if not rule.startswith("_")}


def question_pool(rule: str) -> list[DecisionQuestion]:
    """Every way the training asks about `rule`: the instruction itself, its restatements and,
    for the speed question, the same question at the training thresholds.

    >>> [q.text for q in question_pool("Drive faster than 3 m/s")][-1]
    'Drive faster than 5 m/s'
    """
    pool = [DecisionQuestion(rule, rule)] + [DecisionQuestion(text, rule) for text in restatements().get(rule, ())]
    if rule == SPEED_QUESTION:
        pool += [DecisionQuestion(f"Drive faster than {speed:g} m/s", rule, speed) for speed in TRAIN_THRESHOLDS]
    return pool


def ask(rule: str, rng: np.random.Generator, original_share: float = 0.5) -> DecisionQuestion:
    """The instruction itself with probability `original_share`, else another way of asking."""
    pool = question_pool(rule)
    if len(pool) == 1 or rng.random() < original_share:
        return pool[0]
    return pool[int(rng.integers(1, len(pool)))]


def speed_variants(behaviour: Behaviour, rng: np.random.Generator) -> Behaviour:
    """`behaviour` at a random speed in the range where it still is itself."""
    name, params = behaviour.name, behaviour.params
    if name == "reversing":
        v_max = float(rng.uniform(-1.0, -0.2))
        params = dataclasses.replace(params, v_max=v_max, v_min=float(rng.uniform(-2.0, v_max)))
    elif name in ("forward", "racing_line"):
        v_max = float(rng.uniform(0.3, 7.0))
        params = dataclasses.replace(params, v_min=min(params.v_min, v_max), v_max=v_max)
    elif name == "fast":
        params = dataclasses.replace(params, v_min=float(rng.uniform(2.0, 4.0)))
    elif behaviour.scripted:
        speed = float(rng.uniform(0.8, 4.0))
        return dataclasses.replace(behaviour, params=dataclasses.replace(params, v_max=max(params.v_max, speed + 0.5)),
                                   path_speed=speed)
    return dataclasses.replace(behaviour, params=params)


def training_records(windows_per_behaviour: int, variants: int = 0, seed: int = 0,
                     track_name: str = TRAIN_TRACK) -> list[dict[str, Any]]:
    """Feature records of every behaviour driven on the training track, as catalogued and at
    `variants` random speeds each (`windows_per_behaviour` windows from each drive)."""
    track = get_track(track_name)
    rng = np.random.default_rng([seed, 7])
    records = []
    for behaviour in BEHAVIOURS.values():
        drives = [behaviour] + [speed_variants(behaviour, rng) for _ in range(variants)]
        for index, driven in enumerate(drives):
            for record in generate_behaviour(driven, track, windows_per_behaviour, runs=1, seed=seed + 1000 * index):
                records.append({**record, "behaviour": behaviour.name})
    return records


def questions_for(record: Mapping[str, Any], rng: np.random.Generator, others: int,
                  rules: Sequence[str] = DECISION_INSTRUCTIONS) -> list[tuple[DecisionQuestion, bool]]:
    """(question, label) pairs for one record: one question per rule the record adheres to, and
    `others` drawn from the rest. A window adheres to few of the eight, so random draws hardly
    ever show what "Oscillate!" or "Reverse the car" look like when they are met."""
    asked = [(question, question.label(record)) for question in (ask(rule, rng) for rule in rules)]
    met = [pair for pair in asked if pair[1]]
    unmet = [pair for pair in asked if not pair[1]]
    picked = rng.permutation(len(unmet))[:others]
    return met + [unmet[i] for i in sorted(picked)]


class AskedQuestion(NamedTuple):
    window: int  # the record's index among the records given
    record: Mapping[str, Any]
    state: StateFeatures  # what the car reads of the record
    question: DecisionQuestion
    adheres: bool


def asked_questions(records: Iterable[Mapping[str, Any]], rng: np.random.Generator,
                    others: int) -> Iterator[AskedQuestion]:
    """Every question questions_for picks about each judgeable record, with the record's state as
    the car reads it (the SFT examples and the GRPO decision task are both made from these)."""
    for window, record in enumerate(records):
        state = features_from_record({k: v for k, v in record.items() if k != "behaviour"})
        if isinstance(state, InsufficientData):
            continue
        for question, adheres in questions_for(record, rng, others):
            yield AskedQuestion(window, record, state, question, adheres)
