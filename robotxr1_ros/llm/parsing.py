"""Extract and validate what a model said: the MPC parameter dict and the decision verdict.

These are the only gates between model text and the controller. They never raise on any input
text, and whatever they return is known names with finite values inside the given (effective)
ranges, whose application to the parameters in force passes `check_cross_rules`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cases.quantities import Speed
from ..params import PARAM_SPECS, PARAM_TABLE, MpcParams, ParamError, ParamSpec, check_cross_rules
from .answer_format import ANSWER_TAG, DEFAULTS_ENTRY, PARAMS_VARIABLE, REASONING_TAG, close_tag, open_tag
from .speed_check import beyond_range, read_against_speeds

_ITEM_TEXT_LIMIT = 80  # characters of an offending item quoted back in a rejection
_EXPLANATION_LIMIT = 600
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_UNIT = re.compile(r"\s*(?:m/s\^?2|m/s²|m/s|mps|m)?")
_ASSIGNMENT = re.compile(re.escape(PARAMS_VARIABLE) + r"""['"]?\s*[:=]\s*\{""", re.IGNORECASE)
_AFFIXES = ("weighton", "weight", "param", "mpc")
_MIN_SUFFIX_MATCH = 6  # shorter fragments ("max", "min") are ambiguous


@dataclass(frozen=True)
class Clamped:
    """A proposed value replaced by another, and why."""

    name: str
    proposed: float
    value: float
    reason: str


@dataclass(frozen=True)
class Rejected:
    item: str  # the offending text, shortened
    reason: str


@dataclass(frozen=True)
class ParamUpdate:
    """What a parameter answer changes, and what was done to each proposed item."""

    found: bool  # a parameter dict was found at all
    from_defaults: bool = False  # the dict began with **defaults: every parameter back to its default first
    accepted: Mapping[str, float] = field(default_factory=dict)  # applied as proposed
    # Brought into the effective range, or read in the unit of the instruction's speed (speed_check).
    clamped: Mapping[str, Clamped] = field(default_factory=dict)
    rejected: tuple[Rejected, ...] = ()
    problem: str = ""  # why no dict was found

    @property
    def changes(self) -> dict[str, float]:
        merged = dict(self.accepted)
        merged.update({name: item.value for name, item in self.clamped.items()})
        return merged

    def apply(self, base: MpcParams) -> MpcParams:
        return base.updated(self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "from_defaults": self.from_defaults,
            "accepted": dict(self.accepted),
            "clamped": {name: vars(item) for name, item in self.clamped.items()},
            "rejected": [vars(item) for item in self.rejected],
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Verdict:
    adheres: bool | None  # None: no verdict could be read
    explanation: str
    problem: str = ""


def tagged_blocks(text: str, tag: str) -> list[str]:
    """Contents of every complete <tag>...</tag> block, in order (case-insensitive tags)."""
    lowered = text.lower()
    start_tag, end_tag = open_tag(tag).lower(), close_tag(tag).lower()
    blocks: list[str] = []
    position = 0
    while True:
        start = lowered.find(start_tag, position)
        if start < 0:
            return blocks
        end = lowered.find(end_tag, start + len(start_tag))
        if end < 0:
            return blocks
        blocks.append(text[start + len(start_tag):end])
        position = end + len(end_tag)


def normalise_name(raw: str) -> str | None:
    """The table name a model meant by `raw` (q_v, weight_qv, 'V_MAX' ...), or None."""
    key = re.sub(r"[^a-z0-9]", "", raw.lower())
    candidates = {key}
    for affix in _AFFIXES:
        if key.startswith(affix):
            candidates.add(key[len(affix):])
        if key.endswith(affix):
            candidates.add(key[: -len(affix)])
    for candidate in candidates:
        if candidate in _COMPACT_NAMES:
            return _COMPACT_NAMES[candidate]
    if len(key) >= _MIN_SUFFIX_MATCH:
        matches = [name for compact, name in _COMPACT_NAMES.items() if compact.endswith(key)]
        if len(matches) == 1:
            return matches[0]
    return None


_COMPACT_NAMES = {re.sub(r"[^a-z0-9]", "", name.lower()): name for name in PARAM_SPECS}


def parse_mpc_answer(text: str, base: MpcParams = MpcParams(), specs: Sequence[ParamSpec] = PARAM_TABLE,
                     speeds: Sequence[Speed] = ()) -> ParamUpdate:
    """Find the parameter dict in `text` and validate it against `specs` (the controller's
    effective ranges; the table by default), `base` (the parameters in force) and `speeds` (the
    speeds the instruction names, cases/quantities.find_speeds: speed_check reads each value
    against them first, correcting a figure read in the wrong unit and refusing a speed copied
    into another parameter).

    Out of range: a safety limit is rejected, so its value in force stays ("a_min: 50" must not
    become the hardest legal braking limit), unless it is a speed the instruction asks for, which
    is clamped to the end of the range; any other parameter is clamped. The final set (base
    plus changes) must pass `check_cross_rules`, else the whole dict is rejected: which of the
    parameters the model got wrong is not ours to guess.

    A dict that begins with `**defaults` first sets every parameter of `specs` to its default
    (brought into the effective range); the pairs after it change those.
    """
    body, problem = _find_param_dict(text)
    if body is None:
        return ParamUpdate(found=False, problem=problem)
    effective = {spec.name: spec for spec in specs}
    proposals: dict[str, list[tuple[float, str]]] = {}
    rejected: list[Rejected] = []
    items = _split_items(body)
    from_defaults = bool(items) and _is_defaults_entry(items[0])
    for item in items[from_defaults:]:
        if _is_defaults_entry(item):
            rejected.append(Rejected(item, f"{DEFAULTS_ENTRY} must come first in the dict"))
            continue
        parsed = _parse_item(item)
        if isinstance(parsed, Rejected):
            rejected.append(parsed)
        elif parsed[0] not in effective:
            rejected.append(Rejected(_short(item), f"{parsed[0]} is not tunable here"))
        else:
            name, value = parsed
            proposals.setdefault(name, []).append((value, item))

    accepted: dict[str, float] = {}
    clamped: dict[str, Clamped] = {}
    for name, values in proposals.items():
        distinct = {value for value, _ in values}
        if len(distinct) > 1:
            rejected.extend(Rejected(_short(item), f"{name} is given {len(values)} times with different values")
                            for _, item in values)
            continue
        proposed, spec = distinct.pop(), effective[name]
        # What a refused value leaves in force: after **defaults, the default.
        in_force = spec.clamp(spec.default) if from_defaults else getattr(base, name)
        reading = read_against_speeds(name, proposed, speeds, proposals, in_force)
        if reading.misplaced:
            rejected.append(Rejected(_short(values[0][1]), reading.misplaced))
            continue
        value = reading.value
        if spec.minimum <= value <= spec.maximum:
            if reading.corrected:
                clamped[name] = Clamped(name, proposed, value, reading.corrected)
            else:
                accepted[name] = value
            continue
        side = (f"below the minimum {spec.minimum:g}" if value < spec.minimum
                else f"above the maximum {spec.maximum:g}")
        if reading.asked is not None:
            clamped[name] = Clamped(name, proposed, spec.clamp(value), beyond_range(name, reading, spec))
        elif spec.safety_limit:
            kept = "its default" if from_defaults else format(in_force, "g")
            rejected.append(Rejected(_short(values[0][1]),
                                     f"{value:g} is {side}; a safety limit is not clamped, {name} keeps {kept}"))
        else:
            clamped[name] = Clamped(name, value, spec.clamp(value), f"{value:g} is {side}")

    if from_defaults:
        for spec in specs:
            if spec.name in accepted or spec.name in clamped:
                continue  # set after **defaults (where that value was rejected, the default stands)
            if spec.minimum <= spec.default <= spec.maximum:
                accepted[spec.name] = spec.default
            else:
                clamped[spec.name] = Clamped(spec.name, spec.default, spec.clamp(spec.default),
                                             f"the default {spec.default:g} is outside this car's range")
    update = ParamUpdate(True, from_defaults, accepted, clamped, tuple(rejected))
    try:
        check_cross_rules({**base.as_dict(), **update.changes})
        update.apply(base)  # the table's own checks, a last line of defence
    except ParamError as error:
        return ParamUpdate(True, from_defaults,
                           rejected=(*rejected, Rejected(_short(body), f"inconsistent parameter set: {error}")))
    return update


def parse_decision(text: str) -> Verdict:
    """Read the True/False verdict: the answer block first, then the whole text; in each, a lone
    verdict, a labelled one ("verdict: False"), the deployed phrases ("Continue behavior" /
    "Change behavior"), and last a bare true/false if all of them agree."""
    reasoning = tagged_blocks(text, REASONING_TAG)
    explanation = (reasoning[-1] if reasoning else _strip_tags(text)).strip()[:_EXPLANATION_LIMIT]
    answers = tagged_blocks(text, ANSWER_TAG)
    # Tags are stripped from the full text so "<answer>True" is not read as a labelled verdict.
    searches = ([answers[-1]] if answers else []) + [_strip_tags(text)]
    for region in searches:
        for pattern, unanimous in _VERDICT_PATTERNS:
            verdict = _read_verdict(pattern, unanimous, region)
            if verdict is not None:
                return Verdict(verdict, explanation)
    return Verdict(None, explanation, "no True/False verdict found in the answer")


_TRUE_WORDS = {"true", "yes", "continue"}
# (pattern, unanimous): a labelled verdict counts by its last occurrence; weaker cues (the
# deployed phrases, bare true/false) count only when every occurrence agrees, since prose such
# as "crashed: False" or an echoed "True or False" would otherwise decide the verdict.
_VERDICT_PATTERNS = (
    (re.compile(r"^\W*(true|false|yes|no)\W*$", re.IGNORECASE), False),
    (re.compile(r"\b(?:verdict|adheres?|answer|result|decision)\W{0,3}(?:is\s+)?(true|false|yes|no)\b",
                re.IGNORECASE), False),
    (re.compile(r"\b(continue|change)\s+behaviou?r\b", re.IGNORECASE), True),
    (re.compile(r"\b(true|false)\b", re.IGNORECASE), True),
)


def _read_verdict(pattern: re.Pattern[str], unanimous: bool, text: str) -> bool | None:
    verdicts = [match.group(1).lower() in _TRUE_WORDS for match in pattern.finditer(text)]
    if not verdicts or (unanimous and len(set(verdicts)) > 1):
        return None
    return verdicts[-1]


def _strip_tags(text: str) -> str:
    return re.sub(r"</?\w{1,20}>", " ", text)


def _find_param_dict(text: str) -> tuple[str | None, str]:
    """Body (between the braces) of the dict the model means, preferring the last answer block,
    then the last `new_mpc_params = {...}`, then the last top-level dict naming a known parameter."""
    answers = tagged_blocks(text, ANSWER_TAG)
    regions = ([answers[-1]] if answers else []) + [text]
    problem = "no parameter dict found"
    for region in regions:
        assignments = list(_ASSIGNMENT.finditer(region))
        if assignments:
            opening = assignments[-1].end() - 1
            closing = _matching_brace(region, opening)
            if closing is None:
                problem = f"the {PARAMS_VARIABLE} dict is not closed (answer cut off?)"
                continue
            return region[opening + 1:closing], ""
        for opening, closing in reversed(_top_level_dicts(region)):
            body = region[opening + 1:closing]
            if any(isinstance(_parse_item(item), tuple) or _names_known_parameter(item) or _is_defaults_entry(item)
                   for item in _split_items(body)):
                return body, ""
    return None, problem


def _is_defaults_entry(item: str) -> bool:
    return item.replace(" ", "").lower() == DEFAULTS_ENTRY


def _names_known_parameter(item: str) -> bool:
    key, separator, _ = _partition_pair(item)
    return bool(separator) and normalise_name(key) is not None


def _matching_brace(text: str, opening: int) -> int | None:
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _top_level_dicts(text: str) -> list[tuple[int, int]]:
    spans, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append((start, index))
    return spans


def _split_items(body: str) -> list[str]:
    """Top-level items of a dict body, split at commas, semicolons and newlines."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in body:
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth = max(0, depth - 1)
        if depth == 0 and char in ",;\n":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _partition_pair(item: str) -> tuple[str, str, str]:
    colon, equals = item.find(":"), item.find("=")
    positions = [p for p in (colon, equals) if p >= 0]
    if not positions:
        return item, "", ""
    split = min(positions)
    return item[:split], item[split], item[split + 1:]


def _parse_item(item: str) -> tuple[str, float] | Rejected:
    key, separator, raw_value = _partition_pair(item)
    if not separator:
        return Rejected(_short(item), "not a name: value pair")
    name = normalise_name(key.strip().strip("'\"`"))
    if name is None:
        return Rejected(_short(item), f"unknown parameter {_short(key.strip())!r}")
    value_text = raw_value.split("#", 1)[0].strip()  # models like to add "# comments"
    if len(value_text) >= 2 and value_text[0] == value_text[-1] and value_text[0] in "'\"":
        value_text = value_text[1:-1].strip()  # a number written as a string
    number = _NUMBER.match(value_text)
    if number is None or not _UNIT.fullmatch(value_text, number.end()):
        return Rejected(_short(item), f"{name}: {_short(raw_value.strip())!r} is not a number")
    value = float(number.group())
    if not math.isfinite(value):
        return Rejected(_short(item), f"{name}: {value} is not a finite number")
    return name, value


def _short(text: str) -> str:
    return text if len(text) <= _ITEM_TEXT_LIMIT else text[: _ITEM_TEXT_LIMIT - 3] + "..."
