"""The reference's kinematic Frenet MPC (ForzaETH KMPC), solved real-time-iteration style.

State x = [s, n, alpha, v, delta] along the racing line, inputs = per-step increments of v and
delta, horizon N steps of dt. Stage cost qn (n - n_target)^2 + qalpha alpha^2 +
qv (v - v_target)^2 + qac (dv/dt)^2 + qddelta (ddelta/dt)^2, v_target = the speed profile at the
predicted s, clipped to [v_min, v_max]; n_target = centre_blend times the centre line's offset
from the racing line, within the track bounds. The profile is the racing line's, planned again
for the followed line and speed_scale when those are not at their defaults
(reference_profile.py); at the defaults this is the reference's cost. Soft (quadratic slack):
|v^2 tan(delta) / L| <= alat_max and -d_right(s) + margin <= n <= d_left(s) - margin. Hard: v in [v_min, v_max], dv in
[a_min dt, a_max dt], |delta| <= steering_max, |ddelta| <= steering rate * dt.

Each solve linearises once around the shifted previous solution (RK4 with exact sensitivities),
condenses to a dense QP (mpc_qp.py, numba) and solves it with DAQP, warm-started from the
previous working set; a large step is checked on the nonlinear model first (line search). The
QP's unknowns are the inputs at `input_knots` steps, linearly interpolated in between; cost and
constraints still cover all N steps. Increments enter the cost as rates, so qac and qddelta mean
the same for any dt (the reference's inputs are rates). Any failure (non-finite input, solver
failure, exception) brakes: speed 0, steering held, reported in the command.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import daqp
import numpy as np

from ..errors import Robotxr1Error
from ..params import MpcParams
from ..sim.vehicle import VehicleParams
from ..track import Track
from ..track.path_lookup import PathLookup
from . import mpc_qp as qp
from .reference_profile import profile_inputs, reference_speed

# DAQP exit flags worth naming in a fallback reason.
DAQP_FAILURES = {
    -1: "infeasible",
    -2: "cycling",
    -3: "unbounded",
    -4: "iteration limit",
    -5: "non-convex",
    -6: "overdetermined initial working set",
}
STATUS_OPTIMAL = "optimal"
STATUS_SOFT = "soft_violated"  # optimal, with soft constraints (track, lateral acceleration) violated
STATUS_FALLBACK = "fallback"


@dataclass(frozen=True)
class MpcConfig:
    """Horizon, rates and solver settings (the LLM-tunable parameters are MpcParams)."""

    horizon: int = 40  # steps
    dt: float = 0.05  # s per step
    control_rate_hz: float = 40.0  # how often the closed loop calls solve()
    steering_max: float = 0.4  # rad; the reference's bound, within the car's own limit
    track_slack_weight: float = 1e5  # cost per m^2 of track-bound violation
    alat_slack_weight: float = 1e3  # cost per (m/s^2)^2 of lateral-acceleration violation
    hard_violation_weight: float = 1e4  # line search only: cost per unit of hard-bound violation
    regularisation: float = 1e-4  # added to the QP Hessian's diagonal: keeps it definite at zero weights
    input_knots: int = 16  # free input steps (the rest interpolated); >= horizon: every step free
    cold_start_iterations: int = 3  # linearisations on the first solve (no previous solution)
    qp_iteration_limit: int = 1000  # DAQP iterations per QP (steady state needs 1-3)

    def __post_init__(self) -> None:
        if self.horizon < 2:
            raise Robotxr1Error(f"MpcConfig.horizon must be >= 2, got {self.horizon}")
        for name in ("dt", "control_rate_hz", "steering_max", "track_slack_weight", "alat_slack_weight",
                     "hard_violation_weight", "regularisation"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise Robotxr1Error(f"MpcConfig.{name} must be positive and finite, got {value}")
        if self.input_knots < 2:
            raise Robotxr1Error(f"MpcConfig.input_knots must be >= 2, got {self.input_knots}")
        if self.cold_start_iterations < 1 or self.qp_iteration_limit < 1:
            raise Robotxr1Error("MpcConfig: cold_start_iterations and qp_iteration_limit must be >= 1")


@dataclass(slots=True)
class MpcCommand:
    """One solve's result: the command to send, how it was obtained, and the plan."""

    steering_angle: float  # rad
    speed: float  # m/s, negative = reverse
    status: str  # STATUS_OPTIMAL, STATUS_SOFT or STATUS_FALLBACK
    solve_time_s: float  # wall time of the whole solve (projection, QP build and solve, line search)
    fallback: bool  # True: braking command, the solve failed (see reason)
    reason: str  # why it fell back ("" otherwise)
    fallback_count: int  # fallbacks since construction or reset()
    s: float  # Frenet state the solve started from (racing line), nan if not available
    n: float
    heading_error: float
    predicted_s: np.ndarray | None  # (N + 1,) planned s (unwrapped) and n; None on fallback
    predicted_n: np.ndarray | None


