"""Helpers for tests that use the real ROS 2 tools: `ros2 launch robotxr1 ...` as a subprocess in a
DDS domain of its own, the exit code of every process it started, and `ros2 ...` commands.

`ros2` and the installed package come from `make setup` (scripts/install_ros_tooling.sh) and
`. scripts/env.sh`; without them these tests fail at the first `ros2` call, saying so.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from ros_fixtures import close_context, make_context, next_launch_domain_id

from robotxr1_ros.nodes.bringup import config_section, default_config_file

LAUNCH_STOP_TIMEOUT_S = 60.0  # beyond launch's own escalation (the LLM node: 30 s, then SIGTERM)
CLI_TIMEOUT_S = 60.0
# launch's report of each process it started: "[sim-1]: process has finished cleanly [pid 12]" for
# exit code 0, "[sim-1]: process has died [pid 12, exit code -2, cmd '...']" otherwise.
_CLEAN = re.compile(r"\[([\w.-]+)-\d+\]: process has finished cleanly")
_DIED = re.compile(r"\[([\w.-]+)-\d+\]: process has died \[pid \d+, exit code (-?\d+)")


def ros2_executable() -> str:
    path = shutil.which("ros2")
    if path is None:
        pytest.fail("`ros2` is not on PATH: run `make setup` (ROS 2 tooling wheels) and `. scripts/env.sh`, "
                    "or source a ROS 2 installation; see docs/ros_setup.md")
    return path


def ros_environment(domain_id: int) -> dict[str, str]:
    return {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "PYTHONUNBUFFERED": "1"}


def config_with(directory: Path, **sections: dict) -> Path:
    """config/robotxr1.yaml with some parameters changed: {node name: {parameter: value}}."""
    config = yaml.safe_load(Path(default_config_file()).read_text())
    for node, values in sections.items():
        config[config_section(node)]["ros__parameters"].update(values)
    path = directory / "robotxr1_test.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# A quick LLM node for launch tests: the real bundled model with a short answer budget (a new
# instruction is tuned for at once), so an update comes within seconds.
QUICK_LLM = {"max_tokens": 120, "n_threads": 1}


def exit_codes(output: str) -> dict[str, int]:
    """{process name: exit code} of every process launch reported as ended."""
    codes = {name: 0 for name in _CLEAN.findall(output)}
    codes.update({name: int(code) for name, code in _DIED.findall(output)})
    return codes


@dataclass
class Launched:
    """A running `ros2 launch` (or any command): its output is collected in the background. Its
    temporary files (launch_ros writes a parameter file per node and never removes it) go into
    `tmpdir`, removed when it is stopped."""

    process: subprocess.Popen
    tmpdir: str
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def child_cpus(self) -> dict[str, set[int]]:
        """{executable name: the CPUs it may run on} of the processes this command started."""
        cpus = {}
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    cpus[Path(command[1].decode()).name] = os.sched_getaffinity(int(pid))
                except (FileNotFoundError, ProcessLookupError, IndexError):
                    continue  # ended meanwhile, or not an interpreter running a script
        return cpus

    def stop(self, sig: int = signal.SIGINT) -> str:
        """Signal the command's whole process group, as Ctrl-C in a terminal does (so every node
        of a launch gets SIGINT twice: from the "terminal" and from launch), wait, return the output;
        kill the group if it hangs, so nothing publishes into a later test."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=LAUNCH_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._reader.join(timeout=5.0)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        return self.output


