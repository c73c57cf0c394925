"""Speeds named in an instruction, in m/s, and the instruction as the models read it.

People say "10 km/h", "two and a quarter metres a second" or "2,5 m/s"; the models were trained on
speeds written as digits and m/s ("2.5 m/s", "2.8 meters per second"). Converting units is not a
135M model's job, so the code reads every speed (`find_speeds`) and writes the instruction the
models see (`normalise_speeds`):
- a speed in another unit is written in m/s, its own words kept after it in brackets:
  "Drive at 10 km/h" -> "Drive at 2.78 m/s (10 km/h)". The m/s value comes first because the
  model copies the first figure it reads: the shipped adapter's speed parameters took the m/s
  value for 7 of 8 such phrasings written this way, for 1 of 8 with the m/s value written after
  the original ("10 km/h (2.78 m/s)"; docs/instructions.md);
- a speed in words, with a decimal comma or in another spelling of m/s becomes digits and m/s:
  "two and a quarter metres a second" -> "2.25 m/s", "2,5 mps" -> "2.5 m/s";
- a speed written as digits and "m/s" or "meters/metres per second" stays byte for byte, so the
  prompts the shipped adapters were trained and evaluated on do not change.
Normalising is idempotent: a speed it wrote in m/s before the original is read as that original.

Understood (any case, with typos of the unit words such as "meter/sec", "km/hr", "kmh"):
- units: m/s (m/s, mps, m s^-1, "m per s", "meters per second", "metres a second"), km/h (km/h, kph,
  kmh, kmph, "kilometres per hour", "kilometers an hour"), mph ("miles per hour"), cm/s;
- numbers: digits ("2.25", ".5", "2,5" with a decimal comma, "1,000"), "2 and a half", "2½", words
  ("ten", "twenty-five", "three point five", "two and a quarter", "half a", "three quarters of a");
- ranges: "2-3 m/s", "2 to 3 km/h", "between two and three m/s" (two speeds, one span);
- a sign as written ("-1 m/s", "minus one metre per second"); a direction in words ("backwards at
  1 m/s") is left to the model, the value read is always a magnitude;
- a change rather than a target ("2 km/h faster", "by 1 m/s") is marked `relative`.
Not speeds: accelerations ("2 m/s²", "m/s/s", "metres per second squared"), distances ("0.5 m"),
times ("in 5 seconds"), counts ("3 laps", "turn 2", "the 1st corner"), lists without spaces ("1,2,3").
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

MPS, KMH, MPH, CMS = "m/s", "km/h", "mph", "cm/s"
TO_MPS = {MPS: 1.0, KMH: 1.0 / 3.6, MPH: 0.44704, CMS: 0.01}
SHOWN_DECIMALS = 2  # m/s as the models see them: the speeds in the training phrasings have one or two


@dataclass(frozen=True)
class Speed:
    """One speed an instruction names; a range names two, with the same span."""

    start: int  # the span in the instruction: sign, number(s) and unit as written (not the m/s normalising adds)
    end: int
    text: str
    figure: float  # the number as written, in `unit` (a magnitude)
    unit: str  # MPS, KMH, MPH or CMS
    negative: bool = False  # written with a minus ("-1 m/s", "minus one m/s")
    relative: bool = False  # a change ("2 km/h faster", "by 1 m/s"), not a target speed

    @property
    def metres_per_second(self) -> float:
        """The magnitude in m/s."""
        return self.figure * TO_MPS[self.unit]

    @property
    def signed(self) -> float:
        """m/s with the sign as written."""
        return -self.metres_per_second if self.negative else self.metres_per_second

    @property
    def shown(self) -> str:
        """The magnitude in m/s as the models see it, e.g. '2.78'."""
        return format_number(self.metres_per_second)

    def describe(self) -> str:
        """The speed in its unit, with its m/s value when another unit: "10 km/h = 2.78 m/s"."""
        written = f"{'-' if self.negative else ''}{format_number(self.figure)} {self.unit}"
        return written if self.unit == MPS else f"{written} = {'-' if self.negative else ''}{self.shown} m/s"


def format_number(value: float) -> str:
    """A figure as normalising writes it: at most SHOWN_DECIMALS decimals, no trailing zeros.

    >>> format_number(10 / 3.6), format_number(2.5), format_number(36 / 3.6)
    ('2.78', '2.5', '10')
    """
    rounded = round(abs(value), SHOWN_DECIMALS)
    return ("-" if value < 0 and rounded else "") + f"{rounded:g}"


def find_speeds(text: str) -> tuple[Speed, ...]:
    """Every speed `text` names, in order.

    >>> [(s.text, round(s.metres_per_second, 3)) for s in find_speeds("Go 10 km/h, then 2 and a half m/s")]
    [('10 km/h', 2.778), ('2 and a half m/s', 2.5)]
    """
    return tuple(speed for mention in _mentions(text) for speed in mention.speeds(text))


def normalise_speeds(text: str) -> str:
    """`text` with each speed the way the models read it (the module docstring says how).

    >>> normalise_speeds("Drive at 10 km/h")
    'Drive at 2.78 m/s (10 km/h)'
    >>> normalise_speeds("Hold two and a quarter metres a second.")
    'Hold 2.25 m/s.'
    >>> normalise_speeds("Drive at 2.8 meters per second.")
    'Drive at 2.8 meters per second.'
    """
    pieces, position = [], 0
    for mention in _mentions(text):
        rewritten = mention.normalised(text)
        if rewritten is not None:
            pieces += [text[position:mention.start], rewritten]
            position = mention.end
    return "".join(pieces) + text[position:]


# -- tokens ---------------------------------------------------------------------------------------

class _Token(NamedTuple):
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        return self.text.lower()


# Thousands ("1,000"), a decimal comma not in a list ("2,5" but not "1,2,3"), a decimal point
# (".5", "2.25"), letters, or any other single character.
_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![,\d])|\d+,\d{1,2}(?![,\d])|\d*\.\d+|\d+|[A-Za-z]+|\S")
_PLAIN_DIGITS = re.compile(r"\d+(?:\.\d+)?")  # a figure as the training phrasings write it


def _tokens(text: str) -> list[_Token]:
    return [_Token(match.group(), match.start(), match.end()) for match in _TOKEN.finditer(text)]


def _is_digits(token: _Token) -> bool:
    return token.text[-1].isdigit() and token.text[0] in "0123456789."


def _digits_value(text: str) -> float:
    if re.fullmatch(r"\d+,\d{1,2}", text):
        return float(text.replace(",", "."))
    return float(text.replace(",", ""))


# -- numbers --------------------------------------------------------------------------------------

_DIGIT_WORDS = {"zero": 0, "nought": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                "six": 6, "seven": 7, "eight": 8, "nine": 9}
_CARDINALS = {**{w: v for w, v in _DIGIT_WORDS.items() if w != "oh"},
              "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
              "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_FRACTIONS = {"half": 0.5, "quarter": 0.25}
_UNICODE_FRACTIONS = {"½": 0.5, "¼": 0.25, "¾": 0.75}
_ONE = ("a", "an", "one")


class _Number(NamedTuple):
    value: float
    end: int  # index of the token after it
    written: str  # its digits as written when they can stay, else ""


def _word(tokens: Sequence[_Token], index: int) -> str:
    return tokens[index].word if index < len(tokens) else ""


def _number(tokens: Sequence[_Token], i: int) -> _Number | None:
    """The number that starts at token i: digits (with "and a half" or "½"), or words."""
    token = tokens[i]
    if _is_digits(token):
        value, end = _digits_value(token.text), i + 1
        written = token.text if _PLAIN_DIGITS.fullmatch(token.text) else ""
        if end < len(tokens) and tokens[end].text in _UNICODE_FRACTIONS and tokens[end].start == token.end:
            return _Number(value + _UNICODE_FRACTIONS[tokens[end].text], end + 1, "")
        fraction = _and_fraction(tokens, end)
        if fraction is not None:
            return _Number(value + fraction[0], fraction[1], "")
        return _Number(value, end, written)
    if token.text in _UNICODE_FRACTIONS:
        return _Number(_UNICODE_FRACTIONS[token.text], i + 1, "")
    fraction = _fraction(tokens, i)
    if fraction is not None:
        return _Number(*fraction, "")
    cardinal = _cardinal(tokens, i)
    if cardinal is None:
        return None
    value, end = cardinal
    if _word(tokens, end) == "point" and _word(tokens, end + 1) in _DIGIT_WORDS:
        digits = ""
        end += 1
        while _word(tokens, end) in _DIGIT_WORDS:
            digits += str(_DIGIT_WORDS[_word(tokens, end)])
            end += 1
        return _Number(value + float("0." + digits), end, "")
    fraction = _and_fraction(tokens, end)
    if fraction is not None:
        return _Number(value + fraction[0], fraction[1], "")
    return _Number(value, end, "")


def _cardinal(tokens: Sequence[_Token], i: int) -> tuple[int, int] | None:
    """0 to 999 in words: "seven", "twenty-five", "twenty five", "a hundred and ten"."""
    word = _word(tokens, i)
    if word in _ONE[:2] and _word(tokens, i + 1) == "hundred":
        value, end = 1, i + 1
    elif word in _TENS:
        value, end = _TENS[word], i + 1
        if _word(tokens, end) == "-" and 1 <= _CARDINALS.get(_word(tokens, end + 1), 0) <= 9:
            value, end = value + _CARDINALS[_word(tokens, end + 1)], end + 2
        elif 1 <= _CARDINALS.get(_word(tokens, end), 0) <= 9:
            value, end = value + _CARDINALS[_word(tokens, end)], end + 1
    elif word in _CARDINALS:
        value, end = _CARDINALS[word], i + 1
    else:
        return None
    if _word(tokens, end) == "hundred" and 1 <= value <= 9:
        value, end = value * 100, end + 1
        rest = _cardinal(tokens, end + 1) if _word(tokens, end) == "and" else _cardinal(tokens, end)
        if rest is not None and rest[0] < 100:
            value, end = value + rest[0], rest[1]
    return value, end


def _fraction(tokens: Sequence[_Token], i: int) -> tuple[float, int] | None:
    """A fraction alone: "half", "a half", "a quarter", "three quarters", then "(of) a" before
    the unit ("half a metre per second", "three quarters of a metre per second")."""
    if _word(tokens, i) in _FRACTIONS:
        value, end = _FRACTIONS[_word(tokens, i)], i + 1
    elif _word(tokens, i) in _ONE and _word(tokens, i + 1) in _FRACTIONS:
        value, end = _FRACTIONS[_word(tokens, i + 1)], i + 2
    elif _word(tokens, i) == "three" and _word(tokens, i + 1) == "quarters":
        value, end = 0.75, i + 2
    else:
        return None
    if _word(tokens, end) == "of":
        end += 1
    if _word(tokens, end) in _ONE[:2]:
        end += 1
    return value, end


def _and_fraction(tokens: Sequence[_Token], i: int) -> tuple[float, int] | None:
    """ "and a half", "and a quarter", "and three quarters" after a whole number."""
    if _word(tokens, i) != "and":
        return None
    if _word(tokens, i + 1) in _ONE and _word(tokens, i + 2) in _FRACTIONS:
        return _FRACTIONS[_word(tokens, i + 2)], i + 3
    if _word(tokens, i + 1) == "three" and _word(tokens, i + 2) == "quarters":
        return 0.75, i + 3
    return None


# -- units ----------------------------------------------------------------------------------------

def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Distance and time words, with the usual abbreviations and misspellings.
_METRE = _words(r"m|mtrs?|meters?|metres?|meteres?|metters?|metrs?|mters?|meeters?")
_KILOMETRE = _words(r"km|kms|kilometers?|kilometres?|kilometeres?|kilometrs?|kilomters?|kilmeters?")
_MILE = _words(r"mi|miles?")
_CENTIMETRE = _words(r"cm|cms|centimeters?|centimetres?")
_SECOND = _words(r"s|secs?|seconds?|scnds?")
_HOUR = _words(r"h|hrs?|hours?")
_SECOND_WORD = _words(r"secs?|seconds?")  # after "a"/"every": "metres a second", not "metres a s"
_HOUR_WORD = _words(r"hours?|hr")
_PAIRS = ((_METRE, _SECOND, _SECOND_WORD, MPS), (_KILOMETRE, _HOUR, _HOUR_WORD, KMH),
          (_MILE, _HOUR, _HOUR_WORD, MPH), (_CENTIMETRE, _SECOND, _SECOND_WORD, CMS))
_COMPACT = {"mps": MPS, "kph": KMH, "kmh": KMH, "kmph": KMH, "kmhr": KMH, "mph": MPH}
_DOTTED = {("m", "p", "h"): MPH, ("k", "p", "h"): KMH, ("m", "p", "s"): MPS}
_PER = ("per", "/")
_A = ("a", "an", "each", "every")
_MINUS = ("-", "\u2212", "\u207b")  # hyphen-minus, minus sign, superscript minus
# Units the training phrasings spell: a number in these, written in plain digits, stays as it is.
_TRAINED = {("m", "/", "s"), *((metre, "per", "second") for metre in ("meter", "meters", "metre", "metres"))}


class _Unit(NamedTuple):
    unit: str
    end: int  # index of the token after it
    trained: bool


def _unit(tokens: Sequence[_Token], i: int) -> _Unit | None:
    """The speed unit that starts at token i."""
    word = _word(tokens, i)
    if word in _COMPACT:
        return _Unit(_COMPACT[word], i + 1, False)
    dotted = tuple(_word(tokens, i + k) for k in (0, 2, 4))
    if dotted in _DOTTED and all(_word(tokens, i + k) == "." for k in (1, 3)):
        end = i + 5
        return _Unit(_DOTTED[dotted], end + (_word(tokens, end) == "."), False)
    if word == "ms" and _exponent(tokens, i + 1):  # "ms-1", "ms^-1"
        return _Unit(MPS, _exponent(tokens, i + 1), False)
    for distance, time, time_word, unit in _PAIRS:
        if not distance.fullmatch(word):
            continue
        joint = _word(tokens, i + 1)
        if ((joint in _PER and time.fullmatch(_word(tokens, i + 2)))
                or (joint in _A and time_word.fullmatch(_word(tokens, i + 2)))):
            trained = tuple(token.word for token in tokens[i:i + 3]) in _TRAINED
            return _Unit(unit, i + 3, trained)
        after = i + 2 if joint in ("\u00b7", "*", ".") else i + 1  # "m·s-1", "m s^-1"
        if time.fullmatch(_word(tokens, after)) and _exponent(tokens, after + 1):
            return _Unit(unit, _exponent(tokens, after + 1), False)
    return None


def _exponent(tokens: Sequence[_Token], i: int) -> int:
    """The index after a "-1" / "^-1" / "⁻¹" at token i, else 0."""
    i += _word(tokens, i) == "^"
    if _word(tokens, i) in _MINUS and _word(tokens, i + 1) in ("1", "\u00b9"):
        return i + 2
    return 0


def _acceleration_follows(tokens: Sequence[_Token], i: int) -> bool:
    """ "m/s²", "m/s^2", "m/s2", "m/s/s", "metres per second squared", "per second per second"."""
    word = _word(tokens, i)
    if word in ("\u00b2", "squared") or (word == "2" and tokens[i].start == tokens[i - 1].end):
        return True
    if word == "^" and _word(tokens, i + 1) == "2":
        return True
    return word in _PER and bool(_SECOND.fullmatch(_word(tokens, i + 1)) or _HOUR.fullmatch(_word(tokens, i + 1)))


# -- mentions -------------------------------------------------------------------------------------

_RANGE = ("-", "\u2013", "\u2014", "to")
_RELATIVE_AFTER = ("faster", "slower", "quicker", "more", "less", "higher", "lower", "extra")
_RELATIVE_BEFORE = ("by", "another", "extra")


@dataclass(frozen=True)
class _Mention:
    """A speed or a range of two as written: its span, numbers (with signs) and unit."""

    start: int
    end: int
    numbers: tuple[tuple[_Number, bool], ...]  # (number, written with a minus)
    separator: str  # between the numbers of a range, as written
    unit: _Unit
    relative: bool = False
    shown: bool = False  # already preceded by its m/s value ("2.78 m/s (10 km/h)"): normalised before

    @property
    def plain(self) -> bool:
        return all(number.written for number, _ in self.numbers)

    def speeds(self, text: str) -> list[Speed]:
        return [Speed(self.start, self.end, text[self.start:self.end], number.value, self.unit.unit, negative,
                      self.relative) for number, negative in self.numbers]

    def in_mps(self) -> str:
        """The mention in m/s as normalising writes it: "2.78 m/s", "0.56-0.83 m/s"."""
        scale = TO_MPS[self.unit.unit]
        values = [format_number(-number.value * scale if negative else number.value * scale)
                  for number, negative in self.numbers]
        return f"{self.separator.join(values)} {MPS}"

    def normalised(self, text: str) -> str | None:
        """The mention as the models read it, or None when it stays as written."""
        if self.shown or (self.plain and self.unit.trained):
            return None
        figures = self.separator.join(("-" if negative else "") + (number.written or format_number(number.value))
                                      for number, negative in self.numbers)
        if self.unit.unit == MPS:
            return f"{figures} {MPS}"
        return f"{self.in_mps()} ({text[self.start:self.end] if self.plain else f'{figures} {self.unit.unit}'})"


def _mentions(text: str) -> list[_Mention]:
    tokens = _tokens(text)
    found, i = [], 0
    while i < len(tokens):
        at = _mention_at(text, tokens, i)
        if at is None:
            i += 1
            continue
        mention, after = _shown_original(text, tokens, *at) or at
        relative = _word(tokens, after) in _RELATIVE_AFTER or (i > 0 and tokens[i - 1].word in _RELATIVE_BEFORE)
        found.append(replace(mention, relative=relative))
        i = after
    return found


def _shown_original(text: str, tokens: Sequence[_Token], mention: _Mention, after: int) -> tuple[_Mention, int] | None:
    """A speed normalised before ("2.78 m/s (10 km/h)" for "10 km/h"): the speed as written, read
    as shown, and the index of the token after the closing bracket."""
    if not (mention.unit.unit == MPS and mention.plain and _word(tokens, after) == "("
            and tokens[after].start == mention.end + 1):
        return None
    inner = _mention_at(text, tokens, after + 1, between=mention.separator.strip().lower() == "and")
    if inner is None:
        return None
    original, end = inner
    if (original.unit.unit == MPS or not original.plain or _word(tokens, end) != ")"
            or tokens[end].start != original.end or original.in_mps() != text[mention.start:mention.end]):
        return None
    return replace(original, shown=True), end + 1


def _signed_number(text: str, tokens: Sequence[_Token], i: int) -> tuple[_Number, bool, int] | None:
    """A number at token i, with a minus written before it: "-1" (the minus not joining two
    figures, as in "2-3"), "minus one", "negative 1". Returns it, its sign and its first token."""
    first = i
    negative = _word(tokens, i) in ("minus", "negative") or (
        _word(tokens, i) in _MINUS and i + 1 < len(tokens) and tokens[i + 1].start == tokens[i].end
        and (tokens[i].start == 0 or not text[tokens[i].start - 1].isalnum()))
    i += negative
    if i >= len(tokens):
        return None
    start = tokens[i].start
    if _is_digits(tokens[i]) and start > 0 and (text[start - 1].isalnum() or text[start - 1] in ".,"):
        return None  # part of a name or a longer figure ("F1", "1.2.3", "1,2,3")
    number = _number(tokens, i)
    return None if number is None else (number, negative, first)


def _mention_at(text: str, tokens: Sequence[_Token], i: int,
                between: bool | None = None) -> tuple[_Mention, int] | None:
    """The speed mention starting at token i and the index of the token after it. `between`: "and"
    joins a range (default: when "between" comes before)."""
    first = _signed_number(text, tokens, i)
    if first is None and _word(tokens, i) in _ONE[:2] and _unit(tokens, i + 1) is not None:
        first = _Number(1.0, i + 1, ""), False, i  # "a metre per second"
    if first is None:
        return None
    number, negative, _ = first
    numbers, separator, end = [(number, negative)], "", number.end
    if between is None:
        between = i > 0 and tokens[i - 1].word == "between"
    if _word(tokens, end) in _RANGE or (between and _word(tokens, end) == "and"):
        second = _signed_number(text, tokens, end + 1)
        if second is not None and _unit(tokens, second[0].end) is not None:
            separator = text[tokens[end - 1].end:tokens[second[2]].start]
            numbers.append(second[:2])
            end = second[0].end
    unit = _unit(tokens, end)
    if unit is None or _acceleration_follows(tokens, unit.end):
        return None
    return _Mention(tokens[i].start, tokens[unit.end - 1].end, tuple(numbers), separator, unit), unit.end
