"""Sample ackermann_msgs / tf2_msgs messages, and a process that publishes them (for test_ros_interfaces.py).

Usage: python interface_publisher.py DOMAIN_ID DRIVE_TOPIC TF_TOPIC LIFETIME_S

Publishes both samples every 50 ms until it is terminated or LIFETIME_S passes, so a failed test
never leaves it running.
"""
from __future__ import annotations

import sys
import time

from ackermann_msgs.msg import AckermannDriveStamped
from geometry_msgs.msg import TransformStamped
from tf2_msgs.msg import TFMessage

PUBLISH_PERIOD_S = 0.05


def sample_drive() -> AckermannDriveStamped:
    """A drive command whose values are exact in float32, so it compares equal after the wire."""
    message = AckermannDriveStamped()
    message.header.frame_id = "base_link"
    message.header.stamp.sec = 12
    message.header.stamp.nanosec = 500_000_000
    message.drive.steering_angle = 0.25
    message.drive.steering_angle_velocity = 1.5
    message.drive.speed = 3.75
    message.drive.acceleration = -2.0
    message.drive.jerk = 0.5
    return message


def sample_tf() -> TFMessage:
    """The map -> odom -> base_link chain with distinct values in every transform."""
    map_to_odom = TransformStamped()
    map_to_odom.header.frame_id = "map"
    map_to_odom.child_frame_id = "odom"
    map_to_odom.transform.translation.x = 1.0
    map_to_odom.transform.translation.y = -2.0
    odom_to_base = TransformStamped()
    odom_to_base.header.frame_id = "odom"
    odom_to_base.child_frame_id = "base_link"
    odom_to_base.transform.translation.x = 0.5
    odom_to_base.transform.rotation.z = 0.6
    odom_to_base.transform.rotation.w = 0.8
    return TFMessage(transforms=[map_to_odom, odom_to_base])


def main(argv: list[str]) -> int:
    import rclpy

    domain_id, drive_topic, tf_topic, lifetime_s = int(argv[0]), argv[1], argv[2], float(argv[3])
    with rclpy.init(domain_id=domain_id):
        node = rclpy.create_node("interface_publisher")
        drive_publisher = node.create_publisher(AckermannDriveStamped, drive_topic, 10)
        tf_publisher = node.create_publisher(TFMessage, tf_topic, 10)
        deadline = time.monotonic() + lifetime_s
        while rclpy.ok() and time.monotonic() < deadline:
            drive_publisher.publish(sample_drive())
            tf_publisher.publish(sample_tf())
            time.sleep(PUBLISH_PERIOD_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
