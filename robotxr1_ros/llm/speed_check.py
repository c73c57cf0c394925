"""A parameter answer against the speeds its instruction names: a check of the model's numbers.

The code reads the instruction's speeds (cases/quantities.py) and shows them to the model in m/s,
but a small model still copies a number into the wrong place. parsing.parse_mpc_answer asks here
about every proposed value before its range check, and the update's report says what was done:
- a speed parameter (the table's parameters in m/s: v_min, v_max) set to the figure of a speed
  written in another unit instead of its m/s value ("v_max 10" for "10 km/h") is read in that
  unit: corrected to the m/s value the model was shown (2.78), with the answer's sign;
- a speed parameter set to a speed the instruction names, but beyond the effective range, is
  clamped to the end of the range with the reason ("asked 20 m/s; the car's v_max range ends at
  15"), where any other safety limit out of range is refused: the nearest speed the car allows is
  what was asked for;
- another parameter set to the instruction's one target speed ("qddelta 3.25" for "3.25 m/s") is a
  number copied into the wrong slot: refused, its value in force stays. Only when the number shows
  it: a fraction (3.25, 2.78), or an answer that sets no speed parameter at all; a whole number
  such as "alat_max 3" beside "v_max 3" for "3 m/s" may well be meant.
Which parameters to set stays the model's choice: nothing is added to an answer.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..cases.quantities import MPS, SHOWN_DECIMALS, Speed
from ..params import PARAM_TABLE, ParamSpec

SPEED_PARAMS = frozenset(spec.name for spec in PARAM_TABLE if spec.unit == MPS)
# A value matches a speed in m/s when it equals it as the model was shown it (two decimals).
MATCH_TOLERANCE = 0.5 * 10.0 ** -SHOWN_DECIMALS + 1e-9


@dataclass(frozen=True)
class SpeedReading:
    """What a proposed value is, read against the instruction's speeds."""

    value: float  # the value to validate: the proposal, or its correction
    corrected: str = ""  # why `value` differs from the proposal
    misplaced: str = ""  # why the proposal is refused
    asked: Speed | None = None  # the speed the instruction names that this speed parameter is set to


def read_against_speeds(name: str, value: float, speeds: Sequence[Speed], answer_names: Collection[str],
                        in_force: float) -> SpeedReading:
    """`value` proposed for parameter `name`, against `speeds` (the instruction's); `answer_names`:
    every parameter the answer sets; `in_force`: the parameter's value now."""
    targets = [speed for speed in speeds if not speed.relative]
    magnitude = abs(value)
    if name in SPEED_PARAMS:
        asked = next((speed for speed in targets if _matches(magnitude, speed.metres_per_second)), None)
        if asked is not None:
            return SpeedReading(value, asked=asked)
        misread = {speed.shown: speed for speed in targets
                   if speed.unit != MPS and math.isclose(magnitude, speed.figure)}
        if len(misread) == 1:
            speed = next(iter(misread.values()))
            corrected = math.copysign(round(speed.metres_per_second, SHOWN_DECIMALS), value)
            return SpeedReading(corrected, f"{value:g} is {speed.text!r} read as m/s; {speed.describe()}", asked=speed)
        return SpeedReading(value)
    if len(targets) != 1 or value == in_force:
        return SpeedReading(value)
    speed = targets[0]
    for number in (speed.metres_per_second, speed.figure):
        if number and _matches(magnitude, number) and (_is_fraction(number) or not SPEED_PARAMS & set(answer_names)):
            return SpeedReading(value, misplaced=f"{value:g} is the instruction's speed ({speed.describe()}), "
                                                 f"not a {name} value; {name} keeps {in_force:g}")
    return SpeedReading(value)


def beyond_range(name: str, reading: SpeedReading, spec: ParamSpec) -> str:
    """Why a speed the instruction asks for (`reading.asked`), out of the effective range, is clamped."""
    end = spec.maximum if reading.value > spec.maximum else spec.minimum
    assert reading.asked is not None, "only a speed the instruction asks for is clamped for it"
    asked = reading.corrected or f"asked {reading.asked.describe()}"
    return f"{asked}; the car's {name} range ends at {end:g}"


def _matches(value: float, speed: float) -> bool:
    return abs(value - speed) <= MATCH_TOLERANCE


def _is_fraction(number: float) -> bool:
    return not math.isclose(number, round(number), abs_tol=1e-9)
