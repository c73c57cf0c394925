"""Racing line and speed profile for a closed track.

The racing line minimises the summed squared second differences of the path (an "elastic band"),
with its points free to move across the track within the walls less a margin. On evenly spaced
samples this trades minimum curvature against shortest path, cuts corners like a driver does and
is one bounded least-squares solve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear
from scipy.sparse import diags, identity, vstack

from ..errors import Robotxr1Error
from .closed_path import ClosedPath


@dataclass(frozen=True)
class SpeedLimits:
    """Limits for the racing line's speed profile (a 1:10 car on a small track)."""

    v_max: float = 7.0  # m/s
    a_lat: float = 5.0  # m/s^2
    a_accel: float = 4.0  # m/s^2
    a_brake: float = 6.0  # m/s^2


def elastic_band_line(centre: ClosedPath, width_left: np.ndarray, width_right: np.ndarray,
                      margin: float = 0.35, step: float = 0.25) -> ClosedPath:
    """The minimum second-difference closed line within [-width_right + margin, width_left - margin]."""
    s = centre.sample(step)
    w_left = np.interp(s, centre.s_table, width_left, period=centre.length)
    w_right = np.interp(s, centre.s_table, width_right, period=centre.length)
    lower, upper = -w_right + margin, w_left - margin
    if np.any(lower >= upper):
        raise Robotxr1Error("track too narrow for the racing line margin")
    x, y = centre.position(s)
    tx, ty = centre.tangent(s)
    nx, ny = -ty, tx
    n = s.size
    # Periodic second-difference operator D; the line is p = c + offset * normal.
    second_diff = (diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n)).tolil())
    second_diff[0, n - 1] = 1.0
    second_diff[n - 1, 0] = 1.0
    second_diff = second_diff.tocsr()
    # A tiny pull to the centre keeps the solution unique on straights.
    lhs = vstack([second_diff @ diags(nx), second_diff @ diags(ny), 1e-4 * identity(n)]).tocsr()
    rhs = -np.concatenate([second_diff @ x, second_diff @ y, np.zeros(n)])
    offset = lsq_linear(lhs, rhs, bounds=(lower, upper), method="trf", lsmr_tol="auto", tol=1e-10).x
    return ClosedPath(x + offset * nx, y + offset * ny)


def speed_profile(path: ClosedPath, limits: SpeedLimits = SpeedLimits()) -> np.ndarray:
    """Speed at path.s_table: lateral-acceleration limit, then acceleration and braking passes."""
    s = path.s_table
    return limited_speed(path.curvature(s), np.diff(np.append(s, path.length)), limits)


def limited_speed(kappa: np.ndarray, ds: np.ndarray, limits: SpeedLimits) -> np.ndarray:
    """The speed profile of a closed loop of samples with curvature `kappa`, sample i to i + 1
    being ds[i] apart: the lateral-acceleration limit, then acceleration and braking passes."""
    v = np.minimum(limits.v_max, np.sqrt(limits.a_lat / np.maximum(np.abs(kappa), 1e-6)))
    # Two rounds of each pass close the loop: the lap's end constrains its start.
    for _ in range(2):
        for i in range(1, 2 * v.size):
            j, k = i % v.size, (i - 1) % v.size
            v[j] = min(v[j], np.sqrt(v[k] ** 2 + 2.0 * limits.a_accel * ds[k]))
        for i in range(2 * v.size - 1, 0, -1):
            j, k = (i - 1) % v.size, i % v.size
            v[j] = min(v[j], np.sqrt(v[k] ** 2 + 2.0 * limits.a_brake * ds[j]))
    return v
