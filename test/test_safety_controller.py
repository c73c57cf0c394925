"""The controller's per-cycle logic without ROS: implausible odometry stops the car, staleness on the
controller's clock stops it within 0.2 s (any other clock: test_controller_clocks.py), parameter
updates can never take away the brakes, and whatever arrives, every command stays inside the
limits (hypothesis)."""
from __future__ import annotations

import contextlib
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_safety_filter import assert_within_limits

from robotxr1_ros.control.controller import MAX_STOP_LATENCY_S, SafeController, SafetyConfig
from robotxr1_ros.control.faults import Fault
from robotxr1_ros.control.mpc import MpcCommand
from robotxr1_ros.control.odometry_gate import OdometryGate, Plausibility
from robotxr1_ros.control.param_limits import ParamLimits
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.params import PARAM_NAMES, PARAM_SPECS, MpcParams, ParamError, check_cross_rules
from robotxr1_ros.samples import OdomSample
from robotxr1_ros.track.library import get_track

PERIOD_S = 0.025
ODOM_PERIOD_S = 0.02


class FollowMeasured:
    """The attack's planner: commands the measured speed minus 0.5, steering 0.1."""

    def __init__(self) -> None:
        self.resets = 0
        self.params = None

    def solve(self, x, y, yaw, v, steering) -> MpcCommand:
        return MpcCommand(0.1, v - 0.5, "optimal", 0.0, False, "", 0, 0.0, 0.0, 0.0, None, None)

    def set_params(self, params) -> None:
        self.params = params

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture(scope="module")
def track():
    return get_track("eval")


def on_line(track, t: float, vx: float = 3.0, **changes) -> OdomSample:
    """A car on the racing line, at s = vx t; `changes` override fields of the sample."""
    s = (vx * t) % track.raceline.length
    x, y = (float(v) for v in track.raceline.position(s))
    values = dict(t=t, x=x, y=y, yaw=float(track.raceline.heading(s)), vx=vx, vy=0.0, yaw_rate=0.0)
    values.update(changes)
    return OdomSample(**values)


def drive(controller: SafeController, track, seconds: float, start: float = 0.0, sample=None):
    """Odometry at 50 Hz and commands at 40 Hz on one clock; returns the commands."""
    commands, t, next_odom = [], start, start
    sample = sample or (lambda t: on_line(track, t))
    while t < start + seconds - 1e-9:
        while next_odom <= t + 1e-9:
            controller.on_odometry(sample(next_odom), next_odom)
            next_odom += ODOM_PERIOD_S
        commands.append(controller.command(t))
        t += PERIOD_S
    return commands


def make(track, **params) -> SafeController:
    return SafeController(FollowMeasured(), PERIOD_S, track, params=MpcParams(**params))


# --- odometry gate ------------------------------------------------------------------------

@pytest.mark.parametrize("changes, fault, words", [
    ({"vx": 300.0}, Fault.SPEED, "outside what the car can do"),
    ({"vx": 20.6}, Fault.SPEED, "outside what the car can do"),
    ({"vx": -6.0}, Fault.SPEED, "outside what the car can do"),
    ({"vy": 25.0}, Fault.SPEED, "outside what the car can do"),
    ({"quaternion_norm": math.nan}, Fault.NON_FINITE, "quaternion contains NaN"),
    ({"quaternion_norm": 0.0}, Fault.QUATERNION, "norm 0, not 1"),
    ({"quaternion_norm": 1.002}, Fault.QUATERNION, "not 1"),
    ({"x": math.inf}, Fault.NON_FINITE, "NaN or inf"),
])
def test_gate_rejects_implausible_samples(track, changes, fault, words):
    gate = OdometryGate(0.15, track)
    verdict = gate.receive(on_line(track, 1.0, **changes), now=1.0)
    assert verdict.sample is None and verdict.fault == fault and words in verdict.problem
    assert gate.verdict(1.01) == verdict
    assert gate.rejected[fault] == 1


