"""Launch files, `robotxr1 run`, setup.py's executables and config/robotxr1.yaml agree.

`launch` is not installable here: the launch files are run against stand-ins for launch and
launch_ros that record what they are given, and compared with what the runner gives its nodes.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from node_harness import Probe, get_parameters, stop_process
from rclpy.executors import SingleThreadedExecutor
from ros_fixtures import spin_until

from robotxr1_ros.nodes.bringup import BRINGUPS, CAR_IMU_TOPIC, EXECUTABLES, config_section, default_config_file
from robotxr1_ros.nodes.bringup_runner import create_nodes, launch_values, node_arguments, node_class

ROOT = Path(__file__).resolve().parents[1]


class Recorded:
    """A stand-in for a launch class: keeps its arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class Substitution(Recorded):
    """LaunchConfiguration(name): stands for the value of launch argument `name`."""

    def __eq__(self, other) -> bool:
        return isinstance(other, Substitution) and self.args == other.args


@pytest.fixture
def fake_launch(monkeypatch):
    modules = {
        "launch": {"LaunchDescription": Recorded},
        "launch.actions": {"DeclareLaunchArgument": Recorded},
        "launch.substitutions": {"LaunchConfiguration": Substitution},
        "launch_ros": {},
        "launch_ros.actions": {"Node": Recorded},
    }
    for name, attributes in modules.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attributes))


def marker(value):
    """A launch file's value as the runner's marker: LaunchConfiguration(name) -> "<name>"."""
    return f"<{value.args[0]}>" if isinstance(value, Substitution) else value


