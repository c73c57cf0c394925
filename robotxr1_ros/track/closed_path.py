"""Arc-length parameterised closed paths and their Frenet frames.

Conventions: s is arc length along a path (wrapped to [0, length)); d is the lateral offset,
positive to the left of the direction of travel; headings are atan2 angles (0 = +x, CCW
positive); curvature is positive in left turns.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial import cKDTree

from ..errors import Robotxr1Error

TABLE_STEP = 0.02  # m between the dense samples used for nearest-point search


class ClosedPath:
    """A smooth closed curve through given points, parameterised by arc length."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        points = _drop_closing_duplicate(np.column_stack([x, y]).astype(float))
        if len(points) < 4:
            raise Robotxr1Error(f"a closed path needs at least 4 distinct points, got {len(points)}")
        # Fit on chord length, then re-fit on true arc length so that s means metres driven.
        chord = _cumulative_length(points, closed=True)
        loop = np.vstack([points, points[:1]])
        rough = CubicSpline(chord, loop, bc_type="periodic")
        t = np.linspace(0.0, chord[-1], max(400, 20 * len(points)), endpoint=False)
        dense = rough(t)
        arc = _cumulative_length(dense, closed=True)
        self.length = float(arc[-1])
        self._spline = CubicSpline(arc, np.vstack([dense, dense[:1]]), bc_type="periodic")
        n = int(np.ceil(self.length / TABLE_STEP))
        self.s_table = np.linspace(0.0, self.length, n, endpoint=False)
        self.xy_table = self._spline(self.s_table)
        self._tree = cKDTree(self.xy_table)

    def wrap(self, s):
        return np.mod(s, self.length)

    def signed_gap(self, s_to, s_from):
        """s_to - s_from along the loop, wrapped to [-length/2, length/2)."""
        return np.mod(np.asarray(s_to) - s_from + 0.5 * self.length, self.length) - 0.5 * self.length

    def position(self, s):
        xy = self._spline(self.wrap(s))
        return xy[..., 0], xy[..., 1]

    def tangent(self, s):
        dxy = self._spline(self.wrap(s), 1)
        norm = np.hypot(dxy[..., 0], dxy[..., 1])
        return dxy[..., 0] / norm, dxy[..., 1] / norm

    def heading(self, s):
        tx, ty = self.tangent(s)
        return np.arctan2(ty, tx)

    def curvature(self, s):
        s = self.wrap(s)
        d1 = self._spline(s, 1)
        d2 = self._spline(s, 2)
        cross = d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0]
        return cross / np.hypot(d1[..., 0], d1[..., 1]) ** 3

    def to_cartesian(self, s, d):
        x, y = self.position(s)
        tx, ty = self.tangent(s)
        return x - np.asarray(d) * ty, y + np.asarray(d) * tx

    def project(self, x, y):
        """Frenet coordinates (s, d) of Cartesian points: nearest sample, then Newton refinement."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        _, index = self._tree.query(np.stack([x, y], axis=-1))
        s = self.s_table[index]
        for _ in range(3):
            px, py = self.position(s)
            tx, ty = self.tangent(s)
            ex, ey = x - px, y - py
            along = ex * tx + ey * ty
            offset = -ex * ty + ey * tx
            s = s + along / np.maximum(1.0 - self.curvature(s) * offset, 0.2)
        s = self.wrap(s)
        px, py = self.position(s)
        tx, ty = self.tangent(s)
        d = -(x - px) * ty + (y - py) * tx
        return s, d

    def sample(self, step: float) -> np.ndarray:
        """Arc-length positions every ~`step` metres over one lap."""
        return np.linspace(0.0, self.length, max(4, round(self.length / step)), endpoint=False)


def periodic_interp(s, grid: np.ndarray, values: np.ndarray, length: float):
    return np.interp(np.mod(s, length), grid, values, period=length)


def _drop_closing_duplicate(points: np.ndarray) -> np.ndarray:
    if len(points) > 1 and np.allclose(points[0], points[-1]):
        return points[:-1]
    return points


def _cumulative_length(points: np.ndarray, closed: bool) -> np.ndarray:
    loop = np.vstack([points, points[:1]]) if closed else points
    steps = np.hypot(*np.diff(loop, axis=0).T)
    if np.any(steps <= 1e-9):
        raise Robotxr1Error("a path must not contain repeated consecutive points")
    return np.concatenate([[0.0], np.cumsum(steps)])
