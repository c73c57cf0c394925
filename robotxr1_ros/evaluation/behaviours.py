"""The behaviour catalog (one behaviour per decision rule, robotxr1_ros/cases/decision.py) and the
routine that drives one in the simulator and yields its sensor readings, as the sim node would
publish them.

Both the decision datasets (decision_dataset.py, `robotxr1 make-datasets`) and the fixture bags
(`robotxr1 record --behaviour`, test/fixtures/bags/) are recorded from here, so a behaviour
means the same thing in both. How each is driven (MPC parameters, scripted reference paths):
cases/behaviours.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from ..cases.behaviours import Behaviour
from ..cases.decision import DECISION_RULES
from ..control.mpc import FrenetMPC, MpcConfig
from ..errors import Robotxr1Error
from ..samples import OdomSample, ScanSample
from ..sim.sensors import odometry_sample, scan_sample, ticks_per_reading
from ..sim.simulator import Simulator
from ..track import Track

PHYSICS_DT = 0.005  # s per simulator tick; sensors and commands run every few ticks


def behaviours() -> dict[str, Behaviour]:
    """The behaviours of the decision rules, by name, in the rules' order."""
    return {rule.behaviour.name: rule.behaviour for rule in DECISION_RULES.values() if rule.behaviour}


def behaviour(name: str) -> Behaviour:
    try:
        return behaviours()[name]
    except KeyError:
        raise Robotxr1Error(f"unknown behaviour {name!r}; known: {list(behaviours())}") from None


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
    for tick in range(round(seconds / PHYSICS_DT)):
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
