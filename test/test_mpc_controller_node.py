"""The `mpc_controller` node over real rclpy + DDS: parameters as `ros2 param` sees them, and the
safety of the command path against the live node (odometry comes from the test, not a simulator):
implausible, stale or missing odometry and a paused clock give zero speed within 0.2 s, /drive
never exceeds v_max, the brakes cannot be configured away, and every parameter request is answered."""
from __future__ import annotations

import dataclasses
import math
import time

import pytest
import rclpy
from node_harness import (
    SERVICE_TIMEOUT_S,
    OdometrySource,
    Probe,
    call,
    controller_loop,
    describe_parameters,
    get_parameters,
    set_parameters,
)
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from ros_fixtures import spin_until

from robotxr1_ros.control.controller import MAX_STOP_LATENCY_S, SafetyConfig
from robotxr1_ros.control.param_limits import ParamLimits
from robotxr1_ros.nodes.conversions import sample_to_odometry
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.nodes.parameter_services import PARAMETER_QOS
from robotxr1_ros.params import PARAM_NAMES, PARAM_SPECS, MpcParams, ParamError, check_cross_rules
from robotxr1_ros.samples import OdomSample, stamp_seconds
from robotxr1_ros.track.library import get_track

WAIT_S = 10.0
EFFECTIVE = ParamLimits.create().specs  # the table with a_min capped at the default brake floor
# Delivery and scheduling on a loaded machine, on top of what the controller guarantees, for the
# one stop measured by arrival time (a paused clock gives no stamps to measure by).
ARRIVAL_SLACK_S = 0.1


@pytest.fixture
def loop(ros_context):
    controller, probe, source, executor = controller_loop(ros_context)
    yield controller, probe, source, executor
    executor.shutdown()


def _on_sim_time(ros_context, controller):
    """A probe recording (arrival time, speed) of every drive command, and a simulated clock with
    odometry of a car at the eval track's start at 2 m/s, on one executor with `controller`."""
    from ackermann_msgs.msg import AckermannDriveStamped

    probe = Probe(ros_context)
    probe.watch("arrivals", AckermannDriveStamped, "/drive", lambda m: (time.monotonic(), m.drive.speed))
    track = get_track("eval")
    x, y = (float(v) for v in track.raceline.position(0.0))
    sim = SimulatedClock(ros_context, OdomSample(0.0, x, y, float(track.raceline.heading(0.0)), 2.0, 0.0, 0.0))
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, probe.node, sim.node):
        executor.add_node(node)
    return probe, sim, executor


def _drive_speed_is(probe, predicate) -> bool:
    drive = probe.latest("drives")
    return drive is not None and predicate(drive.drive.speed)


def _status(probe) -> dict:
    return probe.latest("statuses") or {}


# --- parameters ---------------------------------------------------------------------------

def test_parameters_are_described_with_the_effective_ranges(loop):
    _, probe, _, executor = loop
    described = describe_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))
    for name, descriptor in zip(PARAM_NAMES, described, strict=True):
        spec = EFFECTIVE[name]
        (value_range,) = descriptor.floating_point_range
        assert (value_range.from_value, value_range.to_value, value_range.step) == (spec.minimum, spec.maximum, 0.0)
        assert spec.meaning in descriptor.description
    a_min = described[PARAM_NAMES.index("a_min")]
    assert a_min.floating_point_range[0].to_value == SafetyConfig().brake_floor
    assert "brake_floor" in a_min.additional_constraints and "always be able to brake" in a_min.additional_constraints
    values = get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))
    assert values == {name: PARAM_SPECS[name].default for name in PARAM_NAMES}


def test_param_set_changes_the_running_controller(loop):
    _, probe, _, executor = loop
    (result,) = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": 4.0})
    assert result.successful, result.reason
    # `ros2 param set /mpc_controller v_max 3` sends an integer: accepted as 3.0.
    (result,) = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": 3})
    assert result.successful, result.reason
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_max"]) == {"v_max": 3.0}
    assert spin_until(executor, lambda: _status(probe).get("params", {}).get("v_max") == 3.0, WAIT_S), \
        "the controller did not report the new v_max as active"
    speeds = [d.drive.speed for d in probe.snapshot("drives")[-10:]]
    assert speeds and max(speeds) <= 3.0 + 1e-6


