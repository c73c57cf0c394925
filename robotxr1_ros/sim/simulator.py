"""F1TENTH simulator: the vehicle model on a Track, with wall collisions, sensors and a run log.

Cheap by construction, because it is the environment of thousands of RL rollouts: one compiled
call advances all physics steps of a control period (RK4, crash check on the footprint, logging);
sensors are computed only when read; the LiDAR's distance field is built on the first scan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from ..errors import Robotxr1Error
from ..track import Track
from ..track.path_lookup import PathLookup, descend, interpolate, segment_foot
from .lidar import Lidar, LidarConfig
from .sim_log import SimLog
from .vehicle import (
    SLIP,
    SPEED,
    STATE_SIZE,
    STEER,
    YAW,
    YAW_RATE,
    VehicleParams,
    VehicleState,
    X,
    Y,
    body_acceleration,
    rk4_step,
)

# Log columns (one row per physics step).
(L_T, L_X, L_Y, L_YAW, L_SPEED, L_SLIP, L_YAW_RATE, L_STEER, L_SPEED_CMD, L_STEER_CMD,
 L_CRASHED) = range(11)
LOG_COLUMNS = 11


@dataclass(frozen=True)
class SensorNoise:
    """Standard deviations of the Gaussian noise on odometry and IMU readings (0 = exact)."""

    position: float = 0.0  # m
    yaw: float = 0.0  # rad
    velocity: float = 0.0  # m/s
    yaw_rate: float = 0.0  # rad/s
    acceleration: float = 0.0  # m/s^2

    def __post_init__(self) -> None:
        if min(self.position, self.yaw, self.velocity, self.yaw_rate, self.acceleration) < 0.0:
            raise Robotxr1Error("SensorNoise: standard deviations must be >= 0")


@dataclass(frozen=True)
class Odometry:
    """Pose of the centre of gravity and body-frame twist."""

    t: float
    x: float
    y: float
    yaw: float
    vx: float  # m/s, longitudinal
    vy: float  # m/s, lateral, left positive
    yaw_rate: float


class ImuReading(NamedTuple):
    """Body-frame acceleration (m/s^2), centripetal part included: `ax, ay = sim.imu()`."""

    ax: float
    ay: float


@njit(cache=True)
def _footprint_hits_wall(state, corners, centre_xy, centre_tangent, step, width_left, width_right, hint):
    """(any corner on or beyond a wall, centre-line index of the CoG) using the centre's Frenet frame."""
    x = state[X]
    y = state[Y]
    index = descend(centre_xy, x, y, hint)
    tx = centre_tangent[index, 0]
    ty = centre_tangent[index, 1]
    cos_yaw = math.cos(state[YAW])
    sin_yaw = math.sin(state[YAW])
    hit = False
    for k in range(corners.shape[0]):
        px = x + cos_yaw * corners[k, 0] - sin_yaw * corners[k, 1]
        py = y + sin_yaw * corners[k, 0] + cos_yaw * corners[k, 1]
        # Start the corner's search where its offset along the track says it is.
        along = (px - x) * tx + (py - y) * ty
        corner_index = descend(centre_xy, px, py, index + round(along / step))
        seg, fraction, d = segment_foot(centre_xy, centre_tangent, px, py, corner_index)
        if d >= interpolate(width_left, seg, fraction) or -d >= interpolate(width_right, seg, fraction):
            hit = True
    return hit, index


@njit(cache=True)
def _record(log, row, t, state, steer_cmd, speed_cmd, crashed):
    log[row, L_T] = t
    log[row, L_X] = state[X]
    log[row, L_Y] = state[Y]
    log[row, L_YAW] = state[YAW]
    log[row, L_SPEED] = state[SPEED]
    log[row, L_SLIP] = state[SLIP]
    log[row, L_YAW_RATE] = state[YAW_RATE]
    log[row, L_STEER] = state[STEER]
    log[row, L_SPEED_CMD] = speed_cmd
    log[row, L_STEER_CMD] = steer_cmd
    log[row, L_CRASHED] = crashed


@njit(cache=True)
def _advance(state, p, steer_cmd, speed_cmd, dt, first_step, n_steps, corners, centre_xy, centre_tangent,
             step, width_left, width_right, status, work, log, row):
    """n_steps physics steps with crash checks, logging each; status = [crashed, centre index]."""
    for k in range(n_steps):
        if status[0] == 0:
            rk4_step(state, steer_cmd, speed_cmd, p, dt, work)
            hit, index = _footprint_hits_wall(state, corners, centre_xy, centre_tangent, step, width_left,
                                              width_right, status[1])
            status[1] = index
            if hit:  # the car stops at the wall and stays there until reset
                status[0] = 1
                state[SPEED] = 0.0
                state[YAW_RATE] = 0.0
                state[SLIP] = 0.0
        _record(log, row, (first_step + k + 1) * dt, state, steer_cmd, speed_cmd, status[0])
        row += 1
    return row


