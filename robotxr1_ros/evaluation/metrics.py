"""Driving metrics of a run: the RMSEs of the control cases' signals (cases/control.py) and more.

Each RMSE is taken over the run after a settling time (the car starts at rest, and the first
second says more about the start than about the instruction).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..cases.control import REVERSE_SPEED, Signal, acceleration, centre_offset, raceline_offset, speed_error
from ..control.run_log import RunLog
from ..errors import Robotxr1Error

SETTLE_TIME = 1.0  # s excluded from the RMSEs


@dataclass(frozen=True)
class DrivingMetrics:
    rmse_centre: float  # m, lateral distance to the centre line
    rmse_raceline: float  # m, lateral distance to the racing line
    rmse_speed: float  # m/s, speed along the track minus the reference speed
    rmse_accel: float  # m/s^2, IMU acceleration magnitude sqrt(ax^2 + ay^2)
    min_wall_distance: float  # m, the nearest either wall came after the settling time
    crashed: bool
    lap_time: float | None  # s, first complete lap, None if none was completed
    mean_speed: float  # m/s, progress along the track per second (negative backwards)
    duration: float  # s
    fallbacks: int  # controller braking fallbacks

    def as_dict(self) -> dict:
        return asdict(self)


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else float("nan")


def settled(log: RunLog, settle_time: float = SETTLE_TIME) -> np.ndarray:
    """Which samples come after the settling time (all of them in a shorter run)."""
    keep = log.t >= log.t[0] + settle_time
    return keep if np.any(keep) else np.ones(len(log), dtype=bool)


def signal_rmse(log: RunLog, signal: Signal, reference_speed: float, settle_time: float = SETTLE_TIME) -> float:
    """The RMSE of a control case's `signal` after the settling time."""
    return rms(signal(log, reference_speed)[settled(log, settle_time)])


def driving_metrics(log: RunLog, track_length: float, reference_speed: float = REVERSE_SPEED,
                    settle_time: float = SETTLE_TIME) -> DrivingMetrics:
    """Metrics of `log`; `reference_speed` is what rmse_speed measures against."""
    if len(log) < 2:
        raise Robotxr1Error("a run needs at least two samples for metrics")
    progress = log.s_race - log.s_race[0]
    duration = float(log.t[-1] - log.t[0])
    lap_done = np.flatnonzero(np.abs(progress) >= track_length)
    return DrivingMetrics(
        rmse_centre=signal_rmse(log, centre_offset, reference_speed, settle_time),
        rmse_raceline=signal_rmse(log, raceline_offset, reference_speed, settle_time),
        rmse_speed=signal_rmse(log, speed_error, reference_speed, settle_time),
        rmse_accel=signal_rmse(log, acceleration, reference_speed, settle_time),
        min_wall_distance=float(np.min(np.minimum(log.d_left, log.d_right)[settled(log, settle_time)])),
        crashed=bool(log.crashed[-1] > 0),
        lap_time=float(log.t[lap_done[0]] - log.t[0]) if lap_done.size else None,
        mean_speed=float(progress[-1] / duration) if duration > 0 else 0.0,
        duration=duration,
        fallbacks=int(np.count_nonzero(np.diff(log.fallback, prepend=0.0) > 0)),
    )
