"""Prompt tokens and grammar-constrained sampling of completions from the policy.

The prompt is the chat template applied to the car's messages with the generation prompt, which
tokenizes exactly as llama.cpp sees it on the car (LlamaCppBackend.render + tokenize). A target
or sampled answer is what follows it, closed by the end-of-turn token.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessorList

from .grammar_constraint import GrammarCompiler


def prompt_ids(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> list[int]:
    encoded = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def answer_ids(tokenizer: Any, answer: str) -> list[int]:
    """The answer's tokens followed by the end-of-turn token (what the model must learn to say)."""
    return tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


@dataclass
class SampledGroup:
    """G completions of one prompt, right-padded to a common length."""

    prompt: torch.Tensor  # (P,)
    completions: torch.Tensor  # (G, T)
    mask: torch.Tensor  # (G, T) bool: real tokens (up to and including the end-of-turn token)
    forced: torch.Tensor  # (G, T) bool: tokens the grammar left no choice about
    texts: list[str]
    seconds: float

    @property
    def lengths(self) -> list[int]:
        return [int(n) for n in self.mask.sum(dim=1)]


@torch.no_grad()
def sample_group(model: Any, tokenizer: Any, grammars: GrammarCompiler | None, messages: Sequence[Mapping[str, str]],
                 grammar: str | None, group_size: int, max_new_tokens: int, temperature: float = 1.0,
                 top_p: float = 1.0) -> SampledGroup:
    """`group_size` samples of the answer to `messages`, under `grammar` (GBNF) if given;
    temperature 0 decodes greedily."""
    start = time.perf_counter()
    prompt = torch.tensor(prompt_ids(tokenizer, messages))
    inputs = prompt.unsqueeze(0).repeat(group_size, 1).to(model.device)
    processor = grammars.processor(grammar) if grammar is not None and grammars is not None else None
    sampling = ({"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0
                else {"do_sample": False})
    was_training = model.training
    model.eval()
    output = model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=max_new_tokens,
                            logits_processor=LogitsProcessorList([processor] if processor else []),
                            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                            top_k=0, **sampling)
    model.train(was_training)
    completions = output[:, prompt.shape[0]:].cpu()
    is_eos = completions == tokenizer.eos_token_id
    # Everything after the first end-of-turn token is padding.
    after_eos = (is_eos.cumsum(dim=1) - is_eos.long()) > 0
    mask = ~after_eos
    forced = processor.forced_mask(completions.shape[1]) & mask if processor else torch.zeros_like(mask)
    texts = [tokenizer.decode(row[m & (row != tokenizer.eos_token_id)], skip_special_tokens=False)
             for row, m in zip(completions, mask, strict=True)]
    return SampledGroup(prompt, completions, mask, forced, texts, time.perf_counter() - start)
