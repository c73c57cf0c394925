"""A trained run's model in torch, behind the LLM layer's Backend interface.

What the training optimised is the float base plus the adapter in torch; what the car runs is
the exported GGUF in llama.cpp. `robotxr1 eval ... --torch RUN/adapter` scores the former with
the same prompts, grammars, parsers and scoring as the latter, so the export's loss (if any) is
measured, not assumed. Greedy decoding under the same GBNF grammar (xgrammar), and a verdict read
from the next-token probabilities as on the car (`choose`); one torch thread by default.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ..llm.backends import Backend, Completion, Message, StopCheck, option_first_tokens
from .grammar_constraint import GrammarCompiler
from .model_io import configure_torch, float_base_dir, load_policy, load_tokenizer
from .sampling import sample_group


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, adapter_dir: str | Path | None = None, model_path: str | None = None, threads: int = 1) -> None:
        """`adapter_dir`: a run's `adapter/` (None: the float base alone); `model_path`: the GGUF
        the run started from (None: the bundled model)."""
        configure_torch(threads)
        base_dir = float_base_dir(model_path)
        self.tokenizer = load_tokenizer(base_dir)
        self.model = load_policy(base_dir, adapter_dir=adapter_dir) if adapter_dir else load_policy(base_dir, lora=None)
        self.model.eval()
        self.grammars = GrammarCompiler(self.tokenizer, self.model.config.vocab_size)
        self.name = f"torch:{Path(adapter_dir).parent.name if adapter_dir else 'base'}"

    def complete(self, messages: Sequence[Message], *, grammar: str | None = None, max_tokens: int = 200,
                 temperature: float = 0.0, seed: int = 0, stop: StopCheck | None = None) -> Completion:
        start = time.perf_counter()
        group = sample_group(self.model, self.tokenizer, self.grammars, messages, grammar, 1, max_tokens, temperature)
        length = group.lengths[0]
        ended = bool(group.completions[0, length - 1] == self.tokenizer.eos_token_id) if length else False
        return Completion(group.texts[0], int(group.prompt.shape[0]), length, time.perf_counter() - start,
                          finish_reason="stop" if ended else "length")

    @torch.no_grad()
    def choose(self, messages: Sequence[Message], prefix: str, options: Sequence[str], suffix: str = "",
               stop: StopCheck | None = None) -> Completion:
        """As LlamaCppBackend.choose: one forward pass over the prompt + `prefix`; the option whose
        first token is the most likely next token wins (`stop` is not asked: one pass)."""
        start = time.perf_counter()
        head = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False) + prefix
        tokens, firsts = option_first_tokens(
            lambda text: self.tokenizer(text, add_special_tokens=False)["input_ids"], head, options)
        logits = self.model(input_ids=torch.tensor([tokens], device=self.model.device)).logits[0, -1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        scores = {option: float(logprobs[token]) for option, token in firsts.items()}
        best = max(scores, key=lambda option: scores[option])
        return Completion(prefix + best + suffix, len(tokens), 1, time.perf_counter() - start,
                          option_logprobs=scores)
