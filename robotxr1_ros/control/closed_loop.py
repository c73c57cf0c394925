"""The closed loop of simulator and MPC: the one driving routine that the `sim` command, the
benchmark, the evaluation and the RL reward all use."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..params import MpcParams
from ..sim.simulator import Simulator
from ..track import Track
from .mpc import FrenetMPC, MpcConfig
from .run_log import RunLog, RunRecorder


@dataclass(frozen=True)
class Scenario:
    """Where and how long to drive: the same for every parameter set that is compared."""

    seconds: float = 20.0
    seed: int = 0
    start_s: float = 0.0  # m along the racing line
    start_speed: float = 0.0  # m/s


def drive(sim: Simulator, controller: FrenetMPC, seconds: float,
          on_step: Callable[[float], None] | None = None) -> RunLog:
    """Run the controller at its control rate for `seconds` of simulated time.

    `on_step(t)` runs before each control step (used to change parameters mid-run).
    """
    period = 1.0 / controller.config.control_rate_hz
    recorder = RunRecorder(capacity=int(seconds / period) + 2)
    steps = round(seconds / period)
    for _ in range(steps):
        if on_step is not None:
            on_step(sim.time)
        state = sim.state
        command = controller.solve(state.x, state.y, state.yaw, state.vx, state.steering)
        ax, ay = sim.imu()
        recorder.append(sim.time, state.x, state.y, state.yaw, state.vx, state.vy, state.yaw_rate,
                        state.steering, ax, ay, command.speed, command.steering_angle,
                        1e3 * command.solve_time_s, float(command.fallback), float(sim.crashed))
        sim.step(command.steering_angle, command.speed, period)
    return recorder.finish(sim.track)


def drive_scenario(track: Track, params: MpcParams, scenario: Scenario = Scenario(),
            config: MpcConfig | None = None) -> RunLog:
    """Drive `track` from a standing start on the racing line with `params`."""
    sim = Simulator(track, seed=scenario.seed, record=False)
    x, y = track.raceline.position(scenario.start_s)
    sim.reset(pose=(float(x), float(y), float(track.raceline.heading(scenario.start_s))),
              speed=scenario.start_speed)
    controller = FrenetMPC(track, config=config or MpcConfig(), params=params)
    return drive(sim, controller, scenario.seconds)
