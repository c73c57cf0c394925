"""How a behaviour is driven in the simulator: the MPC parameters and the line the MPC follows.

Every decision rule (decision.py) names the behaviour that shows it; the decision datasets, the
fixture bags and the training windows are driven from those (evaluation/behaviours.py drives them).

Stopping, reversing, forward, fast and racing-line driving come from the MPC's parameters. No
parameter makes the MPC leave its reference line, so oscillating, close-to-the-left-wall and
centre-line driving give it a scripted reference path in place of the racing line, at a constant
speed: the racing line plus a sine offset, a line 0.3 m from the left wall, or the centre line
(the midline between the walls: tracks are re-centred on it, see track/midline.py). The simulator
always keeps the real walls.

A behaviour's `vary` redraws it at a random speed at which it still is itself: the training drives
each behaviour at several speeds, so that a verdict such as "faster than 3 m/s" turns on the
numbers and not on one speed per behaviour.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..params import MpcParams
from ..track import ClosedPath, Track

PATH_STEP = 0.25  # m between the points a scripted path is fitted through

SINE_AMPLITUDE = 0.6  # m either side of the racing line
SINE_WAVELENGTH = 6.0  # m along the racing line (rounded to close the loop)
SINE_WALL_GAP = 0.35  # m: the sine is clipped this far from the walls
WALL_CLEARANCE = 0.3  # m between the car's centre and the left wall


# -- scripted reference paths ---------------------------------------------------------------------

def centre_path(track: Track) -> ClosedPath:
    """The centre line: equidistant to both walls, the decision rule's centre line."""
    return track.centre


def left_wall_path(track: Track, clearance: float = WALL_CLEARANCE) -> ClosedPath:
    """The line `clearance` metres (centre of the car) from the left wall."""
    s = track.centre.sample(PATH_STEP)
    width_left, _ = track.centre_widths(s)
    return ClosedPath(*track.centre.to_cartesian(s, width_left - clearance))


def oscillating_path(track: Track, amplitude: float = SINE_AMPLITUDE, wavelength: float = SINE_WAVELENGTH,
                     wall_gap: float = SINE_WALL_GAP) -> ClosedPath:
    """The racing line with a sinusoidal lateral offset, kept `wall_gap` away from the walls."""
    line = track.raceline
    cycles = max(1, round(line.length / wavelength))  # a whole number of waves closes the loop
    s = line.sample(PATH_STEP)
    free_left, free_right = track.raceline_bounds(s)
    offset = np.clip(amplitude * np.sin(2.0 * np.pi * cycles * s / line.length),
                     -(free_right - wall_gap), free_left - wall_gap)
    return ClosedPath(*line.to_cartesian(s, offset))


PATHS: dict[str, Callable[[Track], ClosedPath] | None] = {
    "racing_line": None, "centre": centre_path, "left_wall": left_wall_path, "oscillating": oscillating_path}


# -- a behaviour ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Behaviour:
    """How one behaviour is driven: MPC parameters and the line the MPC follows."""

    name: str
    params: MpcParams
    path: str = "racing_line"  # a key of PATHS
    path_speed: float = 2.5  # m/s along a scripted path (the car also starts at it)
    start_offset: float = 0.0  # m left of the reference line at the start
    note: str = ""
    # The behaviour at a random speed at which it is still itself (None: it has no speed).
    vary: Callable[[Behaviour, np.random.Generator], Behaviour] | None = field(default=None, repr=False)

    @property
    def scripted(self) -> bool:
        return PATHS[self.path] is not None

    @property
    def start_speed(self) -> float:
        return self.path_speed if self.scripted else 0.0

    def at_random_speed(self, rng: np.random.Generator) -> Behaviour:
        return self.vary(self, rng) if self.vary else self

    def reference_track(self, track: Track) -> Track:
        """The track the MPC is given: `track`, or its scripted path in place of the racing line,
        with the constant `path_speed` as its speed profile."""
        make_path = PATHS[self.path]
        if make_path is None:
            return track
        path = make_path(track)
        return Track(f"{track.name}:{self.path}", track.centre, track.width_left, track.width_right, path,
                     np.full(path.s_table.size, self.path_speed))

    def start_pose(self, reference: Track, track: Track, start_s: float) -> tuple[float, float, float]:
        """(x, y, yaw) on the reference line, next to the racing line's point at `start_s`."""
        line = reference.raceline
        s, _ = line.project(*track.raceline.position(start_s))
        x, y = line.to_cartesian(s, self.start_offset)
        return float(x), float(y), float(line.heading(s))


# -- speed variants (a behaviour's `vary`) --------------------------------------------------------

def reversing_at_random_speed(behaviour: Behaviour, rng: np.random.Generator) -> Behaviour:
    v_max = float(rng.uniform(-1.0, -0.2))
    params = dataclasses.replace(behaviour.params, v_max=v_max, v_min=float(rng.uniform(-2.0, v_max)))
    return dataclasses.replace(behaviour, params=params)


def forward_at_random_speed(behaviour: Behaviour, rng: np.random.Generator) -> Behaviour:
    v_max = float(rng.uniform(0.3, 7.0))
    params = dataclasses.replace(behaviour.params, v_min=min(behaviour.params.v_min, v_max), v_max=v_max)
    return dataclasses.replace(behaviour, params=params)


def fast_at_random_speed(behaviour: Behaviour, rng: np.random.Generator) -> Behaviour:
    return dataclasses.replace(behaviour, params=dataclasses.replace(behaviour.params,
                                                                     v_min=float(rng.uniform(2.0, 4.0))))


def scripted_at_random_speed(behaviour: Behaviour, rng: np.random.Generator) -> Behaviour:
    """A scripted path at another speed (the speed cap kept above it)."""
    speed = float(rng.uniform(0.8, 4.0))
    params = dataclasses.replace(behaviour.params, v_max=max(behaviour.params.v_max, speed + 0.5))
    return dataclasses.replace(behaviour, params=params, path_speed=speed)
