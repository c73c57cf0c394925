"""The simulator's sensors as plain samples: what the sim node publishes and the offline bag
recorder writes, from one place. Times are the caller's (the ROS clock the messages carry)."""
from __future__ import annotations

from ..errors import Robotxr1Error
from ..samples import OdomSample, ScanSample
from .simulator import Simulator


def ticks_per_reading(rate_hz: float, tick_s: float) -> int:
    """Read a sensor every n-th physics tick: the closest whole number of ticks to its period."""
    if not rate_hz > 0.0:
        raise Robotxr1Error(f"sensor rates must be positive, got {rate_hz} Hz")
    return max(1, round(1.0 / (rate_hz * tick_s)))


def odometry_sample(sim: Simulator, t: float) -> OdomSample:
    reading = sim.odometry()
    return OdomSample(t, reading.x, reading.y, reading.yaw, reading.vx, reading.vy, reading.yaw_rate)


def scan_sample(sim: Simulator, t: float, beam_stride: int = 1) -> ScanSample:
    """A LiDAR scan; `beam_stride` > 1 keeps every n-th beam (smaller bags, same field of view)."""
    if beam_stride < 1:
        raise Robotxr1Error(f"beam_stride must be >= 1, got {beam_stride}")
    config = sim.lidar_config
    return ScanSample(t=t, ranges=sim.scan()[::beam_stride], angle_min=config.angle_min,
                      angle_increment=config.angle_increment * beam_stride, range_max=config.range_max)