def start(command: list[str], domain_id: int) -> Launched:
    tmpdir = tempfile.mkdtemp(prefix="robotxr1_launched_")
    process = subprocess.Popen(command, env={**ros_environment(domain_id), "TMPDIR": tmpdir}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return Launched(process, tmpdir)


def ros2_launch(launch_file: str, domain_id: int, **arguments: str) -> Launched:
    return start([ros2_executable(), "launch", "robotxr1", launch_file,
                  *(f"{name}:={value}" for name, value in arguments.items())], domain_id)


def ros2(domain_id: int, *args: str, timeout_s: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run `ros2 <args>` in the domain; its output (stdout + stderr) is in .stdout."""
    return subprocess.run([ros2_executable(), *args], env=ros_environment(domain_id), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout_s)


@pytest.fixture
def launch_domain():
    """(domain id, rclpy Context on it) for a test that starts its own launch."""
    domain_id = next_launch_domain_id()
    context = make_context(domain_id)
    try:
        yield domain_id, context
    finally:
        close_context(context)


def graph_seen_by_newcomer(domain_id: int, witness: str, timeout_s: float = 20.0, settle_s: float = 3.0) -> set[str]:
    """The nodes a participant joining `domain_id` now sees, once it has discovered `witness` (a node
    known to be alive) and waited `settle_s` more for the other live participants to answer: what
    is in the graph now, free of anything an older participant failed to forget."""
    import time

    import rclpy

    context = make_context(domain_id)
    node = rclpy.create_node("graph_newcomer", context=context)

    def names() -> set[str]:
        return {f"{namespace.rstrip('/')}/{name}" for name, namespace in node.get_node_names_and_namespaces()}

    try:
        deadline = time.monotonic() + timeout_s
        while witness not in names():
            assert time.monotonic() < deadline, f"a new participant did not discover {witness} in {timeout_s} s"
            time.sleep(0.1)
        time.sleep(settle_s)
        return names()
    finally:
        node.destroy_node()
        close_context(context)


def json_of(message) -> dict:
    return json.loads(message.data)


class CarProbe:
    """Watches one car (the bringup in `namespace`, "" for the root): odometry, the controller's
    status and plan, the LLM node's updates, the track markers; publishes instructions."""

    def __init__(self, context, namespace: str = "") -> None:
        from nav_msgs.msg import Odometry, Path
        from node_harness import Probe
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from std_msgs.msg import String
        from visualization_msgs.msg import MarkerArray

        self.prefix = f"/{namespace}" if namespace else ""
        self.probe = Probe(context, name=f"probe_{namespace or 'root'}")
        watch = self.probe.watch
        watch("odom", Odometry, f"{self.prefix}/odom", qos=10)
        watch("status", String, f"{self.prefix}/mpc_controller/status", json_of, qos=10)
        watch("plan", Path, f"{self.prefix}/mpc_controller/plan", qos=10)
        watch("update", String, f"{self.prefix}/robotxr1/update", json_of, qos=10)
        watch("markers", MarkerArray, f"{self.prefix}/track_markers",
              qos=QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self._instruction = self.probe.node.create_publisher(String, f"{self.prefix}/robotxr1/instruction", 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.probe.node)

    def wait(self, condition, timeout_s: float) -> bool:
        from ros_fixtures import spin_until

        return spin_until(self.executor, condition, timeout_s)

    def speed(self) -> float:
        odometry = self.probe.latest("odom")
        return 0.0 if odometry is None else odometry.twist.twist.linear.x

    def llm_ready(self) -> bool:
        """The LLM node is configured (model loaded): it subscribes to the instruction topic."""
        return self._instruction.get_subscription_count() > 0

    def instruct(self, text: str, timeout_s: float = 60.0) -> None:
        """Publish an instruction once the LLM node subscribes (it does from `configure` on, after
        loading the model); a message sent before the match would be lost."""
        from std_msgs.msg import String

        assert self.wait(self.llm_ready, timeout_s), \
            f"no LLM node subscribes to {self.prefix}/robotxr1/instruction"
        self._instruction.publish(String(data=text))

    def applied_update(self) -> dict | None:
        return next((update for update in self.probe.snapshot("update") if update.get("applied")), None)

    def node_names(self) -> set[str]:
        return {f"{namespace.rstrip('/')}/{name}" for name, namespace in
                self.probe.node.get_node_names_and_namespaces()}

    def close(self) -> None:
        self.executor.shutdown()
        self.probe.node.destroy_node()