@pytest.mark.parametrize("changes, reason", [
    ({"v_max": 20.0}, "out of range"),
    ({"v_max": -3.0}, "out of range"),
    ({"qac": float("nan")}, "out of range"),
    ({"v_max": 0.5}, "v_max=0.5 must be >= v_min=1"),
    ({"v_max": "fast"}, "Wrong parameter type"),
    ({"a_min": 0.0}, "out of range"),  # above the brake floor: the car could not brake
    ({"a_min": -0.5}, "out of range"),
])
def test_invalid_values_are_rejected_and_change_nothing(loop, changes, reason):
    _, probe, _, executor = loop
    (result,) = set_parameters(executor, probe.node, "/mpc_controller", changes)
    assert not result.successful
    assert reason in result.reason
    assert get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES)) == {
        name: PARAM_SPECS[name].default for name in PARAM_NAMES}
    assert spin_until(executor, lambda: probe.latest("statuses") is not None, WAIT_S)
    assert probe.latest("statuses")["params"]["v_max"] == PARAM_SPECS["v_max"].default


def test_sequential_set_of_a_speed_window_follows_the_cross_check(loop):
    """Setting v_min above the current v_max fails; raising v_max first then v_min succeeds."""
    _, probe, _, executor = loop
    results = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": -0.5, "v_min": -2.0})
    assert [r.successful for r in results] == [False, True]
    results = set_parameters(executor, probe.node, "/mpc_controller", {"v_max": -0.5})
    assert results[0].successful
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_min", "v_max"]) == {"v_min": -2.0, "v_max": -0.5}


def _set_atomically(executor, client_node, changes: dict):
    client = AsyncParameterClient(client_node, "/mpc_controller")
    assert spin_until(executor, client.services_are_ready, SERVICE_TIMEOUT_S)
    future = client.set_parameters_atomically([Parameter(name, value=value) for name, value in changes.items()])
    return call(executor, future).result


def test_an_atomic_set_is_checked_as_the_combined_set(loop):
    _, probe, _, executor = loop
    # Each alone would cross the v_min <= v_max rule; together they are a valid reverse window.
    result = _set_atomically(executor, probe.node, {"v_max": -0.5, "v_min": -2.0})
    assert result.successful, result.reason
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_min", "v_max"]) == {"v_min": -2.0, "v_max": -0.5}
    crossed = {"v_min": 3.0, "v_max": 2.0}  # each value in range, the combination not
    result = _set_atomically(executor, probe.node, crossed)
    with pytest.raises(ParamError) as rule:
        check_cross_rules({**MpcParams(v_min=-2.0, v_max=-0.5).as_dict(), **crossed})
    assert not result.successful and result.reason == str(rule.value)
    result = _set_atomically(executor, probe.node, {"a_min": 0.0, "a_max": 0.0})  # neither brake nor accelerate
    assert not result.successful and "a_min" in result.reason
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_min", "v_max", "a_min", "a_max"]) == {
        "v_min": -2.0, "v_max": -0.5, "a_min": PARAM_SPECS["a_min"].default, "a_max": PARAM_SPECS["a_max"].default}


def test_a_burst_of_1000_async_parameter_requests_is_answered(loop):
    _, probe, _, executor = loop
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)  # busy solving
    client = AsyncParameterClient(probe.node, "/mpc_controller", qos_profile=PARAMETER_QOS)
    assert spin_until(executor, client.services_are_ready, SERVICE_TIMEOUT_S)
    futures = [client.set_parameters([Parameter("v_max", value=4.0 + i % 5)]) for i in range(500)]
    futures += [client.get_parameters(["v_max"]) for _ in range(500)]
    assert spin_until(executor, lambda: all(f.done() for f in futures), 60.0), \
        f"{sum(not f.done() for f in futures)} of 1000 requests unanswered"
    assert all(result.successful for f in futures[:500] for result in f.result().results)
    assert all(len(f.result().values) == 1 for f in futures[500:])


# --- the command path ---------------------------------------------------------------------

def test_stale_or_nan_odometry_commands_zero_speed_and_recovers(loop):
    controller, probe, source, executor = loop
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)

    source.on = False  # silence on /odom
    silent_at = controller.get_clock().now().nanoseconds * 1e-9
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v == 0.0), WAIT_S)
    first_zero = next(stamp_seconds(d.header.stamp) for d in probe.snapshot("drives")
                      if d.drive.speed == 0.0 and stamp_seconds(d.header.stamp) >= silent_at)
    assert first_zero - silent_at <= MAX_STOP_LATENCY_S
    assert spin_until(executor, lambda: _status(probe).get("fault") == "stale", WAIT_S)
    assert "stale" in probe.latest("statuses")["stop_reason"]
    assert spin_until(executor, lambda: len(probe.snapshot("drives")) > 20, WAIT_S)
    assert probe.latest("drives").drive.speed == 0.0  # zero speed keeps coming: nothing latched

    source.on = True
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)

    source.sample = OdomSample(0.0, math.nan, source.sample.y, source.sample.yaw, 2.0, 0.0, 0.0)
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v == 0.0), WAIT_S)
    assert spin_until(executor, lambda: "NaN" in _status(probe).get("stop_reason", ""), WAIT_S)


