"""The controller's per-cycle logic, free of ROS: odometry gate -> MPC -> safety filter.

The mpc_controller node wraps a SafeController thinly (its callbacks call on_odometry, command,
watchdog and update_params); the safety bench drives one directly with simulated clocks. Every
command leaves through the SafetyFilter, including the zero-speed commands sent while stopped
for a fault, so no path bypasses the limits.

Clocks: `now` is the clock the controller runs on (simulated time under use_sim_time), `wall` a
steady (monotonic) clock. Odometry is stale once it is older than odom_timeout_s on EITHER clock,
so no simulated clock (slow, stopped, jumping either way) keeps silent odometry fresh. The control
steps run on `now`; the watchdog runs on the wall clock whatever `now` does. Once the controller's
clock has fallen behind the wall clock by more than clock_timeout_s since the last control step (a
paused simulator, a silent or slow /clock, a jump back) the watchdog commands zero speed at every
call instead of leaving the last command latched, and the first step after it does not drive
either. A step that is late on both clocks alike (a long solve) is not the clock's fault and stops
nothing. When odometry goes stale between two steps, the watchdog stops the car at once.

An operator's stop (`hold`, the node's ~/stop service) commands zero speed at once and at every
step until `resume` (the MPC still steers while odometry is good): nothing else drives the car
again, not good odometry, not a parameter update (which still applies, and is in force once the
car is resumed).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import Robotxr1Error
from ..params import MpcParams
from ..samples import OdomSample
from ..sim.vehicle import VehicleParams
from ..track import Track
from .faults import Fault
from .odometry_gate import OdometryGate, Plausibility
from .param_limits import DEFAULT_BRAKE_FLOOR, ParamLimits
from .safety_filter import Correction, SafetyFilter, VehicleLimits

if TYPE_CHECKING:  # the controller runs any Planner; the MPC (numba, daqp) is imported by whoever uses it
    from .mpc import MpcCommand

MAX_STOP_LATENCY_S = 0.2  # a fault must produce a zero-speed command within this time
STOP_LATENCY_TOLERANCE_S = 1e-9  # for sums of tick and period lengths, which floating point rounds up
# A control step this many periods late (wall clock) no longer counts on to repeat the zero-speed
# command: the watchdog does. Below 2, so steps that are on time are never doubled by the watchdog.
STEP_OVERDUE_PERIODS = 1.5


class Planner(Protocol):
    """What the controller needs of the MPC (FrenetMPC fits; the bench injects arbitrary outputs)."""

    def solve(self, x: float, y: float, yaw: float, v: float, steering: float) -> MpcCommand: ...

    def set_params(self, params: MpcParams) -> None: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class SafetyConfig:
    """Timeouts and plausibility bounds of the command path (controller parameters, not the LLM's)."""

    odom_timeout_s: float = 0.15  # odometry older than this (controller clock or wall clock) stops the car
    clock_timeout_s: float = 0.1  # the controller's clock this far behind the wall clock (stopped, slow) stops the car
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
    fault: Fault | None  # None while driving, else the fault kind the car is stopped for
    stop_reason: str  # human-readable fault ("" while driving)
    corrections: tuple[Correction, ...]  # what the safety filter corrected
    mpc: MpcCommand | None = None  # the planner's raw result (None while stopped for a fault other than HELD)


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
        self.fault: Fault | None = Fault.NO_ODOMETRY  # stopped until good odometry arrives
        self.stop_reason = "no odometry received yet"
        self.stops: dict[Fault, int] = {}  # stops started, per fault kind
        self.held = ""  # why an operator holds the car still ("" when not held)
        self._planned: MpcParams | None = None  # params the planner has
        # (controller time, wall time) of the last control step; before the first, of the first
        # watchdog call, from when steps are due.
        self._stepped: tuple[float, float] | None = None

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
            "fault": self.fault or "",
            "stop_reason": self.stop_reason,
            "stops": dict(self.stops),
            "held": bool(self.held),
            "rejected_odometry": dict(self.gate.rejected),
            "corrections": dict(self.filter.counts),
            "params": self.params.as_dict(),
        }

    # --- control ---------------------------------------------------------------------------
    def on_odometry(self, sample: OdomSample, now: float, wall: float | None = None) -> None:
        """Odometry arriving at controller time `now` and wall time `wall` (None: `now` is itself
        the wall clock, as in a loop on one clock)."""
        self.gate.receive(sample, now, wall)

    def command(self, now: float, wall: float | None = None) -> Command:
        """One control step at controller time `now` and wall time `wall` (None: `now` is itself
        the wall clock, as in a loop on one clock)."""
        wall = now if wall is None else wall
        late = self._clock_behind(now, wall)
        self._stepped = (now, wall)
        if late:
            return self._stop(now, Fault.CLOCK, late)
        verdict = self.gate.verdict(now, wall)
        if verdict.fault is not None:
            return self._stop(now, verdict.fault, verdict.problem)
        if self.held:  # zero speed, but steered along the line while the car brakes
            self._enter(Fault.HELD, self.held)
        else:
            self.fault, self.stop_reason = None, ""
        if self._planned is not self.params:
            self.planner.set_params(self.params)
            self._planned = self.params
        sample = verdict.sample
        assert sample is not None, "a verdict without a fault carries its sample"
        result = self.planner.solve(sample.x, sample.y, sample.yaw, sample.vx, self.filter.steering)
        sent = self.filter.apply(0.0 if self.held else result.speed, result.steering_angle, self.params)
        return Command(now, sent.speed, sent.steering, self.fault, self.stop_reason, sent.corrections, result)

    def watchdog(self, now: float, wall: float) -> Command | None:
        """Called every control period on the wall clock, whatever the controller's clock does: a
        zero-speed command when the control steps cannot be counted on to send one, else None.
        That is: while the controller's clock lags the wall clock by more than clock_timeout_s
        since the last control step; when odometry goes stale (on either clock) while the car
        drives; and while stopped, once the control steps are overdue, at every call, so zero
        speed goes out at the control rate of wall time."""
        if self._stepped is None:
            self._stepped = (now, wall)
        behind = self._clock_behind(now, wall)
        if behind:
            return self._stop(now, Fault.CLOCK, behind)
        if self.fault and wall - self._stepped[1] <= STEP_OVERDUE_PERIODS * self.period_s:
            return None  # stopped, and the control steps, on time, repeat the zero-speed command
        if self.held:  # steps overdue: repeat the operator's stop
            return self._stop(now, Fault.HELD, self.held)
        verdict = self.gate.verdict(now, wall)
        if verdict.fault is not None:
            return self._stop(now, verdict.fault, verdict.problem)
        if self.fault:  # stopped, steps overdue: repeat the zero-speed command; only a step drives again
            return self._stop(now, self.fault, self.stop_reason)
        return None

    def _clock_behind(self, now: float, wall: float) -> str:
        """Why the control steps, which wait for the controller's clock, cannot be counted on ("" if
        they can): since the last one, that clock fell more than clock_timeout_s behind the wall
        clock, by standing still, crawling or jumping back. Running ahead (faster than real time,
        a jump forward) is no reason: steps then come sooner, and stale odometry is the gate's."""
        if self._stepped is None:
            return ""
        stepped_now, stepped_wall = self._stepped
        wall_gap, clock_gap = wall - stepped_wall, now - stepped_now
        if wall_gap - clock_gap <= self.safety.clock_timeout_s:
            return ""
        return (f"the controller's clock advanced {clock_gap:.3f} s in {wall_gap:.3f} s of wall time since the last "
                f"control step (at most {self.safety.clock_timeout_s} s behind): is /clock silent or slow?")

    def hold(self, now: float, reason: str) -> Command:
        """An operator's stop: zero speed now (the command to send at once, steering held) and at
        every step until `resume`, through the safety filter like every command. While the odometry
        is good the steps still solve the MPC for the steering: a braking car follows the line
        (from 7 m/s, 0.1 m off it instead of 0.6 m with the steering held)."""
        self.held = reason
        return self._stop(now, Fault.HELD, reason)

    def resume(self) -> bool:
        """End an operator's stop; the next control step drives if the odometry is good. False if
        the car was not held."""
        held, self.held = bool(self.held), ""
        return held

    def stop_command(self, now: float, reason: str) -> Command:
        """A zero-speed command through the safety filter, steering held: the last one a controller
        sends before it shuts down, so the car does not keep its last speed."""
        return self._stop(now, Fault.SHUTDOWN, reason)

    def _enter(self, fault: Fault, problem: str) -> None:
        """Stopped for `fault` from now on; a stop of a new kind is counted."""
        if fault != self.fault:
            self.stops[fault] = self.stops.get(fault, 0) + 1
        self.fault, self.stop_reason = fault, problem

    def _stop(self, now: float, fault: Fault, problem: str) -> Command:
        if not self.fault:
            self.planner.reset()  # its warm start will no longer match the car
        self._enter(fault, problem)
        sent = self.filter.apply(0.0, self.filter.steering, self.params)
        return Command(now, sent.speed, sent.steering, fault, problem, sent.corrections)
