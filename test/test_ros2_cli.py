"""The real ROS 2 command line against the robotxr1 nodes (started with `ros2 run`):
`ros2 param set/get/describe/dump/load` on the controller, `ros2 lifecycle` on the LLM node."""
from __future__ import annotations

import time

import pytest
import yaml
from launch_harness import ros2, ros2_executable, start

from robotxr1_ros.params import PARAM_NAMES, PARAM_SPECS

CONTROLLER = "/mpc_controller"
LLM = "/robotxr1"
NODE_TIMEOUT_S = 60.0


def wait_for_node(domain_id: int, name: str) -> None:
    """`ros2 node list` until `name` is there (the node's imports and setup take a while)."""
    listing = ""
    deadline = time.monotonic() + NODE_TIMEOUT_S
    while time.monotonic() < deadline:
        listing = ros2(domain_id, "node", "list").stdout
        if name in listing.split():
            return
        time.sleep(0.5)
    pytest.fail(f"{name} did not appear in `ros2 node list`: {listing}")


@pytest.fixture
def domain(launch_domain):
    """The test's domain with a ros2 daemon of its own, as a ROS user's shell has: it keeps the
    graph, so each command finds the nodes at once. Stopped afterwards."""
    domain_id, _ = launch_domain
    ros2(domain_id, "daemon", "start")
    yield domain_id
    ros2(domain_id, "daemon", "stop")


@pytest.fixture
def controller(domain):
    domain_id = domain
    node = start([ros2_executable(), "run", "robotxr1", "mpc_controller"], domain_id)
    wait_for_node(domain_id, CONTROLLER)
    yield domain_id
    output = node.stop()
    assert node.process.returncode == 0 and "Traceback" not in output, output


def param(domain_id: int, verb: str, *args: str) -> str:
    return ros2(domain_id, "param", verb, CONTROLLER, *args).stdout


def test_param_set_refuses_out_of_range_and_inconsistent_values_naming_the_range(controller):
    spec = PARAM_SPECS["v_min"]
    out_of_range = param(controller, "set", "v_min", str(spec.maximum + 1.0))
    assert "Setting parameter failed" in out_of_range
    assert str(spec.minimum) in out_of_range and str(spec.maximum) in out_of_range, out_of_range

    assert param(controller, "set", "v_max", "2.0").strip() == "Set parameter successful"
    inconsistent = param(controller, "set", "v_min", "3.0")  # within its range, but above v_max
    assert "Setting parameter failed" in inconsistent, inconsistent
    assert "v_max=2.0" in inconsistent and "v_min=3.0" in inconsistent, inconsistent  # the bound it broke
    assert "Double value is: 1.0" in param(controller, "get", "v_min")  # unchanged
    assert "Double value is: 2.0" in param(controller, "get", "v_max")
    undeclared = param(controller, "set", "qv_typo", "1.0")
    assert "undeclared parameter(s): ['qv_typo']" in undeclared, undeclared  # rclpy alone said []


def test_param_describe_shows_the_table_range(controller):
    spec = PARAM_SPECS["qn"]
    described = param(controller, "describe", "qn")
    assert f"Min value: {spec.minimum}" in described and f"Max value: {spec.maximum}" in described, described


def load(domain_id: int, parameters: dict, path) -> str:
    """`ros2 param load` of a `/**` YAML. (ros2param 0.36 with Kilted's rclpy refuses a file keyed
    by the node's name: after loading it parses the file again without a target node.)"""
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": parameters}}))
    return param(domain_id, "load", str(path))


def test_param_load_applies_a_yaml_and_dump_round_trips(controller, tmp_path):
    changes = {"v_max": 5.0, "qn": 42.0, "track_safety_margin": 0.5}
    loaded = load(controller, changes, tmp_path / "update.yaml")
    assert loaded.count("Set parameter") == len(changes) and "failed" not in loaded, loaded

    dumped = yaml.safe_load(param(controller, "dump"))
    values = dumped[CONTROLLER]["ros__parameters"]
    assert {name: values[name] for name in changes} == changes
    assert set(PARAM_NAMES) <= set(values)

    # Loading the dump (only the writable parameters: the MPC's) changes nothing.
    reloaded = load(controller, {name: values[name] for name in PARAM_NAMES}, tmp_path / "dump.yaml")
    assert "failed" not in reloaded, reloaded
    assert yaml.safe_load(param(controller, "dump")) == dumped


def lifecycle(domain_id: int, verb: str, *args: str) -> str:
    return ros2(domain_id, "lifecycle", verb, *args).stdout


def test_lifecycle_transitions_of_the_llm_node(domain):
    domain_id = domain
    node = start([ros2_executable(), "run", "robotxr1", "robotxr1_llm"], domain_id)
    try:
        wait_for_node(domain_id, LLM)
        states = [lifecycle(domain_id, "get", LLM).split()[0]]
        for transition in ("deactivate", "cleanup", "configure", "activate"):  # each verb once, back to active
            result = lifecycle(domain_id, "set", LLM, transition)
            assert "Transitioning successful" in result, f"{transition}: {result}"
            states.append(lifecycle(domain_id, "get", LLM).split()[0])
    finally:
        output = node.stop()
    assert states == ["active", "inactive", "unconfigured", "inactive", "active"], output
    assert node.process.returncode == 0 and "Traceback" not in output, output
