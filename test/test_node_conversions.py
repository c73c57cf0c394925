"""Message <-> plain sample conversions (message classes only: no rclpy.init, no DDS)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from robotxr1_ros.control.odometry_gate import GateVerdict, OdometryGate
from robotxr1_ros.nodes import conversions
from robotxr1_ros.samples import (
    OdomSample,
    ScanSample,
    odometry_to_sample,
    scan_to_sample,
    stamp_seconds,
    yaw_from_quaternion,
)


@pytest.mark.parametrize("yaw", [0.0, 0.5, -1.2, math.pi - 1e-6, -math.pi + 1e-6, 3.0])
def test_quaternion_round_trip(yaw):
    q = conversions.quaternion_from_yaw(yaw)
    assert math.isclose(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2, 1.0)
    assert q.x == 0.0 and q.y == 0.0
    back = yaw_from_quaternion(q.x, q.y, q.z, q.w)
    assert math.isclose(math.remainder(back - yaw, 2 * math.pi), 0.0, abs_tol=1e-9)


def test_stamp_round_trip_carries_nanoseconds():
    stamp = conversions.stamp_from_seconds(12.9999999999)
    assert (stamp.sec, stamp.nanosec) == (13, 0)
    stamp = conversions.stamp_from_seconds(4.25)
    assert (stamp.sec, stamp.nanosec) == (4, 250_000_000)
    assert stamp_seconds(stamp) == 4.25


def test_odometry_round_trip():
    sample = OdomSample(t=3.5, x=1.25, y=-2.0, yaw=2.5, vx=-1.5, vy=0.125, yaw_rate=0.75)
    message = conversions.sample_to_odometry(sample)
    assert message.header.frame_id == "odom" and message.child_frame_id == "base_link"
    back = odometry_to_sample(message)
    assert back.values() == pytest.approx(sample.values(), abs=1e-12)


def test_odometry_reader_keeps_the_quaternion_norm():
    """A NaN or zero quaternion reads as some yaw; the norm tells the odometry gate not to trust it."""
    message = conversions.sample_to_odometry(OdomSample(1.0, 0.0, 0.0, 0.7, 1.0, 0.0, 0.0))
    assert odometry_to_sample(message).quaternion_norm == pytest.approx(1.0)
    q = message.pose.pose.orientation
    q.x = q.y = q.z = q.w = 0.0
    assert odometry_to_sample(message).quaternion_norm == 0.0
    q.x = q.y = q.z = q.w = math.nan
    assert math.isnan(odometry_to_sample(message).quaternion_norm)


def test_scan_round_trip_keeps_layout_and_float32_ranges():
    ranges = np.linspace(0.5, 10.0, 1080)
    ranges[7] = np.inf
    sample = ScanSample(t=1.0, ranges=ranges, angle_min=-2.35, angle_increment=4.7 / 1079, range_max=30.0)
    message = conversions.sample_to_scan(sample, frame_id="laser")
    assert len(message.ranges) == 1080
    assert message.angle_max == pytest.approx(2.35, abs=1e-6)
    back = scan_to_sample(message)
    assert back.t == 1.0 and back.range_max == 30.0
    assert back.angle_increment == pytest.approx(sample.angle_increment, rel=1e-6)
    np.testing.assert_allclose(back.ranges, ranges.astype(np.float32))
    assert np.isinf(back.ranges[7])


def test_imu_and_transform_messages():
    imu = conversions.imu_message(2.0, yaw=0.3, yaw_rate=0.4, ax=1.5, ay=-0.5)
    assert conversions.imu_acceleration(imu) == (1.5, -0.5)
    assert imu.angular_velocity.z == 0.4
    transform = conversions.planar_transform(2.0, "odom", "base_link", x=1.0, y=2.0, yaw=0.3)
    q = transform.transform.rotation
    assert yaw_from_quaternion(q.x, q.y, q.z, q.w) == pytest.approx(0.3)
    assert (transform.header.frame_id, transform.child_frame_id) == ("odom", "base_link")


def test_odometry_gate_needs_recent_finite_odometry():
    gate = OdometryGate(timeout_s=0.25)
    assert gate.verdict(0.0).problem == "no odometry received yet"
    good = OdomSample(1.0, 1.0, 2.0, 0.0, 1.0, 0.0, 0.0)
    gate.receive(good, now=1.0)
    assert gate.verdict(1.2) == GateVerdict(good, "")
    assert gate.verdict(1.3).sample is None and "stale" in gate.verdict(1.3).problem
    assert gate.verdict(0.5).sample is None  # the clock jumped back
    gate.receive(OdomSample(1.4, 1.0, float("nan"), 0.0, 1.0, 0.0, 0.0), now=1.4)
    assert gate.verdict(1.4).problem == "odometry contains NaN or inf"
    gate.receive(good, now=1.5)
    assert gate.verdict(1.5).sample is good
    with pytest.raises(ValueError):
        OdometryGate(timeout_s=0.0)


def test_drive_message():
    message = conversions.drive_message(1.5, steering=0.25, speed=-1.0)
    assert (message.drive.steering_angle, message.drive.speed) == (0.25, -1.0)
    assert stamp_seconds(message.header.stamp) == 1.5
