"""Helpers for the tests of the robotxr1 nodes: a probe node that records what the nodes publish,
and `ros2 param set` / `ros2 param describe` done over the parameter services."""
from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import Any

import rclpy
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from ros_fixtures import spin_until

from robotxr1_ros.nodes.conversions import sample_to_odometry
from robotxr1_ros.nodes.llm_node import LlmNode
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.samples import OdomSample
from robotxr1_ros.track.library import get_track
from robotxr1_ros.track.track import Track

SERVICE_TIMEOUT_S = 10.0


class OdometrySource:
    """Publishes `sample` (at first: a car at the racing line's start of `track`, the eval track by
    default, 2 m/s forward) on `topic`, stamped with the current time, at 50 Hz while `on`."""

    def __init__(self, context, track: Track | None = None, topic: str = "/odom") -> None:
        from nav_msgs.msg import Odometry

        track = track or get_track("eval")
        x, y = (float(v) for v in track.raceline.position(0.0))
        self.sample = OdomSample(0.0, x, y, float(track.raceline.heading(0.0)), 2.0, 0.0, 0.0)
        self.on = True
        self.node = rclpy.create_node("odometry_source", context=context)
        self._publisher = self.node.create_publisher(Odometry, topic, 10)
        self.node.create_timer(0.02, self._publish)

    def _publish(self) -> None:
        if self.on:
            now = self.node.get_clock().now().nanoseconds * 1e-9
            self._publisher.publish(sample_to_odometry(dataclasses.replace(self.sample, t=now)))


class Probe:
    """A node that keeps the messages of the topics it watches (thread-safe)."""

    def __init__(self, context, name: str = "probe") -> None:
        from ackermann_msgs.msg import AckermannDriveStamped
        from nav_msgs.msg import Odometry
        from std_msgs.msg import String

        self.node = rclpy.create_node(name, context=context)
        self._lock = threading.Lock()
        self._messages: dict[str, list] = {}
        self.watch("drives", AckermannDriveStamped, "/drive")
        self.watch("odometry", Odometry, "/odom")
        self.watch("statuses", String, "/mpc_controller/status", lambda m: json.loads(m.data))

    def watch(self, key: str, message_type, topic: str, convert=lambda message: message, qos=50) -> None:
        """Keep every message of `topic` (converted) under `key`."""
        into = self._messages.setdefault(key, [])

        def keep(message) -> None:
            with self._lock:
                into.append(convert(message))
        self.node.create_subscription(message_type, topic, keep, qos)

    def snapshot(self, key: str) -> list:
        with self._lock:
            return list(self._messages[key])

    def clear(self, key: str) -> None:
        with self._lock:
            self._messages[key].clear()

    def latest(self, key: str):
        with self._lock:
            values = self._messages[key]
            return values[-1] if values else None


def llm_node(context, backends=None, **parameters) -> LlmNode:
    """The LLM node judging 1 s windows once a second, with `parameters` overriding its settings."""
    values = {"period_s": 1.0, "window_s": 1.0, **parameters}
    return LlmNode(backends=backends, context=context,
                   parameter_overrides=[Parameter(name, value=value) for name, value in values.items()])


def watch_llm_topics(probe: Probe) -> None:
    """The LLM node's decision and update records, kept by `probe` under "decisions" and "updates"."""
    from std_msgs.msg import String

    probe.watch("decisions", String, "/robotxr1/decision", lambda m: json.loads(m.data))
    probe.watch("updates", String, "/robotxr1/update", lambda m: json.loads(m.data))


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> str:
    """Signal a node process, wait for it and return its output; kill it if it does not exit, so it
    never publishes into a later test."""
    process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def call(executor: Executor, future, timeout_s: float = SERVICE_TIMEOUT_S):
    assert spin_until(executor, future.done, timeout_s), "service call timed out"
    return future.result()


def set_parameters(executor: Executor, client_node, target: str, changes: Mapping[str, Any]) -> list:
    """What `ros2 param set /target name value` does, for each change in order: SetParameters results."""
    client = AsyncParameterClient(client_node, target)
    assert spin_until(executor, client.services_are_ready, SERVICE_TIMEOUT_S), f"no parameter services on {target}"
    future = client.set_parameters([Parameter(name, value=value) for name, value in changes.items()])
    return list(call(executor, future).results)


def get_parameters(executor: Executor, client_node, target: str, names: list[str]) -> dict[str, Any]:
    client = AsyncParameterClient(client_node, target)
    assert spin_until(executor, client.services_are_ready, SERVICE_TIMEOUT_S), f"no parameter services on {target}"
    values = call(executor, client.get_parameters(names)).values
    return {name: parameter_value_to_python(value) for name, value in zip(names, values, strict=True)}


def describe_parameters(executor: Executor, client_node, target: str, names: list[str]) -> list:
    client = AsyncParameterClient(client_node, target)
    assert spin_until(executor, client.services_are_ready, SERVICE_TIMEOUT_S), f"no parameter services on {target}"
    return list(call(executor, client.describe_parameters(names)).descriptors)


def controller_loop(context) -> tuple[MpcControllerNode, Probe, OdometrySource, SingleThreadedExecutor]:
    """The controller fed by an odometry source, and a probe, on one executor (the caller shuts it down)."""
    controller = MpcControllerNode(context=context)
    probe = Probe(context)
    source = OdometrySource(context)
    executor = SingleThreadedExecutor(context=context)
    for node in (controller, probe.node, source.node):
        executor.add_node(node)
    return controller, probe, source, executor
