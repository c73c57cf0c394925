"""The summary numbers of a state window, defined once for everything that judges or describes it:
the decision rules' labels, the words of the state text, the SFT reasoning that quotes them.

A window is a feature record (the JSON dataset format, or the fields of llm.features.StateFeatures
by name): lists `s_speed`, `d_speed`, `d_pos`, `d_left`, `d_right`, the flag `reversing` and the
duration `time` (s).

Recorded values are decimals, so a label compares with a rounding tolerance of TOLERANCE (1.3 - 1.0
is exactly on a 0.3 limit): `below`, `above`, `at_most`, `at_least`. The state text's words compare
the numbers as they are (the shipped adapters were trained on those words).
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np

TOLERANCE = 1e-9


class WindowSummary:
    """The numbers of one window, each computed when first asked for (a rule reads only its own,
    so a record needs only the fields its rules look at).

    >>> WindowSummary({"d_pos": [0.1, -0.3, 0.0, 0.2, -0.1]}).sign_changes  # a zero is no crossing
    2
    """

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record

    def _series(self, key: str) -> np.ndarray:
        return np.asarray(self.record[key], dtype=float)

    @cached_property
    def mean_speed(self) -> float:
        """m/s along the racing line (negative: backwards along the track)."""
        return float(np.mean(self._series("s_speed")))

    @cached_property
    def mean_abs_speed(self) -> float:
        return float(np.mean(np.abs(self._series("s_speed"))))

    @cached_property
    def mean_abs_lateral_speed(self) -> float:
        return float(np.mean(np.abs(self._series("d_speed"))))

    @cached_property
    def mean_offset(self) -> float:
        """m from the racing line, positive left."""
        return float(np.mean(self._series("d_pos")))

    @cached_property
    def max_abs_offset(self) -> float:
        return float(np.max(np.abs(self._series("d_pos"))))

    @cached_property
    def sign_changes(self) -> int:
        """Of the offset: crossings of the racing line (a zero is no crossing)."""
        d_pos = self._series("d_pos")
        return int(np.count_nonzero(d_pos[1:] * d_pos[:-1] < 0.0))

    @cached_property
    def mean_left(self) -> float:
        """m to the left wall."""
        return float(np.mean(self._series("d_left")))

    @cached_property
    def mean_right(self) -> float:
        return float(np.mean(self._series("d_right")))

    @cached_property
    def max_wall_gap(self) -> float:
        """m, the largest |d_left - d_right|."""
        return float(np.max(np.abs(self._series("d_left") - self._series("d_right"))))

    @cached_property
    def max_abs_acceleration(self) -> float:
        """m/s^2, the largest change of s_speed between two samples over their spacing (the window's
        `time` over its sample count - 1); 0 for a single sample."""
        speed = self._series("s_speed")
        if len(speed) < 2:
            return 0.0
        return float(np.max(np.abs(np.diff(speed)))) * (len(speed) - 1) / float(self.record["time"])

    @property
    def reversing(self) -> bool:
        """Driving backwards relative to the car's own nose."""
        return bool(self.record["reversing"])


def below(value: float, limit: float) -> bool:
    return value < limit - TOLERANCE


def above(value: float, limit: float) -> bool:
    return value > limit + TOLERANCE


def at_most(value: float, limit: float) -> bool:
    return value <= limit + TOLERANCE


def at_least(value: float, limit: float) -> bool:
    return not below(value, limit)
