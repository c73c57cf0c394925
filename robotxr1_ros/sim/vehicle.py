"""F1TENTH single-track vehicle model (CommonRoad ST, as in f1tenth_gym), integrated by fixed-step RK4.

State array layout (CommonRoad order), reference point = centre of gravity:
    [x, y, steering angle δ, speed v (signed, along the velocity), yaw ψ, yaw rate r, slip angle β]
Inputs are what the car's drive and servo receive: a commanded speed and a commanded steering
angle. As in f1tenth_gym, a P-controller turns the speed command into an acceleration (limited by
a_max, by the motor's power above v_switch and by v_min/v_max), and the steering command into a
steering velocity limited to the servo's rate.

Differences to f1tenth_gym, each for a reason:
- The controllers are part of the ODE (evaluated at every RK4 stage) and the steering servo is a
  saturated P-controller instead of bang-bang: the gym's bang-bang servo chatters by one step of
  steering rate around its target, which pollutes the IMU signal the "smooth" metric scores.
- The tyre slip angles use |v|, so the dynamic model is stable when reversing (the textbook ST
  equations divide by the signed speed and diverge backwards).
- Below V_KINEMATIC the model is kinematic (CoG form, with r and β relaxed onto their kinematic
  values); between V_KINEMATIC and V_DYNAMIC the derivatives are blended with a smoothstep weight,
  so crossing the switching speed does not chatter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numba import njit

from ..errors import Robotxr1Error

GRAVITY = 9.81

# State indices.
X, Y, STEER, SPEED, YAW, YAW_RATE, SLIP = range(7)
STATE_SIZE = 7

# Packed parameter indices (VehicleParams.as_array()).
(P_MU, P_CSF, P_CSR, P_LF, P_LR, P_H, P_M, P_I, P_S_MIN, P_S_MAX, P_SV_MIN, P_SV_MAX, P_V_SWITCH,
 P_A_MAX, P_V_MIN, P_V_MAX, P_STEER_GAIN, P_V_KIN, P_V_DYN, P_RELAX) = range(20)


@dataclass(frozen=True)
class VehicleParams:
    """F1TENTH car, f1tenth_gym's values (names as in f1tenth_gym)."""

    mu: float = 1.0489  # tyre-road friction coefficient
    C_Sf: float = 4.718  # front cornering stiffness per unit load, 1/rad
    C_Sr: float = 5.4562  # rear cornering stiffness per unit load, 1/rad
    lf: float = 0.15875  # m, CoG to front axle
    lr: float = 0.17145  # m, CoG to rear axle
    h: float = 0.074  # m, CoG height
    m: float = 3.74  # kg
    I: float = 0.04712  # kg m^2, yaw inertia  # noqa: E741
    s_min: float = -0.4189  # rad, steering angle limits
    s_max: float = 0.4189
    sv_min: float = -3.2  # rad/s, steering rate limits
    sv_max: float = 3.2
    v_switch: float = 7.319  # m/s, above it the motor's power limits acceleration
    a_max: float = 9.51  # m/s^2
    v_min: float = -5.0  # m/s
    v_max: float = 20.0  # m/s
    width: float = 0.31  # m, footprint
    length: float = 0.58  # m, footprint (centred on the CoG)
    steer_gain: float = 60.0  # 1/s, servo P gain (below the rate limit: ~17 ms time constant)
    v_kinematic: float = 0.5  # m/s, purely kinematic below this |v|
    v_dynamic: float = 1.0  # m/s, purely dynamic above this |v|
    kinematic_relax: float = 0.05  # s, time constant pulling r and β onto the kinematic values

    def __post_init__(self) -> None:
        if not 0.0 < self.v_kinematic < self.v_dynamic:
            raise Robotxr1Error("VehicleParams: need 0 < v_kinematic < v_dynamic")
        if not (self.s_min < 0.0 < self.s_max and self.sv_min < 0.0 < self.sv_max and self.v_min < 0.0 < self.v_max):
            raise Robotxr1Error("VehicleParams: steering, steering-rate and speed limits must bracket 0")

    @property
    def wheelbase(self) -> float:
        return self.lf + self.lr

    def as_array(self) -> np.ndarray:
        """Packed for the compiled model (indices P_*)."""
        return np.array([
            self.mu, self.C_Sf, self.C_Sr, self.lf, self.lr, self.h, self.m, self.I,
            self.s_min, self.s_max, self.sv_min, self.sv_max, self.v_switch, self.a_max,
            self.v_min, self.v_max, self.steer_gain, self.v_kinematic, self.v_dynamic, self.kinematic_relax,
        ])


