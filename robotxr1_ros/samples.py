"""Plain, ROS-free sensor samples: what the ROS nodes convert Odometry and LaserScan messages into.

The readers at the end only use attribute access, so they accept rclpy messages and the messages
that `rosbags` deserialises from a bag alike, without importing ROS.

Field names follow the messages so a node's conversion is a one-liner per field:
nav_msgs/Odometry gives the pose in the map frame and the twist in the body frame;
sensor_msgs/LaserScan gives ranges with their angular layout.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from transforms3d.euler import quat2euler


def yaw_from_quaternion(qx: float, qy: float, qz: float, qw: float) -> float:
    """Heading (rotation about z, rad) of a ROS-ordered quaternion (x, y, z, w)."""
    # transforms3d orders quaternions (w, x, y, z); 'sxyz' puts the rotation about z last.
    return float(quat2euler((qw, qx, qy, qz), "sxyz")[2])


def quaternion_norm(qx: float, qy: float, qz: float, qw: float) -> float:
    """Euclidean norm of a quaternion: NaN if a component is NaN (and none infinite), inf on overflow."""
    return math.hypot(float(qx), float(qy), float(qz), float(qw))


@dataclass(frozen=True)
class OdomSample:
    """One odometry reading: pose in the map frame, velocities in the body frame."""

    t: float  # s
    x: float  # m
    y: float  # m
    yaw: float  # rad, 0 = +x, CCW positive
    vx: float  # m/s forward (negative when reversing)
    vy: float  # m/s to the left
    yaw_rate: float  # rad/s
    # Norm of the orientation quaternion the yaw was read from: a NaN or zero quaternion still
    # reads as some yaw, so a consumer that must trust the heading checks this is 1.
    quaternion_norm: float = 1.0

    @classmethod
    def from_quaternion(
        cls, t: float, x: float, y: float, qx: float, qy: float, qz: float, qw: float,
        vx: float, vy: float, yaw_rate: float,
    ) -> OdomSample:
        return cls(t, x, y, yaw_from_quaternion(qx, qy, qz, qw), vx, vy, yaw_rate,
                   quaternion_norm(qx, qy, qz, qw))

    def values(self) -> tuple[float, ...]:
        return (self.t, self.x, self.y, self.yaw, self.vx, self.vy, self.yaw_rate)


@dataclass(frozen=True)
class ScanSample:
    """One LiDAR scan in the sensor frame (x forward, y left), as in sensor_msgs/LaserScan."""

    t: float
    ranges: np.ndarray
    angle_min: float
    angle_increment: float
    range_max: float
    range_min: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranges", np.asarray(self.ranges, dtype=float).ravel())

    def angles(self) -> np.ndarray:
        return self.angle_min + self.angle_increment * np.arange(self.ranges.size)

    def valid_points(self) -> np.ndarray:
        """(n, 2) beam end points with a real return; inf/NaN/out-of-range beams are dropped."""
        ranges = self.ranges
        valid = np.isfinite(ranges) & (ranges >= self.range_min) & (ranges < self.range_max)
        angles = self.angles()[valid]
        return np.column_stack([ranges[valid] * np.cos(angles), ranges[valid] * np.sin(angles)])


@dataclass(frozen=True)
class StateWindow:
    """A few seconds of odometry (oldest first) and the LiDAR scans received meanwhile."""

    odometry: Sequence[OdomSample]
    scans: Sequence[ScanSample] = field(default_factory=tuple)


# Readers of nav_msgs/Odometry, sensor_msgs/LaserScan and builtin_interfaces/Time (duck-typed).

def stamp_seconds(stamp) -> float:
    """A builtin_interfaces/Time as float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def odometry_to_sample(message) -> OdomSample:
    pose, twist = message.pose.pose, message.twist.twist
    q = pose.orientation
    return OdomSample.from_quaternion(
        stamp_seconds(message.header.stamp), float(pose.position.x), float(pose.position.y),
        q.x, q.y, q.z, q.w, float(twist.linear.x), float(twist.linear.y), float(twist.angular.z),
    )


def scan_to_sample(message) -> ScanSample:
    return ScanSample(
        t=stamp_seconds(message.header.stamp),
        ranges=np.asarray(message.ranges, dtype=float),
        angle_min=float(message.angle_min),
        angle_increment=float(message.angle_increment),
        range_max=float(message.range_max),
        range_min=float(message.range_min),
    )
