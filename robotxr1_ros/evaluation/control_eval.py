"""Control adaptability: does the MPC drive better for an instruction with the model's parameters
than with the defaults?

Per prompt (docs/reference.md): reset to the defaults, ask for parameters, apply the validated ones,
drive the evaluation scenario, and compare the case's RMSE with the default parameters' RMSE:
improvement = (RMSE_default - RMSE) / RMSE_default. The control adaptability score is the mean
improvement over the prompts. A model answer without any usable parameter, a crash, or (for the
centre and smooth cases) a car that stops driving scores FAILURE_RMSE, as the reference does;
because one such failure dominates the mean, the report also gives the mean with each
improvement clipped at -100 % and the number of failures.

What proposes the parameters is a `Proposer`: a model through the LLM layer's MPCxR1, the
default parameters, or the oracle's cached search result.

Two suites: `default`, the paper's score (the four scored cases' held-out phrasings), and `open`,
the open-instruction benchmark (every intent's `open` phrasings, cases/control.py): per intent the
share of prompts whose behaviour was achieved, the score where an RMSE applies, how often the
parameters stayed unchanged, and how many results left the effective ranges.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..cases.control import Outcome, control_case, eval_phrasings, open_phrasings
from ..control.closed_loop import Scenario, drive_scenario
from ..errors import Robotxr1Error
from ..llm.stop_intent import is_stop
from ..llm.tuning import MPCxR1
from ..params import PARAM_SPECS, MpcParams
from ..track import Track
from .control_cases import (
    EVAL_SCENARIO,
    FAILURE_RMSE,
    Baseline,
    CaseRun,
    ControlPrompt,
    improvement,
    score_log,
    score_params,
)
from .oracle import OracleCache
from .plots import plot_runs

NO_PARAMETERS = "no usable parameters"
CLIP_LOWER = -1.0  # the clipped score counts a failure as -100 %
SUITES = ("default", "open")


def drive_outcome(params: MpcParams, default: Baseline, run: CaseRun) -> Outcome:
    """What a case's `achieved` check reads of a run (that did not fail) and the default run.

    >>> from robotxr1_ros.cases.control import drives_backwards
    >>> drives_backwards(Outcome(MpcParams(), MpcParams(), mean_speed=0.4))  # slower, but still forwards
    False
    """
    return Outcome(params, control_case(run.prompt.case).start_params(), run.prompt.reference_speed, default.rmse,
                   run.rmse, run.metrics.mean_speed, default.mean_speed, run.metrics.min_wall_distance,
                   default.min_wall_distance)


def outside_ranges(params: MpcParams) -> list[str]:
    """The parameters outside the table's ranges (the validator lets none through: reported, must be [])."""
    values = params.as_dict()
    return [name for name, spec in PARAM_SPECS.items() if not spec.minimum <= values[name] <= spec.maximum]


def eval_prompts(mini: bool = False, suite: str = "default") -> list[ControlPrompt]:
    """The prompts of a suite: the held-out phrasings of the scored cases, or the open benchmark's;
    `mini`: one per case."""
    if suite not in SUITES:
        raise Robotxr1Error(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
    phrasings = eval_phrasings() if suite == "default" else open_phrasings()
    prompts = [ControlPrompt.of(case, text) for case, text in phrasings]
    if not mini:
        return prompts
    first: dict[str, ControlPrompt] = {}
    for prompt in prompts:
        first.setdefault(prompt.case, prompt)
    return list(first.values())


@dataclass(frozen=True)
class Proposal:
    params: MpcParams | None  # None: nothing usable was proposed (a failure)
    changes: dict[str, float] = field(default_factory=dict)
    output: str = ""  # the model's text
    detail: dict[str, Any] = field(default_factory=dict)  # parser verdicts, token counts
    latency_s: float | None = None


class Proposer(Protocol):
    name: str

    def propose(self, track: Track, prompt: ControlPrompt) -> Proposal: ...


class DefaultProposer:
    """The baseline: the default parameters (improvement 0 by construction)."""

    name = "default"

    def propose(self, track: Track, prompt: ControlPrompt) -> Proposal:
        return Proposal(MpcParams())


class OracleProposer:
    """The ceiling: the cached best parameters of the oracle search."""

    name = "oracle"

    def __init__(self, cache: OracleCache) -> None:
        self.cache = cache

    def propose(self, track: Track, prompt: ControlPrompt) -> Proposal:
        entry = self.cache.require(track, prompt)
        return Proposal(entry.mpc_params(), entry.changes(),
                        detail={"oracle_rmse": entry.rmse, "oracle_default_rmse": entry.default_rmse})


class ModelProposer:
    """A language model through MPCxR1: the prompt, the grammar and the validation of the LLM layer."""

    def __init__(self, tuner: MPCxR1, name: str) -> None:
        self.tuner = tuner
        self.name = name

    def propose(self, track: Track, prompt: ControlPrompt) -> Proposal:
        tuning = self.tuner.tune(prompt.text, base=control_case(prompt.case).start_params())
        changes = tuning.update.changes
        completion = tuning.completion
        detail = {"update": tuning.update.as_dict(), "prompt_tokens": completion.prompt_tokens,
                  "completion_tokens": completion.completion_tokens, "finish_reason": completion.finish_reason,
                  "stop_intent": is_stop(prompt.text)}  # the car stops on these without the model
        # As in the reference, an answer that changes nothing (no dict, or nothing valid in it) is a failure.
        return Proposal(tuning.params if changes else None, changes, completion.text, detail, completion.latency_s)


@dataclass
class PromptResult:
    case: str
    text: str
    reference_speed: float
    default_rmse: float | None  # None: no RMSE applies to the case
    rmse: float | None
    improvement: float | None
    failure: str  # "" when the prompt did not fail
    changes: dict[str, float]
    params: dict[str, float] | None
    metrics: dict[str, Any] | None
    output: str
    detail: dict[str, Any]
    latency_s: float | None
    achieved: bool = False  # the case's `achieved` check, on a run that did not fail
    unchanged: bool = False  # the parameters equal those in force before the instruction
    out_of_range: list[str] = field(default_factory=list)  # outside_ranges of the parameters
    plot: str | None = None

    @property
    def parsed(self) -> bool:
        return self.failure != NO_PARAMETERS


@dataclass
class ControlReport:
    proposer: str
    track: str
    scenario: dict[str, Any]
    prompts: list[PromptResult]
    settings: dict[str, Any] = field(default_factory=dict)
    suite: str = "default"

    def summary(self) -> dict[str, Any]:
        return {**_summary(self.prompts), "per_case": {case: _summary([p for p in self.prompts if p.case == case])
                                                       for case in dict.fromkeys(p.case for p in self.prompts)}}

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "control", "suite": self.suite, "proposer": self.proposer, "track": self.track,
                "scenario": self.scenario, "settings": self.settings, "summary": self.summary(),
                "prompts": [asdict(p) for p in self.prompts]}


