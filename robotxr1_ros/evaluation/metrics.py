"""Driving metrics of a run, as docs/reference.md defines the papers' cases.

Each case is an RMSE over the run after a settling time (the car starts at rest, and the first
second says more about the start than about the instruction).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import Robotxr1Error
from ..control.run_log import RunLog

SETTLE_TIME = 1.0  # s excluded from the RMSEs
REVERSE_TARGET_SPEED = -1.0  # m/s, the reverse case's reference speed


@dataclass(frozen=True)
class DrivingMetrics:
    rmse_centre: float  # m, lateral distance to the centre line
    rmse_raceline: float  # m, lateral distance to the racing line
    rmse_speed: float  # m/s, speed along the track minus the reference speed
    rmse_accel: float  # m/s^2, IMU acceleration magnitude sqrt(ax^2 + ay^2)
    crashed: bool
    lap_time: float | None  # s, first complete lap, None if none was completed
    mean_speed: float  # m/s, progress along the track per second (negative backwards)
    duration: float  # s
    fallbacks: int  # controller braking fallbacks

    def as_dict(self) -> dict:
        return asdict(self)


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else float("nan")


def driving_metrics(log: RunLog, track_length: float, reference_speed: float = REVERSE_TARGET_SPEED,
                    settle_time: float = SETTLE_TIME) -> DrivingMetrics:
    """Metrics of `log`; `reference_speed` is what rmse_speed measures against."""
    if len(log) < 2:
        raise Robotxr1Error("a run needs at least two samples for metrics")
    keep = log.t >= log.t[0] + settle_time
    if not np.any(keep):
        keep = np.ones(len(log), dtype=bool)
    progress = log.s_race - log.s_race[0]
    duration = float(log.t[-1] - log.t[0])
    lap_done = np.flatnonzero(np.abs(progress) >= track_length)
    return DrivingMetrics(
        rmse_centre=rms(log.d_centre[keep]),
        rmse_raceline=rms(log.d_race[keep]),
        rmse_speed=rms(log.speed_along[keep] - reference_speed),
        rmse_accel=rms(np.hypot(log.ax[keep], log.ay[keep])),
        crashed=bool(log.crashed[-1] > 0),
        lap_time=float(log.t[lap_done[0]] - log.t[0]) if lap_done.size else None,
        mean_speed=float(progress[-1] / duration) if duration > 0 else 0.0,
        duration=duration,
        fallbacks=int(np.count_nonzero(np.diff(log.fallback, prepend=0.0) > 0)),
    )
