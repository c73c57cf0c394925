"""Behaviours driven in the simulator to be recorded as bags: forward, reversing, stopped,
oscillating and close to the left wall (the behaviours of the decision evaluation).

The MPC drives the behaviours it can be tuned to (forward, reversing, stopped); a pure-pursuit
driver follows the racing line shifted sideways for the others, which no MPC parameter asks for.
`sensor_stream` yields the sensor readings at their rates, as the sim node would publish them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

from ..errors import Robotxr1Error
from ..samples import OdomSample, ScanSample
from ..control.mpc import FrenetMPC
from ..sim.sensors import odometry_sample, scan_sample, ticks_per_reading
from ..params import MpcParams
from ..sim.simulator import Simulator
from ..track import Track

CONTROL_RATE_HZ = 40.0
PHYSICS_DT = 0.005


class Command(NamedTuple):
    steering: float
    speed: float


Driver = Callable[[Simulator], Command]


class MpcDriver:
    def __init__(self, track: Track, params: MpcParams) -> None:
        self._mpc = FrenetMPC(track, params=params)

    def __call__(self, sim: Simulator) -> Command:
        state = sim.state
        command = self._mpc.solve(state.x, state.y, state.yaw, state.vx, state.steering)
        return Command(command.steering_angle, command.speed)


class OffsetPursuit:
    """Pure pursuit of the racing line shifted `offset(s)` metres to the left, at constant speed."""

    def __init__(self, track: Track, offset: Callable[[float], float], speed: float, lookahead: float = 1.0) -> None:
        self.line = track.raceline
        self.offset = offset
        self.speed = speed
        self.lookahead = lookahead

    def target(self, s: float) -> tuple[float, float]:
        x, y = self.line.to_cartesian(s, self.offset(s))
        return float(x), float(y)

    def __call__(self, sim: Simulator) -> Command:
        state = sim.state
        s, _ = self.line.project(state.x, state.y)
        tx, ty = self.target(float(s) + self.lookahead)
        alpha = math.atan2(ty - state.y, tx - state.x) - state.yaw
        wheelbase = sim.params.wheelbase
        return Command(math.atan2(2.0 * wheelbase * math.sin(alpha), self.lookahead), self.speed)


@dataclass(frozen=True)
class Behaviour:
    description: str
    driver: Callable[[Track], Driver]
    start_speed: float = 0.0
    start_offset: Callable[[Track, float], float] = lambda track, s: 0.0  # m left of the racing line


OSCILLATION_AMPLITUDE = 0.5  # m
OSCILLATION_WAVELENGTH = 6.0  # m along the racing line
WALL_CLEARANCE = 0.3  # m between the car's centre and the left wall
PURSUIT_SPEED = 2.5  # m/s


def _weave(s: float) -> float:
    return OSCILLATION_AMPLITUDE * math.sin(2.0 * math.pi * s / OSCILLATION_WAVELENGTH)


def _hug_left_wall(track: Track) -> Callable[[float], float]:
    return lambda s: float(track.raceline_bounds(s)[0]) - WALL_CLEARANCE


BEHAVIOURS: dict[str, Behaviour] = {
    "forward": Behaviour("racing with the default MPC parameters",
                         lambda track: MpcDriver(track, MpcParams()), start_speed=3.0),
    "reversing": Behaviour("reversing at 1 m/s (MPC v_min=-2, v_max=-1)",
                           lambda track: MpcDriver(track, MpcParams(v_min=-2.0, v_max=-1.0))),
    "stopped": Behaviour("standing still (MPC v_min=v_max=0)",
                         lambda track: MpcDriver(track, MpcParams(v_min=0.0, v_max=0.0))),
    "oscillating": Behaviour(f"weaving +-{OSCILLATION_AMPLITUDE} m across the racing line",
                             lambda track: OffsetPursuit(track, _weave, PURSUIT_SPEED), start_speed=PURSUIT_SPEED),
    "left_wall": Behaviour(f"driving {WALL_CLEARANCE} m from the left wall",
                           lambda track: OffsetPursuit(track, _hug_left_wall(track), PURSUIT_SPEED),
                           start_speed=PURSUIT_SPEED, start_offset=lambda track, s: _hug_left_wall(track)(s)),
}


def behaviour(name: str) -> Behaviour:
    try:
        return BEHAVIOURS[name]
    except KeyError:
        raise Robotxr1Error(f"unknown behaviour {name!r}; known: {sorted(BEHAVIOURS)}") from None


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


def sensor_stream(track: Track, name: str, seconds: float, start_s: float = 0.0, seed: int = 0,
                  rates: SensorRates = SensorRates(), beam_stride: int = 1) -> Iterator[Reading]:
    """Drive behaviour `name` for `seconds` and yield every sensor reading and drive command."""
    chosen = behaviour(name)
    sim = Simulator(track, dt=PHYSICS_DT, seed=seed)
    line = track.raceline
    x, y = line.to_cartesian(start_s, chosen.start_offset(track, start_s))
    sim.reset(pose=(float(x), float(y), float(line.heading(start_s))), speed=chosen.start_speed)
    driver = chosen.driver(track)
    every = {"drive": ticks_per_reading(CONTROL_RATE_HZ, PHYSICS_DT), "odom": ticks_per_reading(rates.odom_hz, PHYSICS_DT),
             "scan": ticks_per_reading(rates.scan_hz, PHYSICS_DT), "imu": ticks_per_reading(rates.imu_hz, PHYSICS_DT)}
    command = Command(0.0, 0.0)
    for tick in range(int(round(seconds / PHYSICS_DT))):
        t = sim.time
        if tick % every["drive"] == 0:
            command = driver(sim)
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