@dataclass
class VehicleState:
    """Car state at its centre of gravity; `speed` is signed (negative when reversing)."""

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    speed: float = 0.0  # m/s along the velocity direction
    slip: float = 0.0  # rad, angle of the velocity from the body's x axis
    yaw_rate: float = 0.0
    steering: float = 0.0

    @property
    def vx(self) -> float:
        """Longitudinal speed in the body frame (m/s)."""
        return self.speed * math.cos(self.slip)

    @property
    def vy(self) -> float:
        """Lateral speed in the body frame (m/s, left positive)."""
        return self.speed * math.sin(self.slip)

    def to_array(self) -> np.ndarray:
        state = np.zeros(STATE_SIZE)
        state[[X, Y, YAW, SPEED, SLIP, YAW_RATE, STEER]] = (
            self.x, self.y, self.yaw, self.speed, self.slip, self.yaw_rate, self.steering)
        return state

    @classmethod
    def from_array(cls, state: np.ndarray) -> VehicleState:
        return cls(x=float(state[X]), y=float(state[Y]), yaw=float(state[YAW]), speed=float(state[SPEED]),
                   slip=float(state[SLIP]), yaw_rate=float(state[YAW_RATE]), steering=float(state[STEER]))

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@njit(cache=True)
def acceleration_command(v, speed_cmd, p):
    """f1tenth_gym's speed P-controller and acceleration limits: commanded speed -> dv/dt."""
    a_max = p[P_A_MAX]
    v_min = p[P_V_MIN]
    v_max = p[P_V_MAX]
    error = speed_cmd - v
    # Gains depend on the direction of travel; from standstill, on the direction commanded.
    if v > 0.0 or (v == 0.0 and error > 0.0):
        gain = 10.0 * a_max / v_max if error > 0.0 else 10.0 * a_max / -v_min
    else:
        gain = 2.0 * a_max / v_max if error > 0.0 else 2.0 * a_max / -v_min
    accel = gain * error
    positive_limit = a_max * p[P_V_SWITCH] / v if v > p[P_V_SWITCH] else a_max
    if (v <= v_min and accel <= 0.0) or (v >= v_max and accel >= 0.0):
        return 0.0
    return min(max(accel, -a_max), positive_limit)


@njit(cache=True)
def steering_rate_command(steer, steer_cmd, p):
    """Servo: saturated P-controller towards the (clipped) commanded angle."""
    target = min(max(steer_cmd, p[P_S_MIN]), p[P_S_MAX])
    return min(max(p[P_STEER_GAIN] * (target - steer), p[P_SV_MIN]), p[P_SV_MAX])


@njit(cache=True)
def derivative(state, steer_cmd, speed_cmd, p, out):
    """Writes d(state)/dt into `out`."""
    steer = state[STEER]
    v = state[SPEED]
    yaw = state[YAW]
    r = state[YAW_RATE]
    beta = state[SLIP]
    lf = p[P_LF]
    lr = p[P_LR]
    wheelbase = lf + lr
    accel = acceleration_command(v, speed_cmd, p)
    steer_rate = steering_rate_command(steer, steer_cmd, p)

    # Kinematic single track about the CoG, with r and β relaxed onto the kinematic values.
    tan_d = math.tan(steer)
    sec2_d = 1.0 + tan_d * tan_d
    ratio = lr * tan_d / wheelbase
    beta_kin = math.atan(ratio)
    cos_bk = math.cos(beta_kin)
    r_kin = v * cos_bk * tan_d / wheelbase
    dbeta_kin = lr / wheelbase * sec2_d * steer_rate / (1.0 + ratio * ratio)
    dr_kin = (accel * cos_bk * tan_d - v * math.sin(beta_kin) * dbeta_kin * tan_d
              + v * cos_bk * sec2_d * steer_rate) / wheelbase
    dbeta = dbeta_kin + (beta_kin - beta) / p[P_RELAX]
    dr = dr_kin + (r_kin - r) / p[P_RELAX]

    speed = abs(v)
    if speed > p[P_V_KIN]:
        # Dynamic single track (CommonRoad ST): linear tyres with load transfer, slip angles on |v|.
        blend = min((speed - p[P_V_KIN]) / (p[P_V_DYN] - p[P_V_KIN]), 1.0)
        weight = blend * blend * (3.0 - 2.0 * blend)
        sign = 1.0 if v > 0.0 else -1.0
        h = p[P_H]
        load_front = (GRAVITY * lr - accel * h) / wheelbase  # per unit mass
        load_rear = (GRAVITY * lf + accel * h) / wheelbase
        slip_front = sign * (steer - beta) - lf * r / speed
        slip_rear = -sign * beta + lr * r / speed
        force_front = p[P_MU] * p[P_M] * p[P_CSF] * load_front * slip_front
        force_rear = p[P_MU] * p[P_M] * p[P_CSR] * load_rear * slip_rear
        dbeta_dyn = (force_front + force_rear) / (p[P_M] * v) - r
        dr_dyn = (lf * force_front - lr * force_rear) / p[P_I]
        dbeta = (1.0 - weight) * dbeta + weight * dbeta_dyn
        dr = (1.0 - weight) * dr + weight * dr_dyn

    out[X] = v * math.cos(yaw + beta)
    out[Y] = v * math.sin(yaw + beta)
    out[STEER] = steer_rate
    out[SPEED] = accel
    out[YAW] = r
    out[YAW_RATE] = dr
    out[SLIP] = dbeta


