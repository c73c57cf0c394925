"""MPCxR1: instruction -> validated MPC parameters.

The model proposes a parameter dict; parsing.parse_mpc_answer decides what of it is accepted,
clamped or rejected, so the returned MpcParams are always valid for the controller.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..params import MpcParams
from .answer_format import REASONING_TAG
from .backends import Backend, Completion
from .grammar import REASONING_CHARS, mpc_grammar
from .parsing import ParamUpdate, parse_mpc_answer, tagged_blocks
from .prompts import mpc_messages, require_instruction
from .retrieval import Bm25Retriever, load_memories


@dataclass(frozen=True)
class Tuning:
    instruction: str
    update: ParamUpdate
    params: MpcParams  # the base parameters with the validated update applied
    reasoning: str
    completion: Completion

    def as_dict(self) -> dict[str, Any]:
        return {"instruction": self.instruction, "update": self.update.as_dict(), "params": self.params.as_dict(),
                "reasoning": self.reasoning, "completion": self.completion.as_dict()}


class MPCxR1:
    def __init__(self, backend: Backend, *, memories: Bm25Retriever | None = None, n_memories: int = 3,
                 use_grammar: bool = True, reasoning_chars: int = REASONING_CHARS,
                 max_tokens: int = 200, temperature: float = 0.0, seed: int = 0,
                 base: MpcParams = MpcParams()) -> None:
        self.backend = backend
        self.memories = memories if memories is not None else Bm25Retriever(load_memories())
        self.n_memories = n_memories
        self.grammar = mpc_grammar(reasoning_chars=reasoning_chars) if use_grammar else None
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.base = base

    def messages(self, instruction: str) -> list[dict[str, str]]:
        memories = [passage.text for passage in self.memories.search(instruction, self.n_memories)]
        return mpc_messages(instruction, memories)

    def tune(self, instruction: str) -> Tuning:
        instruction = require_instruction(instruction)
        completion = self.backend.complete(self.messages(instruction), grammar=self.grammar,
                                           max_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed)
        return tuning_from_text(instruction, completion, self.base)


def tuning_from_text(instruction: str, completion: Completion, base: MpcParams = MpcParams()) -> Tuning:
    """Turn a model answer into validated parameters (pure; shared with the evaluator and trainer)."""
    update = parse_mpc_answer(completion.text, base)
    reasoning = " ".join(block.strip() for block in tagged_blocks(completion.text, REASONING_TAG))
    return Tuning(instruction, update, update.apply(base), reasoning, completion)
