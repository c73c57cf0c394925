"""The training prompts: train phrasings only, on the training track only.

Every train phrasing of the scored cases (cases/control.py), plus each phrasing of a case that
reads a speed from its instruction (refvel) restated at further speeds (TRAIN_SPEEDS), so the
model learns to copy the speed it is given rather than a handful of values. No evaluation
phrasing and no evaluation speed is ever among them (tested).

For the open instructions (`open_train_prompts`): every intent with train phrasings, each
phrasing also restated by training/augment.py (typos, terse and polite forms, other number
formats and units, synonyms), and compounds of a speed or reverse phrasing with a manner. A
restatement that comes near a held-out phrasing (an evaluation or open-suite one; NEAR_COPY) is
dropped: the augmentation must not write the benchmark's sentences back into the training.
"""
from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable

import numpy as np

from ..cases.control import (
    CONTROL_CASES,
    control_case,
    eval_phrasings,
    open_phrasings,
    parse_reference_speed,
    scored_cases,
)
from ..evaluation.control_cases import ControlPrompt
from .augment import CAREFUL, CAUTIOUS, GENTLE, restatements, with_manner

TRAIN_TRACK = "circle"
TEACHER_TRACKS = (TRAIN_TRACK, "oval")  # where the teacher drives its candidates (none is evaluated on)
# 0.6 to 4.6 m/s in steps of 0.2, without the speeds the evaluation asks for.
TRAIN_SPEEDS = tuple(round(float(v), 1) for v in np.arange(0.6, 4.61, 0.2))
SPEEDS_PER_PHRASING = 4
RESTATEMENTS = 2  # per phrasing, in the open instructions' training prompts
PER_INTENT = 90  # at most this many prompts per intent (drawn), so no intent outweighs the others
NEAR_COPY = 0.8  # difflib ratio of two normalised phrasings at or above which one is a near copy of the other
# Compounds: a phrasing of the first case joined with a manner is an instruction of the second.
COMPOUNDS = (("refvel", GENTLE, "speed_smooth"), ("reverse", CAREFUL, "reverse_careful"))
# Driving that names no direction, speed or line: joined with a word of care it is the smooth intent
# (care without a direction is smoothness), the counterpart of the careful reverses, so that care
# words are not learnt as a sign of reversing. Two manners drawn for each.
CARE_PER_PLAIN = 2
PLAIN_DRIVING = ("Drive the lap", "Go round the track", "Take the corners", "Keep driving", "Drive on",
                 "Do the next lap", "Go through the turns")


def eval_speeds() -> set[float]:
    return {ControlPrompt.of(case, text).reference_speed for case, text in eval_phrasings()
            if control_case(case).reference}


def normalised(text: str) -> str:
    """A phrasing as compared for near copies: lower case, no punctuation, single spaces.

    >>> normalised("Stop,  the car!")
    'stop the car'
    """
    return " ".join(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


def near_copy(text: str, others: Iterable[str]) -> bool:
    """Whether `text` is one of the `others` (normalised) or nearly so (NEAR_COPY).

    >>> near_copy("drive thru the wall", ["Drive through the wall."]), near_copy("Go faster.", ["Stop."])
    (True, False)
    """
    matcher = difflib.SequenceMatcher(None, b=normalised(text))  # b is the side difflib caches
    for other in others:
        matcher.set_seq1(normalised(other))
        if matcher.real_quick_ratio() >= NEAR_COPY and matcher.quick_ratio() >= NEAR_COPY \
                and matcher.ratio() >= NEAR_COPY:
            return True
    return False


def restate_speed(text: str, speed: float) -> str:
    """The phrasing with its one speed replaced.

    >>> restate_speed("Drive at 2.8 meters per second.", 1.4)
    'Drive at 1.4 meters per second.'
    """
    return re.sub(r"-?\d+(?:\.\d+)?", f"{speed:.1f}", text, count=1)


def train_prompts(cases: Iterable[str] | None = None, speeds_per_phrasing: int = SPEEDS_PER_PHRASING,
                  seed: int = 0, open_train: bool = False) -> list[ControlPrompt]:
    """Every train phrasing of `cases` (default: the scored ones; with `open_train`, also their
    open_train phrasings) as a ControlPrompt; each phrasing of a case that reads a speed also at
    `speeds_per_phrasing` training speeds drawn (reproducibly) from TRAIN_SPEEDS."""
    rng = np.random.default_rng(seed)
    speeds = [speed for speed in TRAIN_SPEEDS if speed not in eval_speeds()]
    prompts = []
    for case in scored_cases() if cases is None else cases:
        for text in control_case(case).open_training if open_train else control_case(case).train:
            prompts.append(ControlPrompt.of(case, text))
            if control_case(case).reference is parse_reference_speed:
                for speed in rng.choice(speeds, speeds_per_phrasing, replace=False):
                    prompts.append(ControlPrompt.of(case, restate_speed(text, float(speed))))
    return prompts


def open_train_prompts(restated: int = RESTATEMENTS, per_intent: int = PER_INTENT,
                       seed: int = 0) -> list[ControlPrompt]:
    """Every intent's training prompts (train_prompts over every case with train phrasings), the
    compounds, and `restated` restatements of each (training/augment.py); at most `per_intent`
    of an intent, none at a speed the evaluation asks for, and none generated near a held-out
    phrasing."""
    rng = np.random.default_rng(seed)
    catalogue = train_prompts([name for name, case in CONTROL_CASES.items() if case.train], seed=seed,
                              open_train=True)
    base = list(catalogue)
    for first, manners, compound in COMPOUNDS:
        base += [ControlPrompt.of(compound, with_manner(prompt.text, manners, rng))
                 for prompt in catalogue if prompt.case == first]
    base += [ControlPrompt.of("smooth", with_manner(text, CAUTIOUS, rng))
             for text in PLAIN_DRIVING for _ in range(CARE_PER_PLAIN)]
    catalogue_texts = {prompt.text for prompt in catalogue}
    held_out = eval_speeds()
    held_out_texts = [text for _, text in (*eval_phrasings(), *open_phrasings())]
    prompts: dict[str, list[ControlPrompt]] = {}
    for prompt in base:
        mine = prompts.setdefault(prompt.case, [])
        for text in (prompt.text, *restatements(prompt.text, restated, rng)):
            restated_prompt = ControlPrompt.of(prompt.case, text)
            if not (control_case(prompt.case).reference is parse_reference_speed
                    and round(restated_prompt.reference_speed, 2) in held_out) \
                    and (text in catalogue_texts or not near_copy(text, held_out_texts)):
                mine.append(restated_prompt)
    drawn = []
    for mine in prompts.values():
        keep = sorted(rng.permutation(len(mine))[:per_intent]) if len(mine) > per_intent else range(len(mine))
        drawn += [mine[i] for i in keep]
    return drawn
