"""Driving metrics on hand-made runs whose answers are known."""
import numpy as np
import pytest

from robotxr1_ros.evaluation.metrics import driving_metrics
from robotxr1_ros.control.run_log import RAW_CHANNELS, RunLog
from robotxr1_ros.track.library import get_track


def synthetic_run(track, offset, speed, seconds=10.0, rate=40.0, accel=(0.0, 0.0)):
    """A car at a fixed lateral offset from the racing line, moving at `speed` along it."""
    t = np.arange(0.0, seconds, 1.0 / rate)
    s = np.mod(speed * t, track.raceline.length)
    x, y = track.raceline.to_cartesian(s, np.full_like(s, offset))
    raw = {name: np.zeros_like(t) for name in RAW_CHANNELS}
    raw.update(t=t, x=x, y=y, yaw=track.raceline.heading(s), vx=np.full_like(t, speed))
    raw["ax"][:], raw["ay"][:] = accel
    return RunLog.from_raw(track, raw)


def test_offset_and_speed_errors_are_measured():
    track = get_track("eval")
    log = synthetic_run(track, offset=0.2, speed=2.0)
    metrics = driving_metrics(log, track.raceline.length, reference_speed=3.0)
    assert metrics.rmse_raceline == pytest.approx(0.2, abs=2e-3)
    assert metrics.rmse_speed == pytest.approx(1.0, abs=0.02)
    assert metrics.mean_speed == pytest.approx(2.0, rel=0.02)
    assert metrics.lap_time is None and not metrics.crashed


def test_circle_centre_distance_is_the_raceline_offset():
    track = get_track("circle")
    log = synthetic_run(track, offset=0.0, speed=3.0)
    _, inside = track.centre.project(*track.raceline.position(0.0))
    assert driving_metrics(log, track.raceline.length).rmse_centre == pytest.approx(abs(inside), abs=2e-3)


def test_reversing_counts_negative_speed_and_lap_time():
    track = get_track("circle")
    log = synthetic_run(track, offset=0.0, speed=-1.0, seconds=40.0)
    metrics = driving_metrics(log, track.raceline.length)  # reference speed: the reverse case's -1 m/s
    assert metrics.rmse_speed < 0.02
    assert metrics.mean_speed == pytest.approx(-1.0, rel=0.02)
    assert metrics.lap_time == pytest.approx(track.raceline.length, rel=0.02)


def test_acceleration_magnitude_and_too_short_runs():
    track = get_track("circle")
    log = synthetic_run(track, offset=0.0, speed=1.0, accel=(3.0, 4.0))
    assert driving_metrics(log, track.raceline.length).rmse_accel == pytest.approx(5.0)
    with pytest.raises(ValueError, match="at least two samples"):
        driving_metrics(synthetic_run(track, 0.0, 1.0, seconds=0.02), track.raceline.length)
