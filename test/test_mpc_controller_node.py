"""The `mpc_controller` node over real rclpy + DDS: parameters as `ros2 param` sees them, and the
zero-speed safety on stale or NaN odometry (odometry comes from the test, not a simulator)."""
from __future__ import annotations

import math

import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from node_harness import OdometrySource, Probe, describe_parameters, get_parameters, set_parameters
from robotxr1_ros.samples import OdomSample
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.params import PARAM_NAMES, PARAM_SPECS
from ros_fixtures import spin_until

TIMEOUT_S = 0.25  # the controller's odometry timeout in these tests
WAIT_S = 10.0


@pytest.fixture
def loop(ros_context):
    controller = MpcControllerNode(context=ros_context, parameter_overrides=[
        Parameter("odom_timeout_s", value=TIMEOUT_S)])
    probe = Probe(ros_context)
    source = OdometrySource(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, probe.node, source.node):
        executor.add_node(node)
    yield controller, probe, source, executor
    executor.shutdown()


def test_parameters_are_described_from_the_table(loop):
    controller, probe, _, executor = loop
    described = describe_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))
    for name, descriptor in zip(PARAM_NAMES, described):
        spec = PARAM_SPECS[name]
        (value_range,) = descriptor.floating_point_range
        assert (value_range.from_value, value_range.to_value, value_range.step) == (spec.minimum, spec.maximum, 0.0)
        assert spec.meaning in descriptor.description
    values = get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))
    assert values == {name: PARAM_SPECS[name].default for name in PARAM_NAMES}


def test_param_set_changes_the_running_controller(loop):
    controller, probe, _, executor = loop
    (result,) = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": 4.0})
    assert result.successful, result.reason
    # `ros2 param set /mpc_controller v_max 3` sends an integer: accepted as 3.0.
    (result,) = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": 3})
    assert result.successful, result.reason
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_max"]) == {"v_max": 3.0}
    assert spin_until(executor, lambda: (probe.latest("statuses") or {}).get("params", {}).get("v_max") == 3.0,
                      WAIT_S), "the controller did not report the new v_max as active"
    speeds = [d.drive.speed for d in probe.snapshot("drives")[-10:]]
    assert speeds and max(speeds) <= 3.0 + 1e-6


@pytest.mark.parametrize("changes, reason", [
    ({"v_max": 20.0}, "out of range"),
    ({"v_max": -3.0}, "out of range"),
    ({"qac": float("nan")}, "out of range"),
    ({"v_max": 0.5}, "v_max=0.5 must be >= v_min=1.0"),
    ({"v_max": "fast"}, "Wrong parameter type"),
])
def test_invalid_values_are_rejected_and_change_nothing(loop, changes, reason):
    controller, probe, _, executor = loop
    (result,) = set_parameters(executor, probe.node, "/mpc_controller", changes)
    assert not result.successful
    assert reason in result.reason
    assert get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES)) == {
        name: PARAM_SPECS[name].default for name in PARAM_NAMES}
    assert spin_until(executor, lambda: probe.latest("statuses") is not None, WAIT_S)
    assert probe.latest("statuses")["params"]["v_max"] == PARAM_SPECS["v_max"].default


def test_sequential_set_of_a_speed_window_follows_the_cross_check(loop):
    """Setting v_min above the current v_max fails; raising v_max first then v_min succeeds."""
    controller, probe, _, executor = loop
    results = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": -0.5, "v_min": -2.0})
    assert [r.successful for r in results] == [False, True]
    results = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": -0.5})
    assert results[0].successful
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_min", "v_max"]) == {"v_min": -2.0, "v_max": -0.5}


def _drive_speed_is(probe, predicate) -> bool:
    drive = probe.latest("drives")
    return drive is not None and predicate(drive.drive.speed)


def test_stale_or_nan_odometry_commands_zero_speed_and_recovers(loop):
    controller, probe, source, executor = loop
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)

    source.on = False  # silence on /odom
    silent_at = controller.get_clock().now()
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v == 0.0), WAIT_S)
    stopped_after = (probe.latest("drives").header.stamp.sec + probe.latest("drives").header.stamp.nanosec * 1e-9
                     - silent_at.nanoseconds * 1e-9)
    assert stopped_after <= TIMEOUT_S + 0.1  # within the timeout (+ two control periods and scheduling)
    assert spin_until(executor, lambda: (probe.latest("statuses") or {}).get("stale"), WAIT_S)
    assert "stale" in probe.latest("statuses")["stop_reason"]

    source.on = True
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)

    source.sample = OdomSample(0.0, math.nan, source.sample.y, source.sample.yaw, 2.0, 0.0, 0.0)
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v == 0.0), WAIT_S)
    assert spin_until(executor, lambda: "NaN" in (probe.latest("statuses") or {}).get("stop_reason", ""), WAIT_S)


def test_a_car_config_narrows_ranges_and_may_not_widen_them(ros_context, tmp_path):
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text("mpc_controller:\n  ros__parameters:\n    limits.v_max: [0, 6]\n")
    controller = MpcControllerNode(context=ros_context, cli_args=["--ros-args", "--params-file", str(narrow)])
    assert controller.get_parameter("v_max").value == 6.0  # the default, clamped into the car's range
    (result,) = controller.set_parameters([Parameter("v_max", value=7.0)])
    assert not result.successful and "out of range" in result.reason
    controller.destroy_node()

    wide = tmp_path / "wide.yaml"
    wide.write_text("mpc_controller:\n  ros__parameters:\n    limits.v_max: [0.0, 20.0]\n")
    with pytest.raises(ValueError, match="never widen"):
        MpcControllerNode(context=ros_context, cli_args=["--ros-args", "--params-file", str(wide)])
