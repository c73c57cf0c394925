"""At most a given rate of events: how the LLM node reads fast sensor topics.

A car publishes odometry at 50-100 Hz, IMU at 100 Hz or more and scans at 40 Hz, while a
decision looks at ~8 samples of a 3 s window (llm.features down-samples the window to
FeatureConfig.n_samples). rclpy spends ~0.1 ms turning one message into Python objects; on the
2-core bench that took most of a core away from inference. The node therefore takes these
topics serialized and deserializes only the messages a RateLimiter admits.
"""
from __future__ import annotations

import math

from .errors import Robotxr1Error


class RateLimiter:
    """Admits events at up to `rate_hz` on the caller's clock (seconds). Admissions keep to a grid
    of 1/rate_hz, each within half a period of its grid point, so input at any faster rate is
    thinned to `rate_hz` on average (not to the next lower divisor of the input rate) and input
    at the limit passes whole despite jitter; after a pause the grid starts at the next event.

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
        if now < self._next - 0.5 * self.interval_s:
            return False
        on_grid = now - self._next < self.interval_s
        self._next = (self._next if on_grid else now) + self.interval_s
        return True
