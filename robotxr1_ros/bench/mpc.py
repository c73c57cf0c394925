"""Benchmark of the MPC alone: solve times over a closed-loop run on the simulator."""
from __future__ import annotations

import time

import numpy as np

from ..errors import Robotxr1Error
from ..control.closed_loop import drive
from ..control.mpc import FrenetMPC, MpcConfig
from ..params import MpcParams
from ..sim.simulator import Simulator
from ..track.library import get_track


def bench_mpc(track_name: str = "eval", seconds: float = 30.0, params: MpcParams = MpcParams(),
              config: MpcConfig = MpcConfig()) -> dict:
    """Drive `seconds` of simulated time from a standing start and report the controller's cost.

    solve_ms_*: wall time of each FrenetMPC.solve (projection, linearisation, condensing, QP,
    line search), after a short warm-up run so compilation and caches are not counted.
    loop_ms_per_step: the whole closed loop per control step (simulator and logging included).
    """
    if seconds <= 0.0:
        raise Robotxr1Error(f"bench_mpc: seconds must be positive, got {seconds}")
    track = get_track(track_name)
    sim = Simulator(track, seed=0)
    controller = FrenetMPC(track, config=config, params=params)
    drive(sim, controller, 1.0)  # warm-up: compiled code loaded, first (cold) solves done
    sim.reset()
    controller.reset()
    start = time.perf_counter()
    log = drive(sim, controller, seconds)
    wall = time.perf_counter() - start
    solve = log.solve_ms[1:]  # the first solve is a cold start (several linearisations)
    return {
        "track": track_name,
        "horizon": config.horizon,
        "input_knots": min(config.input_knots, config.horizon),
        "dt": config.dt,
        "control_rate_hz": config.control_rate_hz,
        "solves": int(solve.size),
        "solve_ms_p50": round(float(np.percentile(solve, 50)), 4),
        "solve_ms_p90": round(float(np.percentile(solve, 90)), 4),
        "solve_ms_p99": round(float(np.percentile(solve, 99)), 4),
        "solve_ms_max": round(float(solve.max()), 4),
        "solve_ms_mean": round(float(solve.mean()), 4),
        "cold_solve_ms": round(float(log.solve_ms[0]), 4),
        "loop_ms_per_step": round(1e3 * wall / len(log), 4),
        "realtime_factor": round(seconds / wall, 1),
        "fallbacks": int(np.count_nonzero(log.fallback)),
        "crashed": bool(log.crashed.any()),
    }
