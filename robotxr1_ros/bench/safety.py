"""`robotxr1 bench safety`: random fault sequences through the controller's command path.

Each sequence drives a SafeController (gate + planner + safety filter, no ROS) for one second on
two simulated clocks: the wall clock, and the controller's clock, which stands still while the
simulator is paused, crawls while it runs slow and may jump. Control steps run on the controller's
clock (missed periods skipped, as rcl's timers do), the watchdog on the wall clock. The car is fed
good odometry along the racing line; one fault is injected at a random time for a random
duration, parameter updates (valid and invalid) arrive at random times, and the planner returns
arbitrary commands (large, negative, NaN), standing for an MPC that cannot be trusted. A share of
the sequences uses the real FrenetMPC instead.

Every command sent is checked by an oracle written from the limits themselves, not from the
filter's code: finite; speed within the vehicle's range and [min(v_min, 0), max(v_max, 0)] of
the parameters in force; speed growing in magnitude by at most a_max per control period;
steering within range and rate; zero speed on corrupted odometry, once the last odometry is
MAX_STOP_LATENCY_S old on the controller's clock or on the wall clock, and once the clock has been
paused for MAX_STOP_LATENCY_S of wall time; while paused or slow, zero-speed commands at least
every MAX_STOP_LATENCY_S (the longest gap is reported per fault). Parameter sets that are accepted
must satisfy the table, the brake floor and the cross rules.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import numpy as np

from ..control.controller import MAX_STOP_LATENCY_S, Planner, SafeController, SafetyConfig
from ..control.faults import Fault
from ..control.mpc import FrenetMPC, MpcCommand, MpcConfig
from ..control.safety_filter import Correction, VehicleLimits
from ..errors import Robotxr1Error
from ..params import PARAM_NAMES, PARAM_SPECS, MpcParams, ParamError
from ..samples import OdomSample
from ..track import Track
from ..track.library import get_track

TICK_S = 0.005  # wall-clock resolution of the replay
ODOM_PERIOD_S = 0.02  # 50 Hz, as the simulator
SEQUENCE_S = 1.0
Key = TypeVar("Key", bound=str)
TOLERANCE = 1e-9



class Injected(StrEnum):
    """The faults the bench injects (sequence i gets the i-th, in this order, cyclically)."""

    NONE = "none"  # nothing
    # Sample faults: each odometry message is corrupted while active.
    OVERSPEED = "overspeed"
    NAN_QUATERNION = "nan_quaternion"
    ZERO_QUATERNION = "zero_quaternion"
    SKEWED_QUATERNION = "skewed_quaternion"
    NAN_POSITION = "nan_position"
    INF_SPEED = "inf_speed"
    NAN_STAMP = "nan_stamp"
    OFF_TRACK = "off_track"
    JUMP = "jump"  # one glitched sample
    DROPOUT = "dropout"  # odometry falls silent
    CLOCK_STALL = "clock_stall"  # the controller's clock (and the simulator with it) pauses
    CLOCK_BACK = "clock_back"  # the controller's clock restarts 5 s earlier
    # With odometry silent (a simulator that slowed down or restarted and publishes no odometry):
    CLOCK_SLOW = "clock_slow"  # the controller's clock runs at 1-80 % of real time
    CLOCK_JUMP = "clock_jump"  # the controller's clock moves 0.03-5 s back or forward


FAULTS = tuple(Injected)
SAMPLE_FAULTS = (Injected.OVERSPEED, Injected.NAN_QUATERNION, Injected.ZERO_QUATERNION, Injected.SKEWED_QUATERNION,
                 Injected.NAN_POSITION, Injected.INF_SPEED, Injected.NAN_STAMP, Injected.OFF_TRACK, Injected.JUMP)
SILENT_FAULTS = (Injected.DROPOUT, Injected.CLOCK_SLOW, Injected.CLOCK_JUMP)  # odometry stops arriving while active


@dataclass
class Check:
    """What the oracle counted over all sequences."""

    commands: int = 0
    unsafe: dict[str, int] = field(default_factory=dict)
    latency: dict[Injected, float] = field(default_factory=dict)  # max stop latency per fault type (wall s)
    zero_gap: dict[Injected, float] = field(default_factory=dict)  # longest wall gap between stop commands
    injected: dict[Injected, int] = field(default_factory=dict)
    stops: dict[Fault, int] = field(default_factory=dict)  # controller-reported stops per fault kind
    corrections: dict[Correction, int] = field(default_factory=dict)
    params_accepted: int = 0
    params_refused: int = 0

    def flag(self, reason: str) -> None:
        self.unsafe[reason] = self.unsafe.get(reason, 0) + 1

    def add(self, counts: Mapping[Key, int], into: dict[Key, int]) -> None:
        for key, value in counts.items():
            into[key] = into.get(key, 0) + value


class RandomPlanner:
    """An MPC that returns anything: plausible commands, extreme values and NaN."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def solve(self, x: float, y: float, yaw: float, v: float, steering: float) -> MpcCommand:
        rng = self.rng
        pick = rng.random()
        if pick < 0.5:
            speed, steer = rng.uniform(-3.0, 14.0), rng.uniform(-0.45, 0.45)
        elif pick < 0.65:
            speed, steer = v - 0.5, steering  # what the unfiltered controller did with bad odometry
        elif pick < 0.85:
            speed, steer = rng.choice((1.0, -1.0)) * 10 ** rng.uniform(0, 3), rng.uniform(-10.0, 10.0)
        else:
            speed, steer = rng.choice((math.nan, math.inf, -math.inf, 5.0)), rng.choice((math.nan, 0.1, math.inf))
        return MpcCommand(steer, speed, "optimal", 0.0, False, "", 0, math.nan, math.nan, math.nan, None, None)

    def set_params(self, params: MpcParams) -> None:
        pass

    def reset(self) -> None:
        pass


