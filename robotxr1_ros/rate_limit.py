"""At most a given rate of events: how the LLM node reads fast sensor topics.

A car publishes odometry at 50-100 Hz, IMU at 100 Hz or more and scans at 40 Hz, while a
decision looks at ~8 samples of a 3 s window (llm.features down-samples the window to
FeatureConfig.n_samples). rclpy spends ~0.1 ms turning one message into Python objects; on the
2-core bench that was half of the LLM process's main thread. The node therefore takes these
topics serialized and deserializes only the messages a RateLimiter admits, by the stamps in
their headers (`cdr_header_stamp`): messages that arrive in a burst after the executor was held up
still keep the samples evenly spread over the window, which thinning by arrival time would not.
"""
from __future__ import annotations

import math
import struct

from .errors import Robotxr1Error


class RateLimiter:
    """Admits events at up to `rate_hz` on the caller's clock (seconds). Admissions keep to a grid
    of 1/rate_hz, each within half a period of its grid point, so input at any faster rate is
    thinned to `rate_hz` on average (not to the next lower divisor of the input rate) and input
    at the limit passes whole despite jitter; after a pause, or a clock that went back (a
    simulator reset), the grid starts at the next event.

    >>> limiter = RateLimiter(20.0)
    >>> sum(limiter.admit(i / 40) for i in range(400))  # 10 s of 40 Hz input
    200
    >>> limiter.admit(10.0), limiter.admit(10.01), limiter.admit(10.06)
    (True, False, True)
    """

    def __init__(self, rate_hz: float) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0.0):
            raise Robotxr1Error(f"a rate limit must be a positive number of Hz, got {rate_hz}")
        self.interval_s = 1.0 / rate_hz
        self._next = -math.inf

    def admit(self, now: float) -> bool:
        went_back = now < self._next - 2.0 * self.interval_s
        if now < self._next - 0.5 * self.interval_s and not went_back:
            return False
        on_grid = abs(now - self._next) < self.interval_s
        self._next = (self._next if on_grid else now) + self.interval_s
        return True


def cdr_header_stamp(data: bytes) -> float | None:
    """The header stamp (s) of a serialized message whose first field is a std_msgs/Header, as
    rmw writes it in plain CDR: a 4-byte encapsulation (0x0000 big endian, 0x0001 little endian),
    then stamp.sec (int32) and stamp.nanosec (uint32). None for any other encapsulation.

    >>> cdr_header_stamp(bytes([0, 1, 0, 0]) + struct.pack("<iI", 12, 500_000_000) + b"frame")
    12.5
    >>> cdr_header_stamp(b"\\x00\\x07\\x00\\x00" + bytes(8)) is None
    True
    """
    if len(data) < 12 or data[0] != 0 or data[1] not in (0, 1):
        return None
    sec, nanosec = struct.unpack_from("<iI" if data[1] == 1 else ">iI", data, 4)
    return sec + nanosec * 1e-9
