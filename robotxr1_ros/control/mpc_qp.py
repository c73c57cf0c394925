"""Compiled kernels of the Frenet MPC: track look-up, Frenet projection, RK4 linearisation and
condensing into one dense QP for DAQP.

Everything that runs per solve lives here, in numba, so a solve makes a handful of Python calls
whatever the horizon. No kernel calls BLAS (all products are written out), so the BLAS library's
threading cannot slow a solve down.

Conventions shared with mpc.py
- Track table `tab` (rows, TAB_COLUMNS) on the racing line's uniform 2 cm grid (spacing
  = length / rows, the grid of path_lookup.PathLookup): curvature, the speed to track (the
  racing line's profile, or one planned for the parameters: control/reference_profile.py) and
  the free space left and right of the line.
- Error state e = (s, n, alpha); the speed v and steering delta drive it.
- Applied inputs z (2N): z[2k] is the speed and z[2k+1] the steering during step k, i.e. v and
  delta at stage k + 1. The reference's inputs (per-step increments dv, ddelta) are differences of
  consecutive entries, the measured (v0, delta0) coming before z[0].
- Knots: the QP's unknowns are y (2M), the inputs at M knot steps; the inputs in between are
  linear interpolations (z = T y, row k of T mixes knots index[k] and index[k] + 1 with weight
  `weight[k]` on the latter). With a knot at every step, T = I. Fewer knots make the QP cheaper
  (DAQP's set-up grows with the square of the unknowns) while the prediction, the cost and the
  track and lateral-acceleration constraints keep all N steps.
- The QP is in dy = y - ybar, ybar being the shifted previous solution (RTI). Constraint order:
  2M simple bounds on y, then the general rows (see QpLayout).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from numba import njit
from numba.core.dispatcher import Dispatcher

from ..errors import Robotxr1Error
from ..params import PARAM_NAMES, MpcParams
from ..track.path_lookup import descend, interpolate, nearest_sample, segment_foot

TAB_KAPPA, TAB_VREF, TAB_LEFT, TAB_RIGHT = range(4)
TAB_COLUMNS = 4

# The packed MPC parameters (param_vector) follow PARAM_TABLE's order; the kernels read them by
# these indices, looked up by name.
P_QV = PARAM_NAMES.index("qv")
P_QN = PARAM_NAMES.index("qn")
P_QALPHA = PARAM_NAMES.index("qalpha")
P_QAC = PARAM_NAMES.index("qac")
P_QDDELTA = PARAM_NAMES.index("qddelta")
P_ALAT_MAX = PARAM_NAMES.index("alat_max")
P_A_MIN = PARAM_NAMES.index("a_min")
P_A_MAX = PARAM_NAMES.index("a_max")
P_V_MIN = PARAM_NAMES.index("v_min")
P_V_MAX = PARAM_NAMES.index("v_max")
P_TRACK_SAFETY_MARGIN = PARAM_NAMES.index("track_safety_margin")
P_CENTRE_BLEND = PARAM_NAMES.index("centre_blend")
# numba freezes these indices into the compiled kernels, and its cache only notices edits of this
# file: a fingerprint of the table's order, cached with the kernels, tells at import whether they
# were compiled for another order (then they are dropped: _drop_kernels_of_another_param_order).
PARAM_ORDER_KEY = zlib.crc32(" ".join(PARAM_NAMES).encode())

NO_HINT = -1  # frenet_pose() hint asking for a search over the whole lap
INFINITE_BOUND = 1e30  # DAQP's infinity
MIN_FRENET_SCALE = 0.1  # floor of 1 - kappa n (the Frenet frame is singular at n = 1 / kappa)
SENSE_SOFT = 8  # DAQP constraint flag
# Largest QP step (per knot) taken without checking it on the nonlinear model (see line_search).
TRUSTED_SPEED_STEP = 0.5  # m/s
TRUSTED_STEERING_STEP = 0.05  # rad


def param_vector(params: MpcParams) -> np.ndarray:
    """`params` packed for the kernels, in PARAM_TABLE's order (read by the P_* indices)."""
    return np.array([getattr(params, name) for name in PARAM_NAMES])


