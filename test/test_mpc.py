"""The Frenet MPC: closed-loop behaviour on the simulator for the parameter cases the LLM uses,
run-time parameter changes, hard limits of the first command, and the braking fallback."""
from __future__ import annotations

import math

import numpy as np
import pytest

from robotxr1_ros.control import mpc_qp
from robotxr1_ros.control.closed_loop import drive
from robotxr1_ros.control.mpc import STATUS_FALLBACK, FrenetMPC, MpcConfig, track_table
from robotxr1_ros.control.reference_profile import reference_speed
from robotxr1_ros.params import PARAM_SPECS, MpcParams
from robotxr1_ros.sim.simulator import Simulator
from robotxr1_ros.sim.vehicle import VehicleParams
from robotxr1_ros.track import ClosedPath, Track
from robotxr1_ros.track.library import get_track
from robotxr1_ros.track.path_lookup import PathLookup

CONFIG = MpcConfig()
STEP_S = CONFIG.dt  # the planning step; first-command limits are per step


def run(track_name: str, params: MpcParams, seconds: float, on_step=None, start_speed: float = 0.0):
    """Drive from the start of the racing line; returns (log, controller)."""
    track = get_track(track_name)
    sim = Simulator(track, seed=0)
    sim.reset(speed=start_speed)
    controller = FrenetMPC(track, params=params)
    log = drive(sim, controller, seconds, on_step=on_step)
    return log, controller


def ring_track(radius: float = 5.0) -> Track:
    """A circle whose racing line is its centre line, with a constant speed profile."""
    angle = np.linspace(0.0, 2.0 * np.pi, 200, endpoint=False)
    centre = ClosedPath(radius * np.cos(angle), radius * np.sin(angle))
    widths = np.full(centre.s_table.size, 1.5)
    return Track("ring", centre, widths, widths.copy(), centre, np.full(centre.s_table.size, 3.0))


def clearance(log) -> float:
    return float(np.min(np.minimum(log.d_left, log.d_right)))