def test_gate_reads_nan_and_zero_quaternions_as_faults(track):
    """The reader keeps the quaternion's norm: a NaN or zero quaternion no longer passes as yaw 0."""
    gate = OdometryGate(0.15, track)
    good = on_line(track, 1.0)
    for q in ((math.nan,) * 4, (0.0,) * 4, (0.0, 0.0, 0.5, 0.5)):
        sample = OdomSample.from_quaternion(1.0, good.x, good.y, *q, 2.0, 0.0, 0.0)
        assert gate.receive(sample, now=1.0).sample is None
    unit = OdomSample.from_quaternion(1.0, good.x, good.y, 0.0, 0.0, math.sin(0.3), math.cos(0.3), 2.0, 0.0, 0.0)
    assert gate.receive(unit, now=1.0).sample is unit


def test_gate_rejects_a_pose_off_the_track_and_jumps(track):
    gate = OdometryGate(0.15, track, Plausibility(max_off_track_m=1.0))
    good = on_line(track, 1.0)
    far = on_line(track, 1.02, x=good.x + 50.0)
    verdict = gate.receive(far, now=1.02)
    assert verdict.fault == Fault.OFF_TRACK and "outside the track" in verdict.problem
    gate = OdometryGate(0.15, track)
    assert gate.receive(good, now=1.0).sample is good
    x, y = (float(v) for v in track.raceline.position(3.0 * 1.0 + 6.0))  # 6 m ahead, 20 ms later
    verdict = gate.receive(on_line(track, 1.02, x=x, y=y), now=1.02)
    assert verdict.fault == Fault.JUMP and "jumped" in verdict.problem
    back = on_line(track, 1.04)
    assert gate.receive(back, now=1.04).sample is back  # a one-sample glitch: the next good sample drives
    assert gate.receive(on_line(track, 1.06, x=x, y=y), now=1.06).fault == Fault.JUMP
    # A relocalised pose is accepted once the car could have got there (20 m/s x 0.3 s > 6 m).
    moved = on_line(track, 1.34, x=x, y=y)
    assert gate.receive(moved, now=1.34).sample is moved


def test_gate_staleness_is_judged_on_the_clock_it_is_given(track):
    gate = OdometryGate(0.15, track)
    assert gate.verdict(0.0).fault == Fault.NO_ODOMETRY
    good = on_line(track, 100.0)
    gate.receive(good, now=5.0)  # the stamp does not matter, the receive time does
    assert gate.verdict(5.14).sample is good
    stale = gate.verdict(5.16)
    assert stale.fault == Fault.STALE and "stale" in stale.problem
    assert gate.verdict(4.8).fault == Fault.STALE  # clock jumped back


# --- parameter limits -------------------------------------------------------------------

def test_a_min_may_not_rise_above_the_brake_floor():
    limits = ParamLimits.create(brake_floor=-1.0)
    assert (limits.specs["a_min"].minimum, limits.specs["a_min"].maximum) == (PARAM_SPECS["a_min"].minimum, -1.0)
    for value in (0.0, -0.5, -0.999):
        with pytest.raises(ParamError, match=r"above the brake floor -1 m/s\^2: the car must always be able to brake"):
            limits.update(MpcParams(), {"a_min": value, "a_max": 0.0})
    assert limits.update(MpcParams(), {"a_min": -1.0, "a_max": 0.0}).a_min == -1.0


@pytest.mark.parametrize("car_limits, floor, words", [
    ({}, 0.0, "must be a negative deceleration"),
    ({}, math.nan, "must be a negative deceleration"),
    ({"a_min": [-5.0, -2.0]}, -6.0, "no a_min would be accepted"),
    ({"v_max": [0.0, 16.0]}, -1.0, "never widen"),
])
def test_invalid_brake_floor_or_car_limits_are_refused(car_limits, floor, words):
    with pytest.raises(ParamError, match=words):
        ParamLimits.create(car_limits, floor)


def test_car_limits_and_floor_combine():
    limits = ParamLimits.create({"a_min": [-5.0, -0.5]}, brake_floor=-2.0)
    assert (limits.specs["a_min"].minimum, limits.specs["a_min"].maximum, limits.specs["a_min"].default) == (
        -5.0, -2.0, -5.0)


