"""The two GRPO tasks as lists of prompts with their rewards, and their per-step summaries.

MPC: every training prompt (train phrasings and speeds, never eval ones), the prompt the car builds
for the model's parameter set, the car's MPC grammar, and a ClosedLoopReward on the training track
against the cached default run. Decision: state windows driven on the training track with the decision instructions, the
car's decision grammar, and a DecisionReward against the rule label.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..control.closed_loop import Scenario
from ..evaluation.control_cases import EVAL_SCENARIO, ControlPrompt
from ..llm.decision import DECISION_REASONING_CHARS, decision_prompt
from ..llm.grammar import decision_grammar, mpc_grammar
from ..llm.tuning import TUNING_REASONING_CHARS, tuning_prompt
from ..params import set_specs
from .decision_windows import asked_questions
from .grpo import GrpoPrompt
from .rewards import ClosedLoopReward, DecisionReward, RewardBreakdown, RewardWeights
from .rollouts import DefaultRunCache, RolloutPool
from .train_prompts import TRAIN_TRACK


def control_task(prompts: Sequence[ControlPrompt], defaults: DefaultRunCache, track: str = TRAIN_TRACK,
                 scenario: Scenario = EVAL_SCENARIO, weights: RewardWeights = RewardWeights(),
                 reasoning_chars: int = TUNING_REASONING_CHARS, pool: RolloutPool | None = None,
                 param_set: str = "paper") -> list[GrpoPrompt]:
    defaults.fill(track, prompts, scenario, pool)
    specs = set_specs(param_set)
    grammar = mpc_grammar(specs, reasoning_chars=reasoning_chars)
    return [GrpoPrompt(tuning_prompt(prompt.text, specs), grammar,
                       ClosedLoopReward(track, prompt, defaults.get(track, prompt, scenario), scenario, weights),
                       {"case": prompt.case, "instruction": prompt.text}) for prompt in prompts]


def decision_task(records: Sequence[Mapping[str, Any]], others: int = 2, seed: int = 0,
                  weights: RewardWeights = RewardWeights(),
                  reasoning_chars: int = DECISION_REASONING_CHARS, facts: bool = False,
                  threshold_share: float = 0.0) -> list[GrpoPrompt]:
    """Per record, the questions decision_windows.questions_for picks (every rule it adheres to
    and `others` it does not), each rewarded against its label; `facts`: prompts with the facts lines;
    `threshold_share`: as in sft_data.decision_examples."""
    grammar = decision_grammar(reasoning_chars=reasoning_chars)
    rng = np.random.default_rng([seed, 11])
    return [GrpoPrompt(decision_prompt(asked.question.text, asked.state, facts=facts), grammar,
                       DecisionReward(asked.adheres, weights),
                       {"instruction": asked.question.text, "behaviour": asked.record.get("behaviour", "")})
            for asked in asked_questions(records, rng, others, threshold_share)]


def control_summary(_: Sequence[GrpoPrompt], scored: Sequence[RewardBreakdown]) -> dict[str, float]:
    """Mean clipped improvement (the control score on the training track), failure and parse rates."""
    return {"improvement": float(np.mean([b.components["improvement"] for b in scored])),
            "failure_rate": float(np.mean([bool(b.info["failure"]) for b in scored]))}


def decision_summary(_: Sequence[GrpoPrompt], scored: Sequence[RewardBreakdown]) -> dict[str, float]:
    return {"accuracy": float(np.mean([b.components["correct"] for b in scored]))}
