"""What the decision model learns from: state windows driven on the training track, and the
questions asked about them.

Windows: the behaviours of the decision rules (cases/decision.py), each also driven at varied
speeds (its `vary`), so a verdict such as "faster than 3 m/s" turns on the numbers and not on one
speed per behaviour. Questions: the decision instructions, their training restatements (judged by
the instruction's rule) and their variants at other thresholds. Never an evaluation phrasing, and
never the evaluation track.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..cases.behaviours import Behaviour
from ..cases.decision import DECISION_RULES, Judge, decision_rule, rule_instructions
from ..cases.summary import WindowSummary
from ..evaluation.behaviours import behaviours
from ..evaluation.decision_dataset import generate_behaviour
from ..llm.features import InsufficientData, StateFeatures, features_from_record
from ..track.library import get_track
from .train_prompts import TRAIN_TRACK


@dataclass(frozen=True)
class DecisionQuestion:
    """An instruction as the car receives it, judged by the rule of a decision instruction (`rule`)
    or, for a variant at another threshold, by its own test."""

    text: str
    rule: str  # a decision instruction
    adheres: Judge | None = None  # None: the rule's

    def label(self, record: Mapping[str, Any]) -> bool:
        return (self.adheres or decision_rule(self.rule).adheres)(WindowSummary(record))


def restatements() -> dict[str, tuple[str, ...]]:
    """Rule -> its training restatements."""
    return {instruction: rule.restatements for instruction, rule in DECISION_RULES.items()}


def question_pool(rule: str) -> list[DecisionQuestion]:
    """Every way the training asks about `rule`: the instruction itself, its restatements and its
    variants at other thresholds.

    >>> [q.text for q in question_pool("Drive faster than 3 m/s")][-1]
    'Drive faster than 5 m/s'
    """
    found = decision_rule(rule)
    return ([DecisionQuestion(rule, rule)] + [DecisionQuestion(text, rule) for text in found.restatements]
            + [DecisionQuestion(variant.text, rule, variant.adheres) for variant in found.variants])


def ask(rule: str, rng: np.random.Generator, original_share: float = 0.5) -> DecisionQuestion:
    """The instruction itself with probability `original_share`, else another way of asking."""
    pool = question_pool(rule)
    if len(pool) == 1 or rng.random() < original_share:
        return pool[0]
    return pool[int(rng.integers(1, len(pool)))]


def training_records(windows_per_behaviour: int, variants: int = 0, seed: int = 0,
                     track_name: str = TRAIN_TRACK) -> list[dict[str, Any]]:
    """Feature records of every behaviour driven on the training track, as catalogued and at
    `variants` random speeds each (`windows_per_behaviour` windows from each drive)."""
    track = get_track(track_name)
    rng = np.random.default_rng([seed, 7])
    records = []
    for behaviour in behaviours().values():
        drives: list[Behaviour] = [behaviour] + [behaviour.at_random_speed(rng) for _ in range(variants)]
        for index, driven in enumerate(drives):
            for record in generate_behaviour(driven, track, windows_per_behaviour, runs=1, seed=seed + 1000 * index):
                records.append({**record, "behaviour": behaviour.name})
    return records


def questions_for(record: Mapping[str, Any], rng: np.random.Generator, others: int,
                  rules: Sequence[str] | None = None) -> list[tuple[DecisionQuestion, bool]]:
    """(question, label) pairs for one record: one question per rule (default: every rule, scored or not) the
    record adheres to, and `others` drawn from the rest. A window adheres to few of the rules, so
    random draws hardly ever show what "Oscillate!" or "Reverse the car" look like when they are met."""
    asked = [(question, question.label(record))
             for question in (ask(rule, rng) for rule in (rule_instructions() if rules is None else rules))]
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
