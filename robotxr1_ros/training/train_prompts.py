"""The training prompts: train phrasings only, on the training track only.

Every train phrasing of the scored cases (cases/control.py), plus each phrasing of a case that
reads a speed from its instruction (refvel) restated at further speeds (TRAIN_SPEEDS), so the
model learns to copy the speed it is given rather than a handful of values. No evaluation
phrasing and no evaluation speed is ever among them (tested).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from ..cases.control import control_case, eval_phrasings, scored_cases
from ..evaluation.control_cases import ControlPrompt

TRAIN_TRACK = "circle"
# 0.6 to 4.6 m/s in steps of 0.2, without the speeds the evaluation asks for.
TRAIN_SPEEDS = tuple(round(float(v), 1) for v in np.arange(0.6, 4.61, 0.2))
SPEEDS_PER_PHRASING = 4


def eval_speeds() -> set[float]:
    return {ControlPrompt.of(case, text).reference_speed for case, text in eval_phrasings()
            if control_case(case).reference}


def restate_speed(text: str, speed: float) -> str:
    """The phrasing with its one speed replaced.

    >>> restate_speed("Drive at 2.8 meters per second.", 1.4)
    'Drive at 1.4 meters per second.'
    """
    return re.sub(r"-?\d+(?:\.\d+)?", f"{speed:.1f}", text, count=1)


def train_prompts(cases: Iterable[str] | None = None, speeds_per_phrasing: int = SPEEDS_PER_PHRASING,
                  seed: int = 0) -> list[ControlPrompt]:
    """Every train phrasing of `cases` (default: the scored ones) as a ControlPrompt; each phrasing
    of a case that reads a speed also at `speeds_per_phrasing` training speeds drawn (reproducibly)
    from TRAIN_SPEEDS."""
    rng = np.random.default_rng(seed)
    speeds = [speed for speed in TRAIN_SPEEDS if speed not in eval_speeds()]
    prompts = []
    for case in scored_cases() if cases is None else cases:
        for text in control_case(case).train:
            prompts.append(ControlPrompt.of(case, text))
            if control_case(case).reference:
                for speed in rng.choice(speeds, speeds_per_phrasing, replace=False):
                    prompts.append(ControlPrompt.of(case, restate_speed(text, float(speed))))
    return prompts
