"""Driving metrics on hand-made runs whose answers are known."""
import numpy as np
import pytest

from robotxr1_ros.cases.decision import label
from robotxr1_ros.control.run_log import RAW_CHANNELS, RunLog
from robotxr1_ros.evaluation.metrics import driving_metrics
from robotxr1_ros.track.library import get_track


def synthetic_run(track, offset, speed, seconds=10.0, rate=40.0, accel=(0.0, 0.0), line=None):
    """A car at a fixed lateral offset from `line` (default: the racing line), moving at `speed` along it."""
    line = line or track.raceline
    t = np.arange(0.0, seconds, 1.0 / rate)
    s = np.mod(speed * t, line.length)
    x, y = line.to_cartesian(s, np.full_like(s, offset))
    raw = {name: np.zeros_like(t) for name in RAW_CHANNELS}
    raw.update(t=t, x=x, y=y, yaw=line.heading(s), vx=np.full_like(t, speed))
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


@pytest.mark.parametrize("offset, on_centre_line", [(0.0, True), (0.1, True), (0.4, False)])
def test_center_case_and_centerline_label_measure_the_same_line(offset, on_centre_line):
    """On the evaluation track (unequal widths as drawn): driving `offset` from track.centre is
    what the center case's RMSE reports, and |d_left - d_right| = 2 * offset is what the
    decision rule sees, so a car on the centre line passes both."""
    track = get_track("eval")
    log = synthetic_run(track, offset=offset, speed=2.0, seconds=40.0, line=track.centre)
    assert driving_metrics(log, track.raceline.length).rmse_centre == pytest.approx(offset, abs=3e-3)
    assert np.allclose(log.d_left - log.d_right, -2.0 * offset, atol=6e-3)
    record = {"s_speed": list(log.speed_along), "d_left": list(log.d_left), "d_right": list(log.d_right)}
    assert label("Drive on the centerline", record) is on_centre_line


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
