"""Closed-loop GRPO: sample a group of answers under the car's grammar, drive or judge each one,
and push the policy towards the answers that scored above their group's mean.

Why our own loop and not TRL's GRPOTrainer: the two things this training needs are the two TRL
does not offer as stable hooks. Sampling under the GBNF grammar needs its experimental
`rollout_func` (whose contract has changed between releases), and the loss must leave out the
tokens the grammar forced, which GRPOTrainer's completion mask cannot express without that same
hook returning extra fields. The loop below is the GRPO objective itself (group-normalised
advantages, token-level policy gradient, optional KL to the base model) in ~100 lines; the
reward objects in rewards.py keep TRL's reward-function signature, so they still plug into TRL.

One step: for each of `prompts_per_step` prompts, G completions are sampled (no gradient),
scored in the rollout pool, and their advantages A_i = (r_i - mean r) / (std r + eps) computed;
then loss = -sum_i,t A_i log p(token_i,t) over the sampled, unforced tokens, divided by their
count (on-policy, one update per sample, so the PPO ratio is 1 and needs no clipping). With
`kl_beta > 0` the k3 estimate of the KL to the base model (the adapter switched off) is added.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .grammar_constraint import GrammarCompiler
from .prefix_sharing import shared_prefix_logits
from .rewards import RewardBreakdown
from .rollouts import RolloutPool
from .run import RunSettings, TrainingRun
from .sampling import SampledGroup, sample_group

ADVANTAGE_EPS = 1e-4


@dataclass(frozen=True)
class GrpoSettings:
    group_size: int = 4
    prompts_per_step: int = 1
    max_new_tokens: int = 200
    temperature: float = 1.0
    top_p: float = 1.0
    kl_beta: float = 0.0  # KL off by default
    workers: int = 1  # rollout processes (0: inline)


@dataclass(frozen=True)
class GrpoPrompt:
    """One training prompt: the car's messages, its grammar, and its picklable reward."""

    messages: list[dict[str, str]]
    grammar: str | None
    reward: Any  # has .breakdown(text, n_tokens) -> RewardBreakdown
    meta: Mapping[str, Any]


def _score(job: tuple[Any, str, int]) -> RewardBreakdown:
    reward, text, n_tokens = job
    return reward.breakdown(text, n_tokens)


def group_advantages(rewards: Sequence[float]) -> np.ndarray:
    """(r - mean) / (std + eps); all zero when every completion scored the same.

    >>> group_advantages([1.0, 1.0]).tolist()
    [0.0, 0.0]
    >>> [round(float(a), 3) for a in group_advantages([0.0, 2.0])]
    [-1.0, 1.0]
    """
    values = np.asarray(rewards, dtype=float)
    return (values - values.mean()) / (values.std() + ADVANTAGE_EPS)


def completion_logprobs(model: Any, group: SampledGroup) -> torch.Tensor:
    """(G, T) log-probabilities of the sampled tokens under `model`; the prompt (the car's
    ~700-token system prompt and instruction) is run once for the G completions."""
    logits = shared_prefix_logits(model, group.prompt, group.completions, group.mask)
    completions = group.completions.to(model.device)
    return torch.log_softmax(logits, dim=-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)


def policy_loss(run: TrainingRun, group: SampledGroup, advantages: np.ndarray,
                kl_beta: float) -> tuple[torch.Tensor, dict[str, float]]:
    trained = (group.mask & ~group.forced).to(run.model.device)
    logprobs = completion_logprobs(run.model, group)
    weights = torch.tensor(advantages, dtype=logprobs.dtype, device=logprobs.device).unsqueeze(1)
    count = trained.sum().clamp(min=1)
    loss = -(weights * logprobs * trained).sum() / count
    stats = {"trained_tokens": float(trained.sum())}
    if kl_beta > 0:
        with torch.no_grad(), run.policy.disable_adapter():
            reference = completion_logprobs(run.model, group)
        log_ratio = reference - logprobs
        kl = (torch.exp(log_ratio) - log_ratio - 1.0) * trained
        loss = loss + kl_beta * kl.sum() / count
        stats["kl"] = float(kl.sum() / count)
    return loss, stats


def train_grpo(settings: RunSettings, prompts: Sequence[GrpoPrompt], grpo: GrpoSettings = GrpoSettings(),
               summarise: Callable[[Sequence[GrpoPrompt], Sequence[RewardBreakdown]], Mapping[str, float]]
               | None = None, kind: str = "grpo") -> TrainingRun:
    """Train on `prompts` (cycled in a seeded order); `summarise` adds task metrics per step."""
    run = TrainingRun(settings, kind, {**vars(grpo), "prompts": len(prompts)})
    if grpo.kl_beta > 0 and settings.lora is None:
        raise ValueError("kl_beta > 0 needs LoRA (the base model is the adapter switched off)")
    grammars = GrammarCompiler(run.tokenizer, run.policy.config.vocab_size)
    step = run.start_step
    with RolloutPool(grpo.workers) as pool:
        for step in run.steps():
            start = time.perf_counter()
            chosen = [prompts[i] for i in run.items_for_step(len(prompts), step, grpo.prompts_per_step)]
            groups = [sample_group(run.policy, run.tokenizer, grammars, p.messages, p.grammar, grpo.group_size,
                                   grpo.max_new_tokens, grpo.temperature, grpo.top_p) for p in chosen]
            sample_seconds = time.perf_counter() - start
            jobs = [(p.reward, text, n) for p, g in zip(chosen, groups, strict=True)
                    for text, n in zip(g.texts, g.lengths, strict=True)]
            scored = pool.map(_score, jobs)
            rollout_seconds = time.perf_counter() - start - sample_seconds
            run.model.train()
            losses, stats = [], {"trained_tokens": 0.0}
            for index, group in enumerate(groups):
                breakdowns = scored[index * grpo.group_size:(index + 1) * grpo.group_size]
                advantages = group_advantages([b.total for b in breakdowns])
                if not np.any(advantages):
                    continue  # no preference within the group: no gradient
                loss, group_stats = policy_loss(run, group, advantages, grpo.kl_beta)
                run.accelerator.backward(loss / len(groups))
                losses.append(float(loss.detach()))
                for key, value in group_stats.items():
                    stats[key] = stats.get(key, 0.0) + value
            norm = run.optimizer_step() if losses else 0.0
            generated = sum(sum(g.lengths) for g in groups)
            row: dict[str, Any] = {
                "reward": float(np.mean([b.total for b in scored])),
                **{f"reward_{name}": float(np.mean([b.components[name] for b in scored]))
                   for name in scored[0].components},
                "loss": float(np.mean(losses)) if losses else 0.0, "grad_norm": norm, "updated_groups": len(losses),
                "completion_tokens": generated, "forced_tokens": int(sum(int(g.forced.sum()) for g in groups)),
                "sample_seconds": sample_seconds, "rollout_seconds": rollout_seconds,
                "seconds": time.perf_counter() - start, "generate_tokens_per_s": generated / max(sample_seconds, 1e-9),
                **stats,
            }
            if summarise is not None:
                row.update(summarise([p for p in chosen for _ in range(grpo.group_size)], scored))
            run.record(step, row)
    run.finish(step)
    return run