def random_changes(rng: random.Random) -> dict[str, float]:
    """1-3 parameter changes: in range, out of range, NaN, above the brake floor, crossed v window."""
    changes = {}
    for name in rng.sample(PARAM_NAMES, rng.randint(1, 3)):
        spec = PARAM_SPECS[name]
        pick = rng.random()
        if pick < 0.6:
            changes[name] = rng.uniform(spec.minimum, spec.maximum)
        elif pick < 0.8:
            changes[name] = rng.choice((spec.minimum - 1.0, spec.maximum + 5.0, 0.0))
        else:
            changes[name] = rng.choice((math.nan, math.inf))
    return changes


def params_are_allowed(values: dict[str, float], brake_floor: float) -> bool:
    """The oracle's own statement of the parameter invariants."""
    in_table = all(math.isfinite(values[spec.name]) and spec.minimum <= values[spec.name] <= spec.maximum
                   for spec in PARAM_SPECS.values())
    return in_table and values["a_min"] <= brake_floor and values["v_min"] <= values["v_max"]


class RacingLineTable:
    """The racing line's poses on a 2 cm grid (odometry of a car on it, without spline calls), and
    points well outside the track for the off-track fault."""

    def __init__(self, track: Track, max_off_track_m: float) -> None:
        line = track.raceline
        self.length = line.length
        self.step = float(line.s_table[1] - line.s_table[0])
        self.xy = np.column_stack(line.position(line.s_table))
        self.yaw = line.heading(line.s_table)
        left, right = track.wall_distances(self.xy[:, 0], self.xy[:, 1])
        normal = np.column_stack([-np.sin(self.yaw), np.cos(self.yaw)])
        margin = max_off_track_m + 0.5
        candidates = np.vstack([self.xy + normal * (left + margin)[:, None],
                                self.xy - normal * (right + margin)[:, None]])
        left, right = track.wall_distances(candidates[:, 0], candidates[:, 1])
        # beyond the limit, not near another bend
        outside = candidates[np.minimum(left, right) < -max_off_track_m - 0.25]
        far = np.array([[50.0, 0.0], [-30.0, 40.0]]) + self.xy.mean(axis=0)
        self.outside = np.vstack([outside, far])

    def at(self, s: float) -> tuple[float, float, float]:
        index = int(s / self.step) % len(self.yaw)
        return float(self.xy[index, 0]), float(self.xy[index, 1]), float(self.yaw[index])

    def off_track(self, rng: random.Random) -> tuple[float, float]:
        x, y = self.outside[rng.randrange(len(self.outside))]
        return float(x), float(y)


