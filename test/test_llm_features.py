"""State window -> Frenet features on a circular test track, and the LiDAR-only cues."""
import json
import math

import numpy as np
import pytest

from robotxr1_ros.llm.features import (
    RECORD_KEYS,
    FeatureConfig,
    InsufficientData,
    StateFeatures,
    compute_features,
    features_from_record,
)
from robotxr1_ros.llm.lidar_features import lidar_features
from robotxr1_ros.samples import OdomSample, ScanSample, StateWindow, yaw_from_quaternion
from robotxr1_ros.track import ClosedPath, Track

RADIUS = 5.0
HALF_WIDTH = 1.5


@pytest.fixture(scope="module")
def circle_track():
    angles = np.linspace(0.0, 2 * np.pi, 200, endpoint=False)
    centre = ClosedPath(RADIUS * np.cos(angles), RADIUS * np.sin(angles))
    n = centre.s_table.size
    return Track("test-circle", centre, width_left=np.full(n, HALF_WIDTH), width_right=np.full(n, HALF_WIDTH),
                 raceline=centre, raceline_speed=np.full(n, 3.0))


def circle_window(d=0.0, speed=2.0, n=40, duration=2.0, backwards=False, nose_back=False, yaw_offset=0.0):
    """Samples of a car on the circle of radius RADIUS - d (counter-clockwise track, d > 0 left).

    backwards: the car moves clockwise (against the track direction); nose_back: it points
    clockwise too, i.e. it drives forward the wrong way rather than reversing.
    """
    radius = RADIUS - d
    direction = -1.0 if backwards else 1.0
    samples = []
    for t in np.linspace(0.0, duration, n):
        theta = 0.3 + direction * speed * t / radius
        yaw = theta + (-np.pi / 2 if nose_back else np.pi / 2) + yaw_offset
        vx = speed if (backwards == nose_back) else -speed
        samples.append(OdomSample(float(t), radius * math.cos(theta), radius * math.sin(theta), yaw, vx, 0.0,
                                  direction * speed / radius))
    return StateWindow(samples)


def test_quaternion_to_yaw_in_ros_order():
    half = 0.5 * 1.0
    assert yaw_from_quaternion(0.0, 0.0, math.sin(half), math.cos(half)) == pytest.approx(1.0)
    sample = OdomSample.from_quaternion(0.0, 1.0, 2.0, 0.0, 0.0, math.sin(-1.2), math.cos(-1.2), 3.0, 0.1, 0.2)
    assert sample.yaw == pytest.approx(-2.4) and (sample.x, sample.vx, sample.yaw_rate) == (1.0, 3.0, 0.2)


def test_forward_driving_left_of_the_racing_line(circle_track):
    features = compute_features(circle_window(d=0.4, speed=2.0), circle_track, FeatureConfig(n_samples=8))
    assert isinstance(features, StateFeatures)
    assert features.data_samples == 8 and features.time == pytest.approx(2.0)
    assert np.allclose(features.d_pos, 0.4, atol=0.01)
    assert np.allclose(features.s_speed, 2.0, atol=0.02) and np.allclose(features.d_speed, 0.0, atol=0.02)
    assert np.allclose(features.d_left, HALF_WIDTH - 0.4, atol=0.01)
    assert np.allclose(features.d_right, HALF_WIDTH + 0.4, atol=0.01)
    assert np.all(np.diff(features.s_pos) > 0)
    assert not features.reversing and not features.crashed and not features.facing_wall


def test_reversing_versus_driving_the_wrong_way(circle_track):
    reversing = compute_features(circle_window(backwards=True), circle_track)
    assert np.allclose(reversing.s_speed, -2.0, atol=0.02) and reversing.reversing
    wrong_way = compute_features(circle_window(backwards=True, nose_back=True), circle_track)
    assert np.allclose(wrong_way.s_speed, -2.0, atol=0.02) and not wrong_way.reversing


def test_sideways_motion_shows_in_d_speed(circle_track):
    # Nose turned 30 degrees towards the inside (left) while driving forward.
    features = compute_features(circle_window(yaw_offset=math.radians(30)), circle_track)
    assert np.allclose(features.s_speed, 2.0 * math.cos(math.radians(30)), atol=0.02)
    assert np.allclose(features.d_speed, 2.0 * math.sin(math.radians(30)), atol=0.02)


def test_touching_the_outer_wall_is_a_crash_and_pointing_at_it_faces_it(circle_track):
    crashed = compute_features(circle_window(d=-(HALF_WIDTH - 0.05), speed=0.5), circle_track)
    assert crashed.crashed and min(crashed.d_right) < 0.1
    # 0.4 m from the outer wall, nose pointing straight at it (outwards).
    facing = compute_features(circle_window(d=-(HALF_WIDTH - 0.4), speed=0.2, yaw_offset=-np.pi / 2), circle_track)
    assert facing.facing_wall and not facing.crashed


