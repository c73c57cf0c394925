"""The state window the LLM node and `robotxr1 replay` share (ROS-free)."""
from __future__ import annotations

import numpy as np
import pytest

from robotxr1_ros.llm.state_buffer import StateBuffer
from robotxr1_ros.samples import OdomSample, ScanSample


def odometry(t: float) -> OdomSample:
    return OdomSample(t, t, 0.0, 0.0, 1.0, 0.0, 0.0)


def scan(t: float) -> ScanSample:
    return ScanSample(t, np.ones(4), -1.0, 0.5, 30.0)


def test_keeps_the_last_window_of_odometry_and_the_scans_inside_it():
    buffer = StateBuffer(window_s=1.0)
    for k in range(101):  # 2 s at 50 Hz
        buffer.add_odometry(odometry(0.02 * k))
        if k % 5 == 0:
            buffer.add_scan(scan(0.02 * k + 0.001))
    window = buffer.window()
    times = [sample.t for sample in window.odometry]
    assert times[0] == pytest.approx(1.0) and times[-1] == pytest.approx(2.0)
    assert buffer.covered_s == pytest.approx(1.0)
    assert all(times[0] <= s.t <= times[-1] + 0.01 for s in window.scans) and len(window.scans) == 11


def test_time_going_backwards_starts_a_new_window():
    buffer = StateBuffer(window_s=1.0)
    for t in (5.0, 5.5, 6.0):
        buffer.add_odometry(odometry(t))
    buffer.add_scan(scan(6.0))
    buffer.add_odometry(odometry(0.1))  # the simulator was reset
    window = buffer.window()
    assert [s.t for s in window.odometry] == [0.1] and window.scans == ()
    buffer.clear()
    assert buffer.covered_s == 0.0 and buffer.window().odometry == ()
    with pytest.raises(ValueError):
        StateBuffer(window_s=0.0)


def test_a_flood_of_equal_or_zero_timestamps_stays_bounded():
    buffer = StateBuffer(window_s=1.0, max_samples=50)
    for _ in range(10_000):
        buffer.add_odometry(odometry(0.0))
        buffer.add_scan(scan(0.0))
    assert len(buffer) == 100 and len(buffer.window().odometry) == 50
    assert buffer.covered_s == 0.0  # nothing to judge in a window without time
    for k in range(1, 201):  # real time again: the newest samples win
        buffer.add_odometry(odometry(0.01 * k))
    assert len(buffer.window().odometry) == 50 and buffer.window().odometry[-1].t == pytest.approx(2.0)
    with pytest.raises(ValueError):
        StateBuffer(window_s=1.0, max_samples=1)