class Sequence:
    """One replay: the car's true motion, the fault, and the checks on every command."""

    def __init__(self, rng: random.Random, line: RacingLineTable, controller: SafeController, fault: Injected,
                 check: Check) -> None:
        self.rng, self.line, self.controller, self.fault, self.check = rng, line, controller, fault, check
        self.limits = VehicleLimits.of()
        self.speed = rng.uniform(0.0, 8.0)  # the car's true speed along the racing line
        self.s0 = rng.uniform(0.0, line.length)
        self.fault_start = rng.uniform(0.25, 0.5)  # wall time
        self.fault_end = self.fault_start + rng.uniform(0.05, 0.45)
        self.params = controller.params.as_dict()  # the oracle's copy of the parameters in force
        self.previous = (0.0, 0.0)  # the last command sent (speed, steering)
        self.previous_fault: Fault | None = None  # what the last command was a stop for (None: it drove)
        self.latest_corrupt = False  # the last odometry the controller received was corrupted
        self.last_received: float | None = None  # controller time of the last odometry received
        self.last_received_wall: float | None = None  # ... and its wall time
        self.ros = 0.0  # the controller's clock
        # clock_slow: the clock's rate; clock_jump: how far it jumps (s, negative: back)
        self.clock_rate = 10 ** rng.uniform(-2.0, -0.1) if fault == Injected.CLOCK_SLOW else 1.0
        self.clock_jump = (rng.choice((-1.0, 1.0)) * 10 ** rng.uniform(-1.5, 0.7) if fault == Injected.CLOCK_JUMP
                           else 0.0)
        self.stall_start: float | None = None  # wall time the clock stopped, while it stands
        self.onset: float | None = None  # wall time the fault began (for the stop latency)
        self.stopped_at: float | None = None  # wall time of the first zero-speed command after it
        self.last_sent = 0.0  # wall time of the last command

    def run(self) -> None:
        rng, controller, fault = self.rng, self.controller, self.fault
        param_times = sorted(rng.uniform(0.0, SEQUENCE_S) for _ in range(rng.randint(0, 3)))
        ros = 0.0
        next_odom = next_control = next_watchdog = 0.0
        clock_moved_back = False
        for tick in range(round(SEQUENCE_S / TICK_S) + 1):
            wall = tick * TICK_S
            active = self.fault_start <= wall < self.fault_end
            stalled = active and fault == Injected.CLOCK_STALL
            if stalled and self.onset is None:
                self.onset = wall
            self.stall_start = self.onset if stalled else None
            if active and fault in (Injected.CLOCK_BACK, Injected.CLOCK_JUMP) and not clock_moved_back:
                # clock_back: a restarted simulation, no stop required, the limits still hold
                ros += -5.0 if fault == Injected.CLOCK_BACK else self.clock_jump
                next_odom = next_control = ros
                clock_moved_back = True
            elif tick > 0 and not stalled:
                ros += TICK_S * (self.clock_rate if active else 1.0)
            self.ros = ros
            while param_times and param_times[0] <= wall:
                param_times.pop(0)
                self.update_params(random_changes(rng))
            if active and fault in SILENT_FAULTS and self.onset is None:
                self.onset = self.last_received_wall if self.last_received_wall is not None else wall
            if not stalled and ros >= next_odom - TOLERANCE:
                next_odom += ODOM_PERIOD_S
                if not (active and fault in SILENT_FAULTS):
                    # a jump is one glitched sample; the other sample faults last the whole window
                    corrupt = active and fault in SAMPLE_FAULTS and (fault != Injected.JUMP or self.onset is None)
                    controller.on_odometry(self.odometry(ros, corrupt), ros, wall)
                    if self.latest_corrupt and not corrupt and self.stopped_at is None:
                        self.fault_end = wall  # a good sample replaced the bad one before any command used it
                    self.latest_corrupt, self.last_received, self.last_received_wall = corrupt, ros, wall
                    if corrupt and self.onset is None:
                        self.onset = wall
            if not stalled and ros >= next_control - TOLERANCE:
                while next_control <= ros + TOLERANCE:  # missed periods are skipped, as by rcl's timers
                    next_control += controller.period_s
                self.judge(controller.command(ros, wall), wall)
            if wall >= next_watchdog - TOLERANCE:
                next_watchdog += controller.period_s
                command = controller.watchdog(ros, wall)
                if command is not None:
                    self.judge(command, wall)
            clock_held = stalled or (active and fault == Injected.CLOCK_SLOW)
            if clock_held and wall - self.last_sent > MAX_STOP_LATENCY_S + TOLERANCE:
                self.check.flag("no command while the clock is paused or slow")
                self.last_sent = wall
            if not active and wall >= self.fault_end and fault != Injected.NONE:
                self.finish_fault(wall)
                fault = self.fault = Injected.NONE  # one fault per sequence
        if fault != Injected.NONE:
            self.finish_fault(SEQUENCE_S)

    def finish_fault(self, wall: float) -> None:
        if self.onset is None:
            return
        if self.stopped_at is not None:
            latency = self.stopped_at - self.onset
            self.check.latency[self.fault] = max(self.check.latency.get(self.fault, 0.0), latency)
        elif wall - self.onset >= MAX_STOP_LATENCY_S:
            self.check.flag(f"{self.fault}: no stop")

    def odometry(self, ros: float, corrupt: bool) -> OdomSample:
        line = self.line
        x, y, yaw = line.at((self.s0 + self.speed * ros) % line.length)
        if not corrupt:
            return OdomSample(ros, x, y, yaw, self.speed, 0.0, 0.0)
        fault, rng = self.fault, self.rng
        if fault == Injected.OVERSPEED:
            return OdomSample(ros, x, y, yaw, rng.choice((21.0, 50.0, 300.0, -8.0)), 0.0, 0.0)
        if fault == Injected.NAN_QUATERNION:
            return OdomSample.from_quaternion(ros, x, y, math.nan, math.nan, math.nan, math.nan, self.speed, 0.0, 0.0)
        if fault == Injected.ZERO_QUATERNION:
            return OdomSample.from_quaternion(ros, x, y, 0.0, 0.0, 0.0, 0.0, self.speed, 0.0, 0.0)
        if fault == Injected.SKEWED_QUATERNION:
            scale = rng.choice((0.5, 0.99, 1.01, 3.0))
            half = 0.5 * yaw
            return OdomSample.from_quaternion(ros, x, y, 0.0, 0.0, scale * math.sin(half), scale * math.cos(half),
                                              self.speed, 0.0, 0.0)
        if fault == Injected.NAN_POSITION:
            return OdomSample(ros, math.nan, y, yaw, self.speed, 0.0, 0.0)
        if fault == Injected.INF_SPEED:
            return OdomSample(ros, x, y, yaw, math.inf, 0.0, 0.0)
        if fault == Injected.NAN_STAMP:
            return OdomSample(math.nan, x, y, yaw, self.speed, 0.0, 0.0)
        if fault == Injected.OFF_TRACK:
            ox, oy = line.off_track(rng)
            return OdomSample(ros, ox, oy, yaw, self.speed, 0.0, 0.0)
        # jump: the pose leaps farther than the car can travel, still on the track
        jx, jy, jyaw = line.at((self.s0 + self.speed * ros + rng.uniform(3.0, 10.0)) % line.length)
        return OdomSample(ros, jx, jy, jyaw, self.speed, 0.0, 0.0)

    def update_params(self, changes: dict[str, float]) -> None:
        try:
            accepted = self.controller.update_params(changes)
        except ParamError:
            self.check.params_refused += 1
            return
        self.check.params_accepted += 1
        values = accepted.as_dict()
        if not params_are_allowed(values, self.controller.safety.brake_floor):
            self.check.flag("unsafe parameters accepted")
        if any(values[name] != value for name, value in changes.items()):
            self.check.flag("accepted parameters differ from the request")
        self.params = values

    def judge(self, command, wall: float) -> None:
        """The oracle, on one command sent at wall time `wall`."""
        check, limits, params = self.check, self.limits, self.params
        check.commands += 1
        speed, steering = command.speed, command.steering
        previous_speed, previous_steering = self.previous
        period = self.controller.period_s
        if not (math.isfinite(speed) and math.isfinite(steering)):
            check.flag("non-finite command")
        else:
            if speed > min(limits.speed_max, max(params["v_max"], 0.0)) + TOLERANCE:
                check.flag("speed above v_max or the vehicle's maximum")
            if speed < max(limits.speed_min, min(params["v_min"], 0.0)) - TOLERANCE:
                check.flag("reverse speed beyond v_min or the vehicle's minimum")
            step = limits.acceleration * period + TOLERANCE
            if speed > max(previous_speed, 0.0) + step or speed < min(previous_speed, 0.0) - step:
                check.flag("acceleration above the vehicle's a_max")
            if not limits.steering_min - TOLERANCE <= steering <= limits.steering_max + TOLERANCE:
                check.flag("steering beyond the vehicle's range")
            if abs(steering - previous_steering) > limits.steering_rate * period + TOLERANCE:
                check.flag("steering rate beyond the vehicle's")
        moving = speed != 0.0
        if moving and self.latest_corrupt:
            check.flag(f"{self.fault}: moving on corrupted odometry")
        if moving and (self.last_received is None
                       or abs(self.ros - self.last_received) >= MAX_STOP_LATENCY_S - TOLERANCE):
            check.flag(f"{self.fault}: moving on odometry {MAX_STOP_LATENCY_S} s old")
        if moving and self.last_received_wall is not None and \
                wall - self.last_received_wall >= MAX_STOP_LATENCY_S - TOLERANCE:
            check.flag(f"{self.fault}: moving on odometry {MAX_STOP_LATENCY_S} s old on the wall clock")
        if moving and self.stall_start is not None and wall - self.stall_start >= MAX_STOP_LATENCY_S - TOLERANCE:
            check.flag(f"{self.fault}: moving {MAX_STOP_LATENCY_S} s after the clock stopped")
        if not moving and self.onset is not None and self.stopped_at is None:
            self.stopped_at = wall
        elif command.fault and self.previous_fault and self.fault != Injected.NONE:
            gap = wall - self.last_sent  # between two stop commands while the fault lasts
            check.zero_gap[self.fault] = max(check.zero_gap.get(self.fault, 0.0), gap)
        self.previous, self.previous_fault = (speed, steering), command.fault
        self.last_sent = wall