class CorruptibleOdometry(OdometrySource):
    """OdometrySource whose messages pass through `corrupt(message)` (None: unchanged)."""

    def __init__(self, context) -> None:
        self.corrupt = None
        super().__init__(context)

    def _publish(self) -> None:
        if not self.on:
            return
        now = self.node.get_clock().now().nanoseconds * 1e-9
        message = sample_to_odometry(dataclasses.replace(self.sample, t=now))
        if self.corrupt is not None:
            self.corrupt(message)
        self._publisher.publish(message)


@pytest.fixture
def corruptible(ros_context):
    controller = MpcControllerNode(context=ros_context, parameter_overrides=[Parameter("v_max", value=4.0)])
    probe = Probe(ros_context)
    source = CorruptibleOdometry(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, probe.node, source.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)
    yield probe, source, executor
    executor.shutdown()


def _set_speed(speed):
    def corrupt(message):
        message.twist.twist.linear.x = speed
    return corrupt


def _set_quaternion(value):
    def corrupt(message):
        q = message.pose.pose.orientation
        q.x = q.y = q.z = q.w = value
    return corrupt


def _move_by(metres):
    def corrupt(message):
        message.pose.pose.position.x += metres
    return corrupt


@pytest.mark.parametrize("corrupt, fault", [
    (_set_speed(300.0), "speed"),
    (_set_speed(50.0), "speed"),
    (_set_quaternion(math.nan), "non_finite"),
    (_set_quaternion(0.0), "quaternion"),
    (_move_by(50.0), "off_track"),
])
def test_implausible_odometry_commands_zero_speed(corruptible, corrupt, fault):
    probe, source, executor = corruptible
    source.corrupt = corrupt
    assert spin_until(executor, lambda: _status(probe).get("fault") == fault, WAIT_S), _status(probe)
    probe.clear("drives")
    assert spin_until(executor, lambda: len(probe.snapshot("drives")) >= 10, WAIT_S)
    assert all(d.drive.speed == 0.0 for d in probe.snapshot("drives"))
    source.corrupt = None
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)


def test_plausible_speed_above_v_max_is_capped_on_drive(corruptible):
    """19 m/s is within the car's physics: not a fault, but /drive still never exceeds v_max = 4."""
    probe, source, executor = corruptible
    source.corrupt = _set_speed(19.0)
    probe.clear("drives")
    assert spin_until(executor, lambda: len(probe.snapshot("drives")) >= 40, WAIT_S)
    assert max(d.drive.speed for d in probe.snapshot("drives")) <= 4.0
    assert _status(probe)["fault"] == ""  # not rejected: the car drives on, capped


class SimulatedClock:
    """A stand-in simulator: /clock every 5 ms of wall time and /odom at 50 Hz (a car standing at
    `sample`'s pose, reporting its speed), stamped with the simulated time. `paused` stops both (a
    SIGSTOPped simulator); `odometry = False` stops /odom only; `rate` is the simulated seconds per
    wall second (below 1: a simulator that fell behind)."""

    def __init__(self, context, sample: OdomSample) -> None:
        from nav_msgs.msg import Odometry
        from rclpy.clock import Clock, ClockType
        from rosgraph_msgs.msg import Clock as ClockMessage

        from robotxr1_ros.nodes.conversions import stamp_from_seconds

        self.time = 100.0
        self.paused = False
        self.odometry = True
        self.rate = 1.0
        self.last_odometry = -math.inf
        self.last_odometry_wall = -math.inf  # time.monotonic() of the last /odom message
        self._ticks = 0
        self.node = rclpy.create_node("fake_sim", context=context)
        clock = self.node.create_publisher(ClockMessage, "/clock", 10)
        odom = self.node.create_publisher(Odometry, "/odom", 10)

        def tick() -> None:
            if self.paused:
                return
            self.time += 0.005 * self.rate
            clock.publish(ClockMessage(clock=stamp_from_seconds(self.time)))
            self._ticks += 1
            if self.odometry and self._ticks % 4 == 0:
                odom.publish(sample_to_odometry(dataclasses.replace(sample, t=self.time)))
                self.last_odometry, self.last_odometry_wall = self.time, time.monotonic()
        self.node.create_timer(0.005, tick, clock=Clock(clock_type=ClockType.STEADY_TIME))


