"""LiDAR: ranges against analytic distances on the circle track, hits on the walls, noise, limits."""
import math

import numpy as np
import pytest

from robotxr1_ros.sim.lidar import Lidar, LidarConfig
from robotxr1_ros.track.library import CIRCLE_HALF_WIDTH, CIRCLE_RADIUS, get_track

EXACT = LidarConfig(noise_std=0.0)


@pytest.fixture(scope="module")
def circle_lidar():
    return Lidar(get_track("circle"), EXACT)


def circle_ranges(x: float, y: float, yaw: float, angles: np.ndarray) -> np.ndarray:
    """First intersection of each ray with the circle track's walls (centred on the origin)."""
    heading = yaw + angles
    along = x * np.cos(heading) + y * np.sin(heading)
    ranges = np.full(angles.shape, np.inf)
    for radius in (CIRCLE_RADIUS - CIRCLE_HALF_WIDTH, CIRCLE_RADIUS + CIRCLE_HALF_WIDTH):
        disc = along ** 2 - (x * x + y * y - radius ** 2)
        root = np.sqrt(np.maximum(disc, 0.0))
        near, far = -along - root, -along + root
        hit = np.where(near > 0.0, near, np.where(far > 0.0, far, np.inf))
        ranges = np.minimum(ranges, np.where(disc >= 0.0, hit, np.inf))
    return ranges


def test_beam_layout_is_f1tenth_gym():
    config = LidarConfig()
    angles = config.angles()
    assert (config.num_beams, config.range_max, config.noise_std) == (1080, 30.0, 0.01)
    assert angles[0] == pytest.approx(-2.35) and angles[-1] == pytest.approx(2.35)
    assert np.allclose(np.diff(angles), config.angle_increment)
    with pytest.raises(ValueError):
        LidarConfig(num_beams=1)


@pytest.mark.parametrize("pose", [(CIRCLE_RADIUS, 0.0, math.pi / 2), (5.0, 1.0, 2.0), (-7.0, 0.3, -1.0),
                                  (0.0, -4.8, 0.1)])
def test_circle_ranges_match_the_analytic_distances(circle_lidar, pose):
    ranges = circle_lidar.scan(*pose)
    error = ranges - circle_ranges(*pose, EXACT.angles())
    assert np.max(np.abs(error)) < 0.01  # worst case: rays grazing the inner wall
    assert np.percentile(np.abs(error), 99) < 0.003
    assert abs(np.mean(error)) < 0.001


def test_hits_lie_on_the_walls_of_the_evaluation_track():
    track = get_track("eval")
    lidar = Lidar(track, EXACT)
    for s in (0.0, 17.0, 41.0):
        x, y = (float(v) for v in track.raceline.position(s))
        yaw = float(track.raceline.heading(s))
        ranges = lidar.scan(x, y, yaw)
        assert np.all(ranges < EXACT.range_max) and np.all(ranges > 0.1)
        heading = yaw + EXACT.angles()
        d_left, d_right = track.wall_distances(x + ranges * np.cos(heading), y + ranges * np.sin(heading))
        assert np.percentile(np.minimum(np.abs(d_left), np.abs(d_right)), 99) < 0.005


def test_noise_is_seeded_gaussian_and_ranges_stay_in_bounds(circle_lidar):
    noisy = Lidar(get_track("circle"), LidarConfig(noise_std=0.01))
    pose = (CIRCLE_RADIUS, 0.0, math.pi / 2)
    exact = circle_lidar.scan(*pose)
    first = noisy.scan(*pose, rng=np.random.default_rng(7))
    assert np.array_equal(first, noisy.scan(*pose, rng=np.random.default_rng(7)))
    assert not np.array_equal(first, noisy.scan(*pose, rng=np.random.default_rng(8)))
    assert np.std(first - exact) == pytest.approx(0.01, rel=0.15)
    assert np.array_equal(noisy.scan(*pose), exact)  # no generator, no noise


def test_range_is_capped_and_a_sensor_inside_a_wall_reads_zero():
    short = Lidar(get_track("circle"), LidarConfig(noise_std=0.0, range_max=2.0))
    pose = (CIRCLE_RADIUS, 0.0, math.pi / 2)
    ranges = short.scan(*pose)
    expected = np.minimum(circle_ranges(*pose, EXACT.angles()), 2.0)
    assert np.max(np.abs(ranges - expected)) < 0.01
    assert np.any(ranges == 2.0)
    assert np.all(short.scan(0.0, 0.0, 0.0) == 0.0)  # the circle's centre is inside the inner wall
