"""Supervised warm start on the oracle's and the labels' answers (sft_data.py).

Each example is the car's prompt followed by the target answer and the end-of-turn token; the
loss is the cross-entropy on the answer tokens only (the prompt is context, not something to
imitate). A step averages `batch_size` examples. Examples that share a prompt prefix (every MPC
prompt shares the ~500-token system message; the decision examples of one instruction share
everything but the state) are run together: the prefix once, its KV cache shared by their
tails. Examples are shuffled once per epoch with the run's seed, a unit's examples kept
together, so a resumed run continues with the same order.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from ..llm.answer_format import ANSWER_TAG, open_tag
from .prefix_sharing import shared_prefix_logits
from .run import RunSettings, TrainingRun
from .sampling import answer_ids, prompt_ids
from .sft_data import DECISION, SftExample


@dataclass(frozen=True)
class SftSettings:
    batch_size: int = 4
    prefix_grad: bool = False  # shared prefixes without gradients (prefix_sharing): the backward skips them


def example_ids(tokenizer: Any, example: SftExample) -> tuple[list[int], list[int]]:
    """The example's prompt tokens and the tokens it is trained to write (answer + end of turn).

    A verdict-only decision answer is trained as the car reads it (Backend.choose): the prompt
    ends with the opening answer tag and the verdict's first token is the one target. Scored with
    the whole answer, the verdict was one token of twelve, the other eleven fixed by the format,
    and its gradient a twelfth of the step's."""
    prompt = prompt_ids(tokenizer, example.messages)
    opening = open_tag(ANSWER_TAG)
    if example.kind == DECISION and example.answer.startswith(opening):
        head = tokenizer(opening, add_special_tokens=False)["input_ids"]
        full = tokenizer(example.answer, add_special_tokens=False)["input_ids"]
        if full[:len(head)] == head:
            return prompt + head, full[len(head):len(head) + 1]
    return prompt, answer_ids(tokenizer, example.answer)


def example_unit(index: int, example: SftExample) -> tuple[str, Any]:
    """The epoch order keeps a unit's examples together: decision examples of one instruction
    (they share the system message, the hints and the instruction: all but the state); any other
    example is a unit of its own."""
    unit = example.meta.get("unit")
    return (example.kind, unit) if unit is not None else (example.kind, f"example {index}")


def prefix_group(example: SftExample) -> tuple[str, Any]:
    """Within a step, examples of one group run together: the decision examples of one
    instruction, and the MPC examples (they share the ~500-token system message)."""
    return example.kind, example.meta.get("instruction") if example.kind == DECISION else None


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """
    >>> common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]])
    2
    """
    length = min(len(s) for s in sequences)
    for position in range(length):
        if len({s[position] for s in sequences}) > 1:
            return position
    return length


class AnswerLosses(NamedTuple):
    losses: torch.Tensor  # per example, the mean cross-entropy of its answer tokens
    exact: list[bool]  # per example, whether greedy decoding would write its target token for token


def shared_prefix_answer_losses(model: Any, items: Sequence[tuple[list[int], list[int]]],
                                prefix_grad: bool = True) -> AnswerLosses:
    """The answer losses of examples given their prompts; the examples' common prompt prefix is
    run once (prefix_sharing), and logits are computed only where an answer token is predicted."""
    prompts = [prompt for prompt, _ in items]
    # Every tail keeps at least its prompt's last token: that position predicts the first answer
    # token, and it must take part in the gradient even when the prefix does not.
    shared = max(1, min(common_prefix_length(prompts), min(len(prompt) for prompt in prompts) - 1))
    tails = [prompt[shared:] + answer for prompt, answer in items]
    width = max(len(tail) for tail in tails)
    ids = torch.zeros(len(tails), width, dtype=torch.long)
    mask = torch.zeros(len(tails), width, dtype=torch.bool)
    spans = []
    for row, (tail, (_, answer)) in enumerate(zip(tails, items, strict=True)):
        ids[row, :len(tail)] = torch.tensor(tail)
        mask[row, :len(tail)] = True
        spans.append(range(len(tail) - len(answer), len(tail)))
    positions = sorted({position for span in spans for position in span})
    column = {position: index for index, position in enumerate(positions)}
    logits = shared_prefix_logits(model, prompts[0][:shared], ids, mask, predict=positions, prefix_grad=prefix_grad)
    ids = ids.to(logits.device)
    losses, exact = [], []
    for row, span in enumerate(spans):
        columns, targets = [column[position] for position in span], ids[row, span.start:span.stop]
        losses.append(torch.nn.functional.cross_entropy(logits[row, columns], targets))
        exact.append(bool((logits[row, columns].argmax(-1) == targets).all()))
    return AnswerLosses(torch.stack(losses), exact)


def train_sft(settings: RunSettings, examples: Sequence[SftExample], sft: SftSettings = SftSettings()) -> TrainingRun:
    run = TrainingRun(settings, "sft", {"batch_size": sft.batch_size, "prefix_grad": sft.prefix_grad,
                                        "examples": len(examples)})
    tokens = [example_ids(run.tokenizer, example) for example in examples]
    units = [example_unit(index, example) for index, example in enumerate(examples)]
    prefix_groups = [prefix_group(example) for example in examples]
    step = run.start_step
    for step in run.steps():
        start = time.perf_counter()
        run.model.train()
        batch = run.items_for_step(len(examples), step, sft.batch_size, units)
        groups: dict[Any, list[int]] = {}
        for index in batch:
            groups.setdefault(prefix_groups[index], []).append(index)
        losses, verdicts = [], []
        for members in groups.values():
            scored = shared_prefix_answer_losses(run.model, [tokens[i] for i in members], sft.prefix_grad)
            run.accelerator.backward(scored.losses.sum() / len(batch))
            losses += [float(loss) for loss in scored.losses.detach()]
            verdicts += [exact for i, exact in zip(members, scored.exact, strict=True) if examples[i].kind == DECISION]
        norm = run.optimizer_step()
        seconds = time.perf_counter() - start
        total = sum(len(tokens[i][0]) + len(tokens[i][1]) for i in batch)
        run.record(step, {"loss": float(np.mean(losses)), "grad_norm": float(norm), "tokens": total,
                          "answer_tokens": sum(len(tokens[i][1]) for i in batch), "forward_passes": len(groups),
                          "seconds": seconds, "tokens_per_s": total / seconds,
                          # the verdicts read right, before this step's update (a training-set figure)
                          **({"accuracy": float(np.mean(verdicts))} if verdicts else {})})
    run.finish(step)
    return run