def test_on_sim_time_stale_odometry_and_a_paused_clock_stop_the_car(ros_context):
    controller = MpcControllerNode(context=ros_context, parameter_overrides=[Parameter("use_sim_time", value=True)])
    probe, sim, executor = _on_sim_time(ros_context, controller)
    try:
        assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)

        sim.odometry = False  # the clock runs on, odometry is silent: stale on simulated time
        assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v == 0.0), WAIT_S)
        first_zero = next(stamp_seconds(d.header.stamp) for d in probe.snapshot("drives")
                          if d.drive.speed == 0.0 and stamp_seconds(d.header.stamp) >= sim.last_odometry)
        assert first_zero - sim.last_odometry <= MAX_STOP_LATENCY_S
        assert spin_until(executor, lambda: _status(probe).get("fault") == "stale", WAIT_S)

        sim.odometry = True
        assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)
        sim.paused = True  # SIGSTOP: no /clock, no odometry; the control timer stands still
        paused_at = time.monotonic()
        assert spin_until(executor, lambda: any(t >= paused_at and v == 0.0 for t, v in probe.snapshot("arrivals")),
                          WAIT_S)
        first_zero = min(t for t, v in probe.snapshot("arrivals") if t >= paused_at and v == 0.0)
        assert first_zero - paused_at <= MAX_STOP_LATENCY_S + ARRIVAL_SLACK_S
        assert spin_until(executor, lambda: _status(probe).get("fault") == "clock", WAIT_S)
        spin_until(executor, lambda: False, 0.5)
        after = [(t, v) for t, v in probe.snapshot("arrivals") if t >= first_zero]
        assert len(after) >= 10 and all(v == 0.0 for _, v in after)  # zero speed keeps coming while paused

        sim.paused = False
        assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)
    finally:
        executor.shutdown()


def test_on_a_slow_sim_clock_silent_odometry_stops_the_car_within_the_deadline_of_wall_time(ros_context):
    """/clock at 1 % of real time and /odom silent: the control steps, on simulated time, would come
    every 2.5 s of wall time; zero speed arrives within 0.2 s of wall time and keeps coming at
    about the control rate (on the odometry's and the clock's account alike)."""
    controller = MpcControllerNode(context=ros_context, parameter_overrides=[Parameter("use_sim_time", value=True)])
    assert controller.get_clock().ros_time_is_active  # given at start, read-only from then on
    assert not controller.set_parameters([Parameter("use_sim_time", value=False)])[0].successful
    probe, sim, executor = _on_sim_time(ros_context, controller)
    try:
        assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)
        sim.rate, sim.odometry = 0.01, False
        silent_at = sim.last_odometry_wall
        spin_until(executor, lambda: False, 1.5)
        after = [(t, v) for t, v in probe.snapshot("arrivals") if t > silent_at]
        first_zero = min(t for t, v in after if v == 0.0)
        assert first_zero - silent_at <= MAX_STOP_LATENCY_S + ARRIVAL_SLACK_S
        stopped = [(t, v) for t, v in after if t >= first_zero]
        assert all(v == 0.0 for _, v in stopped)
        rate = (len(stopped) - 1) / (stopped[-1][0] - first_zero)
        control_rate = controller.get_parameter("control_rate_hz").value
        assert rate >= control_rate / 2, f"{rate:.1f} zero-speed commands/s"  # not one per 2.5 s
        assert _status(probe).get("fault") == "clock" and "slow" in _status(probe)["stop_reason"]
    finally:
        executor.shutdown()


def test_use_sim_time_is_read_only_after_start(loop):
    """Which clock odometry age is judged on is a safety setting: given at start, never changed."""
    controller, probe, _, executor = loop
    (result,) = set_parameters(executor, probe.node, "/mpc_controller", {"use_sim_time": True})
    assert not result.successful and result.reason == "Trying to set a read-only parameter: use_sim_time."
    (descriptor,) = describe_parameters(executor, probe.node, "/mpc_controller", ["use_sim_time"])
    assert descriptor.read_only and "fixed at start" in descriptor.description
    assert get_parameters(executor, probe.node, "/mpc_controller", ["use_sim_time"]) == {"use_sim_time": False}
    assert not controller.get_clock().ros_time_is_active
    assert not controller.set_parameters([Parameter("use_sim_time", value=True)])[0].successful
    assert spin_until(executor, lambda: _drive_speed_is(probe, lambda v: v > 0.5), WAIT_S)  # still on wall time


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


@pytest.mark.parametrize("overrides, words", [
    ({"brake_floor": 0.5}, "must be a negative deceleration"),
    ({"odom_timeout_s": 0.25}, "exceeds the 0.2 s"),
])
def test_unsafe_safety_configuration_is_refused(ros_context, overrides, words):
    with pytest.raises(ValueError, match=words):
        MpcControllerNode(context=ros_context,
                          parameter_overrides=[Parameter(name, value=value) for name, value in overrides.items()])
