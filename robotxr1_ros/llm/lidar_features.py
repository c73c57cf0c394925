"""Wall distances and an imminent-collision cue from one LiDAR scan alone (no map needed).

These cues cross-check the map-based features: a wrong localisation or a stale map does not
fool the scanner. Geometry is in the sensor frame (x forward, y left).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..samples import ScanSample

CAR_HALF_WIDTH = 0.155  # m; an F1TENTH car is 0.31 m wide


@dataclass(frozen=True)
class LidarFeatures:
    d_left: float  # m, nearest return beside the car on the left; inf when nothing is seen
    d_right: float  # m, same on the right
    front_clearance: float  # m, nearest return in the corridor the car sweeps when driving on
    time_to_collision: float  # s, front_clearance / forward speed; inf when not approaching
    imminent_collision: bool


@dataclass(frozen=True)
class LidarThresholds:
    side_reach: float = 0.5  # m; returns within this distance fore/aft count as "beside the car"
    corridor_half_width: float = CAR_HALF_WIDTH + 0.05  # m; the swept corridor ahead
    collision_distance: float = 0.3  # m; an obstacle this close ahead is imminent at any speed
    collision_time: float = 0.5  # s; an obstacle reached within this time is imminent


def lidar_features(scan: ScanSample, forward_speed: float,
                   thresholds: LidarThresholds = LidarThresholds()) -> LidarFeatures:
    """Nearest wall beside the car on each side and the clearance ahead, from one scan."""
    points = scan.valid_points()
    x, y = points[:, 0], points[:, 1]
    beside = np.abs(x) <= thresholds.side_reach
    d_left = _min_or_inf(y[beside & (y > 0)])
    d_right = _min_or_inf(-y[beside & (y < 0)])
    ahead = (x > 0) & (np.abs(y) <= thresholds.corridor_half_width)
    front = _min_or_inf(x[ahead])
    ttc = front / forward_speed if forward_speed > 1e-3 else math.inf
    imminent = front < thresholds.collision_distance or ttc < thresholds.collision_time
    return LidarFeatures(d_left, d_right, front, ttc, bool(imminent))


def _min_or_inf(values: np.ndarray) -> float:
    return float(values.min()) if values.size else math.inf
