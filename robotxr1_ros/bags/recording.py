"""Recording robotxr1's topics to a rosbag2 (mcap or sqlite3) without rosbag2.

Two sources:
- live topics: subscribes to the topics (sim or car) and stores each message as received;
- a behaviour driven in the simulator offline (no DDS): the sensor messages the sim node would
  publish, stamped in simulated time. This is how the test fixtures in test/fixtures/bags/ are made
  (scripts/make_fixture_bags.sh).
rclpy is imported by the functions that need it: the rest of bags/ runs without ROS.
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path

from ..errors import Robotxr1Error
from ..evaluation.behaviours import sensor_stream
from ..track.library import get_track
from .rosbag_io import TOPIC_TYPES, BagWriter

# Topic of each reading of an offline behaviour.
BEHAVIOUR_TOPICS = {"odom": "/odom", "scan": "/scan", "imu": "/imu", "drive": "/drive"}
LIVE_DEFAULT_TOPICS = ("/odom", "/scan", "/imu", "/drive", "/robotxr1/instruction", "/robotxr1/decision",
                       "/robotxr1/update", "/mpc_controller/status",
                       # what RViz / Foxglove draw: the MPC's predicted horizon and the track
                       "/mpc_controller/plan=nav_msgs/msg/Path", "/track_markers=visualization_msgs/msg/MarkerArray")
# Published once, transient local: recorded with the same durability, so a late recorder gets them.
LATCHED_TOPICS = ("/track_markers", "/tf_static")
SPIN_TIMEOUT_S = 0.1


def topic_types(items) -> dict[str, str]:
    """`/topic` (a known robotxr1 topic) or `/topic=pkg/msg/Type` -> {topic: type}."""
    result = {}
    for item in items:
        topic, _, msgtype = item.partition("=")
        msgtype = msgtype or TOPIC_TYPES.get(topic)
        if msgtype is None:
            raise Robotxr1Error(f"no known type for {topic!r}: give it as {topic}=pkg/msg/Type")
        if msgtype.count("/") != 2:
            raise Robotxr1Error(f"message type {msgtype!r} must look like pkg/msg/Type")
        result[topic] = msgtype
    return result


def message_class(msgtype: str):
    package, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        raise Robotxr1Error(f"message type {msgtype!r} is not available in this environment") from None


def record_behaviour(out: Path, storage: str, name: str, seconds: float, track: str = "eval",
                     start_s: float = 0.0, beam_stride: int = 1) -> dict[str, int]:
    """Drive behaviour `name` in the simulator and store its sensor messages; message counts."""
    from rclpy.serialization import serialize_message

    from ..nodes.conversions import drive_message, imu_message, sample_to_odometry, sample_to_scan

    def to_message(topic: str, t: float, value):
        if topic == "odom":
            return sample_to_odometry(value)
        if topic == "scan":
            return sample_to_scan(value)
        if topic == "imu":
            return imu_message(t, value.yaw, value.yaw_rate, value.ax, value.ay)
        return drive_message(t, value.steering, value.speed)

    types = {topic: TOPIC_TYPES[topic] for topic in BEHAVIOUR_TOPICS.values()}
    with BagWriter(out, storage, types) as bag:
        for reading in sensor_stream(get_track(track), name, seconds, start_s=start_s, beam_stride=beam_stride):
            message = to_message(reading.topic, reading.t, reading.value)
            bag.write(BEHAVIOUR_TOPICS[reading.topic], round(reading.t * 1e9), serialize_message(message))
        return dict(bag.counts)


def record_live(out: Path, storage: str, types: dict[str, str], seconds: float | None,
                use_sim_time: bool = False, context=None) -> dict[str, int]:
    """Subscribe to `types`' topics and store every message (serialised as received) until
    `seconds` of wall time pass or Ctrl-C; `context` is an initialised rclpy Context, else one is made."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile

    classes = {topic: message_class(msgtype) for topic, msgtype in types.items()}
    own_context = context is None
    if own_context:
        from rclpy.context import Context

        context = Context()
        rclpy.init(context=context)
    node = rclpy.create_node("robotxr1_record", context=context,
                             parameter_overrides=[Parameter("use_sim_time", value=use_sim_time)])
    executor = SingleThreadedExecutor(context=context)
    try:
        with BagWriter(out, storage, types) as bag:
            for topic, message_type in classes.items():
                latched = topic in LATCHED_TOPICS
                qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL) if latched else 100
                node.create_subscription(message_type, topic, _writer(bag, topic, node), qos, raw=True)
            executor.add_node(node)
            deadline = None if seconds is None else time.monotonic() + seconds
            while context.ok() and (deadline is None or time.monotonic() < deadline):
                executor.spin_once(timeout_sec=SPIN_TIMEOUT_S)
            return dict(bag.counts)
    finally:
        executor.shutdown()
        node.destroy_node()
        if own_context:
            context.try_shutdown()


def _writer(bag: BagWriter, topic: str, node):
    def write(data: bytes) -> None:
        bag.write(topic, node.get_clock().now().nanoseconds, data)
    return write
