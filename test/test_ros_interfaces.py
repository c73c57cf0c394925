"""ackermann_msgs and tf2_msgs, as built by scripts/build_ros_interfaces.sh, over real rclpy + Fast DDS.

Needs `. scripts/env.sh` (or the same variables): without the built interfaces these tests fail.
The message packages are imported inside the tests, so a missing build fails each test with the
import error instead of aborting the collection of the whole suite.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from ros_fixtures import spin_until

PUBLISHER_SCRIPT = Path(__file__).with_name("interface_publisher.py")
DRIVE_TOPIC = "test_interfaces/drive"
TF_TOPIC = "test_interfaces/tf"
RECEIVE_TIMEOUT_S = 15.0
# RIHS01 type hashes of the ROS distribution's own ackermann_msgs and tf2_msgs (as `ros2 topic info
# -v` shows them on Jazzy/Kilted). Equal hashes mean our .msg files define the very same types, so
# nodes built against the distribution's packages on a car match ours.
DISTRIBUTION_TYPE_HASHES = {
    "ackermann_msgs/msg/AckermannDriveStamped":
        "RIHS01_48ca7612a08d3bb72744fd98b71b7cf2ea24c6ad50fa4e1aa0bbad963c90d8cf",
    "tf2_msgs/msg/TFMessage":
        "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087",
}


class Receiver:
    """A node that keeps every AckermannDriveStamped and TFMessage it receives."""

    def __init__(self, context) -> None:
        from ackermann_msgs.msg import AckermannDriveStamped
        from tf2_msgs.msg import TFMessage

        self.node = rclpy.create_node("interface_receiver", context=context)
        self.drives: list[AckermannDriveStamped] = []
        self.tfs: list[TFMessage] = []
        self.node.create_subscription(AckermannDriveStamped, DRIVE_TOPIC, self.drives.append, 10)
        self.node.create_subscription(TFMessage, TF_TOPIC, self.tfs.append, 10)

    def got_both(self) -> bool:
        return bool(self.drives and self.tfs)


def test_interfaces_round_trip_in_process(ros_context):
    from ackermann_msgs.msg import AckermannDriveStamped
    from interface_publisher import sample_drive, sample_tf
    from tf2_msgs.msg import TFMessage

    receiver = Receiver(ros_context)
    sender = rclpy.create_node("interface_sender", context=ros_context)
    drive_publisher = sender.create_publisher(AckermannDriveStamped, DRIVE_TOPIC, 10)
    tf_publisher = sender.create_publisher(TFMessage, TF_TOPIC, 10)

    def publish_samples() -> None:
        drive_publisher.publish(sample_drive())
        tf_publisher.publish(sample_tf())

    sender.create_timer(0.05, publish_samples)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(receiver.node)
    executor.add_node(sender)

    assert spin_until(executor, receiver.got_both, RECEIVE_TIMEOUT_S)
    assert receiver.drives[0] == sample_drive()
    assert receiver.tfs[0] == sample_tf()
    advertised = {
        info.topic_type: str(info.topic_type_hash)
        for topic in (DRIVE_TOPIC, TF_TOPIC)
        for info in sender.get_publishers_info_by_topic(topic)
    }
    assert advertised == DISTRIBUTION_TYPE_HASHES


def test_interfaces_round_trip_across_processes(ros_context):
    from interface_publisher import sample_drive, sample_tf

    receiver = Receiver(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(receiver.node)
    command = [sys.executable, str(PUBLISHER_SCRIPT), str(ros_context.get_domain_id()),
               DRIVE_TOPIC, TF_TOPIC, str(2 * RECEIVE_TIMEOUT_S)]
    publisher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        spin_until(executor, lambda: receiver.got_both() or publisher.poll() is not None,
                   RECEIVE_TIMEOUT_S)
    finally:
        publisher.terminate()
        output, _ = publisher.communicate(timeout=10)

    assert receiver.got_both(), f"nothing received from the publisher process; its output:\n{output}"
    assert receiver.drives[0] == sample_drive()
    assert receiver.tfs[0] == sample_tf()