def bench_safety(sequences: int = 10_000, seed: int = 0, mpc_every: int = 100, track_name: str = "eval",
                 safety: SafetyConfig = SafetyConfig()) -> dict:
    """Replay `sequences` random fault sequences; every `mpc_every`-th uses the real FrenetMPC
    (0: never). Returns the oracle's counts and the maximum stop latency per fault type."""
    if sequences < 1:
        raise Robotxr1Error(f"bench safety: need at least one sequence, got {sequences}")
    rng = random.Random(seed)
    track = get_track(track_name)
    config = MpcConfig()
    period = 1.0 / config.control_rate_hz
    mpc = FrenetMPC(track, config=config) if mpc_every else None
    line = RacingLineTable(track, safety.max_off_track_m)
    check = Check()
    start = time.perf_counter()
    for index in range(sequences):
        fault = FAULTS[index % len(FAULTS)]
        planner: Planner
        if mpc is not None and index % mpc_every == 0:
            mpc.reset()
            planner = mpc
        else:
            planner = RandomPlanner(rng)
        controller = SafeController(planner, period, track, safety)
        check.injected[fault] = check.injected.get(fault, 0) + 1
        Sequence(rng, line, controller, fault, check).run()
        check.add(controller.stops, check.stops)
        check.add(controller.filter.counts, check.corrections)
    wall = time.perf_counter() - start
    unsafe = sum(check.unsafe.values())
    return {
        "sequences": sequences,
        "seed": seed,
        "mpc_sequences": 0 if mpc is None else len(range(0, sequences, mpc_every)),
        "commands": check.commands,
        "unsafe_commands": unsafe,
        "unsafe_by_reason": dict(sorted(check.unsafe.items())),
        "max_stop_latency_s": round(max(check.latency.values(), default=0.0), 4),
        "stop_deadline_s": MAX_STOP_LATENCY_S,
        "stop_latency_s_by_fault": {str(fault): round(value, 4) for fault, value in sorted(check.latency.items())},
        "max_zero_speed_gap_s_by_fault": {str(fault): round(value, 4)
                                          for fault, value in sorted(check.zero_gap.items())},
        "injected_by_fault": {str(fault): count for fault, count in check.injected.items()},
        "controller_stops_by_fault": {str(kind): count for kind, count in sorted(check.stops.items())},
        "filter_corrections": {str(kind): count for kind, count in check.corrections.items()},
        "param_updates_accepted": check.params_accepted,
        "param_updates_refused": check.params_refused,
        "wall_s": round(wall, 2),
    }


