"""The decision and MPC-tuning prompts, from the template files in ./templates.

Each prompt is a static system message (role, parameter table or feature glossary, answer
form) followed by a user message with everything that changes per call (retrieved hints or
memories, the state, the instruction). The system message is byte-identical across calls, so
llama.cpp keeps its tokens in the KV cache. The decision prompt puts the state last, after the
hints and the instruction: the car asks about one instruction every period, and everything
before the state then comes from the cache. Templates use `${name}` placeholders
(string.Template), so literal braces in them need no escaping.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from string import Template

import numpy as np

from ..cases.decision import state_words
from ..cases.facts import speed_facts
from ..cases.quantities import normalise_speeds
from ..cases.summary import WindowSummary
from ..errors import Robotxr1Error
from ..params import DEFAULT_SPECS, ParamSpec
from .answer_format import decision_answer_shape, mpc_answer_shape
from .features import StateFeatures

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATE_DECIMALS = 2
SERIES_POINTS = 6  # samples shown of a series (the summary statistics cover the whole window)


MAX_INSTRUCTION_CHARS = 500  # a command for a car, not a document: longer text only costs prompt tokens
# Characters that separate words without being seen: control characters (tab, newline, escape)
# and the line and paragraph separators become spaces.
_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# Characters nobody sees, which a model reads all the same: format characters (zero-width space and
# joiners, bidirectional overrides, the byte order mark, tags), private-use and surrogate code points.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Co", "Cs"})
# Unicode's Default_Ignorable_Code_Point ranges outside those categories (variation selectors,
# Hangul fillers, the combining grapheme joiner, ...), and the braille blank that renders as nothing.
_INVISIBLE_RANGES = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800),
                     (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1D173, 0x1D17A),
                     (0xE0000, 0xE0FFF))


class InstructionError(Robotxr1Error):
    """An instruction the modules cannot work with (empty, invisible or too long)."""


def _is_invisible(character: str) -> bool:
    code = ord(character)
    return (unicodedata.category(character) in _INVISIBLE_CATEGORIES
            or any(first <= code <= last for first, last in _INVISIBLE_RANGES))


def _visible_text(text: str) -> str:
    """`text` without invisible characters, with control characters and separators as spaces."""
    return "".join(" " if unicodedata.category(c) in _BREAKING_CATEGORIES else "" if _is_invisible(c) else c
                   for c in text)


def require_instruction(instruction: str) -> str:
    """The instruction as the modules use it: control characters and runs of whitespace become
    single spaces, invisible characters (zero-width, bidirectional overrides, variation
    selectors, ...) go, and it must have a visible character and be at most MAX_INSTRUCTION_CHARS
    long. Its speeds are written the way the models read them (cases/quantities.normalise_speeds:
    "10 km/h" -> "10 km/h (2.78 m/s)", "two and a half metres a second" -> "2.5 m/s"; digits and
    m/s stay byte for byte); the bound applies to that text, and cleaning it again changes nothing.
    Every input path (node topic and parameter, ask, replay, eval) goes through here, so an
    instruction that is refused is refused once, at its door, not at every model call. (Whether its
    prompts fit the model's context is prompt_fit's check, which needs the model's tokenizer.)"""
    given = str(instruction)
    cleaned = " ".join(_visible_text(given).split())
    text = normalise_speeds(cleaned)
    if not text:
        hidden = sorted({f"U+{ord(c):04X}" for c in given if not c.isspace()})
        if hidden:
            raise InstructionError(f"the instruction is empty: it holds only invisible or control characters "
                                   f"({', '.join(hidden[:5])}{', ...' if len(hidden) > 5 else ''}); "
                                   "say what the car should do")
        raise InstructionError("the instruction is empty; say what the car should do")
    if len(text) > MAX_INSTRUCTION_CHARS:
        speeds = " with its speeds in m/s" if text != cleaned else ""
        raise InstructionError(f"the instruction has {len(text)} characters{speeds}; at most "
                               f"{MAX_INSTRUCTION_CHARS} are accepted")
    return text


@cache
def load_template(name: str) -> Template:
    path = TEMPLATE_DIR / f"{name}.txt"
    return Template(path.read_text(encoding="utf-8").rstrip("\n"))


def render(name: str, **values: object) -> str:
    """Fill template `name`; a placeholder without a value is an error, not silent text."""
    try:
        return load_template(name).substitute(values)
    except KeyError as missing:
        raise Robotxr1Error(f"template {name}.txt needs a value for {missing}") from None


def parameter_table_text(specs: Sequence[ParamSpec] = DEFAULT_SPECS) -> str:
    lines = []
    for spec in specs:
        unit = "" if spec.unit in ("", "-") else f", {spec.unit}"
        lines.append(f"- {spec.name}: {spec.meaning}{unit}, {spec.minimum:g} to {spec.maximum:g}, "
                     f"default {spec.default:g}")
    return "\n".join(lines)


@cache
def decision_system_prompt() -> str:
    return render("decision_system", answer_shape=decision_answer_shape())


@cache
def mpc_system_prompt(specs: tuple[ParamSpec, ...] = DEFAULT_SPECS) -> str:
    return render("mpc_system", parameter_table=parameter_table_text(specs), answer_shape=mpc_answer_shape())


def state_text(state: StateFeatures, facts_for: str | None = None) -> str:
    """The state as the decision model reads it: the speed series (the trend), the summary
    statistics the judgement turns on (of the whole window), and what they mean in the hints'
    words (the rules', cases/decision.py), so a small model matches words instead of averaging a list. The state
    is the part of the prompt evaluated anew on every decision (it comes last, after the
    instruction), so it is kept short: ~170 tokens, the series thinned to SERIES_POINTS samples
    (the tokenizer spends four tokens on a number like 3.0). With `facts_for`, an instruction, the
    words say the open intents' rules too, and the lines of cases/facts.py follow (the mean speed
    against every speed the instruction names)."""
    facts = WindowSummary(vars(state))  # the fields by name, unrounded
    words = state_words(facts, open_intents=facts_for is not None)
    crossings = f"{facts.sign_changes} sign change{'' if facts.sign_changes == 1 else 's'}"
    extra = speed_facts(facts_for, facts) if facts_for is not None else []
    return "\n".join([
        f"s_speed: {_series(np.asarray(state.s_speed))} m/s, mean {_f(facts.mean_speed)}: {words['s_speed']}",
        f"d_pos: mean {_f(facts.mean_offset)} m, max |d_pos| {_f(facts.max_abs_offset)} m, "
        f"{crossings}: {words['d_pos']}",
        f"d_speed: mean |d_speed| {_f(facts.mean_abs_lateral_speed)} m/s",
        f"walls: mean d_left {_f(facts.mean_left)} m, mean d_right {_f(facts.mean_right)} m, "
        f"max |d_left - d_right| {_f(facts.max_wall_gap)} m: {words['walls']}",
        f"reversing: {state.reversing}, crashed: {state.crashed}, facing_wall: {state.facing_wall}",
        *extra,
    ])


def _f(value: float) -> str:
    return f"{value:.{STATE_DECIMALS}f}"


def _series(values: np.ndarray) -> str:
    """At most SERIES_POINTS evenly spaced samples, first and last included, at one decimal: the
    trend; the summary beside it carries two decimals.

    >>> _series(np.arange(10.0))
    '[0.0,2.0,4.0,5.0,7.0,9.0]'
    """
    if len(values) > SERIES_POINTS:
        values = values[np.round(np.linspace(0, len(values) - 1, SERIES_POINTS)).astype(int)]
    return "[" + ",".join(f"{v:.1f}" for v in values) + "]"


def decision_messages(instruction: str, state: StateFeatures, hints: Sequence[str] = (),
                      facts: bool = False) -> list[dict[str, str]]:
    """`facts`: the state text with the facts lines for the instruction (off: as the shipped adapters read it)."""
    instruction = require_instruction(instruction)
    user = render("decision_user", hints=_bullets("Hints", hints), instruction=instruction,
                  duration=f"{state.time:.1f}", samples=state.data_samples,
                  state=state_text(state, instruction if facts else None))
    return [{"role": "system", "content": decision_system_prompt()}, {"role": "user", "content": user}]


def mpc_messages(instruction: str, memories: Sequence[str] = (),
                 specs: Sequence[ParamSpec] = DEFAULT_SPECS) -> list[dict[str, str]]:
    """`specs`: the ranges the controller accepts (a car may narrow the table's)."""
    user = render("mpc_user", memories=_bullets("Rules of thumb", memories),
                  instruction=require_instruction(instruction))
    return [{"role": "system", "content": mpc_system_prompt(tuple(specs))}, {"role": "user", "content": user}]


def _bullets(title: str, texts: Sequence[str]) -> str:
    if not texts:
        return ""
    return f"{title}:\n" + "\n".join(f"- {text}" for text in texts) + "\n\n"
