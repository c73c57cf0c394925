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
from .window_reshape import reshaped


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


def off_quarter_threshold(rng: np.random.Generator, low: float, high: float) -> float:
    """A two-decimal threshold in [low, high] that is not a multiple of 0.25 m/s: the quarters are
    the catalogue's thresholds and those held out to measure how the model generalises.

    >>> values = [off_quarter_threshold(np.random.default_rng(seed), 0.3, 9.5) for seed in range(200)]
    >>> all(0.3 <= v <= 9.5 and round(v * 100) % 25 != 0 for v in values)
    True
    """
    while True:
        value = round(float(rng.uniform(low, high)), 2)
        if round(value * 100) % 25:
            return value


def ask(rule: str, rng: np.random.Generator, original_share: float = 0.5,
        threshold_share: float = 0.0) -> DecisionQuestion:
    """A rule with thresholds (`at_threshold`) at a random one (off_quarter_threshold) with
    probability `threshold_share`; else the instruction itself with probability `original_share`,
    else another way of asking."""
    found = decision_rule(rule)
    if found.at_threshold is not None and threshold_share and rng.random() < threshold_share:
        variant = found.at_threshold(off_quarter_threshold(rng, *found.threshold_range))
        return DecisionQuestion(variant.text, rule, variant.adheres)
    pool = question_pool(rule)
    if len(pool) == 1 or rng.random() < original_share:
        return pool[0]
    return pool[int(rng.integers(1, len(pool)))]


def training_records(windows_per_behaviour: int, variants: int = 0, seed: int = 0,
                     track_name: str = TRAIN_TRACK, reshaped_copies: int = 0) -> list[dict[str, Any]]:
    """Feature records of every behaviour driven on the training track, as catalogued and at
    `variants` random speeds each (`windows_per_behaviour` windows from each drive), each followed
    by `reshaped_copies` copies reshaped as other stacks' windows (training.window_reshape)."""
    track = get_track(track_name)
    rng = np.random.default_rng([seed, 7])
    reshape_rng = np.random.default_rng([seed, 8])  # its own stream: the drives stay those of no copies
    records = []
    for behaviour in behaviours().values():
        drives: list[Behaviour] = [behaviour] + [behaviour.at_random_speed(rng) for _ in range(variants)]
        for index, driven in enumerate(drives):
            for record in generate_behaviour(driven, track, windows_per_behaviour, runs=1, seed=seed + 1000 * index):
                records.append({**record, "behaviour": behaviour.name})
                records += [reshaped(record, reshape_rng) | {"behaviour": f"{behaviour.name} (reshaped)"}
                            for _ in range(reshaped_copies)]
    return records


def questions_for(record: Mapping[str, Any], rng: np.random.Generator, others: int,
                  rules: Sequence[str] | None = None, threshold_share: float = 0.0
                  ) -> list[tuple[DecisionQuestion, bool]]:
    """(question, label) pairs for one record: one question per rule (default: every rule, scored or not) the
    record adheres to, and `others` drawn from the rest. A window adheres to few of the rules, so
    random draws hardly ever show what "Oscillate!" or "Reverse the car" look like when they are met."""
    asked = [(question, question.label(record))
             for question in (ask(rule, rng, threshold_share=threshold_share)
                              for rule in (rule_instructions() if rules is None else rules))]
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
                    others: int, threshold_share: float = 0.0) -> Iterator[AskedQuestion]:
    """Every question questions_for picks about each judgeable record, with the record's state as
    the car reads it (the SFT examples and the GRPO decision task are both made from these)."""
    for window, record in enumerate(records):
        state = features_from_record({k: v for k, v in record.items() if k != "behaviour"})
        if isinstance(state, InsufficientData):
            continue
        for question, adheres in questions_for(record, rng, others, threshold_share=threshold_share):
            yield AskedQuestion(window, record, state, question, adheres)