def test_an_update_is_checked_as_the_combined_set():
    limits = ParamLimits.create()
    both = limits.update(MpcParams(), {"v_max": -0.5, "v_min": -2.0})  # each alone would cross v_min=1
    assert (both.v_min, both.v_max) == (-2.0, -0.5)
    for changes in ({"v_min": 3.0, "v_max": 2.0}, {"v_max": 0.5}):
        with pytest.raises(ParamError) as refused:
            limits.update(MpcParams(), changes)
        with pytest.raises(ParamError) as rule:
            check_cross_rules({**MpcParams().as_dict(), **changes})
        assert str(refused.value) == str(rule.value)  # the one cross rule, with its message


# --- the controller -----------------------------------------------------------------------

@pytest.mark.parametrize("measured", [20.0, 50.0, 300.0])
def test_overspeed_odometry_never_reaches_the_drive(track, measured):
    controller = make(track, v_max=4.0)
    commands = drive(controller, track, 1.0)
    assert max(c.speed for c in commands) <= 4.0
    bad = drive(controller, track, 1.0, start=1.0, sample=lambda t: replace(on_line(track, t), vx=measured))
    speeds = [c.speed for c in bad]
    assert max(speeds) <= 4.0
    if measured > 20.5:  # beyond the vehicle: rejected, zero speed from the first control step on
        assert all(speed == 0.0 for speed in speeds) and bad[0].fault == Fault.SPEED
    else:  # plausible but above v_max: the planner's 19.5 m/s is capped
        assert speeds[-1] == 4.0 and controller.filter.counts["speed_limit"] > 0


def test_lowering_v_max_while_driving_fast_takes_effect_at_the_next_command(track):
    controller = make(track)
    drive(controller, track, 2.0, sample=lambda t: on_line(track, t, vx=12.0))
    controller.update_params({"v_max": 5.0})
    assert controller.command(2.0).speed <= 5.0


@pytest.mark.parametrize("quaternion", [(math.nan,) * 4, (0.0,) * 4])
def test_invalid_orientation_stops_the_car(track, quaternion):
    controller = make(track)
    drive(controller, track, 1.0)

    def broken(t):
        good = on_line(track, t)
        return OdomSample.from_quaternion(t, good.x, good.y, *quaternion, 3.0, 0.0, 0.0)
    commands = drive(controller, track, 0.5, start=1.0, sample=broken)
    assert all(c.speed == 0.0 for c in commands)
    assert controller.status()["fault"] in (Fault.NON_FINITE, Fault.QUATERNION)
    assert controller.planner.resets == 1


def test_odometry_far_off_the_track_stops_the_car(track):
    controller = make(track)
    drive(controller, track, 1.0)
    commands = drive(controller, track, 0.5, start=1.0, sample=lambda t: on_line(track, t, x=on_line(track, t).x + 50))
    assert all(c.speed == 0.0 for c in commands)
    assert "outside the track" in controller.status()["stop_reason"]


def test_silence_stops_within_the_deadline_on_the_controller_clock(track):
    controller = make(track)
    commands = drive(controller, track, 1.0)
    last_odometry = 0.96  # drive() delivered odometry every 20 ms up to its last command at 0.975 s
    assert commands[-1].speed > 0.0
    t, stopped_at = 1.0, None
    while stopped_at is None:
        command = controller.command(t)
        if command.speed == 0.0:
            stopped_at = t
        t += PERIOD_S
    assert stopped_at - last_odometry <= MAX_STOP_LATENCY_S
    assert command.fault == Fault.STALE


def test_the_last_command_on_shutdown_is_zero_speed_at_once(track):
    controller = make(track)
    driving = drive(controller, track, 1.0, sample=lambda t: on_line(track, t, vx=6.0))[-1]
    assert driving.speed > 1.0  # braking is never rate limited: zero at once, from any speed
    last = controller.stop_command(1.0, "shutting down")
    assert (last.speed, last.steering) == (0.0, driving.steering)
    assert (last.fault, last.stop_reason) == (Fault.SHUTDOWN, "shutting down")
    assert controller.status()["stops"] == {Fault.SHUTDOWN: 1} and controller.planner.resets == 1


