"""Builders of ROS messages from the plain samples of robotxr1_ros.samples (the readers, which
need no ROS, live there). Builders return rclpy message objects; none of this needs a running
ROS context.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion, TransformStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, LaserScan
from transforms3d.euler import euler2quat

from ..samples import OdomSample, ScanSample

NANOSECONDS = 1_000_000_000


def stamp_from_seconds(seconds: float) -> Time:
    total = round(seconds * NANOSECONDS)
    return Time(sec=total // NANOSECONDS, nanosec=total % NANOSECONDS)


def quaternion_from_yaw(yaw: float) -> Quaternion:
    """A rotation by `yaw` about z (the inverse of llm.samples.yaw_from_quaternion)."""
    w, x, y, z = euler2quat(0.0, 0.0, yaw, "sxyz")
    return Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))


def sample_to_odometry(sample: OdomSample, frame_id: str = "odom", child_frame_id: str = "base_link") -> Odometry:
    message = Odometry()
    message.header.stamp = stamp_from_seconds(sample.t)
    message.header.frame_id = frame_id
    message.child_frame_id = child_frame_id
    message.pose.pose.position.x = float(sample.x)
    message.pose.pose.position.y = float(sample.y)
    message.pose.pose.orientation = quaternion_from_yaw(sample.yaw)
    message.twist.twist.linear.x = float(sample.vx)
    message.twist.twist.linear.y = float(sample.vy)
    message.twist.twist.angular.z = float(sample.yaw_rate)
    return message


def sample_to_scan(sample: ScanSample, frame_id: str = "laser", scan_time: float = 0.0) -> LaserScan:
    message = LaserScan()
    message.header.stamp = stamp_from_seconds(sample.t)
    message.header.frame_id = frame_id
    message.angle_min = float(sample.angle_min)
    message.angle_increment = float(sample.angle_increment)
    message.angle_max = float(sample.angle_min + sample.angle_increment * (sample.ranges.size - 1))
    message.scan_time = float(scan_time)
    message.range_min = float(sample.range_min)
    message.range_max = float(sample.range_max)
    message.ranges = sample.ranges.astype(np.float32)
    return message


def imu_message(t: float, yaw: float, yaw_rate: float, ax: float, ay: float, frame_id: str = "imu") -> Imu:
    """An Imu reading of a planar car: orientation from yaw, body-frame acceleration with gravity on z."""
    message = Imu()
    message.header.stamp = stamp_from_seconds(t)
    message.header.frame_id = frame_id
    message.orientation = quaternion_from_yaw(yaw)
    message.angular_velocity.z = float(yaw_rate)
    message.linear_acceleration.x = float(ax)
    message.linear_acceleration.y = float(ay)
    message.linear_acceleration.z = 9.81
    return message


def imu_acceleration(message) -> tuple[float, float]:
    """(ax, ay) in the body frame, m/s^2."""
    return float(message.linear_acceleration.x), float(message.linear_acceleration.y)


def drive_message(t: float, steering: float, speed: float, frame_id: str = "base_link"):
    """An ackermann_msgs/AckermannDriveStamped command (imported here: ackermann_msgs is built
    from source, and the readers above must work without it)."""
    from ackermann_msgs.msg import AckermannDriveStamped

    message = AckermannDriveStamped()
    message.header.stamp = stamp_from_seconds(t)
    message.header.frame_id = frame_id
    message.drive.steering_angle = float(steering)
    message.drive.speed = float(speed)
    return message


def planar_transform(t: float, parent: str, child: str, x: float = 0.0, y: float = 0.0,
                     yaw: float = 0.0) -> TransformStamped:
    message = TransformStamped()
    message.header.stamp = stamp_from_seconds(t)
    message.header.frame_id = parent
    message.child_frame_id = child
    message.transform.translation.x = float(x)
    message.transform.translation.y = float(y)
    message.transform.rotation = quaternion_from_yaw(yaw)
    return message