def markdown(result: dict) -> str:
    """The result as a short markdown report."""
    lines = [
        f"# Safety bench: {result['sequences']} random fault sequences (seed {result['seed']}, "
        f"{result['mpc_sequences']} with the real MPC)",
        "",
        f"- commands checked: {result['commands']}",
        f"- **unsafe commands: {result['unsafe_commands']}**"
        + (f" ({result['unsafe_by_reason']})" if result["unsafe_commands"] else ""),
        f"- max stop latency after a fault: {result['max_stop_latency_s']} s (deadline {result['stop_deadline_s']} s)",
        f"- parameter updates: {result['param_updates_accepted']} accepted, {result['param_updates_refused']} refused",
        f"- safety filter corrections: {result['filter_corrections']}",
        "",
        "| fault | sequences | max stop latency (s) | longest gap between zero-speed commands (s) |",
        "|---|---|---|---|",
    ]
    for fault in FAULTS:
        latency = result["stop_latency_s_by_fault"].get(fault, "-")
        gap = result["max_zero_speed_gap_s_by_fault"].get(fault, "-")
        lines.append(f"| {fault} | {result['injected_by_fault'].get(fault, 0)} | {latency} | {gap} |")
    lines += ["", f"controller stops by fault kind: {result['controller_stops_by_fault']}",
              f"wall time: {result['wall_s']} s"]
    return "\n".join(lines)
