"""Whether the prompts an instruction makes fit the model's context, checked when it arrives.

A bound in characters (prompts.MAX_INSTRUCTION_CHARS) is not a bound in tokens: 500 emoji pass
it and make a prompt of ~2,000 tokens, so every model call would fail ("exceeds the context")
while the car kept its old behaviour and nobody was told. So an instruction is measured with the
backends' own tokenizers against their contexts, each module's answer budget included, and
refused at its door (the node's topic and parameter, `robotxr1 ask`) when either module's prompt
would not fit.

The decision prompt also holds the state, whose text changes with every window: it is measured
with WIDEST_STATE, a state written with the widest numbers and the longest descriptions
(SmolLM2's tokenizer: 554 tokens with "Reverse the car", against at most 534 over the 240 states
of the packaged decision dataset), and PROMPT_MARGIN_TOKENS covers numbers that happen to
tokenize longer still. The tuning prompt shows the controller's ranges, which a car may narrow
to numbers of any length: it is measured with the ranges given (the LLM node: the ones last read
from the controller), and measured again when a tuning has read them. A backend that cannot
count tokens (a remote endpoint) is not measured: the server checks.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..params import ParamSpec
from .decision import DecisionxR1
from .features import FeatureConfig, StateFeatures
from .prompts import InstructionError, require_instruction
from .tuning import MPCxR1

PROMPT_MARGIN_TOKENS = 16  # see the module docstring

_WIDE = -10.55  # two integer digits, a sign, and rounding at both decimals shown
# Negative distances are nonsense on a car, but they are the widest text and read as "close to"
# both walls; the offset swings across the racing line at every sample ("N sign changes",
# "off the racing line, swinging across it").
_SAMPLES = FeatureConfig.n_samples
WIDEST_STATE = StateFeatures(
    time=_WIDE, data_samples=100, s_pos=(_WIDE,) * _SAMPLES,
    d_pos=tuple(-30.55 if i % 2 else 9.45 for i in range(_SAMPLES)), s_speed=(_WIDE,) * _SAMPLES,
    d_speed=(_WIDE,) * _SAMPLES, d_left=(_WIDE,) * _SAMPLES, d_right=(2 * _WIDE,) * _SAMPLES,
    reversing=False, crashed=False, facing_wall=False)


class InstructionTooLong(InstructionError):
    """An instruction whose prompt would not fit the model's context with the answer."""


@dataclass(frozen=True)
class PromptSize:
    module: str  # "decision" or "tuning"
    prompt_tokens: int
    answer_tokens: int  # the module's answer budget
    n_ctx: int  # the backend's context window

    @property
    def spare_tokens(self) -> int:
        """What is left of the context (negative: the prompt does not fit)."""
        return self.n_ctx - self.prompt_tokens - self.answer_tokens - PROMPT_MARGIN_TOKENS


def prompt_sizes(instruction: str, decision: DecisionxR1 | None, tuning: MPCxR1,
                 specs: Sequence[ParamSpec] | None = None) -> tuple[PromptSize, ...]:
    """How large each module's prompt for `instruction` is, for the modules whose backend can
    count tokens and knows its context (`decision` None: the tuning's alone). `specs`: the ranges
    the tuning prompt shows (None: the tuning module's own)."""
    instruction = require_instruction(instruction)
    prompts = [("tuning", tuning.backend, tuning.messages(instruction, specs), tuning.answer_tokens)]
    if decision is not None:
        prompts.insert(0, ("decision", decision.backend, decision.messages(instruction, WIDEST_STATE),
                           decision.answer_tokens))
    sizes = []
    for module, backend, messages, answer_tokens in prompts:
        n_ctx = backend.n_ctx
        prompt_tokens = backend.count_tokens(messages) if n_ctx is not None else None
        if n_ctx is not None and prompt_tokens is not None:
            sizes.append(PromptSize(module, prompt_tokens, answer_tokens, n_ctx))
    return tuple(sizes)


def require_fitting_instruction(instruction: str, decision: DecisionxR1 | None, tuning: MPCxR1,
                                specs: Sequence[ParamSpec] | None = None) -> str:
    """The cleaned instruction (prompts.require_instruction), if both modules' prompts for it fit
    their model's context with the answer (`decision` None: the tuning's alone); else
    InstructionTooLong says which prompt and by how much."""
    instruction = require_instruction(instruction)
    sizes = prompt_sizes(instruction, decision, tuning, specs)
    worst = min(sizes, key=lambda size: size.spare_tokens, default=None)
    if worst is not None and worst.spare_tokens < 0:
        raise InstructionTooLong(
            f"the instruction is too long for the model: the {worst.module} prompt it makes has "
            f"{worst.prompt_tokens} tokens, which with the answer ({worst.answer_tokens}) and a margin "
            f"({PROMPT_MARGIN_TOKENS}) is {-worst.spare_tokens} tokens more than the model's context of "
            f"{worst.n_ctx}; shorten the instruction (or raise n_ctx)")
    return instruction