def test_an_operators_stop_holds_zero_speed_until_resumed(track):
    controller = make(track)
    driving = drive(controller, track, 1.0, sample=lambda t: on_line(track, t, vx=6.0))[-1]
    assert driving.speed > 1.0
    stop = controller.hold(1.0, "stopped by /mpc_controller/stop")
    assert (stop.speed, stop.steering, stop.fault) == (0.0, driving.steering, Fault.HELD)  # at once, from any speed
    controller.update_params({"v_min": 2.0})  # a parameter update (an operator's, the LLM's) applies ...
    held = drive(controller, track, 1.0, start=1.0, sample=lambda t: on_line(track, t, vx=6.0))
    assert all(c.speed == 0.0 and c.fault == Fault.HELD for c in held)  # ... but drives nothing, nor good odometry
    assert controller.watchdog(2.1, 2.1) is not None  # steps overdue: the watchdog repeats the stop
    status = controller.status()
    assert status["held"] and status["fault"] == Fault.HELD
    assert status["stop_reason"] == "stopped by /mpc_controller/stop"
    assert status["stops"] == {Fault.HELD: 1} and status["params"]["v_min"] == 2.0
    assert controller.resume() and not controller.resume()  # the second: nothing to resume
    resumed = drive(controller, track, 0.5, start=2.1, sample=lambda t: on_line(track, t, vx=6.0))
    assert resumed[-1].speed > 1.0 and resumed[-1].fault is None and not controller.status()["held"]


def test_safety_config_must_stop_within_the_deadline(track):
    for config in (SafetyConfig(odom_timeout_s=0.25), SafetyConfig(clock_timeout_s=0.19),
                   SafetyConfig(odom_timeout_s=0.0)):
        with pytest.raises(Robotxr1Error):
            SafeController(FollowMeasured(), PERIOD_S, track, config)
    with pytest.raises(ParamError, match="brake floor"):
        SafeController(FollowMeasured(), PERIOD_S, track, params=MpcParams(a_min=0.0))


def test_status_counts_corrections_rejections_and_stops(track):
    controller = make(track, v_max=2.0)
    drive(controller, track, 1.0, sample=lambda t: on_line(track, t, vx=6.0))
    drive(controller, track, 0.1, start=1.0, sample=lambda t: replace(on_line(track, t), vx=300.0))
    status = controller.status()
    assert status["corrections"]["speed_limit"] > 0
    assert status["rejected_odometry"]["speed"] == 4  # received at 1.00, 1.02, 1.04, 1.06 s
    assert status["stops"] == {Fault.SPEED: 1}
    assert status["stale"] and status["params"]["v_max"] == 2.0


odometry_values = st.one_of(st.floats(-400.0, 400.0), st.sampled_from([math.nan, math.inf, -math.inf]))


@settings(max_examples=60, deadline=None)
@given(events=st.lists(st.one_of(
    st.tuples(st.just("odom"), odometry_values, odometry_values, odometry_values,
              st.one_of(st.floats(0.0, 2.0), st.just(math.nan))),
    st.tuples(st.just("params"), st.sampled_from(PARAM_NAMES), st.floats(allow_nan=True, allow_infinity=True)),
    st.tuples(st.just("wait"), st.floats(0.0, 0.5)),
), max_size=40))
def test_arbitrary_odometry_and_parameters_never_produce_a_command_outside_the_limits(track, events):
    controller = make(track)
    t, previous = 0.0, (0.0, 0.0)
    base = on_line(track, 0.0)
    for event in events:
        if event[0] == "odom":
            _, dx, dy, vx, norm = event
            controller.on_odometry(OdomSample(t, base.x + dx / 100.0, base.y + dy / 100.0, base.yaw, vx, 0.0, 0.0,
                                              norm), t)
        elif event[0] == "params":
            with contextlib.suppress(ParamError):
                controller.update_params({event[1]: event[2]})
        else:
            t += event[1]
        command = controller.command(t)
        assert_within_limits(previous, command.speed, command.steering, controller.params, PERIOD_S)
        assert controller.params.a_min <= controller.safety.brake_floor
        previous = (command.speed, command.steering)
