"""The `sim` and `mpc_controller` nodes in closed loop over real rclpy + DDS, on simulated time
(/clock from the simulator, faster than real time)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading

import numpy as np
import rclpy
from node_harness import Probe, call, set_parameters, stop_process
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_fixtures import spin_until
from std_msgs.msg import String

from robotxr1_ros.control.controller import MAX_STOP_LATENCY_S, STOP_LATENCY_TOLERANCE_S
from robotxr1_ros.nodes.conversions import quaternion_from_yaw
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.nodes.sim_node import SimNode
from robotxr1_ros.samples import odometry_to_sample, stamp_seconds
from robotxr1_ros.track.library import get_track

REAL_TIME_FACTOR = 2.0  # leaves CPU headroom on a loaded 2-core machine
SIM_TIME = [Parameter("use_sim_time", value=True)]
WAIT_S = 60.0


class Progress:
    """Distance driven along the racing line (m, unwrapped), from every /odom message."""

    def __init__(self, probe: Probe) -> None:
        from nav_msgs.msg import Odometry

        self.line = get_track("eval").raceline
        self.metres = 0.0
        self._s = None
        self._lock = threading.Lock()
        probe.node.create_subscription(Odometry, "/odom", self._on_odometry, 50)

    def _on_odometry(self, message) -> None:
        sample = odometry_to_sample(message)
        s, _ = self.line.project(sample.x, sample.y)
        with self._lock:
            if self._s is not None:
                self.metres += float(self.line.signed_gap(s, self._s))
            self._s = float(s)

    def laps(self) -> float:
        with self._lock:
            return self.metres / self.line.length


def sim_node(context, **parameters) -> SimNode:
    values = {"real_time_factor": REAL_TIME_FACTOR, "publish_clock": True, **parameters}
    return SimNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])


def executor_with(context, *nodes) -> SingleThreadedExecutor:
    executor = SingleThreadedExecutor(context=context)
    for node in nodes:
        executor.add_node(node)
    return executor


def sim_seconds(node) -> float:
    return node.get_clock().now().nanoseconds * 1e-9


def forward_speed(probe: Probe) -> float:
    odometry = probe.latest("odometry")
    return math.nan if odometry is None else odometry.twist.twist.linear.x


def commanded_speed(probe: Probe) -> float:
    drive = probe.latest("drives")
    return math.nan if drive is None else drive.drive.speed


def speeds_since(probe: Probe, t0: float) -> np.ndarray:
    return np.array([m.twist.twist.linear.x for m in probe.snapshot("odometry") if stamp_seconds(m.header.stamp) >= t0])


def test_two_laps_at_default_parameters_with_the_simulator_in_another_process(ros_context):
    controller = MpcControllerNode(context=ros_context, parameter_overrides=SIM_TIME)
    probe = Probe(ros_context)
    progress = Progress(probe)
    probe.watch("sim_status", String, "/sim/status", lambda m: json.loads(m.data))
    executor = executor_with(ros_context, controller, probe.node)
    environment = {**os.environ, "ROS_DOMAIN_ID": str(ros_context.get_domain_id())}
    command = [sys.executable, "-m", "robotxr1_ros.nodes.sim_node", "--ros-args",
               "-p", f"real_time_factor:={REAL_TIME_FACTOR}", "-p", "publish_clock:=true"]
    sim = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        spin_until(executor, lambda: progress.laps() >= 2.0 or sim.poll() is not None, 3 * WAIT_S)
    finally:
        output = stop_process(sim)
        executor.shutdown()
    assert progress.laps() >= 2.0, f"drove {progress.laps():.2f} laps; simulator output:\n{output}"
    assert not any(status["crashed"] for status in probe.snapshot("sim_status"))
    status = probe.latest("statuses")
    assert status["fallback_count"] == 0 and not status["stale"]
    assert status["solves"] > 0


def test_speed_follows_v_max_set_like_ros2_param_set(ros_context):
    sim = sim_node(ros_context)
    controller = MpcControllerNode(context=ros_context, parameter_overrides=SIM_TIME)
    probe = Probe(ros_context)
    executor = executor_with(ros_context, sim, controller, probe.node)
    assert spin_until(executor, lambda: sim_seconds(controller) > 4.0, WAIT_S)
    assert speeds_since(probe, 3.0).max() > 3.0  # racing at the default v_max = 12 m/s

    (result,) = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": 2.0})
    assert result.successful, result.reason
    changed_at = sim_seconds(controller)
    assert spin_until(executor, lambda: sim_seconds(controller) > changed_at + 4.0, WAIT_S)
    settled = speeds_since(probe, changed_at + 2.0)
    assert settled.size > 50
    assert np.all(settled < 2.1) and np.all(settled > 1.5), (settled.min(), settled.max())
    assert not sim.status()["crashed"]
    executor.shutdown()


class OdometryRelay:
    """Forwards /odom to /relayed_odom while `mode` is "on"; "off" = silence, "nan" = corrupted."""

    def __init__(self, context) -> None:
        from nav_msgs.msg import Odometry

        self.mode = "on"
        self.last_forwarded = -math.inf  # sim time of the last good message forwarded
        self.node = rclpy.create_node("odometry_relay", context=context)
        publisher = self.node.create_publisher(Odometry, "/relayed_odom", 10)

        def forward(message) -> None:
            if self.mode == "off":
                return
            if self.mode == "nan":
                message.pose.pose.position.x = math.nan
            else:
                self.last_forwarded = stamp_seconds(message.header.stamp)
            publisher.publish(message)
        self.node.create_subscription(Odometry, "/odom", forward, 10)


def test_silence_or_nan_on_odometry_stops_the_car_within_the_timeout(ros_context):
    timeout_s = 0.15  # the most a 40 Hz controller may use: timeout + one period must stay within 0.2 s
    sim = sim_node(ros_context)
    controller = MpcControllerNode(context=ros_context, parameter_overrides=[
        *SIM_TIME, Parameter("odom_topic", value="/relayed_odom"), Parameter("odom_timeout_s", value=timeout_s)])
    probe = Probe(ros_context)
    relay = OdometryRelay(ros_context)
    executor = executor_with(ros_context, sim, controller, probe.node, relay.node)
    assert spin_until(executor, lambda: sim.status()["time"] > 3.0, WAIT_S)
    assert forward_speed(probe) > 2.0

    for mode in ("off", "nan"):
        probe.clear("drives")
        relay.mode = mode
        assert spin_until(executor, lambda: commanded_speed(probe) == 0.0, WAIT_S)
        zero_drives = [d for d in probe.snapshot("drives") if d.drive.speed == 0.0]
        first_zero = stamp_seconds(zero_drives[0].header.stamp)
        # Within the controller's contract, with its tolerance: stamps are sums of 5 ms ticks, and a
        # stop exactly at the bound (3.2 - 3.0) exceeds 0.2 in floating point.
        assert first_zero - relay.last_forwarded <= MAX_STOP_LATENCY_S + STOP_LATENCY_TOLERANCE_S
        stopped_at = sim.status()["time"]
        assert spin_until(executor, lambda stopped_at=stopped_at: sim.status()["time"] > stopped_at + 2.0, WAIT_S)
        assert abs(forward_speed(probe)) < 0.05, f"{mode}: car still moving at {forward_speed(probe)} m/s"
        assert probe.latest("statuses")["stale"]

        relay.mode = "on"  # good odometry again: the car drives on
        assert spin_until(executor, lambda: forward_speed(probe) > 1.0, WAIT_S)
    executor.shutdown()


def test_reset_service_initial_pose_sensors_and_static_frames(ros_context):
    from ackermann_msgs.msg import AckermannDriveStamped
    from geometry_msgs.msg import PoseWithCovarianceStamped
    from sensor_msgs.msg import Imu, LaserScan
    from std_srvs.srv import Trigger
    from tf2_msgs.msg import TFMessage

    sim = sim_node(ros_context)
    probe = Probe(ros_context)
    probe.watch("scans", LaserScan, "/scan")
    probe.watch("imus", Imu, "/imu")
    executor = executor_with(ros_context, sim, probe.node)
    drive = AckermannDriveStamped()
    drive.drive.speed = 3.0  # straight ahead, without a controller
    drive_publisher = probe.node.create_publisher(AckermannDriveStamped, "/drive", 10)
    probe.node.create_timer(0.1, lambda: drive_publisher.publish(drive))
    assert spin_until(executor, lambda: sim.status()["time"] > 2.0, WAIT_S)

    # Rates, counted in simulated time: odometry 50 Hz, scans 40 Hz with 1080 beams, IMU 100 Hz.
    window = (0.5, 1.5)
    for key, rate in (("odometry", 50), ("scans", 40), ("imus", 100)):
        stamps = [stamp_seconds(m.header.stamp) for m in probe.snapshot(key)]
        assert sum(window[0] <= t < window[1] for t in stamps) == rate, key
    assert len(probe.latest("scans").ranges) == 1080
    assert probe.latest("imus").linear_acceleration.z > 9.0

    # A late subscriber still gets the static frames (transient local).
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    probe.watch("tf_static", TFMessage, "/tf_static", qos=latched)
    assert spin_until(executor, lambda: probe.latest("tf_static") is not None, WAIT_S)
    frames = {(t.header.frame_id, t.child_frame_id) for t in probe.latest("tf_static").transforms}
    assert ("map", "odom") in frames

    client = probe.node.create_client(Trigger, "/sim/reset")
    assert spin_until(executor, client.service_is_ready, WAIT_S)
    clock_before = sim.status()["time"]
    response = call(executor, client.call_async(Trigger.Request()))
    assert response.success
    line = get_track("eval").raceline
    reset_at = sim.status()["time"]
    assert reset_at >= clock_before  # /clock stays monotonic across resets
    start_x, start_y = (float(v) for v in line.position(0.0))
    assert spin_until(executor, lambda: _distance_to(probe, start_x, start_y, after=reset_at) < 0.5, WAIT_S)

    x, y = (float(v) for v in line.position(20.0))
    pose = PoseWithCovarianceStamped()
    pose.header.frame_id = "map"
    pose.pose.pose.position.x, pose.pose.pose.position.y = x, y
    pose.pose.pose.orientation = quaternion_from_yaw(float(line.heading(20.0)))
    publisher = probe.node.create_publisher(PoseWithCovarianceStamped, "/initialpose", 10)
    publisher.publish(pose)
    assert spin_until(executor, lambda: sim.status()["resets"] == 2, WAIT_S)
    reset_at = sim.status()["time"]
    assert spin_until(executor, lambda: _distance_to(probe, x, y, after=reset_at) < 0.5, WAIT_S)
    executor.shutdown()


def _distance_to(probe: Probe, x: float, y: float, after: float) -> float:
    """Distance of the first odometry pose stamped at or after `after` from (x, y); inf if none yet."""
    for message in probe.snapshot("odometry"):
        if stamp_seconds(message.header.stamp) >= after:
            position = message.pose.pose.position
            return math.hypot(position.x - x, position.y - y)
    return math.inf
