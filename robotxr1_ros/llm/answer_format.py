"""The shape of the models' answers, shared by the prompts, the grammars and the parsers.

Both modules answer `<reasoning>...</reasoning>` then `<answer>...</answer>`: the RL training
rewards exactly one block of each, and the parsers look inside the answer block first.

An MPC dict may begin with `**defaults` (Python's unpacking: every parameter at its default,
then any pairs after it): the model decides that an instruction means "back to the defaults",
and the code knows what the defaults are, so a reset is one choice for the model instead of
thirteen numbers to recall.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from ..errors import Robotxr1Error

REASONING_TAG = "reasoning"
ANSWER_TAG = "answer"
PARAMS_VARIABLE = "new_mpc_params"
DEFAULTS_ENTRY = "**defaults"  # first in an MPC dict: every parameter at its default
VERDICT_TRUE = "True"
VERDICT_FALSE = "False"
BLOCK_SEPARATOR = "\n"  # between the reasoning block and the answer block


def open_tag(tag: str) -> str:
    return f"<{tag}>"


def close_tag(tag: str) -> str:
    return f"</{tag}>"


def wrap(tag: str, content: str) -> str:
    return f"{open_tag(tag)}{content}{close_tag(tag)}"


def format_param_dict(values: Mapping[str, float], from_defaults: bool = False) -> str:
    """The dict literal the MPC answer carries; `from_defaults` puts DEFAULTS_ENTRY first.

    >>> format_param_dict({'v_min': -2.0, 'v_max': -0.5}), format_param_dict({}, from_defaults=True)
    ("{'v_min': -2.0, 'v_max': -0.5}", '{**defaults}')
    """
    entries = [DEFAULTS_ENTRY] if from_defaults else []
    entries += [f"'{name}': {_number(value)}" for name, value in values.items()]
    return "{" + ", ".join(entries) + "}"


def mpc_answer(reasoning: str, values: Mapping[str, float], from_defaults: bool = False) -> str:
    """A complete, well-formed MPC answer (for scripted backends and training targets)."""
    answer = wrap(ANSWER_TAG, f"{PARAMS_VARIABLE} = {format_param_dict(values, from_defaults)}")
    return wrap(REASONING_TAG, reasoning) + BLOCK_SEPARATOR + answer


def decision_answer(reasoning: str, adheres: bool) -> str:
    answer = wrap(ANSWER_TAG, VERDICT_TRUE if adheres else VERDICT_FALSE)
    return wrap(REASONING_TAG, reasoning) + BLOCK_SEPARATOR + answer


def mpc_answer_shape() -> str:
    """The answer form shown to the model in the MPC prompt."""
    return (wrap(REASONING_TAG, "one or two short sentences") + BLOCK_SEPARATOR
            + wrap(ANSWER_TAG, f"{PARAMS_VARIABLE} = {{'<name>': <number>, ...}}"))


def decision_answer_shape() -> str:
    return (wrap(REASONING_TAG, "one or two short sentences about the state") + BLOCK_SEPARATOR
            + wrap(ANSWER_TAG, f"{VERDICT_TRUE} or {VERDICT_FALSE}"))


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise Robotxr1Error(f"cannot format a non-finite parameter value {value!r}")
    return repr(float(value))
