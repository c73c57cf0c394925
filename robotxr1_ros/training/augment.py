"""Programmatic restatements of the training phrasings: the shapes people type, not only the
catalogue's sentences.

A restatement keeps the intent and, where the phrasing names a speed, the speed (re-read from
the new text by the case's reference reader, so a target always copies what the model is shown):
- typos: one letter swapped, dropped or doubled in one word;
- terse: lower case, no closing punctuation, no "please" (how short commands are typed);
- polite: a courtesy around the command;
- synonyms: one word (or fixed phrase) swapped for another of its group (SYNONYMS), so a meaning
  is learnt from more than the catalogue's words ("bends" as well as "corners");
- number formats and units: the speed in m/s with a decimal comma, without a space, as "mps",
  in km/h, mph or words (the car normalises each to m/s before the model reads it,
  cases/quantities.py; the model learns to copy the m/s figure it is then shown).
Compounds join a speed or reverse phrasing with a manner ("..., gently"): the intents of two
cases at once (speed_smooth, reverse_careful).
Every function takes its randomness from the generator it is given: the data is reproducible.
"""
from __future__ import annotations

import re

import numpy as np

from ..cases.quantities import KMH, MPH, TO_MPS, find_speeds

POLITE = ("Please {}", "Could you {}", "{} Thanks.", "Hey, {}", "{} Please.")
GENTLE = ("gently", "smoothly", "keeping the ride smooth", "without any jerky moves", "nice and easy",
          "with soft cornering", "and take the bends softly", "comfortably")
CAREFUL = ("carefully", "but slowly and gently", "with care", "nice and slow")
CAUTIOUS = ("carefully", "with care", "cautiously", "and be careful", "taking care", "with caution")
# Groups of interchangeable words: each word keeps the intent of any phrasing it stands in and
# the same part of speech, so a swap in either direction is still a command a person would give.
SYNONYMS = (("corners", "bends", "curves", "turns"), ("corner", "bend", "curve"),
            ("walls", "barriers", "boundaries"), ("wall", "barrier", "boundary"), ("edges", "sides"),
            ("careful", "cautious"), ("carefully", "cautiously"), ("care", "caution"),
            ("gentle", "soft"), ("gently", "softly", "calmly", "smoothly"),
            ("abrupt", "sudden", "jerky", "harsh"), ("fast", "quick"), ("faster", "quicker"),
            ("centre", "center", "middle"), ("car", "vehicle"), ("drive", "go"), ("track", "circuit"),
            ("backwards", "backward", "in reverse"), ("stop", "halt"), ("please", "pls"))
_SYNONYM = re.compile(r"\b(" + "|".join(sorted((re.escape(word) for group in SYNONYMS for word in group),
                                                key=len, reverse=True)) + r")\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]{4,}")
_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_PARTS = {0.25: "and a quarter", 0.5: "and a half", 0.75: "and three quarters"}


def typo(text: str, rng: np.random.Generator) -> str:
    """One letter swapped, dropped or doubled in one word of four letters or more, never in a
    speed (a misspelt unit is no speed: the reader's tolerance of those is its own test's).

    >>> typo("Reverse the car.", np.random.default_rng(1)) != "Reverse the car."
    True
    """
    speeds = find_speeds(text)
    words = [word for word in _WORD.finditer(text)
             if not any(speed.start < word.end() and word.start() < speed.end for speed in speeds)]
    if not words:
        return text
    word = words[int(rng.integers(len(words)))]
    letters = list(word.group())
    at = int(rng.integers(1, len(letters) - 1))
    edit = int(rng.integers(3))
    if edit == 0:
        letters[at], letters[at + 1] = letters[at + 1], letters[at]
    elif edit == 1:
        del letters[at]
    else:
        letters.insert(at, letters[at])
    return text[:word.start()] + "".join(letters) + text[word.end():]


def terse(text: str) -> str:
    """How a short command is typed.

    >>> terse("Please slow down, please.")
    'slow down'
    """
    text = re.sub(r"\bplease\b[,.!]?\s*", "", text, flags=re.IGNORECASE)
    return re.sub(r"[\s,.!?]+$", "", text.strip()).lower()


