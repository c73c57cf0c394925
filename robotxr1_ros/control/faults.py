"""Why the controller stops the car: the kinds its commands, its status and the safety bench name.

A str-valued Enum, so the status JSON and the logs read as before ("stale", "clock", ...).
"""
from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    # Found by the odometry gate (odometry_gate.py):
    NO_ODOMETRY = "no_odometry"  # none received yet
    STALE = "stale"  # older than the timeout on the controller's clock or the wall clock
    NON_FINITE = "non_finite"  # a NaN or inf value
    QUATERNION = "quaternion"  # the orientation is not a unit quaternion
    SPEED = "speed"  # faster than the car can go
    OFF_TRACK = "off_track"  # farther outside the track than max_off_track_m
    JUMP = "jump"  # moved farther than top speed allows since the last accepted sample
    # Found by the controller (controller.py):
    CLOCK = "clock"  # the controller's clock fell clock_timeout_s behind the wall clock (stopped, slow)
    HELD = "held"  # an operator stopped the car (hold), until resume
    SHUTDOWN = "shutdown"  # the controller is shutting down (its last command)


# What can be wrong with an odometry sample itself (the gate counts rejections per kind).
SAMPLE_FAULTS = (Fault.NON_FINITE, Fault.QUATERNION, Fault.SPEED, Fault.OFF_TRACK, Fault.JUMP)
