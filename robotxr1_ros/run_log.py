"""A driving run recorded at control rate, with its Frenet view computed once at the end.

Recording keeps only raw samples (cheap, inside the control loop); the projections onto the
racing line and the centre line are done in one vectorised pass when the run is finished.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .track import Track

# Raw channels recorded every control step, in this order.
RAW_CHANNELS = (
    "t", "x", "y", "yaw", "vx", "vy", "yaw_rate", "steering", "ax", "ay",
    "speed_cmd", "steering_cmd", "solve_ms", "fallback", "crashed",
)


class RunRecorder:
    """Preallocated buffers for the raw channels; grows by doubling."""

    def __init__(self, capacity: int = 4096) -> None:
        self._data = np.zeros((capacity, len(RAW_CHANNELS)))
        self._size = 0

    def append(self, *values: float) -> None:
        if self._size == len(self._data):
            self._data = np.vstack([self._data, np.zeros_like(self._data)])
        self._data[self._size] = values
        self._size += 1

    def finish(self, track: Track) -> "RunLog":
        columns = {name: self._data[: self._size, i].copy() for i, name in enumerate(RAW_CHANNELS)}
        return RunLog.from_raw(track, columns)


@dataclass
class RunLog:
    """Arrays of equal length, one entry per control step."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    vx: np.ndarray  # body-frame longitudinal speed, m/s (negative when reversing)
    vy: np.ndarray
    yaw_rate: np.ndarray
    steering: np.ndarray
    ax: np.ndarray  # IMU, body frame, m/s^2
    ay: np.ndarray
    speed_cmd: np.ndarray
    steering_cmd: np.ndarray
    solve_ms: np.ndarray
    fallback: np.ndarray  # 1.0 where the controller fell back to braking
    crashed: np.ndarray  # 1.0 from the first contact with a wall on
    s_race: np.ndarray  # progress along the racing line, unwrapped (m)
    d_race: np.ndarray  # lateral offset from the racing line (m, left positive)
    d_centre: np.ndarray  # lateral offset from the centre line
    speed_along: np.ndarray  # velocity component along the racing line (m/s, negative backwards)
    d_left: np.ndarray  # distance to the left wall
    d_right: np.ndarray

    @classmethod
    def from_raw(cls, track: Track, raw: dict[str, np.ndarray]) -> "RunLog":
        x, y = raw["x"], raw["y"]
        s_race, d_race = track.raceline.project(x, y)
        _, d_centre = track.centre.project(x, y)
        d_left, d_right = track.wall_distances(x, y)
        tangent_heading = track.raceline.heading(s_race)
        world_vx = raw["vx"] * np.cos(raw["yaw"]) - raw["vy"] * np.sin(raw["yaw"])
        world_vy = raw["vx"] * np.sin(raw["yaw"]) + raw["vy"] * np.cos(raw["yaw"])
        speed_along = world_vx * np.cos(tangent_heading) + world_vy * np.sin(tangent_heading)
        return cls(**raw, s_race=_unwrap(s_race, track.raceline.length), d_race=d_race,
                   d_centre=d_centre, speed_along=speed_along, d_left=d_left, d_right=d_right)

    def __len__(self) -> int:
        return len(self.t)

    def write_csv(self, path: str | Path) -> None:
        names = [f.name for f in fields(self)]
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows(np.column_stack([getattr(self, n) for n in names]).round(5).tolist())


def _unwrap(s: np.ndarray, length: float) -> np.ndarray:
    """Continuous progress from wrapped arc length (jumps of more than half a lap are wraps)."""
    if s.size == 0:
        return s
    steps = np.diff(s)
    steps = np.mod(steps + 0.5 * length, length) - 0.5 * length
    return np.concatenate([[s[0]], s[0] + np.cumsum(steps)])
