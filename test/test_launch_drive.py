"""The car's bringup, drive.launch.py (controller + LLM node).

Under launch_testing: `launch_test test/launch/drive_launch_testing.py` starts it with the simulator
beside it, checks the car drives and an instruction retunes the controller, shuts everything down
and asserts every exit code is 0. Under `ros2 launch`, on a circuit of its own (a track CSV) and a
car's topic names: both nodes take that track and those topics, and the controller drives on them."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rclpy
from ackermann_msgs.msg import AckermannDriveStamped
from launch_harness import QUICK_LLM, config_with, exit_codes, ros2_launch, ros_environment
from node_harness import OdometrySource, get_parameters
from rclpy.executors import SingleThreadedExecutor
from ros_fixtures import spin_until

from robotxr1_ros.track import ClosedPath, Track
from robotxr1_ros.track.csv_io import save_track

LAUNCH_TEST = Path(__file__).parent / "launch" / "drive_launch_testing.py"
TIMEOUT_S = 300.0


def test_drive_launch_beside_a_simulator_under_launch_testing(launch_domain, tmp_path):
    domain_id, _ = launch_domain
    launch_test = shutil.which("launch_test")
    if launch_test is None:
        pytest.fail("`launch_test` is not on PATH: run `make setup` (ROS 2 tooling wheels) and `. scripts/env.sh`")
    environment = ros_environment(domain_id)
    environment["ROBOTXR1_TEST_CONFIG"] = str(config_with(tmp_path, robotxr1=QUICK_LLM))
    environment["TMPDIR"] = str(tmp_path)  # launch_ros's parameter files, never removed by it
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LAUNCH_TEST.parent.parent),
                                                              environment.get("PYTHONPATH")]))
    result = subprocess.run([launch_test, str(LAUNCH_TEST)], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-8000:]


# A car's topics, none of them the defaults (odom, scan, sensors/imu/raw, drive).
CAR_TOPICS = {"odom_topic": "/ego_racecar/odom", "scan_topic": "/sensors/scan", "imu_topic": "/sensors/imu",
              "drive_topic": "/ackermann_cmd"}
START_TIMEOUT_S = 90.0  # imports, model load on a loaded 2-core machine


def write_own_circuit(path: Path) -> Track:
    """An ellipse far from the built-in tracks, in the track layout; the track the nodes read from it."""
    angle = np.linspace(0.0, 2.0 * np.pi, 120, endpoint=False)
    centre = ClosedPath(60.0 + 9.0 * np.cos(angle), 40.0 + 5.0 * np.sin(angle))
    widths = np.full(centre.s_table.size, 1.2)
    save_track(Track.from_centre("drawn", centre, widths, widths.copy()), path)
    return Track.from_csv(path)


def endpoints(node, topic: str, publishers: bool) -> set[str]:
    infos = node.get_publishers_info_by_topic(topic) if publishers else node.get_subscriptions_info_by_topic(topic)
    return {info.node_name for info in infos}


def test_drive_launch_on_a_track_csv_with_the_cars_topic_names(launch_domain, tmp_path):
    domain_id, context = launch_domain
    csv = str(tmp_path / "own_circuit.csv")
    track = write_own_circuit(Path(csv))
    config = config_with(tmp_path, robotxr1=QUICK_LLM)
    launched = ros2_launch("drive.launch.py", domain_id, config=str(config), track=csv, **CAR_TOPICS)
    # Odometry on the new circuit's racing line: the controller drives only if it reads this topic
    # and this track (on the built-in track the pose is far off the track, and it would stop).
    source = OdometrySource(context, track, CAR_TOPICS["odom_topic"])
    watcher = rclpy.create_node("watcher", context=context)
    speeds: list[float] = []
    watcher.create_subscription(AckermannDriveStamped, CAR_TOPICS["drive_topic"],
                                lambda message: speeds.append(message.drive.speed), 10)
    executor = SingleThreadedExecutor(context=context)
    for node in (source.node, watcher):
        executor.add_node(node)
    try:
        # The LLM node subscribes to its inputs once its model is loaded (configure).
        configured = spin_until(executor, lambda: "robotxr1" in endpoints(watcher, CAR_TOPICS["scan_topic"], False),
                                START_TIMEOUT_S)
        driving = spin_until(executor, lambda: any(speed > 0.5 for speed in speeds), START_TIMEOUT_S)
        controller = get_parameters(executor, watcher, "/mpc_controller", ["track", "odom_topic"])
        llm = get_parameters(executor, watcher, "/robotxr1", ["track", "odom_topic", "scan_topic", "imu_topic"])
        graph = {topic: (endpoints(watcher, topic, True), endpoints(watcher, topic, False))
                 for topic in (*CAR_TOPICS.values(), "/odom", "/scan", "/sensors/imu/raw", "/drive")}
    finally:
        executor.shutdown()
        source.node.destroy_node()
        watcher.destroy_node()
        output = launched.stop()
    assert configured and driving, output
    assert controller == {"track": csv, "odom_topic": CAR_TOPICS["odom_topic"]}
    assert llm == {"track": csv, **{name: CAR_TOPICS[name] for name in ("odom_topic", "scan_topic", "imu_topic")}}
    assert graph[CAR_TOPICS["odom_topic"]][1] >= {"mpc_controller", "robotxr1"}
    assert "robotxr1" in graph[CAR_TOPICS["imu_topic"]][1]
    assert graph[CAR_TOPICS["drive_topic"]][0] == {"mpc_controller"}
    assert all(graph[topic] == (set(), set()) for topic in ("/odom", "/scan", "/sensors/imu/raw", "/drive")), graph
    # Both nodes loaded the file's track (named by its file), not the built-in one.
    assert f"track {track.name!r}, odometry {CAR_TOPICS['odom_topic']}" in output, output
    assert f"configured: track {track.name!r}" in output, output
    assert exit_codes(output) == {"mpc_controller": 0, "robotxr1_llm": 0}, output
    assert "Traceback" not in output, output
