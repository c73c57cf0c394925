"""GBNF grammars for constrained decoding, generated from the parameter table.

The MPC grammar admits: an optional, length-bounded reasoning block (none with reasoning_chars
0), then exactly one answer block holding one `new_mpc_params = {...}` dict whose keys are table
names in table order, each at most once, and whose values are plain decimals with the sign the
parameter's range allows. The dict may begin with `**defaults` (answer_format.DEFAULTS_ENTRY).
Values can still be out of range (a grammar cannot bound magnitudes cheaply): the parser clamps
them, or rejects them for a safety limit. Pass the controller's effective `specs` so signs and
digits follow a car's narrowed ranges.

llama.cpp silently ignores a grammar it cannot parse, so backends must check that a grammar
loads (`LlamaCppBackend.check_grammar`) and callers must validate the output anyway.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

from ..errors import Robotxr1Error
from ..params import DEFAULT_SPECS, ParamSpec
from .answer_format import (
    ANSWER_TAG,
    BLOCK_SEPARATOR,
    DEFAULTS_ENTRY,
    PARAMS_VARIABLE,
    REASONING_TAG,
    VERDICT_FALSE,
    VERDICT_TRUE,
    close_tag,
    open_tag,
)
from .jump_forward import ForcedLiteral, Grammar

REASONING_CHARS = 200  # bound on the reasoning text (~50 tokens), so the answer fits the token budget
ANSWER_ONLY = 0  # reasoning_chars for an answer without a reasoning block
FRACTION_DIGITS = 2


class GrammarError(Robotxr1Error):
    """A grammar that llama.cpp cannot load."""


def mpc_grammar(specs: Sequence[ParamSpec] = DEFAULT_SPECS, reasoning_chars: int = REASONING_CHARS) -> Grammar:
    names = [spec.name for spec in specs]
    rules = [
        "root ::= reasoning? answer" if reasoning_chars else "root ::= answer",
        *_reasoning_rules(reasoning_chars),
        f'answer ::= {_literal(open_tag(ANSWER_TAG) + PARAMS_VARIABLE + " = {")} body? '
        f'{_literal("}" + close_tag(ANSWER_TAG))}',
        f'body ::= {_literal(DEFAULTS_ENTRY)} ("," " "? params)? | params',
        "params ::= " + " | ".join(_pair_then_rest(index, len(specs)) for index in range(len(specs))),
    ]
    # rest-i: optionally one more pair with a later name, so every name appears at most once.
    for index in range(len(specs) - 1):
        later = " | ".join(_pair_then_rest(j, len(specs)) for j in range(index + 1, len(specs)))
        rules.append(f'rest-{index} ::= ("," " "? ({later}))?')
    for index, spec in enumerate(specs):
        rules.append(f'pair-{index} ::= {_literal(repr(names[index]))} ":" " "? {_number_rule(spec)}')
    return Grammar("\n".join(rules) + "\n", _mpc_forced(names, reasoning_chars))


def decision_grammar(reasoning_chars: int = REASONING_CHARS) -> Grammar:
    rules = [
        f'root ::= {"reasoning " if reasoning_chars else ""}{_literal(open_tag(ANSWER_TAG))} '
        f'({_literal(VERDICT_TRUE)} | {_literal(VERDICT_FALSE)}) {_literal(close_tag(ANSWER_TAG))}',
        *_reasoning_rules(reasoning_chars),
    ]
    before_answer = _after_reasoning(reasoning_chars) if reasoning_chars else ""
    if reasoning_chars:
        forced = [ForcedLiteral("", open_tag(REASONING_TAG), after=0),
                  ForcedLiteral(_in_reasoning(reasoning_chars), _end_of_reasoning() + open_tag(ANSWER_TAG))]
    else:
        forced = [ForcedLiteral("", open_tag(ANSWER_TAG), after=0)]
    forced += [ForcedLiteral(before_answer + re.escape(open_tag(ANSWER_TAG)), verdict + close_tag(ANSWER_TAG),
                             final=True) for verdict in (VERDICT_TRUE, VERDICT_FALSE)]
    return Grammar("\n".join(rules) + "\n", forced)


def choice_grammar(prefix: str, options: Sequence[str], suffix: str = "") -> str:
    """Exactly `prefix`, one of `options`, `suffix`."""
    if not options:
        raise Robotxr1Error("a choice needs at least one option")
    choices = " | ".join(_literal(option) for option in options)
    return f"root ::= {_literal(prefix)} ({choices}) {_literal(suffix)}\n"


def _reasoning_rules(reasoning_chars: int) -> list[str]:
    if reasoning_chars < 0:
        raise Robotxr1Error(f"reasoning_chars must be >= 0 (0: no reasoning block), got {reasoning_chars}")
    if reasoning_chars == ANSWER_ONLY:
        return []
    # No '<' inside the reasoning, so it cannot open or fake a tag; one separator after it, so
    # that everything from its closing tag to the answer's first free character is forced.
    return [
        f"reasoning ::= {_literal(open_tag(REASONING_TAG))} [^<]{{1,{reasoning_chars}}} "
        f"{_literal(_end_of_reasoning())}",
    ]


def _in_reasoning(reasoning_chars: int) -> str:
    """A regular expression for an open reasoning block (jump_forward contexts)."""
    return f"{re.escape(open_tag(REASONING_TAG))}[^<]{{1,{reasoning_chars}}}"


def _end_of_reasoning() -> str:
    return close_tag(REASONING_TAG) + BLOCK_SEPARATOR


def _after_reasoning(reasoning_chars: int) -> str:
    return _in_reasoning(reasoning_chars) + re.escape(_end_of_reasoning())


def _mpc_forced(names: Sequence[str], reasoning_chars: int) -> list[ForcedLiteral]:
    """The MPC answer's forced literals: the tags, the opening of the dict, DEFAULTS_ENTRY and
    every key once their first characters tell them from the others, and the closing of the dict
    and answer."""
    opening = open_tag(ANSWER_TAG) + PARAMS_VARIABLE + " = {"
    before_answer = f"(?:{_after_reasoning(reasoning_chars)})?" if reasoning_chars else ""
    forced = []
    if reasoning_chars:
        # At the very start "<" begins either block; one more character tells them apart.
        start = len(os.path.commonprefix([open_tag(REASONING_TAG), opening])) + 1  # noqa: RUF071  tags, not paths
        forced += [ForcedLiteral("", open_tag(REASONING_TAG), after=start),
                   ForcedLiteral("", opening, after=start),
                   ForcedLiteral(_in_reasoning(reasoning_chars), _end_of_reasoning() + opening)]
    else:
        forced.append(ForcedLiteral("", opening, after=0))
    in_dict = before_answer + re.escape(opening)
    forced.append(ForcedLiteral(in_dict, DEFAULTS_ENTRY, after=1))
    keys = [repr(name) + ":" for name in names]
    for key in keys:
        distinct = next((length for length in range(1, len(key) + 1)
                         if not any(other != key and other.startswith(key[:length]) for other in keys)), None)
        if distinct is not None:
            forced.append(ForcedLiteral(in_dict + "(?:[^}]*, ?)?", key, after=distinct))
    forced.append(ForcedLiteral(in_dict + "[^}]*", "}" + close_tag(ANSWER_TAG), final=True))
    return forced


def _pair_then_rest(index: int, count: int) -> str:
    return f"pair-{index} rest-{index}" if index < count - 1 else f"pair-{index}"


def _number_rule(spec: ParamSpec) -> str:
    """A decimal with at most as many integer digits as the range needs, signed only if allowed."""
    largest = max(abs(spec.minimum), abs(spec.maximum))
    int_digits = len(str(math.floor(largest))) if largest >= 1 else 1
    digits = f"[0-9]{{1,{int_digits}}}"
    fraction = f'("." [0-9]{{1,{FRACTION_DIGITS}}})?'
    if spec.maximum <= 0:
        sign = '"-" '
    elif spec.minimum < 0:
        sign = '"-"? '
    else:
        sign = ""
    return f"{sign}{digits} {fraction}"


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