def track_table(track: Track, params: MpcParams = MpcParams()) -> np.ndarray:
    """The racing line's curvature, the speed to track for `params` and the free space, on the
    racing line's 2 cm grid, for the kernels."""
    line = track.raceline
    s = line.s_table
    table = np.empty((s.size, qp.TAB_COLUMNS))
    table[:, qp.TAB_KAPPA] = line.curvature(s)
    table[:, qp.TAB_VREF] = reference_speed(track, params)
    table[:, qp.TAB_LEFT], table[:, qp.TAB_RIGHT] = track.raceline_bounds(s)
    return np.ascontiguousarray(table)


class FrenetMPC:
    """RTI kinematic MPC on the racing line of `track`; `solve()` never raises.

    Not re-entrant: one caller solves at a time; set_params() may come from any thread.
    """

    def __init__(self, track: Track, config: MpcConfig = MpcConfig(), params: MpcParams = MpcParams(),
                 vehicle: VehicleParams = VehicleParams()) -> None:
        self.track = track
        self.config = config
        self.vehicle = vehicle
        self._line = PathLookup(track.raceline)
        self._table = track_table(track)  # at the defaults; set_params swaps in the table of its parameters
        self._steer_max = min(config.steering_max, vehicle.s_max, -vehicle.s_min)
        self._steer_rate = min(vehicle.sv_max, -vehicle.sv_min)
        layout = qp.QpLayout.create(config.horizon, config.input_knots)
        self._layout = layout
        horizon, ny = config.horizon, layout.unknowns
        self._hess = np.eye(ny)
        self._grad = np.zeros(ny)
        self._rows = layout.constant_rows()
        n_constraints = ny + layout.general_rows
        self._upper = np.full(n_constraints, qp.INFINITE_BOUND)
        self._lower = np.full(n_constraints, -qp.INFINITE_BOUND)
        self._ybar = np.zeros(ny)
        self._y = np.zeros(ny)
        self._zbar = np.zeros(2 * horizon)
        self._z = np.zeros(2 * horizon)
        self._traj = np.zeros((horizon + 1, 3))
        self._ab = np.zeros((horizon, 3, 5))
        self._cost_to_go = np.zeros((horizon + 1, 3, 3))
        self._full_hess = np.zeros((2 * horizon, 2 * horizon))
        self._full_grad = np.zeros(2 * horizon)
        self._track_rows = np.zeros((horizon, 2 * horizon))
        self._half_reduced = np.zeros((2 * horizon, ny))
        self._e0 = np.zeros(3)
        self._qp = daqp.Model()
        exitflag, _ = self._qp.setup(self._hess, self._grad, self._rows, self._upper, self._lower,
                                     layout.constraint_sense())
        if exitflag < 0:
            raise RuntimeError(f"DAQP setup failed with exit flag {exitflag}")
        self._qp.settings = {"iter_limit": config.qp_iteration_limit}
        # DAQP adds violation^2 / (2 rho) to the halved cost: rho = 1 / weight.
        rho = np.ones(n_constraints)
        first_alat = ny + layout.first_alat_row
        rho[first_alat:first_alat + horizon] = 1.0 / config.alat_slack_weight
        rho[first_alat + horizon:] = 1.0 / config.track_slack_weight
        self._qp.soft_weights(rho_l=rho, rho_u=rho.copy())
        self._planned: tuple[tuple[float, ...], np.ndarray] | None = None  # (profile_inputs, table) in use
        self.set_params(params)
        self.reset()

    # -- parameters -------------------------------------------------------------------------

    def set_params(self, params: MpcParams) -> None:
        """Use `params` from the next solve on; a solve reads one consistent set (atomic swap).

        A change of the line followed or of the pace (the extension parameters, or the margin that
        bounds the line) plans the speed profile again (reference_profile.py, ~10 ms per 100 m of
        track) before the swap; other changes keep the table in use."""
        if not isinstance(params, MpcParams):
            raise TypeError(f"set_params expects MpcParams, got {type(params).__name__}")
        inputs = profile_inputs(params)
        if self._planned is None or self._planned[0] != inputs:
            speed = reference_speed(self.track, params)
            table = self._table
            if not np.array_equal(speed, table[:, qp.TAB_VREF]):
                table = table.copy()
                table[:, qp.TAB_VREF] = speed
            self._planned = (inputs, table)
        # one reference assignment: atomic under the GIL
        self._active = (params, qp.param_vector(params), self._planned[1])

    @property
    def params(self) -> MpcParams:
        return self._active[0]

    @property
    def fallback_count(self) -> int:
        return self._fallbacks

    def reset(self) -> None:
        """Forget the previous solution and pose (a new run); the next solve starts cold."""
        self._warm = False
        self._hint = qp.NO_HINT
        self._last_steering = 0.0
        self._fallbacks = 0

    # -- solving ----------------------------------------------------------------------------

    def solve(self, x: float, y: float, yaw: float, v: float, steering: float) -> MpcCommand:
        """Command for the car at pose (x, y, yaw) with speed v and steering angle `steering`."""
        start = time.perf_counter()
        params, vector, table = self._active
        try:
            return self._solve(start, params, vector, table, float(x), float(y), float(yaw), float(v),
                               float(steering))
        except Exception as error:  # the control loop must never throw: brake and report
            return self._fallback(start, steering, f"exception: {type(error).__name__}: {error}")

    def _solve(self, start: float, params: MpcParams, vector: np.ndarray, table: np.ndarray, x: float, y: float,
               yaw: float, v: float, steering: float) -> MpcCommand:
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(yaw) and math.isfinite(v)
                and math.isfinite(steering)):
            return self._fallback(start, steering, "non-finite state input")
        config = self.config
        line = self._line
        length, step = line.length, line.step
        s, n, heading, self._hint = qp.frenet_pose(line.xy, line.tangent, step, x, y, self._hint)
        alpha = math.remainder(yaw - heading, math.tau)
        e0 = self._e0
        e0[0] = s
        e0[1] = n
        e0[2] = alpha
        layout = self._layout
        ybar, y_new = self._ybar, self._y  # linearisation point, next iterate
        if self._warm:
            qp.shift_knots(y_new, layout.knot_stage, layout.knot_index, layout.knot_weight, self._z, ybar)
            iterations = 1
        else:
            self._initial_guess(s, v, params, table)
            iterations = config.cold_start_iterations
        plan = np.empty((config.horizon + 1, 3))
        for _ in range(iterations):
            finite = qp.build_qp(table, length, step, e0, v, steering, ybar, vector, config.dt,
                                 self.vehicle.wheelbase, self._steer_max, self._steer_rate, config.regularisation,
                                 layout.knot_stage, layout.knot_index, layout.knot_weight,
                                 self._hess, self._grad, self._rows, self._upper, self._lower, self._zbar,
                                 self._traj, self._ab, self._cost_to_go, self._full_hess, self._full_grad,
                                 self._track_rows, self._half_reduced)
            if not finite:
                return self._fallback(start, steering, "non-finite QP data (linearisation)")
            self._qp.update(H=self._hess, f=self._grad, A=self._rows, bupper=self._upper, blower=self._lower)
            dy, _, exitflag, _ = self._qp.solve()
            if exitflag < 0:
                name = DAQP_FAILURES.get(exitflag, "failure")
                return self._fallback(start, steering, f"QP solver failed: DAQP exit flag {exitflag} ({name})")
            taken = qp.line_search(table, length, step, e0, v, steering, ybar, dy, vector, config.dt,
                                   self.vehicle.wheelbase, self._steer_max, self._steer_rate,
                                   config.track_slack_weight, config.alat_slack_weight, config.hard_violation_weight,
                                   layout.knot_index, layout.knot_weight, self._traj, self._zbar, y_new, self._z, plan,
                                   self._ab)
            if taken == 0.0:
                return self._fallback(start, steering, "non-finite QP solution")
            ybar[:] = y_new
        status = STATUS_SOFT if exitflag == 2 else STATUS_OPTIMAL
        self._warm = True
        speed = float(y_new[0])
        steer = float(y_new[1])
        self._last_steering = steer
        return MpcCommand(steer, speed, status, time.perf_counter() - start, False, "", self._fallbacks,
                          s, n, alpha, plan[:, 0], plan[:, 1])

    def _initial_guess(self, s: float, v: float, params: MpcParams, table: np.ndarray) -> None:
        """Cold start: speed ramps from v towards the table's speed; steering follows the racing
        line's curvature (kinematic feed-forward)."""
        config = self.config
        elapsed = np.arange(1, config.horizon + 1) * config.dt
        line = self.track.raceline
        profile = float(np.interp(s % line.length, line.s_table, table[:, qp.TAB_VREF], period=line.length))
        target = min(max(profile, params.v_min), params.v_max)
        speed = v + np.clip(target - v, params.a_min * elapsed, params.a_max * elapsed)
        ahead = s + np.cumsum(speed) * config.dt
        stages = self._layout.knot_stage
        curvature = self.track.raceline.curvature(ahead[stages])
        self._ybar[0::2] = speed[stages]
        self._ybar[1::2] = np.clip(np.arctan(self.vehicle.wheelbase * curvature), -self._steer_max, self._steer_max)

    def _fallback(self, start: float, steering, reason: str) -> MpcCommand:
        """Brake to a stop with the steering held; forget the warm start."""
        self._warm = False
        self._fallbacks += 1
        try:
            held = float(steering)
        except (TypeError, ValueError):
            held = math.nan
        if not math.isfinite(held):
            held = self._last_steering
        held = min(max(held, -self._steer_max), self._steer_max)
        return MpcCommand(held, 0.0, STATUS_FALLBACK, time.perf_counter() - start, True, reason, self._fallbacks,
                          math.nan, math.nan, math.nan, None, None)
