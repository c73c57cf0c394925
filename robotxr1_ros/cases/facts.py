"""Facts for the decision prompt that place the window's mean speed against the speeds the
instruction names, so the model compares words ("above", "within") instead of numbers it was never
trained at: for every speed the instruction names (quantities.find_speeds: any number, any unit; a
change such as "2 km/h faster" names no target and gets none), the window's mean s_speed against
it, "above", "below" or "equal to" as the speed rules compare ("Drive faster than X", "Drive
slower than X"), and when the car goes backwards its speed backwards against it within
SPEED_TOLERANCE ("Reverse at X"). Which way the instruction wants it is still the model's to read.

What the window alone says is in the state text's words already (cases/decision.py), so facts of
the window alone would only repeat them at the price of prompt tokens. The lines come after the
state text's own when the decision prompt is built with facts (the car's setting).
"""
from __future__ import annotations

from .control import SPEED_TOLERANCE
from .decision import MOVING_SPEED
from .quantities import MPS, find_speeds, format_number
from .summary import WindowSummary, above, at_most, below


def speed_facts(instruction: str, summary: WindowSummary) -> list[str]:
    """One line per distinct target speed `instruction` names.

    >>> speed_facts("Drive faster than 10 km/h", WindowSummary({"s_speed": [6.0, 6.04]}))
    ['asked 2.78 m/s: mean s_speed 6.02 is above it']
    >>> speed_facts("Reverse at one metre per second", WindowSummary({"s_speed": [-1.1, -1.0]}))
    ['asked 1 m/s: mean s_speed -1.05 is below it, backwards within 0.3 of it']
    """
    lines: list[str] = []
    for speed in find_speeds(instruction):
        if speed.relative:
            continue
        line = _speed_fact(speed.signed, speed.metres_per_second, summary)
        if line not in lines:
            lines.append(line)
    return lines


def _speed_fact(asked: float, magnitude: float, summary: WindowSummary) -> str:
    mean = summary.mean_speed
    relation = "above" if above(mean, asked) else "below" if below(mean, asked) else "equal to"
    line = f"asked {format_number(asked)} {MPS}: mean s_speed {mean:.2f} is {relation} it"
    if mean < -MOVING_SPEED:
        near = "within" if at_most(abs(-mean - magnitude), SPEED_TOLERANCE) else "not within"
        line += f", backwards {near} {SPEED_TOLERANCE:g} of it"
    return line

