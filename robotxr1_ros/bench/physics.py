"""Micro-benchmark of the simulator alone (no controller): physics, control-rate stepping, LiDAR."""
from __future__ import annotations

import math
import time

import numpy as np

from ..errors import Robotxr1Error
from ..sim.lidar import Lidar
from ..sim.simulator import Simulator
from ..sim.vehicle import VehicleParams, VehicleState, simulate_commands
from ..track.library import get_track
from ..track.path_lookup import PathLookup, descend

CONTROL_PERIOD = 0.025  # s, the MPC's 40 Hz
LOG_SPAN = 60.0  # s simulated between resets


def _timed_repeats(run, seconds: float) -> tuple[int, float]:
    """Call `run()` until `seconds` of wall time have passed; (calls, wall seconds)."""
    calls = 0
    start = time.perf_counter()
    while True:
        run()
        calls += 1
        wall = time.perf_counter() - start
        if wall >= seconds:
            return calls, wall


class _PurePursuit:
    """Steering towards a point 1 m ahead on the racing line: keeps the benchmark car on track."""

    def __init__(self, track, wheelbase: float, lookahead: float = 1.0) -> None:
        self.line = PathLookup(track.raceline)
        self.wheelbase = wheelbase
        self.lookahead = lookahead
        self.index = 0

    def steering(self, state) -> float:
        self.index = descend(self.line.xy, state.x, state.y, self.index)
        target = self.line.xy[(self.index + int(self.lookahead / self.line.step)) % len(self.line.xy)]
        bearing = math.atan2(target[1] - state.y, target[0] - state.x) - state.yaw
        return math.atan(2.0 * self.wheelbase * math.sin(bearing) / self.lookahead)


def bench_physics(seconds: float = 1.0, track_name: str = "eval", dt: float = 0.01) -> dict:
    """Measured speeds, each over ~`seconds` of wall time after a warm-up (compiled code cached).

    - physics_steps_per_s: bare RK4 steps of the vehicle model (no track, no Python in the loop);
    - sim_*: Simulator.step at 40 Hz periods with a state and an IMU read per period, as the closed
      loop does, crash checks and logging included; only the simulator's calls are timed, not the
      pure-pursuit steering that keeps the car on the racing line at 2 m/s;
    - lidar_*: full scans from the start of the racing line, and the one-off distance-field build.
    """
    if seconds <= 0.0:
        raise Robotxr1Error(f"bench_physics: seconds must be positive, got {seconds}")
    track = get_track(track_name)
    params = VehicleParams()

    batch = 100_000
    steer = np.full(batch, 0.1)
    speed = np.full(batch, 3.0)
    simulate_commands(VehicleState(), params, steer[:10], speed[:10], dt)
    calls, wall = _timed_repeats(lambda: simulate_commands(VehicleState(), params, steer, speed, dt), seconds)
    physics_rate = calls * batch / wall

    sim = Simulator(track, params, dt=dt, seed=0)
    follower = _PurePursuit(track, params.wheelbase)
    sim_wall = 0.0

    def control_period() -> None:
        nonlocal sim_wall
        if sim.time >= LOG_SPAN:  # bounds the log's memory on long benchmarks
            sim.reset()
        start = time.perf_counter()
        state = sim.state
        sim.imu()
        sim_wall += time.perf_counter() - start
        steering = follower.steering(state)
        start = time.perf_counter()
        sim.step(steering, 2.0, CONTROL_PERIOD)
        sim_wall += time.perf_counter() - start

    control_period()
    sim.reset()
    sim_wall = 0.0
    calls, _ = _timed_repeats(control_period, seconds)
    simulated = calls * CONTROL_PERIOD
    if sim.crashed:
        raise RuntimeError("bench_physics: the benchmark car crashed; its figures would not be representative")

    build_start = time.perf_counter()
    lidar = Lidar(track, sim.lidar_config)
    lidar_build = time.perf_counter() - build_start
    x, y = (float(v) for v in track.raceline.position(0.0))
    yaw = float(track.raceline.heading(0.0))
    rng = np.random.default_rng(0)
    lidar.scan(x, y, yaw, rng)
    calls, wall = _timed_repeats(lambda: lidar.scan(x, y, yaw, rng), seconds)

    return {
        "track": track_name,
        "dt": dt,
        "physics_steps_per_s": round(physics_rate),
        "physics_us_per_step": round(1e6 / physics_rate, 3),
        "sim_steps_per_s": round(simulated / dt / sim_wall),
        "sim_realtime_factor": round(simulated / sim_wall, 1),
        "sim_ms_per_simulated_s": round(1e3 * sim_wall / simulated, 4),
        "sim_simulated_s": round(simulated, 1),
        "lidar_scans_per_s": round(calls / wall, 1),
        "lidar_ms_per_scan": round(1e3 * wall / calls, 4),
        "lidar_beams": sim.lidar_config.num_beams,
        "lidar_field_build_s": round(lidar_build, 4),
    }