@pytest.mark.parametrize("track_name, seconds", [("circle", 22.0), ("eval", 48.0)])
def test_default_parameters_drive_three_laps_inside_the_walls(track_name, seconds):
    log, controller = run(track_name, MpcParams(), seconds)
    lap = get_track(track_name).raceline.length
    assert log.s_race[-1] - log.s_race[0] > 3 * lap
    assert not log.crashed.any()
    assert clearance(log) > 0.2
    assert controller.fallback_count == 0 and not log.fallback.any()
    assert np.abs(log.d_race[len(log) // 4:]).max() < 0.3  # it follows the racing line


def test_negative_speed_limits_reverse_the_car():
    log, _ = run("eval", MpcParams().updated({"v_min": -2.0, "v_max": -0.5}), 8.0)
    assert np.all(log.speed_cmd < 0.0)
    late = slice(len(log) // 2, None)
    assert np.all(log.speed_along[late] < -0.4)
    assert log.s_race[-1] < log.s_race[0] - 1.0  # it went backwards along the track
    assert not log.crashed.any()


def test_equal_speed_limits_track_that_speed():
    log, _ = run("eval", MpcParams().updated({"v_min": 3.5, "v_max": 3.5}), 10.0)
    late = slice(len(log) // 2, None)
    assert np.abs(log.vx[late] - 3.5).max() < 0.05
    assert not log.crashed.any()


def test_a_larger_safety_margin_keeps_the_car_nearer_the_middle():
    # The circle's racing line hugs the inner wall; the margin pushes the car towards the middle.
    near, _ = run("circle", MpcParams().updated({"track_safety_margin": 0.0}), 6.0)
    wide, _ = run("circle", MpcParams().updated({"track_safety_margin": 1.0}), 6.0)
    late = slice(len(near) // 2, None)
    assert np.abs(wide.d_centre[late]).mean() < np.abs(near.d_centre[late]).mean() - 0.4
    assert np.minimum(wide.d_left, wide.d_right)[late].min() > 0.9
    assert not wide.crashed.any() and not near.crashed.any()


def test_centre_blend_follows_the_centre_line_instead_of_the_racing_line():
    racing, _ = run("eval", MpcParams(), 15.0)
    centre, _ = run("eval", MpcParams().updated({"centre_blend": 1.0}), 15.0)
    lap = slice(len(racing) // 5, None)  # after the start on the racing line
    assert np.sqrt(np.mean(centre.d_centre[lap] ** 2)) < 0.4 * np.sqrt(np.mean(racing.d_centre[lap] ** 2))
    assert np.sqrt(np.mean(centre.d_race[lap] ** 2)) > 0.2  # it left the racing line to do so
    assert not centre.crashed.any()


def test_the_centre_line_is_driven_at_its_own_corner_speeds():
    """The centre line bends tighter than the racing line: its profile is planned for it (slower
    in corners, as fast on the straights), and at the defaults the profile is the racing line's."""
    track = get_track("eval")
    assert reference_speed(track, MpcParams()) is track.raceline_speed
    centre = reference_speed(track, MpcParams().updated({"centre_blend": 1.0}))
    assert np.abs(centre - track.raceline_speed).max() > 0.5
    assert centre.max() == pytest.approx(track.raceline_speed.max())
    faster = reference_speed(track, MpcParams().updated({"speed_scale": 1.1}))
    assert faster.max() == pytest.approx(1.1 * track.raceline_speed.max())
    assert np.all(faster >= track.raceline_speed - 1e-9)


def test_speed_scale_races_faster_and_slower_than_the_profile():
    plain, _ = run("eval", MpcParams(), 15.0)
    fast, _ = run("eval", MpcParams().updated({"speed_scale": PARAM_SPECS["speed_scale"].maximum}), 15.0)
    slow, _ = run("eval", MpcParams().updated({"speed_scale": 0.6}), 15.0)
    assert fast.speed_along.mean() > 1.05 * plain.speed_along.mean()
    assert slow.speed_along.mean() < 0.7 * plain.speed_along.mean()
    assert not fast.crashed.any() and not slow.crashed.any()


def test_a_lower_lateral_acceleration_limit_slows_the_car_in_corners():
    free, _ = run("eval", MpcParams(), 12.0)
    gentle, _ = run("eval", MpcParams().updated({"alat_max": 1.5}), 12.0)
    lateral = np.abs(gentle.vx * gentle.yaw_rate)
    assert np.percentile(lateral, 95) < 0.6 * np.percentile(np.abs(free.vx * free.yaw_rate), 95)
    assert not gentle.crashed.any()


def test_parameters_changed_between_solves_take_effect():
    track = get_track("eval")
    slow = MpcParams().updated({"v_min": 2.0, "v_max": 2.0})
    changed = {}

    def change_once(t: float) -> None:
        if t >= 6.0 and not changed:
            controller.set_params(slow)
            changed["at"] = t

    sim = Simulator(track, seed=0)
    controller = FrenetMPC(track)
    log = drive(sim, controller, 12.0, on_step=change_once)
    before = (log.t > 4.0) & (log.t < 6.0)
    after = log.t > 10.0
    assert log.vx[before].mean() > 3.0
    assert np.abs(log.vx[after] - 2.0).max() < 0.05
    assert controller.params == slow


def test_each_solve_uses_the_parameters_set_just_before_it():
    track = get_track("circle")
    controller = FrenetMPC(track)
    x, y = (float(c) for c in track.raceline.position(1.0))
    yaw = float(track.raceline.heading(1.0))
    first = controller.solve(x, y, yaw, 4.0, 0.1)
    assert first.speed > 3.9
    controller.set_params(MpcParams().updated({"v_min": -1.0, "v_max": -0.5, "a_min": -20.0}))
    braking = controller.solve(x, y, yaw, 4.0, 0.1)
    assert braking.speed == pytest.approx(4.0 - 20.0 * STEP_S)  # hardest braking allowed, at once
    controller.set_params(MpcParams())
    # The defaults allow -10 m/s^2 at most; the plan comes back to speed within a few solves.
    speeds = [controller.solve(x, y, yaw, 4.0, 0.1).speed for _ in range(4)]
    assert min(speeds) >= 4.0 - 10.0 * STEP_S - 1e-9
    assert speeds[-1] > 3.9


@pytest.mark.parametrize("seed", range(5))
def test_the_first_command_respects_the_hard_limits(seed):
    rng = np.random.default_rng(seed)
    track = get_track("eval")
    params = MpcParams().updated({"a_min": float(rng.uniform(-5, 0)), "a_max": float(rng.uniform(0, 5)),
                                  "v_min": float(rng.uniform(-2, 1)), "v_max": float(rng.uniform(1, 8))})
    controller = FrenetMPC(track, params=params)
    vehicle = VehicleParams()
    rate = vehicle.sv_max * STEP_S
    for _ in range(20):
        s = rng.uniform(0, track.raceline.length)
        x, y = (float(c) for c in track.raceline.to_cartesian(s, rng.uniform(-0.3, 0.3)))
        yaw = float(track.raceline.heading(s)) + rng.uniform(-0.3, 0.3)
        v, steering = rng.uniform(-1, 8), rng.uniform(-0.4, 0.4)
        command = controller.solve(x, y, yaw, v, steering)
        assert not command.fallback
        assert abs(command.steering_angle) <= CONFIG.steering_max + 1e-9
        assert abs(command.steering_angle - steering) <= rate + 1e-9
        assert v + params.a_min * STEP_S - 1e-9 <= command.speed <= v + params.a_max * STEP_S + 1e-9
        # v_min <= speed <= v_max, unless the acceleration limits cannot get there in one step
        assert command.speed <= max(params.v_max, v + params.a_min * STEP_S) + 1e-9
        assert command.speed >= min(params.v_min, v + params.a_max * STEP_S) - 1e-9


def test_solve_reports_the_frenet_state_and_plan():
    track = get_track("eval")
    line = track.raceline
    controller = FrenetMPC(track)
    s0, n0, alpha0 = 20.0, 0.25, 0.1
    x, y = (float(c) for c in line.to_cartesian(s0, n0))
    command = controller.solve(x, y, float(line.heading(s0)) + alpha0, 3.0, 0.0)
    assert command.s == pytest.approx(s0, abs=1e-3)
    assert command.n == pytest.approx(n0, abs=1e-3)
    assert command.heading_error == pytest.approx(alpha0, abs=1e-3)
    assert command.predicted_s.shape == command.predicted_n.shape == (CONFIG.horizon + 1,)
    assert command.predicted_s[0] == pytest.approx(s0, abs=1e-3)
    assert np.all(np.diff(command.predicted_s) > 0.0)
    assert abs(command.predicted_n[-1]) < abs(n0)  # the plan returns to the racing line
    assert command.status in ("optimal", "soft_violated") and command.reason == ""
    assert 0.0 < command.solve_time_s < 1.0


@pytest.mark.parametrize("bad", [(math.nan, 0.0, 0.0, 2.0, 0.1), (0.0, 0.0, 0.0, math.inf, 0.1),
                                 (0.0, 0.0, 0.0, 2.0, math.nan), (None, 0.0, 0.0, 2.0, 0.1)])
def test_a_non_finite_state_brakes_instead_of_raising(bad):
    track = get_track("circle")
    controller = FrenetMPC(track)
    command = controller.solve(*bad)
    assert command.fallback and command.status == STATUS_FALLBACK
    assert command.speed == 0.0 and math.isfinite(command.steering_angle)
    assert command.reason and command.fallback_count == 1 == controller.fallback_count
    assert command.predicted_s is None
    x, y = (float(c) for c in track.raceline.position(0.0))
    recovered = controller.solve(x, y, float(track.raceline.heading(0.0)), 2.0, 0.1)
    assert not recovered.fallback and recovered.speed > 2.0


def test_a_failed_qp_solve_brakes_and_says_why():
    track = get_track("circle")
    controller = FrenetMPC(track, config=MpcConfig(qp_iteration_limit=1))
    x, y = (float(c) for c in track.raceline.to_cartesian(3.0, -0.8))
    command = controller.solve(x, y, float(track.raceline.heading(3.0)) + 0.4, 5.0, 0.2)
    assert command.fallback and command.speed == 0.0
    assert command.steering_angle == pytest.approx(0.2)  # steering held
    assert "DAQP exit flag -4" in command.reason and "iteration limit" in command.reason


def test_an_exception_inside_the_solver_brakes_and_counts(monkeypatch):
    track = get_track("circle")
    controller = FrenetMPC(track)
    x, y = (float(c) for c in track.raceline.position(0.0))
    yaw = float(track.raceline.heading(0.0))
    assert not controller.solve(x, y, yaw, 2.0, 0.0).fallback

    def broken(*args):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(mpc_qp, "build_qp", broken)
    for expected_count in (1, 2):
        command = controller.solve(x, y, yaw, 2.0, 0.05)
        assert command.fallback and command.speed == 0.0 and command.steering_angle == pytest.approx(0.05)
        assert "RuntimeError: solver crashed" in command.reason
        assert command.fallback_count == expected_count
    controller.reset()
    assert controller.fallback_count == 0


def test_set_params_rejects_anything_but_mpc_params():
    controller = FrenetMPC(get_track("circle"))
    with pytest.raises(TypeError):
        controller.set_params({"qv": 1.0})


@pytest.mark.parametrize("field, value", [("horizon", 1), ("dt", 0.0), ("input_knots", 1),
                                          ("track_slack_weight", -1.0), ("control_rate_hz", math.nan)])
def test_config_rejects_invalid_values(field, value):
    with pytest.raises(ValueError, match=field):
        MpcConfig(**{field: value})


@pytest.mark.parametrize("knots", [40, 12])
def test_condensed_qp_is_the_linearisation_of_the_model(knots):
    """H, f and the track rows of the QP against finite differences of the nonlinear prediction."""
    track = ring_track()  # v_target does not depend on s (the QP holds it at the nominal s)
    line = PathLookup(track.raceline)
    table = track_table(track)
    horizon = 40
    layout = mpc_qp.QpLayout.create(horizon, knots)
    params = MpcParams().updated({"qac": 0.3, "qddelta": 2.0})
    vector = mpc_qp.param_vector(params)
    rng = np.random.default_rng(1)
    e0 = np.array([2.0, 0.3, -0.1])
    v0, delta0, dt, wheelbase = 3.0, 0.05, 0.05, VehicleParams().wheelbase
    ybar = np.empty(layout.unknowns)
    ybar[0::2] = 3.5 + rng.uniform(-0.5, 0.5, layout.knots)
    ybar[1::2] = 0.1 + rng.uniform(-0.05, 0.05, layout.knots)
    ny, nz = layout.unknowns, 2 * horizon
    hess, grad, rows = np.zeros((ny, ny)), np.zeros(ny), layout.constant_rows()
    upper, lower = np.zeros(ny + layout.general_rows), np.zeros(ny + layout.general_rows)
    traj, ab, zbar = np.zeros((horizon + 1, 3)), np.zeros((horizon, 3, 5)), np.zeros(nz)
    assert mpc_qp.build_qp(table, line.length, line.step, e0, v0, delta0, ybar, vector, dt, wheelbase, 0.4, 3.2,
                           0.0, layout.knot_stage, layout.knot_index, layout.knot_weight, hess, grad, rows,
                           upper, lower, zbar, traj, ab, np.zeros((horizon + 1, 3, 3)), np.zeros((nz, nz)),
                           np.zeros(nz), np.zeros((horizon, nz)), np.zeros((nz, ny)))

    def model(y):
        """(cost without constraint terms, n at stages 1..N) of the nonlinear model."""
        z, plan = np.zeros(nz), np.zeros((horizon + 1, 3))
        mpc_qp.expand(y, layout.knot_index, layout.knot_weight, z)
        mpc_qp.predict_horizon(table, line.length, line.step, e0, z, dt, 1.0 / wheelbase, plan, ab.copy(), False)
        cost = mpc_qp.plan_cost(table, line.length, line.step, plan, z, v0, delta0, vector, dt, wheelbase,
                                0.4, 3.2, 0.0, 0.0, 0.0)
        return cost, plan[1:, 1]

    eps = 1e-6
    first_track = layout.first_track_row
    for i in range(ny):
        bump = np.zeros(ny)
        bump[i] = eps
        (cost_up, n_up), (cost_down, n_down) = model(ybar + bump), model(ybar - bump)
        # The QP is the halved cost: f = dJ/dy / 2.
        assert grad[i] == pytest.approx((cost_up - cost_down) / (4 * eps), rel=1e-4, abs=1e-6)
        np.testing.assert_allclose(rows[first_track:, i], (n_up - n_down) / (2 * eps), rtol=1e-4, atol=1e-7)
    # Gauss-Newton Hessian: from the tracking rows' Jacobian, exactly symmetric, positive semi-definite.
    np.testing.assert_allclose(hess, hess.T)
    assert np.linalg.eigvalsh(hess).min() > -1e-8
