"""The controller's per-cycle logic, free of ROS: odometry gate -> MPC -> safety filter.

The mpc_controller node wraps a SafeController thinly (its callbacks call on_odometry, command,
watchdog and update_params); the safety bench drives one directly with simulated clocks. Every
command leaves through the SafetyFilter, including the zero-speed commands sent while stopped
for a fault, so no path bypasses the limits.

Clocks: `now` is the clock the controller runs on (simulated time under use_sim_time); staleness
is judged on it. The watchdog also gets the wall clock: if the controller's clock stops advancing
(a paused simulator, a silent /clock) no control step runs, so the watchdog keeps commanding zero
speed instead of leaving the last command latched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Protocol

from ..errors import Robotxr1Error
from ..params import MpcParams
from ..samples import OdomSample
from ..sim.vehicle import VehicleParams
from ..track import Track
from .odometry_gate import OdometryGate, Plausibility
from .param_limits import DEFAULT_BRAKE_FLOOR, ParamLimits
from .safety_filter import SafetyFilter, VehicleLimits

MAX_STOP_LATENCY_S = 0.2  # a fault must produce a zero-speed command within this time
STOP_LATENCY_TOLERANCE_S = 1e-9  # for sums of tick and period lengths, which floating point rounds up
CLOCK = "clock"  # fault kind: the controller's clock stopped advancing (watchdog)


class Planner(Protocol):
    """What the controller needs of the MPC (FrenetMPC fits; the bench injects arbitrary outputs)."""

    def solve(self, x: float, y: float, yaw: float, v: float, steering: float): ...

    def set_params(self, params: MpcParams) -> None: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class SafetyConfig:
    """Timeouts and plausibility bounds of the command path (controller parameters, not the LLM's)."""

    odom_timeout_s: float = 0.15  # odometry older than this (controller clock) stops the car
    clock_timeout_s: float = 0.1  # wall seconds without the controller's clock advancing stop the car
    max_off_track_m: float = 1.0  # a pose farther than this beyond a wall is rejected
    jump_tolerance_m: float = 0.5  # pose jumps beyond top speed x time + this are rejected
    brake_floor: float = DEFAULT_BRAKE_FLOOR  # a_min may not be set above this (m/s^2, negative)

    def check(self, period_s: float) -> None:
        """Raise Robotxr1Error unless every fault can stop the car within MAX_STOP_LATENCY_S."""
        for name in ("odom_timeout_s", "clock_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise Robotxr1Error(f"{name} must be positive, got {value}")
            if value + period_s > MAX_STOP_LATENCY_S + STOP_LATENCY_TOLERANCE_S:
                raise Robotxr1Error(f"{name}={value:g} s plus one control period ({period_s:g} s) exceeds the "
                                    f"{MAX_STOP_LATENCY_S} s within which a fault must stop the car")


@dataclass(frozen=True)
class Command:
    """One command as sent, and why it is what it is."""

    t: float  # controller clock
    speed: float  # m/s
    steering: float  # rad
    fault: str  # "" while driving, else the fault kind the car is stopped for
    stop_reason: str  # human-readable fault ("" while driving)
    corrections: tuple[str, ...]  # what the safety filter corrected
    mpc: object | None = None  # the planner's raw result (None while stopped)


class SafeController:
    """Gate, MPC and safety filter with the parameters in force."""

    def __init__(self, planner: Planner, period_s: float, track: Track | None = None,
                 safety: SafetyConfig = SafetyConfig(), limits: ParamLimits | None = None,
                 params: MpcParams | None = None, vehicle: VehicleParams = VehicleParams()) -> None:
        safety.check(period_s)
        self.safety = safety
        self.limits = limits if limits is not None else ParamLimits.create(brake_floor=safety.brake_floor)
        self.params = self.limits.initial(params.as_dict() if params is not None else {})
        self.planner = planner
        self.period_s = period_s
        plausibility = Plausibility(vehicle.v_min, vehicle.v_max, max_off_track_m=safety.max_off_track_m,
                                    jump_tolerance_m=safety.jump_tolerance_m)
        self.gate = OdometryGate(safety.odom_timeout_s, track, plausibility)
        self.filter = SafetyFilter(period_s, VehicleLimits.of(vehicle))
        self.fault = "no_odometry"  # stopped until good odometry arrives
        self.stop_reason = "no odometry received yet"
        self.stops: dict[str, int] = {}  # stops started, per fault kind
        self._planned = None  # params the planner has
        self._clock_seen: float | None = None  # controller clock at the last watchdog check ...
        self._clock_seen_wall = 0.0  # ... and the wall time it last changed

    # --- parameters ------------------------------------------------------------------------
    def update_params(self, changes: Mapping[str, float]) -> MpcParams:
        """Apply `changes` (all or nothing) and return the new set; raises ParamError if refused."""
        self.params = self.check_params(changes)
        return self.params

    def check_params(self, changes: Mapping[str, float]) -> MpcParams:
        """The set `changes` would give, checked as a whole; raises ParamError if refused."""
        return self.limits.update(self.params, changes)

    def status(self) -> dict:
        """The safety side of the status topic: why stopped, what was corrected or rejected."""
        return {
            "stale": bool(self.fault),  # stopped for a fault (any kind, not only stale odometry)
            "fault": self.fault,
            "stop_reason": self.stop_reason,
            "stops": dict(self.stops),
            "rejected_odometry": dict(self.gate.rejected),
            "corrections": dict(self.filter.counts),
            "params": self.params.as_dict(),
        }

    # --- control ---------------------------------------------------------------------------
    def on_odometry(self, sample: OdomSample, now: float) -> None:
        self.gate.receive(sample, now)

    def command(self, now: float) -> Command:
        """One control step at controller time `now`."""
        verdict = self.gate.verdict(now)
        if verdict.sample is None:
            return self._stop(now, verdict.fault, verdict.problem)
        self.fault, self.stop_reason = "", ""
        if self._planned is not self.params:
            self.planner.set_params(self.params)
            self._planned = self.params
        sample = verdict.sample
        result = self.planner.solve(sample.x, sample.y, sample.yaw, sample.vx, self.filter.steering)
        sent = self.filter.apply(result.speed, result.steering_angle, self.params)
        return Command(now, sent.speed, sent.steering, "", "", sent.corrections, result)

    def watchdog(self, now: float, wall: float) -> Command | None:
        """Called on the wall clock: a zero-speed command while the controller's clock stands still
        for longer than clock_timeout_s, else None (the control steps are running)."""
        if self._clock_seen is None or now != self._clock_seen:
            self._clock_seen, self._clock_seen_wall = now, wall
            return None
        stalled = wall - self._clock_seen_wall
        if stalled <= self.safety.clock_timeout_s:
            return None
        return self._stop(now, CLOCK, f"the controller's clock has not advanced for {stalled:.3f} s of wall time "
                                      f"(timeout {self.safety.clock_timeout_s} s): is /clock silent?")

    def _stop(self, now: float, fault: str, problem: str) -> Command:
        if fault != self.fault:
            if not self.fault:
                self.planner.reset()  # its warm start will no longer match the car
            self.stops[fault] = self.stops.get(fault, 0) + 1
        self.fault, self.stop_reason = fault, problem
        sent = self.filter.apply(0.0, self.filter.steering, self.params)
        return Command(now, sent.speed, sent.steering, fault, problem, sent.corrections)