@njit(cache=True)
def body_acceleration(state, steer_cmd, speed_cmd, p, work):
    """(ax, ay): acceleration of the CoG in the body frame, centripetal part included (IMU)."""
    derivative(state, steer_cmd, speed_cmd, p, work)
    v = state[SPEED]
    beta = state[SLIP]
    turn = work[SLIP] + state[YAW_RATE]  # rotation rate of the velocity vector
    ax = work[SPEED] * math.cos(beta) - v * math.sin(beta) * turn
    ay = work[SPEED] * math.sin(beta) + v * math.cos(beta) * turn
    return ax, ay


@njit(cache=True)
def rk4_step(state, steer_cmd, speed_cmd, p, dt, work):
    """Advance `state` in place by dt; `work` is a (5, STATE_SIZE) scratch array."""
    k1 = work[0]
    k2 = work[1]
    k3 = work[2]
    k4 = work[3]
    stage = work[4]
    derivative(state, steer_cmd, speed_cmd, p, k1)
    for i in range(STATE_SIZE):
        stage[i] = state[i] + 0.5 * dt * k1[i]
    derivative(stage, steer_cmd, speed_cmd, p, k2)
    for i in range(STATE_SIZE):
        stage[i] = state[i] + 0.5 * dt * k2[i]
    derivative(stage, steer_cmd, speed_cmd, p, k3)
    for i in range(STATE_SIZE):
        stage[i] = state[i] + dt * k3[i]
    derivative(stage, steer_cmd, speed_cmd, p, k4)
    for i in range(STATE_SIZE):
        state[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
    state[STEER] = min(max(state[STEER], p[P_S_MIN]), p[P_S_MAX])
    state[YAW] = math.atan2(math.sin(state[YAW]), math.cos(state[YAW]))


@njit(cache=True)
def _simulate_commands(state, steer_cmds, speed_cmds, p, dt, trajectory):
    work = np.empty((5, STATE_SIZE))
    trajectory[0] = state
    for k in range(steer_cmds.size):
        rk4_step(state, steer_cmds[k], speed_cmds[k], p, dt, work)
        trajectory[k + 1] = state


def simulate_commands(start: VehicleState, params: VehicleParams, steer_cmds, speed_cmds, dt: float) -> np.ndarray:
    """States (n + 1, STATE_SIZE) from `start` under per-step commands (arrays of length n)."""
    steer_cmds = np.ascontiguousarray(steer_cmds, dtype=float)
    speed_cmds = np.ascontiguousarray(speed_cmds, dtype=float)
    if steer_cmds.shape != speed_cmds.shape or steer_cmds.ndim != 1:
        raise Robotxr1Error("steer_cmds and speed_cmds must be 1-D arrays of equal length")
    if not dt > 0.0:
        raise Robotxr1Error(f"dt must be positive, got {dt}")
    trajectory = np.empty((steer_cmds.size + 1, STATE_SIZE))
    _simulate_commands(start.to_array(), steer_cmds, speed_cmds, params.as_array(), float(dt), trajectory)
    return trajectory
