"""A driving run recorded at control rate, with its Frenet view computed once at the end.

Recording keeps only raw samples (cheap, inside the control loop); the projections onto the
racing line and the centre line are done in one pass when the run is finished. Unlike the
simulator's own per-physics-step log, this one also holds what the controller did.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..sim.sim_log import frenet_view
from ..track import Track

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

    def finish(self, track: Track) -> RunLog:
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
    def from_raw(cls, track: Track, raw: dict[str, np.ndarray]) -> RunLog:
        view = frenet_view(track, raw["t"], raw["x"], raw["y"], raw["yaw"], raw["vx"], raw["vy"])
        return cls(**raw, s_race=view.s_race, d_race=view.d_race, d_centre=view.d_centre,
                   speed_along=view.speed_along, d_left=view.d_left, d_right=view.d_right)

    def __len__(self) -> int:
        return len(self.t)

    def write_csv(self, path: str | Path) -> None:
        names = [f.name for f in fields(self)]
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows(np.column_stack([getattr(self, n) for n in names]).round(5).tolist())

