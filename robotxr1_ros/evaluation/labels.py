"""Ground-truth labels of the decision task: does a state window adhere to an instruction?

The rules and thresholds are those of docs/reference.md, "Decision accuracy" (the papers' decision
tester's). Where a rule is explicit it is followed to the letter (mean of |speed| for "Don't
move", max |d| for "Oscillate!"); where it leaves a detail open the tester's choice is used:
"while moving" means mean s_speed > 0.1, and a window that is not moving adheres to "Drive on
the centerline" trivially.

Records are feature records as mappings (the JSON dataset format): lists `s_speed`, `d_speed`,
`d_pos`, `d_left`, `d_right` and the boolean `reversing`. Recorded values are decimals, so
comparisons allow a rounding tolerance of TOLERANCE: 1.3 - 1.0 is exactly on the 0.3 limit.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..errors import Robotxr1Error

TOLERANCE = 1e-9

STOPPED_SPEED = 0.1  # m/s, mean |s_speed| and mean |d_speed| below this: not moving
MOVING_SPEED = 0.1  # m/s, mean s_speed above this: driving forward
OSCILLATION_AMPLITUDE = 0.3  # m, max |d| at least this ...
OSCILLATION_SIGN_CHANGES = 1  # ... with more than this many sign changes of d
CLOSE_TO_WALL = 0.4  # m, mean wall distance below this
CENTERLINE_TOLERANCE = 0.3  # m, |d_left - d_right| at most this at every sample
FAST_SPEED = 3.0  # m/s, mean s_speed above this
RACING_LINE_TOLERANCE = 0.3  # m, |mean d| at most this

Record = Mapping[str, object]


def _mean(record: Record, key: str) -> float:
    return float(np.mean(np.asarray(record[key], dtype=float)))


def _mean_abs(record: Record, key: str) -> float:
    return float(np.mean(np.abs(np.asarray(record[key], dtype=float))))


def _below(value: float, limit: float) -> bool:
    return value < limit - TOLERANCE


def _above(value: float, limit: float) -> bool:
    return value > limit + TOLERANCE


def _at_most(value: float, limit: float) -> bool:
    return value <= limit + TOLERANCE


def _moving_forward(record: Record) -> bool:
    return _above(_mean(record, "s_speed"), MOVING_SPEED)


def is_stopped(record: Record) -> bool:
    return _below(_mean_abs(record, "s_speed"), STOPPED_SPEED) and _below(_mean_abs(record, "d_speed"), STOPPED_SPEED)


def is_reversing(record: Record) -> bool:
    return _below(_mean(record, "s_speed"), 0.0) or bool(record["reversing"])


def is_driving_forward(record: Record) -> bool:
    return _moving_forward(record)


def is_oscillating(record: Record) -> bool:
    d = np.asarray(record["d_pos"], dtype=float)
    sign_changes = int(np.count_nonzero(d[1:] * d[:-1] < 0.0))
    return sign_changes > OSCILLATION_SIGN_CHANGES and not _below(float(np.max(np.abs(d))), OSCILLATION_AMPLITUDE)


def is_close_to_left_wall(record: Record) -> bool:
    return _below(_mean(record, "d_left"), CLOSE_TO_WALL) and _moving_forward(record)


def is_on_centerline(record: Record) -> bool:
    if not _moving_forward(record):
        return True
    gaps = np.abs(np.asarray(record["d_left"], dtype=float) - np.asarray(record["d_right"], dtype=float))
    return all(_at_most(float(gap), CENTERLINE_TOLERANCE) for gap in gaps)


def is_faster_than_3(record: Record) -> bool:
    return _above(_mean(record, "s_speed"), FAST_SPEED)


def is_on_racing_line(record: Record) -> bool:
    return _at_most(abs(_mean(record, "d_pos")), RACING_LINE_TOLERANCE) and _moving_forward(record)


# The eight instructions of the decision evaluation, in docs/reference.md's order, with their rules.
DECISION_RULES: dict[str, Callable[[Record], bool]] = {
    "Don't move": is_stopped,
    "Reverse the car": is_reversing,
    "Drive forward": is_driving_forward,
    "Oscillate!": is_oscillating,
    "Drive close to the left wall": is_close_to_left_wall,
    "Drive on the centerline": is_on_centerline,
    "Drive faster than 3 m/s": is_faster_than_3,
    "Drive on the racing line": is_on_racing_line,
}
DECISION_INSTRUCTIONS: tuple[str, ...] = tuple(DECISION_RULES)


def label(instruction: str, record: Record) -> bool:
    """True if `record` adheres to `instruction` (one of DECISION_INSTRUCTIONS)."""
    try:
        rule = DECISION_RULES[instruction]
    except KeyError:
        raise Robotxr1Error(f"no label rule for instruction {instruction!r}; known: {list(DECISION_INSTRUCTIONS)}") from None
    return rule(record)


def all_labels(record: Record) -> dict[str, bool]:
    """The label of `record` for every instruction."""
    return {instruction: rule(record) for instruction, rule in DECISION_RULES.items()}
