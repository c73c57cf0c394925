"""The rate limiter that thins the LLM node's sensor input (robotxr1_ros/rate_limit.py)."""
from __future__ import annotations

import math

import pytest

from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.rate_limit import RateLimiter, cdr_header_stamp


@pytest.mark.parametrize("input_hz, admitted", [(100.0, 200), (50.0, 200), (40.0, 200), (30.0, 200), (20.0, 200),
                                                (15.0, 150), (1.0, 10)])
def test_ten_seconds_of_input_are_thinned_to_the_limit_and_slower_input_passes_whole(input_hz, admitted):
    """At most one more than the limit allows: the grid point at the window's end."""
    limiter = RateLimiter(20.0)
    assert sum(limiter.admit(i / input_hz) for i in range(int(10 * input_hz))) in (admitted, admitted + 1)


def test_jittered_input_keeps_the_average_rate():
    limiter = RateLimiter(20.0)
    times = [i / 50 + 0.004 * math.sin(7.0 * i) for i in range(500)]
    assert 195 <= sum(limiter.admit(t) for t in times) <= 205


@pytest.mark.parametrize("rate", [0.0, -5.0, math.nan, math.inf])
def test_a_rate_that_is_not_a_positive_number_is_refused(rate):
    with pytest.raises(Robotxr1Error, match="positive number of Hz"):
        RateLimiter(rate)


def test_a_clock_that_goes_back_restarts_the_grid():
    limiter = RateLimiter(10.0)
    assert [limiter.admit(t) for t in (50.0, 50.02, 0.0, 0.03, 0.1)] == [True, False, True, False, True]


def test_the_stamp_is_read_from_real_serialized_sensor_messages():
    from nav_msgs.msg import Odometry
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Imu, LaserScan

    for message_type in (Odometry, LaserScan, Imu):
        message = message_type()
        message.header.stamp.sec, message.header.stamp.nanosec = 1234, 250_000_000
        message.header.frame_id = "base_link"
        assert cdr_header_stamp(serialize_message(message)) == 1234.25
    assert cdr_header_stamp(b"\x00\x01\x00") is None  # too short to hold a stamp