@dataclass(frozen=True)
class QpLayout:
    """Sizes and index maps of the condensed QP for a horizon and a set of knot steps.

    General rows: [0, M-1) speed change between consecutive knots, [M-1, 2M-2) steering change
    (both hard), [2M-2, 2M-2+N) lateral acceleration at each step, then the track bounds on n at
    stages 1..N (both soft).
    """

    horizon: int
    knot_stage: np.ndarray  # (M,) step index of each knot; first 0, last N - 1
    knot_index: np.ndarray  # (N,) knot at or before each step
    knot_weight: np.ndarray  # (N,) interpolation weight of the next knot

    @classmethod
    def create(cls, horizon: int, knots: int) -> QpLayout:
        """`knots` knot steps: the first half at consecutive steps, the rest spread evenly to N - 1."""
        knots = min(knots, horizon)
        if knots < 2:
            raise Robotxr1Error(f"need at least 2 input knots, got {knots}")
        dense = (knots + 1) // 2
        spread = np.linspace(dense - 1, horizon - 1, knots - dense + 1)[1:]
        stages = np.concatenate([np.arange(dense), np.round(spread)]).astype(np.int64)
        if np.any(np.diff(stages) <= 0):
            raise Robotxr1Error(f"cannot place {knots} knots on {horizon} steps")
        index = np.searchsorted(stages, np.arange(horizon), side="right") - 1
        weight = np.zeros(horizon)
        inner = index < knots - 1
        start = stages[index[inner]]
        weight[inner] = (np.arange(horizon)[inner] - start) / (stages[index[inner] + 1] - start)
        return cls(horizon, stages, index.astype(np.int64), weight)

    @property
    def knots(self) -> int:
        return self.knot_stage.size

    @property
    def unknowns(self) -> int:
        return 2 * self.knots

    @property
    def first_alat_row(self) -> int:
        return 2 * (self.knots - 1)

    @property
    def first_track_row(self) -> int:
        return self.first_alat_row + self.horizon

    @property
    def general_rows(self) -> int:
        return self.first_track_row + self.horizon

    def constraint_sense(self) -> np.ndarray:
        """DAQP sense flags: bounds and input-change rows hard, lateral acceleration and track soft."""
        sense = np.zeros(self.unknowns + self.general_rows, dtype=np.int32)
        sense[self.unknowns + self.first_alat_row:] = SENSE_SOFT
        return sense

    def constant_rows(self) -> np.ndarray:
        """The general constraint matrix with its constant part (knot-to-knot changes) filled in."""
        rows = np.zeros((self.general_rows, self.unknowns))
        for b in range(self.knots - 1):
            for channel in range(2):
                row = b + channel * (self.knots - 1)
                rows[row, 2 * (b + 1) + channel] = 1.0
                rows[row, 2 * b + channel] = -1.0
        return rows


@njit(cache=True)
def _locate(s, length, step, size):
    """Grid cell (i, i + 1 wrapped) and fraction of arc length s on the periodic table."""
    u = s / step
    if u < 0.0 or u >= size:  # off the first lap: wrap (the common case needs no modulo)
        u = (s % length) / step
    i = int(u)
    if i >= size:
        i = size - 1
    j = i + 1
    if j == size:
        j = 0
    return i, j, u - i


@njit(cache=True)
def _lookup(tab, column, s, length, step):
    i, j, frac = _locate(s, length, step, tab.shape[0])
    return tab[i, column] + frac * (tab[j, column] - tab[i, column])


@njit(cache=True)
def track_bounds(tab, s, length, step, margin):
    """(lo, hi) bounds on n at arc length s: the racing line's free space less the margin; a
    margin wider than the track aims for the middle of the free space."""
    hi = _lookup(tab, TAB_LEFT, s, length, step) - margin
    lo = margin - _lookup(tab, TAB_RIGHT, s, length, step)
    if lo > hi:
        lo = hi = 0.5 * (lo + hi)
    return lo, hi


@njit(cache=True)
def speed_target(tab, s, length, step, p):
    """The speed tracked at arc length s: the table's profile (reference_profile.py: planned for
    the followed line and speed_scale), within [v_min, v_max]."""
    return min(max(_lookup(tab, TAB_VREF, s, length, step), p[P_V_MIN]), p[P_V_MAX])


@njit(cache=True)
def lateral_target(tab, s, length, step, p):
    """The n tracked at arc length s (qn weighs the distance to it): centre_blend of the way from
    the racing line (n = 0) to the centre line (n = (left - right) / 2, the middle of the free
    space), kept within the track bounds (a target beyond them would steer the car into the soft
    bound). The racing line itself (blend 0) is exactly the reference's n = 0, whatever the margin."""
    blend = p[P_CENTRE_BLEND]
    if blend == 0.0:
        return 0.0
    middle = 0.5 * (_lookup(tab, TAB_LEFT, s, length, step) - _lookup(tab, TAB_RIGHT, s, length, step))
    lo, hi = track_bounds(tab, s, length, step, p[P_TRACK_SAFETY_MARGIN])
    return min(max(blend * middle, lo), hi)


