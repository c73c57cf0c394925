"""Staleness on any clock, without ROS: when odometry stops arriving, the controller commands zero
speed within 0.2 s of wall time whatever its own (simulated) clock does: crawl at 1 %, stand still,
jump back or forward. Zero speed then goes out at the control rate of wall time. In real time
nothing changes: no stop, and the watchdog sends nothing while the control steps run."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import pytest
from test_safety_controller import PERIOD_S, FollowMeasured, on_line

from robotxr1_ros.control.controller import (
    MAX_STOP_LATENCY_S,
    STEP_OVERDUE_PERIODS,
    STOP_LATENCY_TOLERANCE_S,
    SafeController,
    SafetyConfig,
)
from robotxr1_ros.control.faults import Fault
from robotxr1_ros.control.odometry_gate import OdometryGate
from robotxr1_ros.track.library import get_track

TICK_S = 0.005  # wall-clock resolution of the replay (the test simulator's /clock period)
ODOM_PERIOD_S = 0.02
START = 100.0  # the controller's clock when the run starts
CHANGE_S = 1.0  # wall time at which the clock changes (and, in most runs, odometry falls silent)


@pytest.fixture(scope="module")
def track():
    return get_track("eval")


@dataclass
class Run:
    """What a node would have sent, with the wall time and the callback that sent it."""

    sent: list[tuple[float, str, object]] = field(default_factory=list)  # (wall, "step" | "watchdog", Command)
    last_odometry: float = -math.inf  # wall time of the last odometry message

    def after(self, wall: float) -> list[tuple[float, str, object]]:
        return [entry for entry in self.sent if entry[0] > wall]


def replay(controller: SafeController, track, clock: Callable[[float], float], seconds: float,
           odometry: Callable[[float], bool] = lambda wall: True) -> Run:
    """A controller node, modelled: wall time advances in 5 ms ticks; `clock(wall)` is the
    controller's clock; odometry arrives every 20 ms of wall time while `odometry(wall)`; the
    control timer fires on the controller's clock as rcl's does (once after a jump forward, one
    period after a jump back); the watchdog timer fires every period of wall time."""
    run = Run()
    next_step = clock(0.0)
    next_odometry = next_watchdog = 0.0
    previous = clock(0.0)
    for tick in range(round(seconds / TICK_S) + 1):
        wall = tick * TICK_S
        now = clock(wall)
        if now < previous:  # rcl: after a jump back, the timer fires one period later
            next_step = now + PERIOD_S
        previous = now
        if wall >= next_odometry - 1e-9:
            next_odometry += ODOM_PERIOD_S
            if odometry(wall):
                controller.on_odometry(on_line(track, now - START), now, wall)
                run.last_odometry = wall
        if now >= next_step - 1e-9:
            while next_step <= now + 1e-9:  # missed periods are skipped, not made up
                next_step += PERIOD_S
            run.sent.append((wall, "step", controller.command(now, wall)))
        if wall >= next_watchdog - 1e-9:
            next_watchdog += PERIOD_S
            command = controller.watchdog(now, wall)
            if command is not None:
                run.sent.append((wall, "watchdog", command))
    return run


def real_time(wall: float) -> float:
    return START + wall


def changes_at_one_second(after: Callable[[float], float]) -> Callable[[float], float]:
    """The real-time clock until CHANGE_S, then `after(seconds since the change)` added to it."""
    return lambda wall: real_time(wall) if wall < CHANGE_S else real_time(CHANGE_S) + after(wall - CHANGE_S)


CLOCKS = {
    "slow 1 %": changes_at_one_second(lambda dt: 0.01 * dt),
    "slow 30 %": changes_at_one_second(lambda dt: 0.3 * dt),  # control steps still run, every 83 ms
    "stopped": changes_at_one_second(lambda dt: 0.0),
    "back 0.1 s": changes_at_one_second(lambda dt: dt - 0.1),  # odometry age on the clock stays < timeout
    "back 5 s": changes_at_one_second(lambda dt: dt - 5.0),
    "forward 5 s": changes_at_one_second(lambda dt: dt + 5.0),
    "back 0.1 s, then 1 %": changes_at_one_second(lambda dt: 0.01 * dt - 0.1),
}


def make() -> SafeController:
    return SafeController(FollowMeasured(), PERIOD_S, get_track("eval"))


def test_the_gate_judges_odometry_age_on_both_clocks(track):
    gate = OdometryGate(0.15, track)
    sample = on_line(track, 0.0)
    gate.receive(sample, now=START, wall=7.0)
    assert gate.verdict(START + 0.1, 7.1).sample is sample
    slow = gate.verdict(START + 0.002, 7.2)  # the controller's clock crawls: fresh on it, not on the wall
    assert slow.fault == Fault.STALE
    assert "0.200 s ago on the wall clock, 0.002 s on the controller's" in slow.problem
    assert gate.verdict(START + 0.2, 7.1).fault == Fault.STALE  # and the other way round
    assert gate.verdict(START - 0.2, 7.1).fault == Fault.STALE  # a jump back
    gate.receive(sample, now=START)  # one clock (a loop without a simulated clock): `now` is the wall time
    assert gate.verdict(START + 0.1).sample is sample and gate.verdict(START + 0.2).fault == Fault.STALE


@pytest.mark.parametrize("name", CLOCKS)
def test_silent_odometry_stops_the_car_within_the_deadline_of_wall_time_on_any_clock(track, name):
    controller = make()
    run = replay(controller, track, CLOCKS[name], 3.0, odometry=lambda wall: wall < CHANGE_S)
    before = [command for wall, _, command in run.sent if wall < CHANGE_S - 0.1]
    assert before[-1].speed > 0.0 and not any(command.fault for command in before[-10:])  # driving
    silent_at = run.last_odometry
    after = run.after(silent_at)
    first_zero = next(wall for wall, _, command in after if command.speed == 0.0)
    assert first_zero - silent_at <= MAX_STOP_LATENCY_S + STOP_LATENCY_TOLERANCE_S
    assert all(command.speed == 0.0 for wall, _, command in after if wall >= first_zero)
    stopped = [wall for wall, _, _ in after if wall >= first_zero]
    gaps = [b - a for a, b in pairwise(stopped)]
    # Zero speed at about the control rate of wall time, whatever the clock: never a gap longer
    # than the watchdog's wait for an overdue step (after a step on a slow clock), else one a period.
    assert max(gaps) <= (STEP_OVERDUE_PERIODS + 1) * PERIOD_S + 1e-9, name
    assert len(stopped) >= 0.75 * (stopped[-1] - stopped[0]) / PERIOD_S
    assert controller.status()["fault"] in (Fault.STALE, Fault.CLOCK)


def test_a_slow_clock_stops_the_car_on_the_wall_clock_and_says_so(track):
    controller = make()
    run = replay(controller, track, CLOCKS["slow 1 %"], 2.0, odometry=lambda wall: wall < CHANGE_S)
    assert all(source == "watchdog" for wall, source, _ in run.after(CHANGE_S + 0.05))  # no control step runs
    status = controller.status()
    assert status["fault"] == Fault.CLOCK and "is /clock silent or slow?" in status["stop_reason"]
    assert "advanced 0.0" in status["stop_reason"]  # how far the clock got: under 0.1 s in a second


def test_slow_clock_with_odometry_on_time_stops_the_car_without_pulses(track):
    """Odometry at 50 Hz of wall time (a real car) while /clock crawls: control steps come every
    2.5 s and would each drive on fresh odometry; none does."""
    controller = make()
    run = replay(controller, track, CLOCKS["slow 1 %"], 6.0)
    after = run.after(CHANGE_S + MAX_STOP_LATENCY_S)
    assert [source for _, source, _ in after].count("step") >= 2
    assert all(command.speed == 0.0 and command.fault == Fault.CLOCK for _, _, command in after)


def test_the_car_drives_again_once_the_clock_and_odometry_are_back(track):
    controller = make()
    resumed = 2.0
    clock = changes_at_one_second(lambda dt: 0.0 if dt < resumed - CHANGE_S else dt - (resumed - CHANGE_S))
    run = replay(controller, track, clock, 3.0, odometry=lambda wall: not CHANGE_S <= wall < resumed)
    paused = [command for wall, _, command in run.sent if CHANGE_S + MAX_STOP_LATENCY_S <= wall < resumed]
    assert paused and all(command.speed == 0.0 for command in paused)
    assert run.sent[-1][2].speed > 0.0 and run.sent[-1][1] == "step"


@pytest.mark.parametrize("rate", [1.0, 3.0])  # real time, and a simulator 3x faster than real time
def test_nothing_changes_in_real_time_operation(track, rate):
    controller = make()
    run = replay(controller, track, lambda wall: START + rate * wall, 3.0)
    assert all(source == "step" for _, source, _ in run.sent)  # the watchdog never sends
    assert all(not command.fault for _, _, command in run.sent)
    assert controller.status()["stops"] == {}


def test_in_real_time_a_late_step_is_not_the_clocks_fault(track):
    """A step 150 ms late on both clocks (a long solve, a stalled executor, during which the
    watchdog cannot run either): no clock fault, the car drives on."""
    controller = make()
    run = replay(controller, track, real_time, 1.0)
    assert run.sent[-1][2].speed > 0.0
    late = 1.15
    controller.on_odometry(on_line(track, late), START + late, late)
    assert controller.watchdog(START + late, late) is None
    assert controller.command(START + late, late).fault is None


def test_in_real_time_silent_odometry_stops_as_before_without_doubled_commands(track):
    controller = make()
    run = replay(controller, track, real_time, 2.0, odometry=lambda wall: wall < CHANGE_S)
    after = run.after(run.last_odometry)
    first_zero = next(wall for wall, _, command in after if command.speed == 0.0)
    assert first_zero - run.last_odometry <= SafetyConfig().odom_timeout_s + PERIOD_S + 1e-9
    # The watchdog sends at most the first zero-speed command; the control steps send the rest.
    assert [source for _, source, _ in after].count("watchdog") <= 1
    assert controller.status()["fault"] == Fault.STALE
