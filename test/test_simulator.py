"""Simulator: reset, stepping in whole physics steps, crashes, sensors, determinism, the Frenet log."""
import math

import numpy as np
import pytest

from robotxr1_ros.sim.lidar import Lidar, LidarConfig
from robotxr1_ros.sim.simulator import SensorNoise, Simulator
from robotxr1_ros.sim.vehicle import VehicleParams, VehicleState, simulate_commands
from robotxr1_ros.track.library import CIRCLE_HALF_WIDTH, CIRCLE_RADIUS, get_track

ON_CENTRE = (CIRCLE_RADIUS, 0.0, math.pi / 2)  # circle track: on the centre line, driving CCW
NOISY = SensorNoise(position=0.02, yaw=0.01, velocity=0.05, yaw_rate=0.02, acceleration=0.1)


@pytest.fixture(scope="module")
def circle():
    return get_track("circle")


def corners(x: float, y: float, yaw: float, params: VehicleParams = VehicleParams()) -> tuple:
    along = 0.5 * params.length * np.array([1, 1, -1, -1])
    across = 0.5 * params.width * np.array([1, -1, -1, 1])
    return (x + along * math.cos(yaw) - across * math.sin(yaw), y + along * math.sin(yaw) + across * math.cos(yaw))


def hold_circle(sim: Simulator, speed: float, seconds: float, period: float = 0.025) -> None:
    """Steer around the circle track's centre line with a simple heading/offset feedback."""
    for _ in range(round(seconds / period)):
        state = sim.state
        radius = math.hypot(state.x, state.y)
        tangent = math.atan2(state.y, state.x) + math.pi / 2 * math.copysign(1.0, speed)
        heading_error = math.remainder(state.yaw - tangent, 2 * math.pi)
        base = math.atan(VehicleParams().wheelbase / CIRCLE_RADIUS) * math.copysign(1.0, speed)
        sim.step(base - 1.5 * heading_error + 0.8 * (radius - CIRCLE_RADIUS), speed, period)


def test_reset_defaults_to_the_start_of_the_racing_line(circle):
    sim = Simulator(circle, seed=0)
    state = sim.state
    x, y = circle.raceline.position(0.0)
    assert (state.x, state.y) == pytest.approx((float(x), float(y)))
    assert state.yaw == pytest.approx(float(circle.raceline.heading(0.0)))
    assert (state.speed, sim.time, sim.crashed, len(sim.log())) == (0.0, 0.0, False, 1)


def test_reset_to_a_pose_with_speed_and_bad_resets(circle):
    sim = Simulator(circle, seed=0)
    sim.step(0.1, 2.0, 0.5)
    sim.reset(pose=ON_CENTRE, speed=1.5)
    assert sim.state == VehicleState(x=CIRCLE_RADIUS, y=0.0, yaw=math.pi / 2, speed=1.5)
    assert (sim.time, len(sim.log())) == (0.0, 1)
    with pytest.raises(ValueError, match="outside the walls"):
        sim.reset(pose=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="speed"):
        sim.reset(pose=ON_CENTRE, speed=25.0)
    with pytest.raises(ValueError):
        sim.step(float("nan"), 1.0, 0.1)


def test_control_periods_advance_whole_physics_steps_without_drift(circle):
    sim = Simulator(circle, dt=0.01, seed=0)
    counts = [sim.step(0.0, 1.0, 0.025) for _ in range(40)]
    assert set(counts) == {2, 3} and sum(counts) == 100
    assert sim.time == pytest.approx(1.0, abs=1e-12)
    assert len(sim.log()) == 101
    assert sim.step(0.0, 1.0, 0.004) == 0 and sim.step(0.0, 1.0, 0.004) == 1


def test_straight_line_run_is_the_vehicle_model_and_matches_constant_acceleration(circle):
    dt, seconds, command = 0.01, 0.3, 5.0  # saturated at a_max until 2 m/s below the command
    sim = Simulator(circle, dt=dt, seed=0)
    sim.reset(pose=ON_CENTRE)
    sim.step(0.0, command, seconds)
    log = sim.log()
    n = round(seconds / dt)
    expected = simulate_commands(VehicleState(x=CIRCLE_RADIUS, yaw=math.pi / 2), sim.params, np.zeros(n),
                       np.full(n, command), dt)
    assert np.allclose(log.y, expected[:, 1], atol=1e-12)
    a_max = sim.params.a_max
    assert log.vx[-1] == pytest.approx(a_max * seconds, abs=0.02)
    assert log.y[-1] == pytest.approx(0.5 * a_max * seconds ** 2, abs=0.005)
    assert np.allclose(log.ax[1:], a_max, atol=0.1) and np.allclose(log.x, CIRCLE_RADIUS)


def test_driving_straight_into_the_wall_crashes_and_stops(circle):
    sim = Simulator(circle, seed=0)
    sim.reset(pose=ON_CENTRE, speed=3.0)
    for _ in range(200):
        sim.step(0.0, 3.0, 0.025)
        if sim.crashed:
            break
    assert sim.crashed
    stopped = sim.state
    assert stopped.speed == 0.0 and stopped.yaw_rate == 0.0
    sim.step(0.3, 5.0, 1.0)
    assert sim.state == VehicleState(**{**stopped.as_dict(), "steering": sim.state.steering})
    assert sim.imu() == (0.0, 0.0)
    log = sim.log()
    first = int(np.argmax(log.crashed))
    assert np.all(log.crashed[first:]) and not np.any(log.crashed[:first])
    # Independent check with the track's own (KD-tree) Frenet projection: detected on time.
    before = np.min(circle.wall_distances(*corners(log.x[first - 1], log.y[first - 1], log.yaw[first - 1])))
    at_crash = np.min(circle.wall_distances(*corners(log.x[first], log.y[first], log.yaw[first])))
    assert before > 0.0 and -3.0 * sim.dt <= at_crash <= 1e-6
    assert np.all(log.vx[first:] == 0.0) and np.all(log.ax[first:] == 0.0)
    sim.reset(pose=ON_CENTRE)
    assert not sim.crashed


