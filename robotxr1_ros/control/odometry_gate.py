"""Decides whether the latest odometry may drive the car: it must be recent and finite.

Kept free of ROS so the rule is tested on its own; the controller node feeds it receive times
from its clock (simulated time under use_sim_time).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import Robotxr1Error
from ..samples import OdomSample


@dataclass(frozen=True)
class GateVerdict:
    sample: OdomSample | None  # None: do not drive, command zero speed
    problem: str  # "" when `sample` is usable, otherwise why not (for the log and the status)


class OdometryGate:
    """Holds the latest odometry sample and when it arrived."""

    def __init__(self, timeout_s: float) -> None:
        if not timeout_s > 0.0:
            raise Robotxr1Error(f"odometry timeout must be positive, got {timeout_s}")
        self.timeout_s = timeout_s
        self._sample: OdomSample | None = None
        self._received_at = 0.0

    def receive(self, sample: OdomSample, now: float) -> None:
        self._sample = sample
        self._received_at = now

    def verdict(self, now: float) -> GateVerdict:
        sample = self._sample
        if sample is None:
            return GateVerdict(None, "no odometry received yet")
        age = now - self._received_at
        # A clock that jumped back (a restarted simulation) makes the age negative: also stale.
        if abs(age) > self.timeout_s:
            return GateVerdict(None, f"odometry is stale: last message {age:.2f} s ago (timeout {self.timeout_s} s)")
        if not all(math.isfinite(value) for value in sample.values()):
            return GateVerdict(None, "odometry contains NaN or inf")
        return GateVerdict(sample, "")
