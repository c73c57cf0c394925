"""Conversions between ROS messages and the plain samples of robotxr1_ros.llm.samples.

Readers only use attribute access, so they accept rclpy messages and the messages that `rosbags`
deserialises from a bag alike. Builders return rclpy message objects; none of this needs a
running ROS context.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion, TransformStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, LaserScan
from transforms3d.euler import euler2quat

from ..llm.samples import OdomSample, ScanSample, yaw_from_quaternion

NANOSECONDS = 1_000_000_000


def stamp_seconds(stamp) -> float:
    """A builtin_interfaces/Time as float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_from_seconds(seconds: float) -> Time:
    total = int(round(seconds * NANOSECONDS))
    return Time(sec=total // NANOSECONDS, nanosec=total % NANOSECONDS)


def quaternion_from_yaw(yaw: float) -> Quaternion:
    """A rotation by `yaw` about z (the inverse of llm.samples.yaw_from_quaternion)."""
    w, x, y, z = euler2quat(0.0, 0.0, yaw, "sxyz")
    return Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))


def odometry_to_sample(message) -> OdomSample:
    pose, twist = message.pose.pose, message.twist.twist
    q = pose.orientation
    return OdomSample(
        t=stamp_seconds(message.header.stamp),
        x=float(pose.position.x), y=float(pose.position.y),
        yaw=yaw_from_quaternion(q.x, q.y, q.z, q.w),
        vx=float(twist.linear.x), vy=float(twist.linear.y), yaw_rate=float(twist.angular.z),
    )


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


def scan_to_sample(message) -> ScanSample:
    return ScanSample(
        t=stamp_seconds(message.header.stamp),
        ranges=np.asarray(message.ranges, dtype=float),
        angle_min=float(message.angle_min),
        angle_increment=float(message.angle_increment),
        range_max=float(message.range_max),
        range_min=float(message.range_min),
    )


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