def _summary(results: Sequence[PromptResult]) -> dict[str, Any]:
    scored = [r for r in results if r.improvement is not None]  # the prompts an RMSE applies to
    improvements = [r.improvement for r in scored if r.improvement is not None]
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    ok = [r.improvement for r in scored if not r.failure and r.improvement is not None]
    return {
        "prompts": len(results),
        "score": statistics.fmean(improvements) if improvements else None,
        "score_clipped": statistics.fmean(max(CLIP_LOWER, i) for i in improvements) if improvements else None,
        "median_improvement": statistics.median(improvements) if improvements else None,
        "score_without_failures": statistics.fmean(ok) if ok else None,
        "failures": sum(bool(r.failure) for r in results),
        "achieved": sum(r.achieved for r in results),
        "achieved_rate": sum(r.achieved for r in results) / len(results) if results else None,
        "unchanged": sum(r.unchanged for r in results),
        "out_of_range": sum(bool(r.out_of_range) for r in results),
        "parse_rate": sum(r.parsed for r in results) / len(results) if results else None,
        "crashes": sum(r.failure == "crashed" for r in results),
        "mean_default_rmse": statistics.fmean(r.default_rmse for r in scored if r.default_rmse is not None)
        if scored else None,
        "mean_rmse": statistics.fmean(r.rmse for r in scored if r.rmse is not None) if scored else None,
        "latency_s_mean": statistics.fmean(latencies) if latencies else None,
        "latency_s_max": max(latencies) if latencies else None,
    }


def evaluate_control(track: Track, proposer: Proposer, prompts: Sequence[ControlPrompt],
                     scenario: Scenario = EVAL_SCENARIO, plot_dir: str | Path | None = None,
                     progress: Callable[[], None] | None = None, suite: str = "default") -> ControlReport:
    """Score `proposer` on every prompt; one default run serves as the baseline of all of them."""
    default_log = drive_scenario(track, MpcParams(), scenario)
    results = []
    for index, prompt in enumerate(prompts):
        case = control_case(prompt.case)
        start = case.start_params()
        proposal = proposer.propose(track, prompt)
        params = proposal.params
        if not case.drives:  # judged on the parameters alone: nothing usable leaves those in force
            params = params or start
            results.append(PromptResult(prompt.case, prompt.text, prompt.reference_speed, None, None, None, "",
                                        proposal.changes, params.as_dict(), None, proposal.output, proposal.detail,
                                        proposal.latency_s, case.achieved(Outcome(params, start)), params == start,
                                        outside_ranges(params)))
            if progress:
                progress()
            continue
        default = score_log(track, default_log, MpcParams(), prompt)
        run: CaseRun | None = None
        if params is None:
            rmse, failure, metrics = FAILURE_RMSE, NO_PARAMETERS, None
        else:
            run = score_params(track, params, prompt, scenario)
            rmse, failure, metrics = run.rmse, run.failure, run.metrics.as_dict()
        achieved = params is not None and run is not None and not failure \
            and case.achieved(drive_outcome(params, default.baseline, run))
        result = PromptResult(prompt.case, prompt.text, prompt.reference_speed, _rmse(default.rmse), _rmse(rmse),
                              None if case.error is None else improvement(default.rmse, rmse), failure,
                              proposal.changes, params.as_dict() if params else None, metrics, proposal.output,
                              proposal.detail, proposal.latency_s, achieved, params in (None, start),
                              outside_ranges(params) if params else [])
        if plot_dir is not None:
            runs = [("default parameters", default.log)]
            if run is not None:
                runs.append((_short(proposer.name, 40), run.log))
            measured = (f"RMSE {default.rmse:.3f} -> {rmse:.3f} ({100 * result.improvement:+.1f} %)"
                        if result.improvement is not None else f"achieved: {'yes' if achieved else 'no'}")
            title = (f"{prompt.case}: \"{prompt.text}\"  {measured}{'  FAILED: ' + failure if failure else ''}\n"
                     + _short(", ".join(f"{k}={v:.3g}" for k, v in proposal.changes.items()) or "no changes", 110))
            result.plot = str(plot_runs(track, runs, Path(plot_dir) / f"{index:02d}_{prompt.case}.png", title))
        results.append(result)
        if progress:
            progress()
    return ControlReport(proposer.name, track.name, asdict(scenario), results, suite=suite)


def _rmse(value: float) -> float | None:
    return None if math.isnan(value) else value


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def case_description(case: str) -> str:
    return control_case(case).what