def test_down_sampling_keeps_first_and_last_and_respects_short_windows(circle_track):
    window = circle_window(n=50)
    features = compute_features(window, circle_track, FeatureConfig(n_samples=5))
    assert features.data_samples == 5
    s_first, _ = circle_track.raceline.project(window.odometry[0].x, window.odometry[0].y)
    assert features.s_pos[0] == pytest.approx(float(s_first))
    short = compute_features(circle_window(n=6), circle_track, FeatureConfig(n_samples=13, min_samples=5))
    assert short.data_samples == 6


def test_insufficient_windows_are_explicit(circle_track):
    few = compute_features(circle_window(n=3), circle_track)
    assert isinstance(few, InsufficientData) and "3 odometry samples" in few.reason
    samples = list(circle_window().odometry)
    samples[7] = OdomSample(samples[7].t, float("nan"), samples[7].y, samples[7].yaw, 1.0, 0.0, 0.0)
    nan = compute_features(StateWindow(samples), circle_track)
    assert isinstance(nan, InsufficientData) and "sample 7" in nan.reason
    stale = list(circle_window().odometry)
    stale[3] = stale[2]
    assert isinstance(compute_features(StateWindow(stale), circle_track), InsufficientData)


def corridor_scan(left=0.6, right=0.9, front=2.0, beams=1080, fov=4.7):
    """A scan from inside a straight corridor with a wall across it `front` metres ahead."""
    angles = -fov / 2 + fov / (beams - 1) * np.arange(beams)
    with np.errstate(divide="ignore"):
        candidates = np.stack([
            np.where(np.sin(angles) > 1e-9, left / np.sin(angles), np.inf),
            np.where(np.sin(angles) < -1e-9, -right / np.sin(angles), np.inf),
            np.where(np.cos(angles) > 1e-9, front / np.cos(angles), np.inf),
        ])
    ranges = candidates.min(axis=0)
    ranges[ranges > 30.0] = np.inf
    ranges[::97] = np.nan  # dropped beams must not matter
    return ScanSample(0.0, ranges, -fov / 2, fov / (beams - 1), 30.0)


def test_lidar_cues_from_the_scan_alone():
    scan = corridor_scan()
    fast = lidar_features(scan, forward_speed=5.0)
    assert fast.d_left == pytest.approx(0.6, abs=0.01) and fast.d_right == pytest.approx(0.9, abs=0.01)
    assert fast.front_clearance == pytest.approx(2.0, abs=0.01)
    assert fast.time_to_collision == pytest.approx(0.4, abs=0.01) and fast.imminent_collision
    slow = lidar_features(scan, forward_speed=1.0)
    assert not slow.imminent_collision
    assert lidar_features(scan, forward_speed=-1.0).time_to_collision == math.inf
    assert lidar_features(corridor_scan(front=0.25), forward_speed=0.0).imminent_collision
    empty = lidar_features(ScanSample(0.0, np.full(10, np.inf), -1.0, 0.2, 30.0), 1.0)
    assert empty.d_left == math.inf and not empty.imminent_collision


def test_lidar_joins_the_map_features(circle_track):
    window = circle_window(speed=5.0)
    features = compute_features(StateWindow(window.odometry, [corridor_scan()]), circle_track)
    assert features.lidar is not None and features.lidar.imminent_collision
    assert features.facing_wall  # the map alone sees no wall ahead; the scanner does
    assert not compute_features(window, circle_track).facing_wall
    touching = compute_features(StateWindow(window.odometry, [corridor_scan(left=0.1)]), circle_track)
    assert touching.crashed


def test_record_round_trip_and_validation(circle_track):
    features = compute_features(circle_window(d=0.2), circle_track)
    record = json.loads(json.dumps(features.as_record()))
    assert tuple(record) == RECORD_KEYS
    again = features_from_record(record)
    assert again.as_record() == record

    nan = dict(record, d_pos=[None, *record["d_pos"][1:]])
    assert isinstance(features_from_record(nan), InsufficientData)
    assert isinstance(features_from_record(json.loads(json.dumps(dict(record, time=float("nan"))))), InsufficientData)
    short = {**record, **{k: record[k][:3] for k in ("s_pos", "d_pos", "s_speed", "d_speed", "d_left", "d_right")},
             "data_samples": 3}
    assert isinstance(features_from_record(short), InsufficientData)

    with pytest.raises(ValueError, match="lacks"):
        features_from_record({k: v for k, v in record.items() if k != "crashed"})
    with pytest.raises(ValueError, match="different lengths"):
        features_from_record(dict(record, d_left=record["d_left"][:-1]))
    with pytest.raises(ValueError, match="true or false"):
        features_from_record(dict(record, crashed="no"))
    with pytest.raises(ValueError, match="data_samples"):
        features_from_record(dict(record, data_samples=99))
