"""The last check between the MPC and the car: every command is brought inside the limits.

Whatever the MPC, the odometry or a parameter update produce, the command sent satisfies:
- speed and steering are finite (a non-finite command becomes a stop, steering held);
- speed within the vehicle's range and the parameters' window [min(v_min, 0), max(v_max, 0)]:
  v_max caps forward speed and v_min caps reverse speed; standstill is always allowed, so a
  positive v_min (a request to keep moving) or a negative v_max never forbids stopping;
- speed grows in magnitude by at most the vehicle's a_max per control period; a command closer
  to standstill (braking) is never held back, so a fault stop is immediate;
- steering within the vehicle's steering range, moving by at most its steering rate per period.
Both speed intervals contain 0 and the steering intervals contain the previous steering, so the
limits can always be met together. A corrected command is counted per reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from ..errors import Robotxr1Error
from ..params import MpcParams
from ..sim.vehicle import VehicleParams


class Correction(StrEnum):
    """What the filter corrected in a command, in the order it checks (counted per kind)."""

    NON_FINITE = "non_finite"
    SPEED_LIMIT = "speed_limit"
    ACCELERATION = "acceleration"
    STEERING_LIMIT = "steering_limit"
    STEERING_RATE = "steering_rate"


CORRECTIONS = tuple(Correction)


@dataclass(frozen=True)
class VehicleLimits:
    """What the car's drive and servo can physically execute (from VehicleParams)."""

    speed_min: float  # m/s (negative: reverse)
    speed_max: float
    steering_min: float  # rad
    steering_max: float
    steering_rate: float  # rad/s, either direction
    acceleration: float  # m/s^2

    @classmethod
    def of(cls, vehicle: VehicleParams = VehicleParams()) -> VehicleLimits:
        return cls(vehicle.v_min, vehicle.v_max, vehicle.s_min, vehicle.s_max,
                   min(vehicle.sv_max, -vehicle.sv_min), vehicle.a_max)


@dataclass(frozen=True)
class Envelope:
    """The commands allowed in one control period: [low, high] of speed and of steering."""

    speed_low: float
    speed_high: float
    steering_low: float
    steering_high: float

    def contains(self, speed: float, steering: float) -> bool:
        return self.speed_low <= speed <= self.speed_high and self.steering_low <= steering <= self.steering_high


def speed_window(params: MpcParams, limits: VehicleLimits) -> tuple[float, float]:
    """Speeds the parameters in force and the vehicle allow, standstill included."""
    return max(limits.speed_min, min(params.v_min, 0.0)), min(limits.speed_max, max(params.v_max, 0.0))


@dataclass(frozen=True)
class FilteredCommand:
    speed: float
    steering: float
    corrections: tuple[Correction, ...]  # what was corrected, in CORRECTIONS order; () if nothing


class SafetyFilter:
    """Brings each command inside the limits, given the previous command it sent."""

    def __init__(self, period_s: float, limits: VehicleLimits = VehicleLimits.of()) -> None:
        if not (math.isfinite(period_s) and period_s > 0.0):
            raise Robotxr1Error(f"safety filter: control period must be positive, got {period_s}")
        self.period_s = period_s
        self.limits = limits
        self.speed = 0.0  # the previous command sent: the car starts standing, wheels straight
        self.steering = 0.0
        self.counts = dict.fromkeys(CORRECTIONS, 0)

    def envelope(self, params: MpcParams) -> Envelope:
        limits, period = self.limits, self.period_s
        low, high = speed_window(params, limits)
        speed_step = limits.acceleration * period
        steering_step = limits.steering_rate * period
        return Envelope(
            max(low, min(self.speed, 0.0) - speed_step), min(high, max(self.speed, 0.0) + speed_step),
            max(limits.steering_min, self.steering - steering_step),
            min(limits.steering_max, self.steering + steering_step))

    def apply(self, speed: float, steering: float, params: MpcParams) -> FilteredCommand:
        """The command to send instead of (speed, steering), under `params` (the ones in force)."""
        corrections: list[Correction] = []
        speed, steering = float(speed), float(steering)
        if not (math.isfinite(speed) and math.isfinite(steering)):
            corrections.append(Correction.NON_FINITE)
            speed, steering = 0.0, self.steering
        low, high = speed_window(params, self.limits)
        if not low <= speed <= high:
            corrections.append(Correction.SPEED_LIMIT)
            speed = min(high, max(low, speed))
        allowed = self.envelope(params)
        if not allowed.speed_low <= speed <= allowed.speed_high:
            corrections.append(Correction.ACCELERATION)
            speed = min(allowed.speed_high, max(allowed.speed_low, speed))
        limits = self.limits
        if not limits.steering_min <= steering <= limits.steering_max:
            corrections.append(Correction.STEERING_LIMIT)
            steering = min(limits.steering_max, max(limits.steering_min, steering))
        if not allowed.steering_low <= steering <= allowed.steering_high:
            corrections.append(Correction.STEERING_RATE)
            steering = min(allowed.steering_high, max(allowed.steering_low, steering))
        for reason in corrections:
            self.counts[reason] += 1
        self.speed, self.steering = speed, steering
        return FilteredCommand(speed, steering, tuple(corrections))