def test_a_reset_pose_touching_the_wall_starts_crashed(circle):
    sim = Simulator(circle, seed=0)
    sim.reset(pose=(CIRCLE_RADIUS + CIRCLE_HALF_WIDTH - 0.2, 0.0, 0.0))  # nose into the outer wall
    assert sim.crashed
    sim.step(0.0, 2.0, 0.5)
    assert sim.state.x == CIRCLE_RADIUS + CIRCLE_HALF_WIDTH - 0.2


def test_same_seed_same_run_including_sensor_noise(circle):
    def run(seed):
        sim = Simulator(circle, seed=seed, noise=NOISY, lidar=LidarConfig(noise_std=0.01))
        readings = []
        for k in range(60):
            sim.step(0.05 * math.sin(0.1 * k), 2.0, 0.025)
            readings.append((sim.odometry(), sim.imu()))
        return sim.log(), readings, sim.scan()

    log_a, readings_a, scan_a = run(11)
    log_b, readings_b, scan_b = run(11)
    for name in ("t", "x", "y", "yaw", "vx", "vy", "yaw_rate", "steering", "ax", "ay", "crashed"):
        assert np.array_equal(getattr(log_a, name), getattr(log_b, name))
    assert readings_a == readings_b and np.array_equal(scan_a, scan_b)
    _, readings_c, scan_c = run(12)
    assert readings_c != readings_a and not np.array_equal(scan_c, scan_a)


def test_noise_free_sensors_read_the_model(circle):
    sim = Simulator(circle, seed=0)
    sim.reset(pose=ON_CENTRE, speed=2.0)
    hold_circle(sim, 2.0, 4.0)
    state, odometry, imu = sim.state, sim.odometry(), sim.imu()
    assert (odometry.x, odometry.y, odometry.yaw) == (state.x, state.y, state.yaw)
    assert (odometry.vx, odometry.vy, odometry.yaw_rate, odometry.t) == (state.vx, state.vy, state.yaw_rate, sim.time)
    log = sim.log()
    assert (imu.ax, imu.ay) == pytest.approx((log.ax[-1], log.ay[-1]))
    assert math.hypot(*imu) == pytest.approx(2.0 ** 2 / math.hypot(state.x, state.y), rel=0.05)
    noisy = Simulator(circle, seed=0, noise=NOISY)
    noisy.reset(pose=ON_CENTRE, speed=2.0)
    errors = np.array([noisy.odometry().x - CIRCLE_RADIUS for _ in range(400)])
    assert np.std(errors) == pytest.approx(NOISY.position, rel=0.15)


def test_scan_from_the_simulator(circle):
    sim = Simulator(circle, seed=0, lidar=LidarConfig(noise_std=0.0))
    sim.reset(pose=ON_CENTRE)
    ranges = sim.scan()
    assert np.array_equal(ranges, Lidar(circle, sim.lidar_config).scan(*ON_CENTRE))
    ahead = ranges[539:541].mean()  # the two beams either side of the heading
    assert ahead == pytest.approx(math.sqrt((CIRCLE_RADIUS + CIRCLE_HALF_WIDTH) ** 2 - CIRCLE_RADIUS ** 2), abs=0.01)


def test_frenet_view_of_a_lap_and_of_reversing(circle):
    sim = Simulator(circle, seed=0)
    sim.reset(pose=ON_CENTRE, speed=3.0)
    hold_circle(sim, 3.0, 14.0)
    assert not sim.crashed
    log = sim.log()
    view = log.frenet(circle)
    s_ref, d_ref = circle.raceline.project(log.x, log.y)
    assert np.max(np.abs(circle.raceline.signed_gap(view.s_race, s_ref))) < 1e-3
    assert np.max(np.abs(view.d_race - d_ref)) < 1e-3
    assert np.max(np.abs(view.d_centre - circle.centre.project(log.x, log.y)[1])) < 1e-3
    assert view.s_race[-1] - view.s_race[0] > circle.raceline.length  # unwrapped past a lap
    assert np.all(np.diff(view.s_race) > 0)
    assert np.allclose(view.d_left + view.d_right, 2 * CIRCLE_HALF_WIDTH, atol=1e-6)
    assert np.allclose(view.d_centre[-200:], 0.0, atol=0.05)
    assert np.allclose(view.speed_along[-200:], 3.0, atol=0.05)

    sim.reset(pose=ON_CENTRE)
    hold_circle(sim, -1.0, 5.0)
    view = sim.log().frenet(circle)
    assert np.allclose(view.speed_along[-100:], -1.0, atol=0.05)
    assert view.s_race[-1] < view.s_race[0]
    assert np.all(np.abs(view.heading_error) < 0.5)  # still facing forward along the track


def test_record_false_keeps_no_log(circle):
    sim = Simulator(circle, seed=0, record=False)
    sim.step(0.0, 1.0, 30.0)
    assert sim.time == pytest.approx(30.0)
    with pytest.raises(ValueError, match="record=False"):
        sim.log()