@njit(cache=True)
def _derivative(tab, length, step, s, n, alpha, v, tan_per_l, jac):
    """Frenet kinematic model: returns (s', n', alpha') and writes their Jacobian with respect to
    (s, n, alpha, v) into jac (3, 4); the steering enters alpha' only, the caller adds it."""
    i, j, frac = _locate(s, length, step, tab.shape[0])
    kappa = tab[i, TAB_KAPPA] + frac * (tab[j, TAB_KAPPA] - tab[i, TAB_KAPPA])
    dkappa = (tab[j, TAB_KAPPA] - tab[i, TAB_KAPPA]) / step
    ca = math.cos(alpha)
    sa = math.sin(alpha)
    den = 1.0 - kappa * n
    # Far inside a tight curve the Frenet frame is singular; hold its scale there (no gradient).
    clamped = den < MIN_FRENET_SCALE
    if clamped:
        den = MIN_FRENET_SCALE
    inv_den = 1.0 / den
    sdot = v * ca * inv_den
    ds_ds = 0.0 if clamped else sdot * dkappa * n * inv_den
    ds_dn = 0.0 if clamped else sdot * kappa * inv_den
    ds_da = -v * sa * inv_den
    ds_dv = ca * inv_den
    jac[0, 0] = ds_ds
    jac[0, 1] = ds_dn
    jac[0, 2] = ds_da
    jac[0, 3] = ds_dv
    jac[1, 0] = 0.0
    jac[1, 1] = 0.0
    jac[1, 2] = v * ca
    jac[1, 3] = sa
    jac[2, 0] = -dkappa * sdot - kappa * ds_ds
    jac[2, 1] = -kappa * ds_dn
    jac[2, 2] = -kappa * ds_da
    jac[2, 3] = tan_per_l - kappa * ds_dv
    return sdot, v * sa, v * tan_per_l - kappa * sdot


@njit(cache=True)
def _rk4_step(tab, length, step, traj, ab, k, v, delta, dt, inv_wheelbase, jac, work, sensitivities):
    """traj[k + 1] from traj[k] by one RK4 step and, if asked, its sensitivity
    ab[k] = d traj[k+1] / d(e, v, delta).

    The sensitivities follow the RK4 stages exactly (d stage / d(e, v, delta) carried along), so
    the linearisation is the exact derivative of the discrete model the prediction uses.
    jac: (3, 4) scratch; work: (3, 3, 5) scratch.
    """
    tan_d = math.tan(delta)
    tan_per_l = tan_d * inv_wheelbase  # constant over the step
    dadot_ddelta = v * inv_wheelbase * (1.0 + tan_d * tan_d)
    e0 = traj[k, 0]
    e1 = traj[k, 1]
    e2 = traj[k, 2]
    x0, x1, x2 = e0, e1, e2
    sum0 = sum1 = sum2 = 0.0
    # work[0]: stage sensitivity, work[1]: slope sensitivity, work[2]: their weighted sum
    # (indexed in place: array views would cost more than the arithmetic).
    if sensitivities:
        for r in range(3):
            for c in range(5):
                work[0, r, c] = 1.0 if r == c else 0.0
                work[2, r, c] = 0.0
    for q in range(4):
        k0, k1, k2 = _derivative(tab, length, step, x0, x1, x2, v, tan_per_l, jac)
        weight = 1.0 if q == 0 or q == 3 else 2.0
        sum0 += weight * k0
        sum1 += weight * k1
        sum2 += weight * k2
        h = dt if q == 2 else 0.5 * dt
        if q < 3:
            x0 = e0 + h * k0
            x1 = e1 + h * k1
            x2 = e2 + h * k2
        if not sensitivities:
            continue
        for r in range(3):
            j0 = jac[r, 0]
            j1 = jac[r, 1]
            j2 = jac[r, 2]
            for c in range(5):
                work[1, r, c] = j0 * work[0, 0, c] + j1 * work[0, 1, c] + j2 * work[0, 2, c]
            work[1, r, 3] += jac[r, 3]
        work[1, 2, 4] += dadot_ddelta
        for r in range(3):
            for c in range(5):
                work[2, r, c] += weight * work[1, r, c]
                if q < 3:
                    work[0, r, c] = h * work[1, r, c] + (1.0 if r == c else 0.0)
    sixth = dt / 6.0
    traj[k + 1, 0] = e0 + sixth * sum0
    traj[k + 1, 1] = e1 + sixth * sum1
    traj[k + 1, 2] = e2 + sixth * sum2
    if sensitivities:
        for r in range(3):
            for c in range(5):
                ab[k, r, c] = sixth * work[2, r, c] + (1.0 if r == c else 0.0)


