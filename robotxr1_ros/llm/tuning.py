"""MPCxR1: instruction -> validated MPC parameters.

The model proposes a parameter dict; parsing.parse_mpc_answer decides what of it is accepted,
clamped or rejected (also against the speeds the instruction names), so the returned MpcParams are
always valid for the controller. On the car
the base is the parameters in force and the specs are the controller's effective (narrowed)
ranges, read from it before each tuning: the prompt, the grammar and the parser all use them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..cases.quantities import find_speeds
from ..params import DEFAULT_PARAM_SET, DEFAULT_SPECS, PARAM_TABLE, MpcParams, ParamSpec, specs_of_set
from .answer_format import REASONING_TAG
from .backends import Backend, Completion, StopCheck
from .grammar import mpc_grammar
from .parsing import ParamUpdate, parse_mpc_answer, tagged_blocks
from .prompts import mpc_messages, require_instruction
from .retrieval import RETRIEVAL_K, Bm25Retriever, memory_retriever

# A short reasoning (the grammar's bound, in characters) before the parameter dict. Measured on
# `eval control` (20 prompts; clipped score / failures / behaviour achieved). The untrained base:
# 200 characters 33.7 % / 2, 60 characters 53.9 % / 2, none 42.9 % / 2. The shipped adapter
# (trained on reasoning of up to 60 characters, sft_data.TARGET_REASONING_CHARS): 60 characters
# 80.8 % / 0 / 19, 40 characters 81.7 % / 0 / 20, 30 58.4 % / 0 / 19, 20 45.6 % / 2 / 18, none
# 19.6 % / 2 / 12. Cut at 40 the reasoning still named the main change and the value the dict
# repeats, and a warm tuning was ~6 % faster than at 60 (bench llm, paired: 0.888 vs 0.949 s).
# The open-instruction adapter (extended parameters, shipped now): 50 and 60 characters 92.0 % /
# 0 / 20; at 40 an earlier stage of it scored 62.0 % / 1: its centre-line reasoning, "To keep to
# the middle of the track: ", names centre_blend only after the 36th character, and cut there the
# dict goes astray. Warm tuning at 50 (bench llm, paired, this 2-core machine): 1.88 s, against
# 1.67 s for the paper adapter at 40 (the extended grammar and prompt alone: 1.79 s).
TUNING_REASONING_CHARS = 50
MAX_TOKENS = 200  # generation budget per answer


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
    def __init__(self, backend: Backend, *, memories: Bm25Retriever | None = None, n_memories: int = RETRIEVAL_K,
                 use_grammar: bool = True, reasoning_chars: int = TUNING_REASONING_CHARS,
                 max_tokens: int = MAX_TOKENS, temperature: float = 0.0, seed: int = 0,
                 base: MpcParams = MpcParams(), specs: Sequence[ParamSpec] = PARAM_TABLE,
                 param_set: str = DEFAULT_PARAM_SET) -> None:
        self.backend = backend
        self.memories = memories if memories is not None else memory_retriever()
        self.n_memories = n_memories
        self.use_grammar = use_grammar
        self.reasoning_chars = reasoning_chars
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.base = base
        self.param_set = param_set  # the parameters the model is asked about (params.PARAM_SETS)
        self.specs = specs_of_set(specs, param_set)

    @property
    def answer_tokens(self) -> int:
        """The most tokens an answer takes beside the prompt."""
        return self.max_tokens

    def grammar(self, specs: Sequence[ParamSpec]) -> str | None:
        return mpc_grammar(specs, reasoning_chars=self.reasoning_chars) if self.use_grammar else None

    def messages(self, instruction: str, specs: Sequence[ParamSpec] | None = None) -> list[dict[str, str]]:
        return tuning_prompt(instruction, self.specs if specs is None else specs, self.n_memories, self.memories)

    def tune(self, instruction: str, base: MpcParams | None = None,
             specs: Sequence[ParamSpec] | None = None, stop: StopCheck | None = None) -> Tuning:
        """Ask for parameters; `base` and `specs` replace the constructor's for this call (the LLM
        node passes what the controller has in force and accepts right now, narrowed here to the
        model's parameter set); `stop` ends the answer early when it is no longer wanted."""
        instruction = require_instruction(instruction)
        base = self.base if base is None else base
        specs = self.specs if specs is None else specs_of_set(specs, self.param_set)
        completion = self.backend.complete(self.messages(instruction, specs), grammar=self.grammar(specs),
                                           max_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed,
                                           stop=stop)
        return tuning_from_text(instruction, completion, base, specs)


def tuning_prompt(instruction: str, specs: Sequence[ParamSpec] = DEFAULT_SPECS, n_memories: int = RETRIEVAL_K,
                  memories: Bm25Retriever | None = None) -> list[dict[str, str]]:
    """The prompt the car asks for parameters with: the memories retrieved for the instruction (from
    the packaged ones by default), the instruction, and `specs`, the ranges the controller accepts."""
    retriever = memory_retriever() if memories is None else memories
    return mpc_messages(instruction, [passage.text for passage in retriever.search(instruction, n_memories)], specs)


def tuning_from_text(instruction: str, completion: Completion, base: MpcParams = MpcParams(),
                     specs: Sequence[ParamSpec] = PARAM_TABLE) -> Tuning:
    """Turn a model answer into validated parameters (pure; shared with the evaluator and trainer),
    checked against the speeds the instruction names (llm/speed_check.py)."""
    update = parse_mpc_answer(completion.text, base, specs, find_speeds(instruction))
    reasoning = " ".join(block.strip() for block in tagged_blocks(completion.text, REASONING_TAG))
    return Tuning(instruction, update, update.apply(base), reasoning, completion)
