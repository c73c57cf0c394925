"""Decides whether the latest odometry may drive the car: it must be recent and physically plausible.

A sample is rejected when a value is not finite, the orientation quaternion is not a unit
quaternion (a NaN or zero quaternion still reads as some yaw), the speed exceeds what the car can
do, the pose lies farther outside the track than `max_off_track_m`, or the pose moved farther
since the last accepted sample than the car's top speed allows (so after a one-sample glitch the
next good sample is accepted, and a relocalised pose only once the car could have got there). A
sample is stale once it arrived longer ago than the timeout on the controller's clock (simulated
time under use_sim_time) OR on the wall clock (steady, monotonic): a simulated clock that runs
slow, stands still or jumps cannot keep silent odometry fresh. Either way the controller commands
zero speed until a good sample arrives.

Kept free of ROS so the rules are tested on their own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..errors import Robotxr1Error
from ..samples import OdomSample
from ..sim.vehicle import VehicleParams
from ..track import Track
from .faults import SAMPLE_FAULTS, Fault


@dataclass(frozen=True)
class Plausibility:
    """What odometry of this car can look like; outside it, the sensor or localisation is wrong."""

    speed_min: float = VehicleParams.v_min  # m/s, the vehicle's physical range (forward speed)
    speed_max: float = VehicleParams.v_max
    speed_tolerance: float = 0.5  # m/s of measurement noise above the physical range
    quaternion_tolerance: float = 1e-3  # allowed | |q| - 1 |
    max_off_track_m: float = 1.0  # how far beyond a wall the pose may lie (inf: no track check)
    jump_tolerance_m: float = 0.5  # localisation noise on top of top speed x time between samples

    def __post_init__(self) -> None:
        for name in ("speed_tolerance", "quaternion_tolerance", "max_off_track_m", "jump_tolerance_m"):
            value = getattr(self, name)
            if math.isnan(value) or value < 0.0:
                raise Robotxr1Error(f"odometry plausibility: {name} must be >= 0, got {value}")
        if not self.speed_min < 0.0 < self.speed_max:
            raise Robotxr1Error("odometry plausibility: the speed range must bracket 0")


@dataclass(frozen=True)
class GateVerdict:
    sample: OdomSample | None  # None: do not drive, command zero speed
    problem: str  # "" when `sample` is usable, otherwise why not (for the log and the status)
    fault: Fault | None = None  # the problem's kind (NO_ODOMETRY, STALE or one of SAMPLE_FAULTS), None if usable


class OdometryGate:
    """Holds the latest odometry sample, when it arrived and what is wrong with it."""

    def __init__(self, timeout_s: float, track: Track | None = None,
                 plausibility: Plausibility = Plausibility()) -> None:
        if not (math.isfinite(timeout_s) and timeout_s > 0.0):
            raise Robotxr1Error(f"odometry timeout must be positive, got {timeout_s}")
        self.timeout_s = timeout_s
        self.track = track
        self.plausibility = plausibility
        self.rejected: dict[Fault, int] = dict.fromkeys(SAMPLE_FAULTS, 0)  # samples rejected, per fault kind
        self._sample: OdomSample | None = None
        self._received_at = 0.0  # controller clock ...
        self._received_wall = 0.0  # ... and wall clock of the latest sample's arrival
        self._fault: Fault | None = None
        self._problem = ""
        self._accepted: tuple[OdomSample, float] | None = None  # the last plausible sample, when received
        if track is not None:
            # A pose this close to a centre-line sample is inside the walls: the exact (and much
            # slower) wall distance is only needed beyond it.
            self._centre_tree = cKDTree(track.centre.xy_table)
            self._surely_inside = float(min(np.min(track.width_left), np.min(track.width_right)))

    def receive(self, sample: OdomSample, now: float, wall: float | None = None) -> GateVerdict:
        """Keep `sample` as the latest, judged on arrival at controller time `now` and wall time
        `wall` (None: `now` is itself the wall clock); returns the judgement."""
        self._sample, self._received_at = sample, now
        self._received_wall = now if wall is None else wall
        self._fault, self._problem = self._judge(sample, now)
        if self._fault is not None:
            self.rejected[self._fault] += 1
            return GateVerdict(None, self._problem, self._fault)
        self._accepted = (sample, now)
        return GateVerdict(sample, "")

    def verdict(self, now: float, wall: float | None = None) -> GateVerdict:
        """Whether the latest sample may drive the car at controller time `now` and wall time
        `wall` (None: `now` is itself the wall clock)."""
        sample = self._sample
        if sample is None:
            return GateVerdict(None, "no odometry received yet", Fault.NO_ODOMETRY)
        age = now - self._received_at
        wall_age = (now if wall is None else wall) - self._received_wall
        # A clock that jumped back (a restarted simulation) makes the age negative: also stale.
        if abs(age) > self.timeout_s or wall_age > self.timeout_s:
            return GateVerdict(None, f"odometry is stale: last message {wall_age:.3f} s ago on the wall clock, "
                                     f"{age:.3f} s on the controller's (timeout {self.timeout_s} s)", Fault.STALE)
        if self._fault is not None:
            return GateVerdict(None, self._problem, self._fault)
        return GateVerdict(sample, "")

    def _judge(self, sample: OdomSample, now: float) -> tuple[Fault | None, str]:
        """(fault kind, problem) of `sample`, (None, "") if it is plausible."""
        limits = self.plausibility
        norm = sample.quaternion_norm
        if not all(math.isfinite(value) for value in sample.values()):
            return Fault.NON_FINITE, "odometry contains NaN or inf"
        if not math.isfinite(norm):
            return Fault.NON_FINITE, "odometry orientation quaternion contains NaN or inf"
        if abs(norm - 1.0) > limits.quaternion_tolerance:
            return Fault.QUATERNION, f"odometry orientation quaternion has norm {norm:.4g}, not 1"
        low, high = limits.speed_min - limits.speed_tolerance, limits.speed_max + limits.speed_tolerance
        if not (low <= sample.vx <= high and abs(sample.vy) <= high):
            return Fault.SPEED, (f"odometry speed ({sample.vx:.3g}, {sample.vy:.3g}) m/s is outside what the car "
                                 f"can do ([{limits.speed_min:g}, {limits.speed_max:g}] m/s)")
        if self.track is not None and math.isfinite(limits.max_off_track_m):
            outside = self._outside_track(self.track, sample.x, sample.y)
            if outside > limits.max_off_track_m:
                return Fault.OFF_TRACK, (f"odometry pose is {outside:.2f} m outside the track "
                                         f"(limit {limits.max_off_track_m:g} m)")
        if self._accepted is not None:
            previous, previous_at = self._accepted
            gap_s = now - previous_at
            moved = math.hypot(sample.x - previous.x, sample.y - previous.y)
            reach = max(abs(limits.speed_min), limits.speed_max) * max(gap_s, 0.0) + limits.jump_tolerance_m
            if moved > reach:
                return Fault.JUMP, (f"odometry pose jumped {moved:.2f} m in {gap_s:.3f} s since the last good "
                                    f"sample (at most {reach:.2f} m possible)")
        return None, ""

    def _outside_track(self, track: Track, x: float, y: float) -> float:
        """How far (m) the point lies beyond the nearer wall of `track` (the gate's); <= 0 inside."""
        nearest, _ = self._centre_tree.query((x, y))
        if nearest < self._surely_inside:
            return -1.0
        left, right = track.wall_distances(x, y)
        return -float(min(left, right))
