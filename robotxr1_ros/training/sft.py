"""Supervised warm start on the oracle's and the labels' answers (sft_data.py).

Each example is the car's prompt followed by the target answer and the end-of-turn token; the
loss is the cross-entropy on the answer tokens only (the prompt is context, not something to
imitate). A step averages `batch_size` examples, each its own forward pass (no padding: on a
CPU thread a padded batch costs as much as its parts). Examples are shuffled once per epoch
with the run's seed, so a resumed run continues with the same order.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from .run import RunSettings, TrainingRun
from .sampling import answer_ids, prompt_ids
from .sft_data import SftExample


@dataclass(frozen=True)
class SftSettings:
    batch_size: int = 4


def example_tensors(tokenizer: Any, example: SftExample) -> tuple[torch.Tensor, int]:
    """The example's token ids (prompt + answer + end of turn) and how many of them are the answer."""
    prompt, answer = prompt_ids(tokenizer, example.messages), answer_ids(tokenizer, example.answer)
    return torch.tensor(prompt + answer), len(answer)


def answer_loss(model: Any, ids: torch.Tensor, answer_length: int) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens; logits are computed for the answer positions only
    (the vocabulary projection of the prompt positions would be a fifth of the work for nothing)."""
    ids = ids.unsqueeze(0).to(model.device)
    logits = model(input_ids=ids, logits_to_keep=answer_length + 1).logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, -answer_length:].reshape(-1))


def train_sft(settings: RunSettings, examples: Sequence[SftExample], sft: SftSettings = SftSettings()) -> TrainingRun:
    run = TrainingRun(settings, "sft", {"batch_size": sft.batch_size, "examples": len(examples)})
    tensors = [example_tensors(run.tokenizer, example) for example in examples]
    step = run.start_step
    for step in run.steps():
        start = time.perf_counter()
        run.model.train()
        losses, tokens, answer_tokens = [], 0, 0
        for index in run.items_for_step(len(examples), step, sft.batch_size):
            ids, answer_length = tensors[index]
            loss = answer_loss(run.model, ids, answer_length)
            run.accelerator.backward(loss / sft.batch_size)
            losses.append(float(loss.detach()))
            tokens += len(ids)
            answer_tokens += answer_length
        norm = run.optimizer_step()
        seconds = time.perf_counter() - start
        run.record(step, {"loss": float(np.mean(losses)), "grad_norm": float(norm), "tokens": tokens,
                          "answer_tokens": answer_tokens, "seconds": seconds, "tokens_per_s": tokens / seconds})
    run.finish(step)
    return run
