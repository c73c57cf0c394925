"""How a car came to a standstill after a stop instruction, from its odometry (ROS-free): used by
`robotxr1 demo`'s stop scene and `robotxr1 bench ros`'s stop measurement."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

STANDING_SPEED = 0.1  # m/s: slower than this, the car stands


@dataclass(frozen=True)
class Stopping:
    speed_at_start: float  # m/s, when the instruction was published
    seconds: float | None  # from the instruction to the first standing sample, on the samples' clock (None: never)
    distance_m: float | None  # driven meanwhile


def stopping(t: ArrayLike, x: ArrayLike, y: ArrayLike, speed: ArrayLike, start: float) -> Stopping:
    """The stop of odometry samples (`t` on any clock, rising) after time `start` on that clock.

    >>> stopping([0, 1, 2, 3], [0, 2, 3, 3], [0, 0, 0, 0], [2.0, 1.0, 0.05, 0.0], start=0.5)
    Stopping(speed_at_start=2.0, seconds=1.5, distance_m=3.0)
    """
    times, speeds = np.asarray(t, dtype=float), np.abs(np.asarray(speed, dtype=float))
    first = max(int(np.searchsorted(times, start, side="right")) - 1, 0)  # the sample in force at `start`
    standing = np.flatnonzero((times > start) & (speeds < STANDING_SPEED))
    if standing.size == 0:
        return Stopping(float(speeds[first]), None, None)
    end = int(standing[0])
    path = np.column_stack([x, y]).astype(float)[first:end + 1]
    steps = np.hypot(*np.diff(path, axis=0).T)
    return Stopping(float(speeds[first]), round(float(times[end] - start), 3), round(float(steps.sum()), 3))