@njit(cache=True)
def _log_accelerations(log, p, ax, ay):
    state = np.empty(STATE_SIZE)
    work = np.empty(STATE_SIZE)
    for row in range(log.shape[0]):
        if log[row, L_CRASHED] != 0.0:
            ax[row] = 0.0
            ay[row] = 0.0
            continue
        state[X] = log[row, L_X]
        state[Y] = log[row, L_Y]
        state[YAW] = log[row, L_YAW]
        state[SPEED] = log[row, L_SPEED]
        state[SLIP] = log[row, L_SLIP]
        state[YAW_RATE] = log[row, L_YAW_RATE]
        state[STEER] = log[row, L_STEER]
        ax[row], ay[row] = body_acceleration(state, log[row, L_STEER_CMD], log[row, L_SPEED_CMD], p, work)


class Simulator:
    """One F1TENTH car on a track. Deterministic for a given seed and sequence of calls."""

    def __init__(self, track: Track, vehicle_params: VehicleParams = VehicleParams(), dt: float = 0.01,
                 seed: int | None = None, lidar: LidarConfig = LidarConfig(),
                 noise: SensorNoise = SensorNoise(), record: bool = True) -> None:
        """`record=False` keeps no log (for long-running use, e.g. behind a ROS node)."""
        if not 0.0 < dt <= 0.05:
            raise Robotxr1Error(f"dt must be in (0, 0.05] s, got {dt}")
        self.track = track
        self.params = vehicle_params
        self.dt = float(dt)
        self.noise = noise
        self.record = record
        self._odom_sigma = np.array([noise.position, noise.position, noise.yaw, noise.velocity, noise.velocity,
                                     noise.yaw_rate])
        self.lidar_config = lidar
        self._lidar: Lidar | None = None
        self._p = vehicle_params.as_array()
        half_length, half_width = 0.5 * vehicle_params.length, 0.5 * vehicle_params.width
        self._corners = np.array([[half_length, half_width], [half_length, -half_width],
                                  [-half_length, -half_width], [-half_length, half_width]])
        self._centre = PathLookup(track.centre)
        self._width_left = np.ascontiguousarray(track.width_left, dtype=float)
        self._width_right = np.ascontiguousarray(track.width_right, dtype=float)
        odom_seed, imu_seed, lidar_seed = np.random.SeedSequence(seed).spawn(3)
        self._odom_rng = np.random.default_rng(odom_seed)
        self._imu_rng = np.random.default_rng(imu_seed)
        self._lidar_rng = np.random.default_rng(lidar_seed)
        self._state = np.zeros(STATE_SIZE)
        self._status = np.zeros(2, dtype=np.int64)
        self._work = np.empty((5, STATE_SIZE))  # RK4 stages
        self._imu_work = np.empty(STATE_SIZE)
        self._log = np.empty((4096, LOG_COLUMNS))
        self.reset()

    def reset(self, pose: tuple[float, float, float] | None = None, speed: float = 0.0) -> None:
        """Place the car at `pose` (x, y, yaw), or at the start of the racing line heading along it.

        The log restarts. A pose whose footprint already touches a wall starts crashed.
        """
        if pose is None:
            x, y = (float(v) for v in self.track.raceline.position(0.0))
            yaw = float(self.track.raceline.heading(0.0))
        else:
            x, y, yaw = (float(v) for v in pose)
        if not all(math.isfinite(v) for v in (x, y, yaw, speed)):
            raise Robotxr1Error(f"reset: pose and speed must be finite, got {pose}, {speed}")
        if not self.params.v_min <= speed <= self.params.v_max:
            raise Robotxr1Error(f"reset: speed {speed} outside [{self.params.v_min}, {self.params.v_max}] m/s")
        if not self.track.contains(x, y):
            raise Robotxr1Error(f"reset: ({x:.3f}, {y:.3f}) is outside the walls of track {self.track.name!r}")
        self._state[:] = VehicleState(x=x, y=y, yaw=math.atan2(math.sin(yaw), math.cos(yaw)),
                                      speed=float(speed)).to_array()
        self._steps = 0
        self._clock = 0.0
        self._command = (0.0, float(speed))
        centre = self._centre
        hit, index = _footprint_hits_wall(self._state, self._corners, centre.xy, centre.tangent, centre.step,
                                          self._width_left, self._width_right, centre.nearest_index(x, y))
        self._status[:] = (int(hit), index)
        if hit:
            self._state[SPEED] = 0.0
        _record(self._log, 0, 0.0, self._state, 0.0, self._state[SPEED], self._status[0])
        self._rows = 1

    def step(self, steering_cmd: float, speed_cmd: float, duration: float) -> int:
        """Hold the commands for `duration` seconds; returns the number of physics steps taken.

        Time advances in whole physics steps; fractions carry over to the next call, so that e.g.
        40 Hz periods on a 0.01 s step alternate 2 and 3 steps and the clock never drifts.
        """
        steering_cmd = float(steering_cmd)
        speed_cmd = float(speed_cmd)
        if not (math.isfinite(steering_cmd) and math.isfinite(speed_cmd) and duration >= 0.0):
            raise Robotxr1Error(f"step: need finite commands and duration >= 0, got "
                             f"{steering_cmd}, {speed_cmd}, {duration}")
        self._clock += duration
        n_steps = math.floor(self._clock / self.dt + 0.5) - self._steps
        self._command = (steering_cmd, speed_cmd)
        if n_steps <= 0:
            return 0
        if self._rows + n_steps > len(self._log):
            grown = np.empty((max(2 * len(self._log), self._rows + n_steps), LOG_COLUMNS))
            grown[: self._rows] = self._log[: self._rows]
            self._log = grown
        rows = _advance(self._state, self._p, steering_cmd, speed_cmd, self.dt, self._steps, n_steps,
                        self._corners, self._centre.xy, self._centre.tangent, self._centre.step, self._width_left,
                        self._width_right, self._status, self._work, self._log, self._rows)
        if self.record:  # otherwise the rows after the reset row are scratch space
            self._rows = rows
        self._steps += n_steps
        return n_steps

    @property
    def time(self) -> float:
        return self._steps * self.dt

    @property
    def state(self) -> VehicleState:
        return VehicleState.from_array(self._state)

    @property
    def crashed(self) -> bool:
        return bool(self._status[0])

    def odometry(self) -> Odometry:
        """Pose and body-frame twist of the centre of gravity, with the configured noise."""
        state = self.state
        values: tuple[float, ...] = (state.x, state.y, state.yaw, state.vx, state.vy, state.yaw_rate)
        if self._odom_sigma.any():
            values = tuple(float(v) for v in values + self._odom_rng.standard_normal(6) * self._odom_sigma)
        x, y, yaw, vx, vy, yaw_rate = values
        return Odometry(self.time, x, y, math.atan2(math.sin(yaw), math.cos(yaw)), vx, vy, yaw_rate)

    def imu(self) -> ImuReading:
        """Body-frame acceleration from the model under the current command (0 once crashed)."""
        if self.crashed:
            ax = ay = 0.0
        else:
            steering_cmd, speed_cmd = self._command
            ax, ay = body_acceleration(self._state, steering_cmd, speed_cmd, self._p, self._imu_work)
        sigma = self.noise.acceleration
        if sigma > 0.0:
            ax += sigma * self._imu_rng.standard_normal()
            ay += sigma * self._imu_rng.standard_normal()
        return ImuReading(float(ax), float(ay))

    def scan(self) -> np.ndarray:
        """LiDAR ranges (m) from the current pose, with the configured noise."""
        if self._lidar is None:
            self._lidar = Lidar(self.track, self.lidar_config)
        state = self._state
        return self._lidar.scan(state[X], state[Y], state[YAW], self._lidar_rng)

    def log(self) -> SimLog:
        """The run since the last reset, one row per physics step (copies)."""
        if not self.record:
            raise Robotxr1Error("this Simulator was created with record=False: it keeps no log")
        rows = self._log[: self._rows]
        ax = np.empty(self._rows)
        ay = np.empty(self._rows)
        _log_accelerations(rows, self._p, ax, ay)
        speed, slip = rows[:, L_SPEED], rows[:, L_SLIP]
        return SimLog(
            t=rows[:, L_T].copy(), x=rows[:, L_X].copy(), y=rows[:, L_Y].copy(), yaw=rows[:, L_YAW].copy(),
            vx=speed * np.cos(slip), vy=speed * np.sin(slip), yaw_rate=rows[:, L_YAW_RATE].copy(),
            steering=rows[:, L_STEER].copy(), ax=ax, ay=ay, speed_cmd=rows[:, L_SPEED_CMD].copy(),
            steering_cmd=rows[:, L_STEER_CMD].copy(), crashed=rows[:, L_CRASHED] != 0.0,
        )