@njit(cache=True)
def predict_horizon(tab, length, step, e0, z, dt, inv_wheelbase, traj, ab, sensitivities):
    """Error-state trajectory traj (N+1, 3) under inputs z and, if asked, each step's
    sensitivities ab (N, 3, 5)."""
    jac = np.empty((3, 4))
    work = np.empty((3, 3, 5))
    traj[0, 0] = e0[0]
    traj[0, 1] = e0[1]
    traj[0, 2] = e0[2]
    for k in range(z.size // 2):
        _rk4_step(tab, length, step, traj, ab, k, z[2 * k], z[2 * k + 1], dt, inv_wheelbase, jac, work,
                  sensitivities)


@njit(cache=True)
def frenet_pose(xy, tangent, step, x, y, hint):
    """(s, n, path heading at s, sample index) of the point (x, y) on the path's samples.

    With a hint (the previous index) the search walks downhill from it, which is cheap and cannot
    jump to a neighbouring part of the track; hint < 0 searches the whole lap.
    """
    index = nearest_sample(xy, x, y) if hint < 0 else descend(xy, x, y, hint)
    seg, fraction, n = segment_foot(xy, tangent, x, y, index)
    tx = interpolate(tangent[:, 0], seg, fraction)
    ty = interpolate(tangent[:, 1], seg, fraction)
    return (seg + fraction) * step, n, math.atan2(ty, tx), index


@njit(cache=True)
def expand(y, knot_index, knot_weight, z):
    """Applied inputs z = T y (knot values interpolated to every step)."""
    last = y.size // 2 - 1
    for k in range(knot_index.size):
        b = knot_index[k]
        w = knot_weight[k]
        for c in range(2):
            value = y[2 * b + c]
            if b < last:
                value += w * (y[2 * b + 2 + c] - value)
            z[2 * k + c] = value


@njit(cache=True)
def shift_knots(y_prev, knot_stage, knot_index, knot_weight, z, ybar):
    """RTI warm start: the previous plan one step later, sampled at the knots (z is scratch)."""
    expand(y_prev, knot_index, knot_weight, z)
    horizon = knot_index.size
    for b in range(knot_stage.size):
        k = min(knot_stage[b] + 1, horizon - 1)
        ybar[2 * b] = z[2 * k]
        ybar[2 * b + 1] = z[2 * k + 1]


@njit(cache=True)
def _reachable(k, start, low, high, step_min, step_max):
    """Bounds [low, high] on the input of step k, widened to what per-step changes in
    [step_min, step_max] can reach from `start` (so they never make the QP infeasible); step 0
    is also limited to one change from `start`."""
    steps = k + 1.0
    up = max(high, start + steps * step_min)
    lo = min(low, start + steps * step_max)
    if k == 0:
        up = min(up, start + step_max)
        lo = max(lo, start + step_min)
    return lo, up


@njit(cache=True)
def build_qp(tab, length, step, e0, v0, delta0, ybar, p, dt, wheelbase, steer_max, steer_rate,
             regularisation, knot_stage, knot_index, knot_weight,
             hess, grad, rows, upper, lower, zbar, traj, ab, cost_to_go, full_hess, full_grad, track_rows,
             half_reduced):
    """Linearise around ybar and condense: fills DAQP's H, f, A, bupper, blower (for dy = y - ybar).

    The cost is the reference's stage cost over stages 1..N with the increments weighted as rates
    (dv/dt, ddelta/dt), so qac and qddelta mean the same for any dt. The hard bounds on v and
    delta are relaxed to what the increment limits can reach from (v0, delta0), so the QP stays
    feasible after any parameter change. Returns False on non-finite data.
    Scratch: zbar (2N), full_hess (2N, 2N), full_grad (2N), track_rows (N, 2N), half_reduced (2N, 2M).
    """
    horizon = knot_index.size
    nk = knot_stage.size
    nz = 2 * horizon
    ny = 2 * nk
    inv_wheelbase = 1.0 / wheelbase
    expand(ybar, knot_index, knot_weight, zbar)
    predict_horizon(tab, length, step, e0, zbar, dt, inv_wheelbase, traj, ab, True)

    # Tracking of n and alpha over all steps. cost_to_go[m] = Q + A_m' cost_to_go[m+1] A_m is the
    # Hessian of the cost from stage m on with respect to e_m (a backward Lyapunov recursion), and
    # full_hess[i, j] = B_i' (A_j ... A_{i+1})' cost_to_go[j+1] B_j for i <= j.
    qn = p[P_QN]
    qa = p[P_QALPHA]
    for r in range(3):
        for c in range(3):
            cost_to_go[horizon, r, c] = 0.0
    cost_to_go[horizon, 1, 1] = qn
    cost_to_go[horizon, 2, 2] = qa
    for m in range(horizon - 1, 0, -1):
        for r in range(3):
            for c in range(r, 3):
                value = 0.0
                for i in range(3):
                    row_sum = (cost_to_go[m + 1, i, 0] * ab[m, 0, c] + cost_to_go[m + 1, i, 1] * ab[m, 1, c]
                               + cost_to_go[m + 1, i, 2] * ab[m, 2, c])
                    value += ab[m, i, r] * row_sum
                cost_to_go[m, r, c] = value
                cost_to_go[m, c, r] = value
        cost_to_go[m, 1, 1] += qn
        cost_to_go[m, 2, 2] += qa
    for j in range(horizon):
        # w = cost_to_go[j+1] B_j, then w <- A_i' w walking back over i.
        w00 = w01 = w10 = w11 = w20 = w21 = 0.0
        for q in range(3):
            b0 = ab[j, q, 3]
            b1 = ab[j, q, 4]
            w00 += cost_to_go[j + 1, 0, q] * b0
            w01 += cost_to_go[j + 1, 0, q] * b1
            w10 += cost_to_go[j + 1, 1, q] * b0
            w11 += cost_to_go[j + 1, 1, q] * b1
            w20 += cost_to_go[j + 1, 2, q] * b0
            w21 += cost_to_go[j + 1, 2, q] * b1
        for i in range(j, -1, -1):
            h00 = ab[i, 0, 3] * w00 + ab[i, 1, 3] * w10 + ab[i, 2, 3] * w20
            h01 = ab[i, 0, 3] * w01 + ab[i, 1, 3] * w11 + ab[i, 2, 3] * w21
            h10 = ab[i, 0, 4] * w00 + ab[i, 1, 4] * w10 + ab[i, 2, 4] * w20
            h11 = ab[i, 0, 4] * w01 + ab[i, 1, 4] * w11 + ab[i, 2, 4] * w21
            full_hess[2 * i, 2 * j] = h00
            full_hess[2 * i, 2 * j + 1] = h01
            full_hess[2 * i + 1, 2 * j] = h10
            full_hess[2 * i + 1, 2 * j + 1] = h11
            full_hess[2 * j, 2 * i] = h00
            full_hess[2 * j + 1, 2 * i] = h01
            full_hess[2 * j, 2 * i + 1] = h10
            full_hess[2 * j + 1, 2 * i + 1] = h11
            if i > 0:
                n00 = ab[i, 0, 0] * w00 + ab[i, 1, 0] * w10 + ab[i, 2, 0] * w20
                n01 = ab[i, 0, 0] * w01 + ab[i, 1, 0] * w11 + ab[i, 2, 0] * w21
                n10 = ab[i, 0, 1] * w00 + ab[i, 1, 1] * w10 + ab[i, 2, 1] * w20
                n11 = ab[i, 0, 1] * w01 + ab[i, 1, 1] * w11 + ab[i, 2, 1] * w21
                n20 = ab[i, 0, 2] * w00 + ab[i, 1, 2] * w10 + ab[i, 2, 2] * w20
                n21 = ab[i, 0, 2] * w01 + ab[i, 1, 2] * w11 + ab[i, 2, 2] * w21
                w00, w01, w10, w11, w20, w21 = n00, n01, n10, n11, n20, n21
    # Gradient: adjoint lam_m = Q (e_m - e_ref) + A_m' lam_{m+1}; d cost / d z_j = B_j' lam_{j+1}.
    # The lateral target is held at the predicted s (its slope along s is left out: it is zero
    # at the defaults, where the target is the racing line itself).
    lam0 = 0.0
    lam1 = qn * (traj[horizon, 1] - lateral_target(tab, traj[horizon, 0], length, step, p))
    lam2 = qa * traj[horizon, 2]
    for j in range(horizon - 1, -1, -1):
        full_grad[2 * j] = ab[j, 0, 3] * lam0 + ab[j, 1, 3] * lam1 + ab[j, 2, 3] * lam2
        full_grad[2 * j + 1] = ab[j, 0, 4] * lam0 + ab[j, 1, 4] * lam1 + ab[j, 2, 4] * lam2
        if j > 0:
            l0 = ab[j, 0, 0] * lam0 + ab[j, 1, 0] * lam1 + ab[j, 2, 0] * lam2
            l1 = (ab[j, 0, 1] * lam0 + ab[j, 1, 1] * lam1 + ab[j, 2, 1] * lam2
                  + qn * (traj[j, 1] - lateral_target(tab, traj[j, 0], length, step, p)))
            l2 = ab[j, 0, 2] * lam0 + ab[j, 1, 2] * lam1 + ab[j, 2, 2] * lam2 + qa * traj[j, 2]
            lam0, lam1, lam2 = l0, l1, l2

    # Speed tracking and increments (as rates).
    qv = p[P_QV]
    v_min = p[P_V_MIN]
    v_max = p[P_V_MAX]
    rate_v = p[P_QAC] / (dt * dt)
    rate_d = p[P_QDDELTA] / (dt * dt)
    for k in range(horizon):
        iv = 2 * k
        idl = iv + 1
        v_target = speed_target(tab, traj[k + 1, 0], length, step, p)
        full_hess[iv, iv] += qv + rate_v
        full_hess[idl, idl] += rate_d
        full_grad[iv] += qv * (zbar[iv] - v_target)
        inc_v = zbar[iv] - (v0 if k == 0 else zbar[iv - 2])
        inc_d = zbar[idl] - (delta0 if k == 0 else zbar[idl - 2])
        full_grad[iv] += rate_v * inc_v
        full_grad[idl] += rate_d * inc_d
        if k > 0:
            full_hess[iv - 2, iv - 2] += rate_v
            full_hess[idl - 2, idl - 2] += rate_d
            full_hess[iv, iv - 2] -= rate_v
            full_hess[iv - 2, iv] -= rate_v
            full_hess[idl, idl - 2] -= rate_d
            full_hess[idl - 2, idl] -= rate_d
            full_grad[iv - 2] -= rate_v * inc_v
            full_grad[idl - 2] -= rate_d * inc_d

    # Track rows: d n_k / d z_j = [A_{k-1} ... A_{j+1} B_j]_n for stages k = 1..N.
    for j in range(horizon):
        s00 = ab[j, 0, 3]
        s01 = ab[j, 0, 4]
        s10 = ab[j, 1, 3]
        s11 = ab[j, 1, 4]
        s20 = ab[j, 2, 3]
        s21 = ab[j, 2, 4]
        for k in range(j + 1, horizon + 1):
            track_rows[k - 1, 2 * j] = s10
            track_rows[k - 1, 2 * j + 1] = s11
            if k < horizon:
                n00 = ab[k, 0, 0] * s00 + ab[k, 0, 1] * s10 + ab[k, 0, 2] * s20
                n01 = ab[k, 0, 0] * s01 + ab[k, 0, 1] * s11 + ab[k, 0, 2] * s21
                n10 = ab[k, 1, 0] * s00 + ab[k, 1, 1] * s10 + ab[k, 1, 2] * s20
                n11 = ab[k, 1, 0] * s01 + ab[k, 1, 1] * s11 + ab[k, 1, 2] * s21
                n20 = ab[k, 2, 0] * s00 + ab[k, 2, 1] * s10 + ab[k, 2, 2] * s20
                n21 = ab[k, 2, 0] * s01 + ab[k, 2, 1] * s11 + ab[k, 2, 2] * s21
                s00, s01, s10, s11, s20, s21 = n00, n01, n10, n11, n20, n21

    # Reduce to the knots: H = T' full_hess T, f = T' full_grad, track rows times T.
    last = nk - 1
    half_reduced[:, :] = 0.0
    for stage in range(horizon):
        b = knot_index[stage]
        w = knot_weight[stage]
        for i in range(nz):
            for c in range(2):
                value = full_hess[i, 2 * stage + c]
                half_reduced[i, 2 * b + c] += (1.0 - w) * value
                if b < last:
                    half_reduced[i, 2 * b + 2 + c] += w * value
    hess[:, :] = 0.0
    grad[:] = 0.0
    for k in range(horizon):
        b = knot_index[k]
        w = knot_weight[k]
        for c in range(2):
            grad[2 * b + c] += (1.0 - w) * full_grad[2 * k + c]
            if b < last:
                grad[2 * b + 2 + c] += w * full_grad[2 * k + c]
            for j in range(ny):
                value = half_reduced[2 * k + c, j]
                hess[2 * b + c, j] += (1.0 - w) * value
                if b < last:
                    hess[2 * b + 2 + c, j] += w * value
    for i in range(ny):
        hess[i, i] += regularisation
    first_track = 2 * (nk - 1) + horizon
    for k in range(horizon):
        row = first_track + k
        for j in range(ny):
            rows[row, j] = 0.0
        for stage in range(min(k + 1, horizon)):
            b = knot_index[stage]
            w = knot_weight[stage]
            for c in range(2):
                value = track_rows[k, 2 * stage + c]
                rows[row, 2 * b + c] += (1.0 - w) * value
                if b < last:
                    rows[row, 2 * b + 2 + c] += w * value

    # Simple bounds on the knots: v and delta, relaxed to what is reachable from (v0, delta0).
    dv_min = p[P_A_MIN] * dt
    dv_max = p[P_A_MAX] * dt
    dd_max = steer_rate * dt
    for b in range(nk):
        v_lo, v_up = _reachable(knot_stage[b], v0, v_min, v_max, dv_min, dv_max)
        d_lo, d_up = _reachable(knot_stage[b], delta0, -steer_max, steer_max, -dd_max, dd_max)
        upper[2 * b] = v_up - ybar[2 * b]
        lower[2 * b] = v_lo - ybar[2 * b]
        upper[2 * b + 1] = d_up - ybar[2 * b + 1]
        lower[2 * b + 1] = d_lo - ybar[2 * b + 1]
    # Changes between consecutive knots: per-step increments times the steps between them.
    for b in range(nk - 1):
        span = knot_stage[b + 1] - knot_stage[b]
        change_v = ybar[2 * b + 2] - ybar[2 * b]
        change_d = ybar[2 * b + 3] - ybar[2 * b + 1]
        upper[ny + b] = span * dv_max - change_v
        lower[ny + b] = span * dv_min - change_v
        upper[ny + nk - 1 + b] = span * dd_max - change_d
        lower[ny + nk - 1 + b] = -span * dd_max - change_d

    # Lateral acceleration v^2 tan(delta) / L at every step, linearised at (zbar); soft.
    alat_max = p[P_ALAT_MAX]
    first_alat = 2 * (nk - 1)
    for k in range(horizon):
        row = first_alat + k
        v = zbar[2 * k]
        td = math.tan(zbar[2 * k + 1])
        dv = 2.0 * v * td * inv_wheelbase
        dd = v * v * (1.0 + td * td) * inv_wheelbase
        b = knot_index[k]
        w = knot_weight[k]
        for j in range(ny):
            rows[row, j] = 0.0
        rows[row, 2 * b] = (1.0 - w) * dv
        rows[row, 2 * b + 1] = (1.0 - w) * dd
        if b < last:
            rows[row, 2 * b + 2] = w * dv
            rows[row, 2 * b + 3] = w * dd
        alat = v * v * td * inv_wheelbase
        upper[ny + row] = alat_max - alat
        lower[ny + row] = -alat_max - alat

    # Track bounds on n_k, k = 1..N (racing line's free space less the margin); soft.
    margin = p[P_TRACK_SAFETY_MARGIN]
    for k in range(1, horizon + 1):
        lo, hi = track_bounds(tab, traj[k, 0], length, step, margin)
        row = ny + first_track + k - 1
        upper[row] = hi - traj[k, 1]
        lower[row] = lo - traj[k, 1]

    finite = True
    for i in range(ny):
        if not (math.isfinite(grad[i]) and math.isfinite(hess[i, i])):
            finite = False
    for i in range(upper.size):
        if not (math.isfinite(upper[i]) and math.isfinite(lower[i])):
            finite = False
    return finite


@njit(cache=True)
def plan_cost(tab, length, step, traj, z, v0, delta0, p, dt, wheelbase, steer_max, steer_rate,
              w_track, w_alat, w_hard):
    """The nonlinear cost of a plan (inputs z, rolled-out traj): the QP's stage cost with the
    soft constraints' quadratic slack and an exact (L1) penalty on hard-constraint violations."""
    horizon = z.size // 2
    inv_wheelbase = 1.0 / wheelbase
    rate_v = p[P_QAC] / (dt * dt)
    rate_d = p[P_QDDELTA] / (dt * dt)
    dv_min = p[P_A_MIN] * dt
    dv_max = p[P_A_MAX] * dt
    dd_max = steer_rate * dt
    margin = p[P_TRACK_SAFETY_MARGIN]
    cost = 0.0
    hard = 0.0
    prev_v = v0
    prev_d = delta0
    for k in range(horizon):
        v = z[2 * k]
        d = z[2 * k + 1]
        s_k = traj[k + 1, 0]
        n_k = traj[k + 1, 1]
        v_target = speed_target(tab, s_k, length, step, p)
        n_error = n_k - lateral_target(tab, s_k, length, step, p)
        cost += (p[P_QN] * n_error * n_error + p[P_QALPHA] * traj[k + 1, 2] ** 2 + p[P_QV] * (v - v_target) ** 2
                 + rate_v * (v - prev_v) ** 2 + rate_d * (d - prev_d) ** 2)
        lo, hi = track_bounds(tab, s_k, length, step, margin)
        excess = max(n_k - hi, lo - n_k, 0.0)
        cost += w_track * excess * excess
        excess = max(abs(v * v * math.tan(d) * inv_wheelbase) - p[P_ALAT_MAX], 0.0)
        cost += w_alat * excess * excess
        v_lo, v_up = _reachable(k, v0, p[P_V_MIN], p[P_V_MAX], dv_min, dv_max)
        d_lo, d_up = _reachable(k, delta0, -steer_max, steer_max, -dd_max, dd_max)
        hard += max(v - v_up, v_lo - v, 0.0) + max(d - d_up, d_lo - d, 0.0)
        hard += max(v - prev_v - dv_max, dv_min - (v - prev_v), 0.0)
        hard += max(abs(d - prev_d) - dd_max, 0.0)
        prev_v = v
        prev_d = d
    return cost + w_hard * hard


@njit(cache=True)
def _linear_prediction(traj, ab, zbar, z, plan):
    """The linearised model's plan: traj plus the response of the sensitivities to z - zbar."""
    d0 = d1 = d2 = 0.0
    plan[0, 0] = traj[0, 0]
    plan[0, 1] = traj[0, 1]
    plan[0, 2] = traj[0, 2]
    for k in range(ab.shape[0]):
        dv = z[2 * k] - zbar[2 * k]
        dd = z[2 * k + 1] - zbar[2 * k + 1]
        n0 = ab[k, 0, 0] * d0 + ab[k, 0, 1] * d1 + ab[k, 0, 2] * d2 + ab[k, 0, 3] * dv + ab[k, 0, 4] * dd
        n1 = ab[k, 1, 0] * d0 + ab[k, 1, 1] * d1 + ab[k, 1, 2] * d2 + ab[k, 1, 3] * dv + ab[k, 1, 4] * dd
        n2 = ab[k, 2, 0] * d0 + ab[k, 2, 1] * d1 + ab[k, 2, 2] * d2 + ab[k, 2, 3] * dv + ab[k, 2, 4] * dd
        d0, d1, d2 = n0, n1, n2
        plan[k + 1, 0] = traj[k + 1, 0] + d0
        plan[k + 1, 1] = traj[k + 1, 1] + d1
        plan[k + 1, 2] = traj[k + 1, 2] + d2


@njit(cache=True)
def line_search(tab, length, step, e0, v0, delta0, ybar, dy, p, dt, wheelbase, steer_max, steer_rate,
                w_track, w_alat, w_hard, knot_index, knot_weight, traj, zbar, y, z, plan, ab):
    """Globalised RTI step: y = ybar + t dy and the plan it predicts; returns t in (0, 1].

    A full QP step can leave the region where the linearisation holds (say the speed jumps after a
    parameter change while the steering was linearised at the old speed) and steer the plan into
    a loop it cannot leave. So a step larger than TRUSTED_SPEED_STEP / TRUSTED_STEERING_STEP is
    checked on the nonlinear model: t is the first of 1, 1/2, 1/4, 1/8 that does not increase
    the plan's cost (else the best of them), and the plan is its nonlinear prediction. Smaller
    steps are taken whole with the linearised plan. The first input is clipped to its hard bounds, so the command
    honours them whatever t. traj, zbar and ab must be build_qp's (the linearisation of ybar).
    Returns 0 (and changes nothing) if dy is not finite.
    """
    for i in range(dy.size):
        if not math.isfinite(dy[i]):
            return 0.0
    small = True
    for b in range(y.size // 2):
        if abs(dy[2 * b]) > TRUSTED_SPEED_STEP or abs(dy[2 * b + 1]) > TRUSTED_STEERING_STEP:
            small = False
    best_t = 1.0
    if small:
        for i in range(y.size):
            y[i] = ybar[i] + dy[i]
        expand(y, knot_index, knot_weight, z)
        _linear_prediction(traj, ab, zbar, z, plan)
    else:
        inv_wheelbase = 1.0 / wheelbase
        base = plan_cost(tab, length, step, traj, zbar, v0, delta0, p, dt, wheelbase, steer_max, steer_rate,
                         w_track, w_alat, w_hard)
        tolerance = 1e-9 * (1.0 + abs(base))
        best_cost = np.inf
        t = 1.0
        for _ in range(4):
            for i in range(y.size):
                y[i] = ybar[i] + t * dy[i]
            expand(y, knot_index, knot_weight, z)
            predict_horizon(tab, length, step, e0, z, dt, inv_wheelbase, plan, ab, False)
            cost = plan_cost(tab, length, step, plan, z, v0, delta0, p, dt, wheelbase, steer_max, steer_rate,
                             w_track, w_alat, w_hard)
            if cost < best_cost:
                best_cost = cost
                best_t = t
            if cost <= base + tolerance:
                break
            t *= 0.5
        if best_t != t:
            for i in range(y.size):
                y[i] = ybar[i] + best_t * dy[i]
            expand(y, knot_index, knot_weight, z)
            predict_horizon(tab, length, step, e0, z, dt, inv_wheelbase, plan, ab, False)
    v_lo, v_up = _reachable(0, v0, p[P_V_MIN], p[P_V_MAX], p[P_A_MIN] * dt, p[P_A_MAX] * dt)
    d_lo, d_up = _reachable(0, delta0, -steer_max, steer_max, -steer_rate * dt, steer_rate * dt)
    y[0] = min(max(y[0], v_lo), v_up)
    y[1] = min(max(y[1], d_lo), d_up)
    return best_t


@njit(cache=True)
def compiled_param_order_key():
    """PARAM_ORDER_KEY as compiled into this module's (possibly cached) kernels."""
    return PARAM_ORDER_KEY


def _drop_kernels_of_another_param_order() -> None:
    """Empty the numba cache of this module's kernels if it was compiled for another parameter
    order, so that they compile afresh with the current P_* indices."""
    if compiled_param_order_key() == PARAM_ORDER_KEY:
        return
    for kernel in list(globals().values()):
        if isinstance(kernel, Dispatcher) and kernel.py_func.__module__ == __name__:
            kernel.recompile()


_drop_kernels_of_another_param_order()
