"""The one catalog of driving behaviours (the eight of the decision evaluation) and the routine that
drives one in the simulator and yields its sensor readings, as the sim node would publish them.

Both the decision datasets (decision_dataset.py, `robotxr1 make-datasets`) and the fixture bags
(`robotxr1 record --behaviour`, test/fixtures/bags/) are recorded from here, so a behaviour
means the same thing in both.

Every behaviour is driven by the MPC. Stopping, reversing, forward, fast and racing-line driving
come from its parameters (v_min = v_max = 0; v_max < 0; v_max = 2.5; v_min = 3.5; defaults).
No parameter makes the MPC leave its reference line, so oscillating, close-to-the-left-wall and
centre-line driving give it a scripted reference path in place of the racing line, at a constant
speed: the racing line plus a sine offset, a line 0.3 m from the left wall, or the centre line
(the midline between the walls: tracks are re-centred on it, see track/midline.py). The simulator
always keeps the real walls.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

import numpy as np

from ..errors import Robotxr1Error
from ..samples import OdomSample, ScanSample
from ..control.mpc import FrenetMPC, MpcConfig
from ..sim.sensors import odometry_sample, scan_sample, ticks_per_reading
from ..params import MpcParams
from ..sim.simulator import Simulator
from ..track import ClosedPath, Track

PHYSICS_DT = 0.005  # s per simulator tick; sensors and commands run every few ticks
PATH_STEP = 0.25  # m between the points a scripted path is fitted through

OSCILLATION_AMPLITUDE = 0.6  # m either side of the racing line
OSCILLATION_WAVELENGTH = 6.0  # m along the racing line (rounded to close the loop)
OSCILLATION_WALL_GAP = 0.35  # m: the sine is clipped this far from the walls
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


def oscillating_path(track: Track, amplitude: float = OSCILLATION_AMPLITUDE,
                     wavelength: float = OSCILLATION_WAVELENGTH,
                     wall_gap: float = OSCILLATION_WALL_GAP) -> ClosedPath:
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


# -- the catalog ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Behaviour:
    """How one behaviour is driven: MPC parameters and the line the MPC follows."""

    name: str
    params: MpcParams
    path: str = "racing_line"  # a key of PATHS
    path_speed: float = 2.5  # m/s along a scripted path (the car also starts at it)
    start_offset: float = 0.0  # m left of the reference line at the start
    note: str = ""

    @property
    def scripted(self) -> bool:
        return PATHS[self.path] is not None

    @property
    def start_speed(self) -> float:
        return self.path_speed if self.scripted else 0.0

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


BEHAVIOURS: dict[str, Behaviour] = {b.name: b for b in (
    Behaviour("stopped", MpcParams(v_min=0.0, v_max=0.0), start_offset=0.3,
              note="speed bounds v_min = v_max = 0: the MPC holds the car still, 0.3 m off the racing line"),
    Behaviour("reversing", MpcParams(v_min=-1.5, v_max=-0.5), note="v_max < 0 forces reversing"),
    Behaviour("forward", MpcParams(v_max=2.5), note="default weights, v_max = 2.5 m/s"),
    Behaviour("oscillating", MpcParams(qn=60.0, v_max=3.0), path="oscillating", path_speed=2.5,
              note=f"scripted path: racing line + {OSCILLATION_AMPLITUDE} m sine offset, "
                   f"{OSCILLATION_WAVELENGTH:g} m wavelength"),
    Behaviour("close_to_left_wall", MpcParams(track_safety_margin=0.05, v_max=2.5), path="left_wall",
              path_speed=2.0, note=f"scripted path {WALL_CLEARANCE} m from the left wall"),
    Behaviour("centerline", MpcParams(qn=60.0, v_max=3.5), path="centre", path_speed=3.0,
              note="scripted path: the centre line, equidistant to both walls"),
    Behaviour("fast", MpcParams(v_min=3.5), note="v_min = 3.5 m/s keeps the car above 3 m/s"),
    Behaviour("racing_line", MpcParams(), note="default parameters"),
)}
BEHAVIOUR_NAMES = tuple(BEHAVIOURS)


def behaviour(name: str) -> Behaviour:
    try:
        return BEHAVIOURS[name]
    except KeyError:
        raise Robotxr1Error(f"unknown behaviour {name!r}; known: {list(BEHAVIOURS)}") from None


# -- driving and sensing --------------------------------------------------------------------------

class Command(NamedTuple):
    steering: float
    speed: float


@dataclass(frozen=True)
class ImuSample:
    t: float
    yaw: float
    yaw_rate: float
    ax: float
    ay: float


class Reading(NamedTuple):
    topic: str  # "odom", "scan", "imu" or "drive"
    t: float
    value: OdomSample | ScanSample | ImuSample | Command


@dataclass(frozen=True)
class SensorRates:
    odom_hz: float = 50.0
    scan_hz: float = 40.0
    imu_hz: float = 100.0


def sensor_stream(track: Track, chosen: Behaviour | str, seconds: float, start_s: float = 0.0, seed: int = 0,
                  rates: SensorRates = SensorRates(), beam_stride: int = 1) -> Iterator[Reading]:
    """Drive a behaviour for `seconds` from `start_s` (m along the racing line) and yield every
    sensor reading and drive command, stamped in simulated time."""
    if isinstance(chosen, str):
        chosen = behaviour(chosen)
    reference = chosen.reference_track(track)
    mpc = FrenetMPC(reference, params=chosen.params)
    sim = Simulator(track, dt=PHYSICS_DT, seed=seed)
    sim.reset(pose=chosen.start_pose(reference, track, start_s), speed=chosen.start_speed)
    every = {"drive": ticks_per_reading(MpcConfig().control_rate_hz, PHYSICS_DT),
             "odom": ticks_per_reading(rates.odom_hz, PHYSICS_DT),
             "scan": ticks_per_reading(rates.scan_hz, PHYSICS_DT), "imu": ticks_per_reading(rates.imu_hz, PHYSICS_DT)}
    command = Command(0.0, 0.0)
    for tick in range(int(round(seconds / PHYSICS_DT))):
        t = sim.time
        if tick % every["drive"] == 0:
            state = sim.state
            solved = mpc.solve(state.x, state.y, state.yaw, state.vx, state.steering)
            command = Command(solved.steering_angle, solved.speed)
            yield Reading("drive", t, command)
        if tick % every["odom"] == 0:
            yield Reading("odom", t, odometry_sample(sim, t))
        if tick % every["imu"] == 0:
            state = sim.state
            ax, ay = sim.imu()
            yield Reading("imu", t, ImuSample(t, state.yaw, state.yaw_rate, ax, ay))
        if tick % every["scan"] == 0:
            yield Reading("scan", t, scan_sample(sim, t, beam_stride))
        sim.step(command.steering, command.speed, PHYSICS_DT)
