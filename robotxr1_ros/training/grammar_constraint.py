"""The car's GBNF grammars (llm/grammar.py) as a logits processor for transformers' generate.

Training samples under the same constraint the car decodes with, so the policy is trained on
the distribution it will be run under. xgrammar compiles the GBNF against the tokenizer's
vocabulary and fills a token bitmask per step; this processor applies it to each row of a
batch and records, per step and row, whether the grammar allowed exactly one token. Such a
token is forced: the model had no choice, so it carries no learning signal and the GRPO loss
masks it out.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
import transformers
import xgrammar as xgr


class GrammarCompiler:
    """Compiles GBNF grammars for one tokenizer (cached per grammar text)."""

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        self.vocab_size = vocab_size
        self.eos_token_id = int(tokenizer.eos_token_id)
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=[self.eos_token_id])
        self._compiler = xgr.GrammarCompiler(info, max_threads=1)
        self._compile = lru_cache(maxsize=None)(self._compile_uncached)

    def _compile_uncached(self, gbnf: str) -> xgr.CompiledGrammar:
        return self._compiler.compile_grammar(gbnf, root_rule_name="root")

    def compile(self, gbnf: str) -> xgr.CompiledGrammar:
        return self._compile(gbnf)

    def processor(self, gbnf: str) -> GrammarLogitsProcessor:
        return GrammarLogitsProcessor(self.compile(gbnf), self.vocab_size)

    def matcher(self, gbnf: str) -> xgr.GrammarMatcher:
        return xgr.GrammarMatcher(self.compile(gbnf))


class GrammarLogitsProcessor(transformers.LogitsProcessor):
    """Masks every token the grammar forbids to -inf, row by row; one instance per generate call.

    A row whose grammar has terminated (it accepted the stop token) is left alone: generate
    pads it from then on.
    """

    def __init__(self, compiled: xgr.CompiledGrammar, vocab_size: int) -> None:
        self.compiled = compiled
        self.vocab_size = vocab_size
        self.matchers: list[xgr.GrammarMatcher] = []
        self.bitmask: torch.Tensor | None = None
        self.forced_steps: list[torch.Tensor] = []  # per step: (batch,) bool, exactly one legal token
        self._prompt_length = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        batch = input_ids.shape[0]
        if not self.matchers:
            self.matchers = [xgr.GrammarMatcher(self.compiled) for _ in range(batch)]
            self.bitmask = xgr.allocate_token_bitmask(batch, self.vocab_size)
            self._prompt_length = input_ids.shape[1]
        else:
            assert self.bitmask is not None, "allocated with the matchers, on the first call"
            for row, matcher in enumerate(self.matchers):
                if not matcher.is_terminated() and not matcher.accept_token(int(input_ids[row, -1])):
                    raise RuntimeError(f"row {row}: the sampled token {int(input_ids[row, -1])} breaks the grammar")
        active = [row for row, matcher in enumerate(self.matchers) if not matcher.is_terminated()]
        for row in active:
            self.matchers[row].fill_next_token_bitmask(self.bitmask, row)
        forced = torch.zeros(batch, dtype=torch.bool)
        if active:
            rows = torch.tensor(active)
            masked = scores[rows].float()
            xgr.apply_token_bitmask_inplace(masked, self.bitmask[rows].to(masked.device))
            scores = scores.clone()
            scores[rows] = masked.to(scores.dtype)
            forced[rows] = (torch.isfinite(masked).sum(dim=-1) == 1).cpu()
        self.forced_steps.append(forced)
        return scores

    def forced_mask(self, steps: int) -> torch.Tensor:
        """(batch, steps) bool: the generated tokens the grammar forced."""
        batch = len(self.matchers)
        recorded = (torch.stack(self.forced_steps, dim=1) if self.forced_steps
                    else torch.zeros(batch, 0, dtype=torch.bool))
        if recorded.shape[1] < steps:
            recorded = torch.cat([recorded, torch.zeros(batch, steps - recorded.shape[1], dtype=torch.bool)], dim=1)
        return recorded[:, :steps]