def synonym(text: str, rng: np.random.Generator) -> str:
    """`text` with one word of a SYNONYMS group swapped for another of the group, in the same case
    (unchanged when it has none).

    >>> synonym("Take care in the corners.", np.random.default_rng(0)) != "Take care in the corners."
    True
    >>> synonym("Hold 3 m/s.", np.random.default_rng(0))
    'Hold 3 m/s.'
    """
    found = list(_SYNONYM.finditer(text))
    if not found:
        return text
    match = found[int(rng.integers(len(found)))]
    word = match.group()
    group = next(group for group in SYNONYMS if word.lower() in group)
    others = [other for other in group if other != word.lower()]
    other = others[int(rng.integers(len(others)))]
    if word[:1].isupper():
        other = other[:1].upper() + other[1:]
    return text[:match.start()] + other + text[match.end():]


def polite(text: str, rng: np.random.Generator) -> str:
    form = POLITE[int(rng.integers(len(POLITE)))]
    command = text if form.startswith("{}") else text[:1].lower() + text[1:]
    return form.format(command)


def speed_words(speed: float) -> str | None:
    """A speed of whole or quarter m/s in words; None for another speed.

    >>> speed_words(2.5), speed_words(0.75), speed_words(1.3)
    ('two and a half metres per second', 'zero and three quarters metres per second', None)
    """
    whole, part = divmod(round(speed * 4) / 4, 1.0)
    if abs(whole + part - speed) > 1e-9 or whole >= len(_ONES):
        return None
    return " ".join(filter(None, (_ONES[int(whole)], _PARTS.get(part, "")))) + " metres per second"


def speed_formats(speed: float) -> list[str]:
    """The ways to write a speed in m/s that restatements use (each read back by find_speeds)."""
    figure = f"{speed:g}"
    formats = [f"{figure}m/s", f"{figure} mps", figure.replace(".", ",") + " m/s" if "." in figure else None,
               f"{speed / TO_MPS[KMH]:.0f} km/h", f"{speed / TO_MPS[KMH]:.0f} kph",
               f"{speed / TO_MPS[MPH]:.1f} mph", speed_words(speed)]
    return [text for text in formats if text]


def respeed(text: str, rng: np.random.Generator) -> str:
    """`text` with its one speed written another way (unchanged when it names none or several).

    >>> respeed("Drive at 2.5 m/s.", np.random.default_rng(0)) != "Drive at 2.5 m/s."
    True
    """
    speeds = find_speeds(text)
    if len(speeds) != 1:
        return text
    (speed,) = speeds
    options = [option for option in speed_formats(round(speed.metres_per_second, 2))
               if len(find_speeds(option)) == 1]
    if not options:
        return text
    written = options[int(rng.integers(len(options)))]
    return text[:speed.start] + ("-" if speed.negative else "") + written + text[speed.end:]


def restatements(text: str, count: int, rng: np.random.Generator) -> list[str]:
    """Up to `count` distinct restatements of `text` (none equal to it), each one or two edits."""
    edits = (lambda t: typo(t, rng), terse, lambda t: polite(t, rng), lambda t: respeed(t, rng),
             lambda t: synonym(t, rng))
    found: list[str] = []
    for _ in range(8 * count):
        if len(found) == count:
            break
        chosen = rng.choice(len(edits), size=int(rng.integers(1, 3)), replace=False)
        restated = text
        for index in sorted(chosen, reverse=True):  # a typo last: after the rewording it damages
            restated = edits[index](restated)
        if restated != text and restated not in found:
            found.append(restated)
    return found


def with_manner(text: str, manners: tuple[str, ...], rng: np.random.Generator) -> str:
    """A command joined with a manner: "Drive at 2.4 m/s." -> "Drive at 2.4 m/s, gently."."""
    manner = manners[int(rng.integers(len(manners)))]
    return f"{re.sub(r'[.!]+$', '', text.strip())}, {manner}."
