"""The speed the MPC tracks: a profile planned for the line it follows and the pace it is asked for.

The track's profile (Track.raceline_speed) is planned for the racing line. With centre_blend the
car follows another line, whose corners can be much tighter (the centre line
through a chicane), and speed_scale asks for another pace. Multiplying the racing line's profile
would carry its corner speeds onto the tighter line and brake later and harder into every corner
(both slid off the circuit's chicane). So the profile is planned again: corner speeds from the
followed line's own curvature, with the lateral acceleration scaled by speed_scale^2 (corner
speeds then scale by speed_scale) up to CORNER_ACCELERATION, and the top speed by speed_scale;
the racing line's acceleration and braking limits stay (a faster profile brakes earlier, not
harder). At the extension's defaults the profile is the track's own, bit for bit.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..params import PARAM_TABLE, MpcParams
from ..track import Track
from ..track.raceline import SpeedLimits, limited_speed

PLAN_STEP = 0.25  # m between the followed line's samples
SMOOTHING = 5  # samples averaged into each curvature value (1.25 m): the widths' small ripples are no corners
EXTENSION = tuple(spec.name for spec in PARAM_TABLE if not spec.paper)
# m/s^2: the most lateral acceleration a faster profile plans for in corners. The tyres hold about
# 10 (mu 1.05), but the car follows a kinematic plan and a quick change of direction needs a
# reserve: corners at 6.05 (speed_scale 1.1) lap the circuit's chicane, at 6.6 (1.15) it slides off.
CORNER_ACCELERATION = 6.0


def follows_the_racing_line(params: MpcParams) -> bool:
    """True when the extension parameters are at their defaults: the track's own profile applies."""
    default = MpcParams()
    return all(getattr(params, name) == getattr(default, name) for name in EXTENSION)


def followed_line(track: Track, params: MpcParams,
                  step: float = PLAN_STEP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s on the racing line, x, y) of the line the MPC steers for: centre_blend of the way to the
    centre line, within the track bounds (mpc_qp.lateral_target)."""
    s = track.raceline.sample(step)
    left, right = track.raceline_bounds(s)
    margin = params.track_safety_margin
    low, high = margin - right, left - margin
    offset = params.centre_blend * 0.5 * (left - right)
    offset = np.where(low > high, 0.5 * (low + high), np.clip(offset, low, np.maximum(low, high)))
    x, y = track.raceline.to_cartesian(s, offset)
    return s, np.asarray(x), np.asarray(y)


def loop_curvature(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(curvature, distance to the next sample) of a closed loop of samples, curvature smoothed
    over SMOOTHING samples."""
    dx = 0.5 * (np.roll(x, -1) - np.roll(x, 1))
    dy = 0.5 * (np.roll(y, -1) - np.roll(y, 1))
    ddx = np.roll(x, -1) - 2.0 * x + np.roll(x, 1)
    ddy = np.roll(y, -1) - 2.0 * y + np.roll(y, 1)
    kappa = (dx * ddy - dy * ddx) / np.maximum(np.hypot(dx, dy), 1e-9) ** 3
    window = np.ones(SMOOTHING) / SMOOTHING
    half = SMOOTHING // 2
    wrapped = np.concatenate([kappa[-half:], kappa, kappa[:half]])
    return np.convolve(wrapped, window, mode="valid"), np.hypot(np.roll(x, -1) - x, np.roll(y, -1) - y)


PROFILE_LIMITS = SpeedLimits()  # the limits Track plans the racing line's profile with


def profile_inputs(params: MpcParams) -> tuple[float, ...]:
    """The parameters reference_speed reads: equal inputs, equal profile."""
    return (*(getattr(params, name) for name in EXTENSION), params.track_safety_margin)


def reference_speed(track: Track, params: MpcParams, limits: SpeedLimits = PROFILE_LIMITS) -> np.ndarray:
    """The speed to track at track.raceline.s_table (the grid of the MPC's table) for `params`.

    `limits` are the ones the track's profile was planned with (raceline.SpeedLimits).
    """
    if follows_the_racing_line(params):
        return track.raceline_speed
    s, x, y = followed_line(track, params)
    kappa, ds = loop_curvature(x, y)
    scale = params.speed_scale
    scaled = replace(limits, v_max=limits.v_max * scale,
                     a_lat=min(limits.a_lat * scale * scale, max(limits.a_lat, CORNER_ACCELERATION)))
    return np.interp(track.raceline.s_table, s, limited_speed(kappa, ds, scaled), period=track.raceline.length)
