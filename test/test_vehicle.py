"""Vehicle model: speed and steering actuation, kinematic cornering, reversing, the model switch."""
import math

import numpy as np
import pytest

from robotxr1_ros.sim.vehicle import (
    SLIP,
    SPEED,
    STEER,
    YAW,
    YAW_RATE,
    VehicleParams,
    VehicleState,
    X,
    Y,
    acceleration_command,
    body_acceleration,
    derivative,
    simulate_commands,
)

PARAMS = VehicleParams()
DT = 0.01


def drive(steering: float, speed: float, seconds: float, start: VehicleState | None = None,
          params: VehicleParams = PARAMS, dt: float = DT) -> np.ndarray:
    """States from `start` (None: at rest at the origin) under constant commands."""
    n = round(seconds / dt)
    start = VehicleState() if start is None else start
    return simulate_commands(start, params, np.full(n, steering), np.full(n, speed), dt)


def fit_circle(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares circle (centre x, centre y, radius) through points."""
    lhs = np.column_stack([x, y, np.ones_like(x)])
    cx2, cy2, c = np.linalg.lstsq(lhs, x * x + y * y, rcond=None)[0]
    cx, cy = cx2 / 2, cy2 / 2
    return cx, cy, math.sqrt(c + cx * cx + cy * cy)


def test_default_parameters_are_f1tenth_gym():
    assert (PARAMS.mu, PARAMS.C_Sf, PARAMS.C_Sr, PARAMS.lf, PARAMS.lr) == (1.0489, 4.718, 5.4562, 0.15875, 0.17145)
    assert (PARAMS.h, PARAMS.m, PARAMS.I) == (0.074, 3.74, 0.04712)
    assert (PARAMS.s_max, PARAMS.sv_max, PARAMS.v_switch, PARAMS.a_max) == (0.4189, 3.2, 7.319, 9.51)
    assert (PARAMS.v_min, PARAMS.v_max, PARAMS.width, PARAMS.length) == (-5.0, 20.0, 0.31, 0.58)
    with pytest.raises(ValueError):
        VehicleParams(v_kinematic=1.0, v_dynamic=0.5)


def test_straight_acceleration_matches_constant_acceleration_then_reaches_command():
    trajectory = drive(0.0, 5.0, 3.0)
    t = DT * np.arange(len(trajectory))
    # Saturated at a_max while the speed error exceeds v_max / 10 = 2 m/s (gym's P gain).
    saturated = t <= (5.0 - 2.0) / PARAMS.a_max - DT
    assert np.allclose(trajectory[saturated, SPEED], PARAMS.a_max * t[saturated], atol=0.02)
    assert np.allclose(trajectory[saturated, X], 0.5 * PARAMS.a_max * t[saturated] ** 2, atol=0.005)
    assert np.all(np.diff(trajectory[:, SPEED]) >= -1e-12)
    assert trajectory[-1, SPEED] == pytest.approx(5.0, abs=1e-3)
    assert np.max(np.abs(trajectory[:, [Y, YAW, YAW_RATE, SLIP]])) < 1e-12


def test_acceleration_limits():
    p = PARAMS.as_array()
    assert acceleration_command(10.0, 20.0, p) == pytest.approx(PARAMS.a_max * PARAMS.v_switch / 10.0)
    assert acceleration_command(3.0, -5.0, p) == pytest.approx(-PARAMS.a_max)
    assert acceleration_command(PARAMS.v_max, 30.0, p) == 0.0
    assert acceleration_command(PARAMS.v_min, -30.0, p) == 0.0


def test_steering_follows_command_at_the_rate_limit_and_stops_at_the_angle_limit():
    trajectory = drive(1.0, 0.0, 0.5)
    t = DT * np.arange(len(trajectory))
    ramp = t < 0.1
    assert np.allclose(trajectory[ramp, STEER], PARAMS.sv_max * t[ramp], atol=1e-9)
    assert trajectory[-1, STEER] == pytest.approx(PARAMS.s_max, abs=1e-6)
    assert np.max(trajectory[:, STEER]) <= PARAMS.s_max


@pytest.mark.parametrize("steering", [0.15, 0.3])
def test_slow_steady_cornering_matches_the_kinematic_turn_radius(steering):
    start = VehicleState(speed=0.4, steering=steering)
    trajectory = drive(steering, 0.4, 12.0, start=start)[200:]
    yaw = trajectory[:, YAW]
    rear_x = trajectory[:, X] - PARAMS.lr * np.cos(yaw)
    rear_y = trajectory[:, Y] - PARAMS.lr * np.sin(yaw)
    _, _, radius = fit_circle(rear_x, rear_y)
    assert radius == pytest.approx(PARAMS.wheelbase / math.tan(steering), rel=2e-3)
    _, _, cog_radius = fit_circle(trajectory[:, X], trajectory[:, Y])
    assert cog_radius == pytest.approx(math.hypot(radius, PARAMS.lr), rel=2e-3)


def test_dynamic_cornering_understeers_and_imu_sees_the_centripetal_acceleration():
    steering, speed = 0.2, 3.0
    trajectory = drive(steering, speed, 6.0, start=VehicleState(speed=speed))[300:]
    _, _, radius = fit_circle(trajectory[:, X], trajectory[:, Y])
    assert radius > PARAMS.wheelbase / math.tan(steering)  # understeer at speed
    work = np.empty(7)
    ax, ay = body_acceleration(trajectory[-1], steering, speed, PARAMS.as_array(), work)
    # Pure centripetal acceleration, perpendicular to the velocity (which is off the body axis by β).
    assert math.hypot(ax, ay) == pytest.approx(speed ** 2 / radius, rel=1e-3)
    assert math.atan2(-ax, ay) == pytest.approx(trajectory[-1, SLIP], abs=1e-3)


def test_reversing_drives_backwards_and_turns_the_other_way():
    trajectory = drive(0.2, -1.0, 6.0)
    final = trajectory[-1]
    assert final[SPEED] == pytest.approx(-1.0, abs=1e-3)
    assert final[YAW_RATE] < 0.0  # left steering while reversing turns clockwise
    straight = drive(0.0, -1.5, 4.0)
    assert straight[-1, SPEED] == pytest.approx(-1.5, abs=1e-3)
    assert straight[-1, X] < -4.0  # moved backwards along the initial heading
    fast = drive(0.3, -3.0, 8.0)  # dynamic model in reverse: stable, steady
    assert np.all(np.isfinite(fast))
    assert np.std(fast[-100:, YAW_RATE]) < 1e-6
    work = np.empty(7)
    _, ay = body_acceleration(trajectory[-1], 0.2, -1.0, PARAMS.as_array(), work)
    assert ay > 0.0  # the turn's centre is to the left whichever way the car rolls


@pytest.mark.parametrize("switch", [PARAMS.v_kinematic, PARAMS.v_dynamic])
def test_blend_between_kinematic_and_dynamic_is_continuous(switch):
    p = PARAMS.as_array()
    below, above = np.empty(7), np.empty(7)
    for sign in (1.0, -1.0):
        state = VehicleState(speed=sign * switch, steering=0.3, yaw_rate=sign * 0.5, slip=0.05).to_array()
        state[SPEED] -= sign * 1e-7
        derivative(state, 0.3, sign * switch, p, below)
        state[SPEED] += sign * 2e-7
        derivative(state, 0.3, sign * switch, p, above)
        assert np.max(np.abs(above - below)) < 1e-4


def test_no_chatter_at_the_switching_speed():
    speed = PARAMS.v_kinematic
    trajectory = drive(0.3, speed, 6.0, start=VehicleState(speed=speed, steering=0.3))
    assert np.std(trajectory[-200:, YAW_RATE]) < 1e-6
    assert np.std(trajectory[-200:, SPEED]) < 1e-9


def test_simulate_commands_is_deterministic_and_checks_its_inputs():
    rng = np.random.default_rng(3)
    steer = rng.uniform(-0.4, 0.4, 500)
    speed = rng.uniform(-2.0, 6.0, 500)
    first = simulate_commands(VehicleState(), PARAMS, steer, speed, DT)
    assert np.array_equal(first, simulate_commands(VehicleState(), PARAMS, steer, speed, DT))
    with pytest.raises(ValueError):
        simulate_commands(VehicleState(), PARAMS, steer, speed[:-1], DT)
    with pytest.raises(ValueError):
        simulate_commands(VehicleState(), PARAMS, steer, speed, 0.0)


def test_state_round_trip_and_body_velocities():
    state = VehicleState(x=1.0, y=2.0, yaw=0.3, speed=-2.0, slip=0.1, yaw_rate=0.4, steering=-0.2)
    assert VehicleState.from_array(state.to_array()) == state
    assert state.vx == pytest.approx(-2.0 * math.cos(0.1))
    assert state.vy == pytest.approx(-2.0 * math.sin(0.1))
