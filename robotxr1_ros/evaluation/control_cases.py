"""How a control case (robotxr1_ros/cases/control.py) is driven and scored: over which part of the
run, with which failures, and the improvement over the default parameters.

This is the one scoring routine of a parameter set for an instruction: the control evaluation,
the oracle search, the teacher, the training reward and the headroom test all call `score_params`
(or `score_log`).

What is measured, as in the reference's tester: the centre, racing-line, speed and smoothness
cases over the first full lap from a standing start (a fixed time would let a slow car be
judged on the first straight only); a case not measured per lap (reverse) over a fixed
REVERSE_WINDOW (a lap backwards at 1 m/s would take over a minute). The car drives at most
LAP_TIMEOUT seconds, or on a longer track as long as a lap at SLOWEST_LAP_SPEED takes
(`track_scenario`): a slow but sensible answer must be able to finish its lap on any track.

Failures score FAILURE_RMSE, as in the reference: no usable parameters, or a crash within the
measured part. On the cases about *how* to drive (centre, racing line, smooth: `must_drive`) a car
that does not complete the lap within the scenario fails too: standing still has zero acceleration
and may sit on the centre line, so "don't move" would otherwise be the best answer to "Drive
smoothly". A speed case without a complete lap is measured over the whole run (slow is simply
wrong there).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from ..cases.control import control_case
from ..control.closed_loop import Scenario, drive_scenario
from ..control.run_log import RunLog
from ..errors import Robotxr1Error
from ..params import MpcParams
from ..track import Track
from .metrics import DrivingMetrics, driving_metrics, signal_rmse

FAILURE_RMSE = 69.0  # what the reference records when a model gives no usable parameters or crashes
LAP_TIMEOUT = 90.0  # s; a lap of the evaluation track (76 m) at 0.85 m/s, the least any track is driven
SLOWEST_LAP_SPEED = 0.85  # m/s along the racing line; the lap a scenario leaves time for
REVERSE_WINDOW = 20.0  # s measured in a case not measured per lap

# The same drive for every parameter set: a standing start on the racing line at s = 0.
EVAL_SCENARIO = Scenario(seconds=LAP_TIMEOUT, seed=0, start_s=0.0, start_speed=0.0)


def lap_timeout(track: Track) -> float:
    """s the car drives on `track`: LAP_TIMEOUT, or a lap at SLOWEST_LAP_SPEED where that takes longer
    (the evaluation track and the circle: 90 s; the 328 m racing line of the long circuit: 387 s)."""
    return max(LAP_TIMEOUT, float(math.ceil(track.raceline.length / SLOWEST_LAP_SPEED)))


def track_scenario(track: Track) -> Scenario:
    """EVAL_SCENARIO with its duration suited to `track` (unchanged on the evaluation track)."""
    return replace(EVAL_SCENARIO, seconds=lap_timeout(track))


@dataclass(frozen=True)
class ControlPrompt:
    """One evaluation instruction: its case, its text and the speed its RMSE is measured against."""

    case: str
    text: str
    reference_speed: float

    @classmethod
    def of(cls, case: str, text: str) -> ControlPrompt:
        return cls(case, text, control_case(case).reference_speed(text))


@dataclass(frozen=True)
class CaseRun:
    prompt: ControlPrompt
    params: MpcParams
    rmse: float  # NaN for a case no RMSE applies to
    failure: str  # "" unless the run failed (then rmse is FAILURE_RMSE)
    metrics: DrivingMetrics  # of the measured part
    log: RunLog  # the measured part of the run

    @property
    def baseline(self) -> Baseline:
        return Baseline(self.rmse, self.metrics.mean_speed, self.metrics.min_wall_distance)


@dataclass(frozen=True)
class Baseline:
    """What a case's `achieved` check reads of the default parameters' drive (kept by the training
    rewards' cache, which has no CaseRun)."""

    rmse: float  # the case's RMSE (NaN for an intent without one)
    mean_speed: float  # m/s along the track over the measured part
    min_wall_distance: float  # m


def measured_part(track: Track, log: RunLog, case: str) -> tuple[RunLog, bool]:
    """The part of the run a case is scored on, and whether it holds a complete lap."""
    if not control_case(case).per_lap:
        return _head(log, int(np.searchsorted(log.t, log.t[0] + REVERSE_WINDOW, side="right"))), False
    laps = np.flatnonzero(log.s_race - log.s_race[0] >= track.raceline.length)
    if laps.size:
        return _head(log, int(laps[0]) + 1), True
    return log, False


def score_log(track: Track, log: RunLog, params: MpcParams, prompt: ControlPrompt) -> CaseRun:
    """Score a run already driven (one default run serves every prompt)."""
    case = control_case(prompt.case)
    part, lap = measured_part(track, log, prompt.case)
    metrics = driving_metrics(part, track.raceline.length, reference_speed=prompt.reference_speed)
    failure = ""
    if metrics.crashed:
        failure = "crashed"
    elif case.must_drive and not lap:
        failure = f"no complete lap in {log.t[-1] - log.t[0]:.0f} s"
    if case.error is None:  # judged by its `achieved` check alone
        rmse = math.nan
    else:
        rmse = FAILURE_RMSE if failure else signal_rmse(part, case.error, prompt.reference_speed)
    return CaseRun(prompt, params, rmse, failure, metrics, part)


def score_params(track: Track, params: MpcParams, prompt: ControlPrompt,
                 scenario: Scenario = EVAL_SCENARIO) -> CaseRun:
    """Drive `track` with `params` and score the run for `prompt`."""
    if not control_case(prompt.case).per_lap:  # only the window is measured: drive no longer
        scenario = replace(scenario, seconds=min(scenario.seconds, REVERSE_WINDOW + 0.1))
    return score_log(track, drive_scenario(track, params, scenario), params, prompt)


def improvement(rmse_default: float, rmse_model: float) -> float:
    """The per-prompt improvement of docs/reference.md: (RMSE_default - RMSE_model) / RMSE_default."""
    if rmse_default <= 0.0:
        raise Robotxr1Error(f"the default RMSE must be positive, got {rmse_default}")
    return (rmse_default - rmse_model) / rmse_default


def _head(log: RunLog, n: int) -> RunLog:
    """The first `n` samples of a run."""
    return RunLog(**{f.name: getattr(log, f.name)[:n] for f in fields(log)})
