"""The simulator's record of a run (one row per physics step) and its Frenet view for the metrics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..track import Track
from ..track.path_lookup import PathLookup


@dataclass
class SimLog:
    """Arrays of equal length: the state after every physics step (row 0: the reset state)."""

    t: np.ndarray  # s
    x: np.ndarray  # m, centre of gravity
    y: np.ndarray
    yaw: np.ndarray  # rad
    vx: np.ndarray  # m/s, body frame, negative when reversing
    vy: np.ndarray  # m/s, body frame, left positive
    yaw_rate: np.ndarray  # rad/s
    steering: np.ndarray  # rad, actual steering angle
    ax: np.ndarray  # m/s^2, body-frame acceleration (what an IMU at the CoG measures, without noise)
    ay: np.ndarray
    speed_cmd: np.ndarray  # m/s, command in force during the step that ended at t
    steering_cmd: np.ndarray  # rad
    crashed: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.t)

    def frenet(self, track: Track) -> FrenetView:
        return frenet_view(track, self.t, self.x, self.y, self.yaw, self.vx, self.vy)


@dataclass
class FrenetView:
    """A trajectory in the Frenet frames of the track's racing line and centre line."""

    t: np.ndarray
    s_race: np.ndarray  # m along the racing line, unwrapped (counts on past a lap, down backwards)
    d_race: np.ndarray  # m, lateral offset from the racing line, left positive
    d_centre: np.ndarray  # m, lateral offset from the centre line
    speed_along: np.ndarray  # m/s, velocity along the racing line's tangent (negative backwards)
    speed_across: np.ndarray  # m/s, velocity along the racing line's left normal
    heading_error: np.ndarray  # rad, body heading minus the racing line's heading, in [-pi, pi)
    d_left: np.ndarray  # m to the left wall (negative beyond it), across the centre line
    d_right: np.ndarray  # m to the right wall


def frenet_view(track: Track, t, x, y, yaw, vx, vy) -> FrenetView:
    """Project a trajectory (CoG positions, body-frame velocities) onto the racing and centre lines.

    Consecutive points are projected with a warm-started local search, so the trajectory must be
    continuous (a log between resets, at any sampling rate up to ~1 m between samples).
    """
    x, y, yaw, vx, vy = (np.asarray(a, dtype=float) for a in (x, y, yaw, vx, vy))
    race = PathLookup(track.raceline)
    centre = PathLookup(track.centre)
    s_race, d_race, seg, fraction = race.project_sequence(x, y)
    _, d_centre, seg_c, fraction_c = centre.project_sequence(x, y)
    tangent = race.at(race.tangent, seg, fraction)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    world_vx = vx * np.cos(yaw) - vy * np.sin(yaw)
    world_vy = vx * np.sin(yaw) + vy * np.cos(yaw)
    line_heading = np.arctan2(tangent[:, 1], tangent[:, 0])
    return FrenetView(
        t=np.asarray(t, dtype=float),
        s_race=s_race,
        d_race=d_race,
        d_centre=d_centre,
        speed_along=world_vx * tangent[:, 0] + world_vy * tangent[:, 1],
        speed_across=-world_vx * tangent[:, 1] + world_vy * tangent[:, 0],
        heading_error=np.mod(yaw - line_heading + np.pi, 2.0 * np.pi) - np.pi,
        d_left=centre.at(track.width_left, seg_c, fraction_c) - d_centre,
        d_right=centre.at(track.width_right, seg_c, fraction_c) + d_centre,
    )