def run_launch_file(name: str) -> list[Recorded]:
    spec = importlib.util.spec_from_file_location(f"{name}_launch", ROOT / "launch" / f"{name}.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (actions,) = module.generate_launch_description().args
    return actions


@pytest.mark.parametrize("bringup", sorted(BRINGUPS))
def test_launch_file_starts_what_the_runner_starts(fake_launch, bringup):
    actions = run_launch_file(bringup)
    declared = [a for a in actions if "default_value" in a.kwargs]
    nodes = [a for a in actions if "executable" in a.kwargs]
    assert [(a.args[0], a.kwargs["default_value"]) for a in declared] == [
        (argument.name, argument.default) for argument in BRINGUPS[bringup].arguments()]

    # The runner with every launch argument given as a marker value; the launch file's
    # LaunchConfiguration(name) must sit exactly where the runner puts that argument's value.
    markers = {argument.name: f"<{argument.name}>" for argument in BRINGUPS[bringup].arguments()}
    specs = BRINGUPS[bringup].nodes(markers["config"], launch_values(bringup, markers))
    assert len(nodes) == len(specs)
    for node, spec in zip(nodes, specs, strict=True):
        runner = node_arguments(spec)
        cli = runner["cli_args"]
        assert (node.kwargs["package"], node.kwargs["executable"], node.kwargs["name"]) == (
            "robotxr1", spec.executable, spec.name)
        assert f"__node:={spec.name}" in cli
        assert node.kwargs["namespace"] == Substitution("namespace")
        assert node.kwargs.get("sigterm_timeout") == (spec.stop_timeout_s and str(spec.stop_timeout_s))
        assert spec.namespace == "<namespace>" and "__ns:=/<namespace>" in cli
        *files, overrides = node.kwargs["parameters"]
        assert files == [Substitution("config")]
        assert [cli[i + 1] for i, arg in enumerate(cli) if arg == "--params-file"] == ["<config>"]
        launch_overrides = {k: marker(v) for k, v in overrides.items()}
        assert launch_overrides == {p.name: p.value for p in runner["parameter_overrides"]}
        assert [f"{a}:={marker(b)}" for a, b in node.kwargs["remappings"]] == [
            cli[i + 1] for i, arg in enumerate(cli) if arg == "-r" and not cli[i + 1].startswith("__")]


def test_launch_files_only_delegate_to_the_shared_description():
    for bringup in BRINGUPS:
        tree = ast.parse((ROOT / "launch" / f"{bringup}.launch.py").read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        assert [(c.func.id, c.args[0].value) for c in calls] == [("launch_description", bringup)]


def test_every_executable_is_a_console_script_of_its_node_module():
    setup = ast.parse((ROOT / "setup.py").read_text())
    scripts = next(node for node in ast.walk(setup) if isinstance(node, ast.Dict)
                   and any(isinstance(k, ast.Constant) and k.value == "console_scripts" for k in node.keys))
    entries = dict(item.value.replace(" ", "").split("=") for item in scripts.values[0].elts)
    for executable, target in EXECUTABLES.items():
        module, class_name = target.split(":")
        assert entries[executable] == f"{module}:main"
        assert node_class(executable).__name__ == class_name
    used = {spec.executable for name, b in BRINGUPS.items() for spec in b.nodes("c", launch_values(name, {}))}
    assert used <= set(EXECUTABLES)


def test_the_config_has_a_section_for_every_node_and_only_known_parameters():
    config = yaml.safe_load(Path(default_config_file()).read_text())
    names = {spec.name for name, b in BRINGUPS.items() for spec in b.nodes("c", launch_values(name, {}))}
    assert set(config) == {config_section(name) for name in names}
    assert all(set(section) == {"ros__parameters"} for section in config.values())


def test_runner_builds_the_drive_nodes_with_config_overrides_and_remapping(ros_context):
    nodes = create_nodes("drive", {"instruction": "Drive forward"}, context=ros_context)
    probe = Probe(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (*nodes, probe.node):
        executor.add_node(node)
    assert sorted(node.get_name() for node in nodes) == ["mpc_controller", "robotxr1"]
    llm = next(node for node in nodes if node.get_name() == "robotxr1")
    assert llm.get_parameter("instruction").value == "Drive forward"  # the launch argument
    assert llm.get_parameter("window_s").value == 3.0  # from config/robotxr1.yaml
    assert spin_until(executor, lambda: probe.node.count_subscribers(CAR_IMU_TOPIC) == 1, 10.0)
    assert probe.node.count_subscribers("/imu") == 0
    assert get_parameters(executor, probe.node, "/mpc_controller", ["odom_timeout_s"]) == {"odom_timeout_s": 0.15}
    executor.shutdown()
    for node in nodes:
        node.destroy_node()


def test_robotxr1_run_sim_drives_the_car_in_a_separate_process(ros_context, tmp_path):
    """`robotxr1 run sim`: simulator, controller and LLM node, one process each, seen from this one."""
    config = yaml.safe_load(Path(default_config_file()).read_text())
    config[config_section("sim")]["ros__parameters"]["real_time_factor"] = 2.0
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(config))
    environment = {**os.environ, "ROS_DOMAIN_ID": str(ros_context.get_domain_id())}
    runner = subprocess.Popen([sys.executable, "-m", "robotxr1_ros.cli", "run", "sim", "--seconds", "90",
                               "--config", str(tmp_path / "fast.yaml")],
                              env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = Probe(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(probe.node)
    try:
        moving = spin_until(executor, lambda: (probe.latest("odometry") is not None
                                               and probe.latest("odometry").twist.twist.linear.x > 2.0), 60.0)
        all_up = spin_until(executor, lambda: {"sim", "mpc_controller", "robotxr1"} <= set(
            probe.node.get_node_names()), 30.0)
        real_time_factor = get_parameters(executor, probe.node, "/sim", ["real_time_factor"])
    finally:
        output = stop_process(runner, signal.SIGINT)
        executor.shutdown()
    assert moving, f"the car did not drive; runner output:\n{output}"
    assert all_up, probe.node.get_node_names()
    assert real_time_factor == {"real_time_factor": 2.0}
    assert runner.returncode == 0 and "Traceback" not in output, output  # Ctrl-C: a clean exit
    assert all(f"[robotxr1 run] {name} exited with 0" in output
               for name in ("sim", "mpc_controller", "robotxr1")), output


def test_sim_bringup_passes_the_track_to_every_node_and_simulated_time_to_the_controller(ros_context):
    nodes = {node.get_name(): node for node in create_nodes("sim", {"track": "circle"}, context=ros_context)}
    assert set(nodes) == {"sim", "mpc_controller", "robotxr1"}
    assert all(node.get_parameter("track").value == "circle" for node in nodes.values())
    assert nodes["sim"].get_parameter("publish_clock").value is True
    assert nodes["mpc_controller"].get_parameter("use_sim_time").value is True
    assert nodes["robotxr1"].get_parameter("use_sim_time").value is False  # never reads its ROS clock
    assert nodes["sim"].get_parameter("use_sim_time").value is False  # it owns /clock
    for node in nodes.values():
        node.destroy_node()
