"""The training rewards, as plain functions of a completion's text, and picklable reward objects
bound to one scenario (the pattern of TRL's trl/rewards: a callable taking `completions` and
returning one float per completion, so they also plug into TRL's trainers).

MPC answers (docs/reference.md, "The training reward"): the improvement over the defaults
clipped to [-4, 4], where a crash or an answer without usable parameters scores the failure RMSE
(for an intent outside the paper's score, whose RMSE is not what is asked: +1 if its `achieved`
check passes, else -1, a failure -4; cases/control.py); plus a format reward (exactly one
reasoning and one answer block, in that order), a reward for a parsable parameter dict, a reward
for the fraction of valid parameter names, and a small length penalty so that on-board answers
stay short. Decision answers: correctness plus format.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cases.control import ControlCase, Outcome, control_case
from ..control.closed_loop import Scenario
from ..evaluation.control_cases import EVAL_SCENARIO, FAILURE_RMSE, Baseline, ControlPrompt, improvement, score_params
from ..evaluation.control_eval import NO_PARAMETERS, drive_outcome
from ..llm.answer_format import ANSWER_TAG, REASONING_TAG, close_tag, open_tag
from ..llm.parsing import ParamUpdate, parse_decision, parse_mpc_answer, tagged_blocks
from ..params import PARAM_SPECS, MpcParams
from ..track.library import get_track

IMPROVEMENT_CLIP = 4.0
_KEY = re.compile(r"""['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?\s*:""")


@dataclass(frozen=True)
class RewardWeights:
    format: float = 0.5
    parsable: float = 0.5
    valid_names: float = 0.5
    correct: float = 1.0  # decision answers
    length_free_tokens: int = 80  # answers up to this long cost nothing
    length_per_token: float = 0.002  # then this much per token


def format_reward(text: str) -> float:
    """1.0 for exactly one answer block, after at most one reasoning block, else 0.0 (the car's
    answers carry a reasoning only where its grammar asks for one).

    >>> format_reward("<reasoning>lower v_max</reasoning>\\n<answer>new_mpc_params = {}</answer>")
    1.0
    >>> format_reward("<answer>True</answer>")
    1.0
    >>> format_reward("<answer>x</answer><reasoning>y</reasoning>")
    0.0
    >>> format_reward("<reasoning>a</reasoning><reasoning>b</reasoning><answer>x</answer>")
    0.0
    """
    lowered = text.lower()
    if lowered.count(open_tag(ANSWER_TAG)) != 1 or lowered.count(close_tag(ANSWER_TAG)) != 1:
        return 0.0
    reasoning = (lowered.count(open_tag(REASONING_TAG)), lowered.count(close_tag(REASONING_TAG)))
    if reasoning == (0, 0):
        return 1.0
    if reasoning != (1, 1):
        return 0.0
    return 1.0 if lowered.find(close_tag(REASONING_TAG)) < lowered.find(open_tag(ANSWER_TAG)) else 0.0


def usable_update(text: str, base: MpcParams = MpcParams()) -> ParamUpdate | None:
    """The validated parameter changes of an answer (relative to `base`), or None if it has none
    to drive with.

    >>> usable_update("<answer>new_mpc_params = {'v_max': 2.0}</answer>").changes
    {'v_max': 2.0}
    >>> usable_update("<answer>new_mpc_params = {'v_max': 2.0</answer>") is None
    True
    """
    update = parse_mpc_answer(text, base)
    return update if update.found and update.changes else None


def valid_names_reward(text: str) -> float:
    """Fraction of the answer dict's keys that are parameter names exactly as the table spells them.

    >>> valid_names_reward("<answer>new_mpc_params = {'v_max': 2.0, 'speed': 3}</answer>")
    0.5
    >>> valid_names_reward("no dict at all")
    0.0
    """
    answers = tagged_blocks(text, ANSWER_TAG)
    region = answers[-1] if answers else text
    start, end = region.find("{"), region.rfind("}")
    if start < 0 or end < start:
        return 0.0
    keys = _KEY.findall(region[start + 1:end])
    if not keys:
        return 0.0
    return sum(key in PARAM_SPECS for key in keys) / len(keys)


def length_penalty(n_tokens: int, weights: RewardWeights = RewardWeights()) -> float:
    """A non-positive penalty growing linearly past `length_free_tokens`.

    >>> length_penalty(50), length_penalty(180)
    (0.0, -0.2)
    """
    return 0.0 - round(weights.length_per_token * max(0, n_tokens - weights.length_free_tokens), 9)


def clipped_improvement(default_rmse: float, rmse: float) -> float:
    """The per-prompt improvement clipped to [-4, 4]; a failure's RMSE (69) lands near -4.

    >>> clipped_improvement(2.0, 0.5)
    0.75
    >>> clipped_improvement(1.0, 69.0)
    -4.0
    """
    return float(np.clip(improvement(default_rmse, rmse), -IMPROVEMENT_CLIP, IMPROVEMENT_CLIP))


def decision_correct_reward(text: str, label: bool) -> float:
    """1.0 if the verdict read from `text` equals the rule label, else 0.0 (no verdict: 0.0).

    >>> decision_correct_reward("<reasoning>mean s_speed 2.1</reasoning><answer>True</answer>", True)
    1.0
    >>> decision_correct_reward("<reasoning>x</reasoning><answer>True</answer>", False)
    0.0
    """
    return 1.0 if parse_decision(text).adheres is label else 0.0


@dataclass(frozen=True)
class RewardBreakdown:
    """The components of one completion's reward and their weighted total."""

    total: float
    components: Mapping[str, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)  # e.g. the rollout's RMSE and failure


def _total(components: Mapping[str, float], weights: RewardWeights) -> float:
    scale = {"format": weights.format, "parsable": weights.parsable, "valid_names": weights.valid_names,
             "correct": weights.correct}
    return float(sum(value * scale.get(name, 1.0) for name, value in components.items()))


@dataclass(frozen=True)
class ClosedLoopReward:
    """The MPC reward for one prompt: parameters driven on `track` from the same reset state,
    applied to the parameters the prompt's case starts from.

    Picklable (it holds the track's name, not the track), so rollouts run in worker processes.
    `default` is the prompt's run under the default parameters on the same scenario.
    """

    track: str
    prompt: ControlPrompt
    default: Baseline
    scenario: Scenario = EVAL_SCENARIO
    weights: RewardWeights = RewardWeights()

    def __call__(self, completions: Sequence[str], completion_lengths: Sequence[int] | None = None,
                 **_: Any) -> list[float]:
        lengths = completion_lengths or [0] * len(completions)
        return [self.breakdown(text, n).total for text, n in zip(completions, lengths, strict=True)]

    def breakdown(self, text: str, n_tokens: int = 0) -> RewardBreakdown:
        case = control_case(self.prompt.case)
        start = case.start_params()
        if not case.drives:  # judged on the parameters: any well-formed dict, even an empty one
            update = parse_mpc_answer(text, start)
            usable = update if update.found else None
            achieved = case.achieved(Outcome(update.apply(start) if usable else start, start))
            failure, rmse, behaviour = ("" if usable else NO_PARAMETERS), math.nan, _achieved_score(achieved)
        else:
            usable = usable_update(text, start)
            failure, rmse, behaviour = self._drive(case, start, usable)
        components = {
            "improvement": behaviour,
            "format": format_reward(text),
            "parsable": 1.0 if usable is not None else 0.0,
            "valid_names": valid_names_reward(text),
            "length": length_penalty(n_tokens, self.weights),
        }
        return RewardBreakdown(_total(components, self.weights), components,
                               {"rmse": rmse, "failure": failure, "changes": usable.changes if usable else {}})

    def _drive(self, case: ControlCase, start: MpcParams, update: ParamUpdate | None) -> tuple[str, float, float]:
        """(failure, rmse, behaviour score) of driving the update: the clipped improvement for a
        case of the paper's score, the achieved check's +-1 for another intent, -4 on a failure."""
        if update is None:
            score = clipped_improvement(self.default.rmse, FAILURE_RMSE) if case.scored else -IMPROVEMENT_CLIP
            return NO_PARAMETERS, FAILURE_RMSE, score
        params = update.apply(start)
        run = score_params(get_track(self.track), params, self.prompt, self.scenario)
        if case.scored:
            return run.failure, run.rmse, clipped_improvement(self.default.rmse, run.rmse)
        if run.failure:
            return run.failure, run.rmse, -IMPROVEMENT_CLIP
        return "", run.rmse, _achieved_score(case.achieved(drive_outcome(params, self.default, run)))


def _achieved_score(achieved: bool) -> float:
    return 1.0 if achieved else -1.0


@dataclass(frozen=True)
class DecisionReward:
    """The decision reward for one (instruction, state window): correctness against the rule label
    plus format, minus the length penalty."""

    label: bool
    weights: RewardWeights = RewardWeights()

    def __call__(self, completions: Sequence[str], completion_lengths: Sequence[int] | None = None,
                 **_: Any) -> list[float]:
        lengths = completion_lengths or [0] * len(completions)
        return [self.breakdown(text, n).total for text, n in zip(completions, lengths, strict=True)]

    def breakdown(self, text: str, n_tokens: int = 0) -> RewardBreakdown:
        components = {"correct": decision_correct_reward(text, self.label), "format": format_reward(text),
                      "length": length_penalty(n_tokens, self.weights)}
        return RewardBreakdown(_total(components, self.weights), components, {"label": self.label})
