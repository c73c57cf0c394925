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
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..cases.control import Outcome, control_case, eval_phrasings
from ..control.closed_loop import Scenario, drive_scenario
from ..llm.tuning import MPCxR1
from ..params import MpcParams
from ..track import Track
from .control_cases import EVAL_SCENARIO, FAILURE_RMSE, ControlPrompt, improvement, score_log, score_params
from .oracle import OracleCache
from .plots import plot_runs

NO_PARAMETERS = "no usable parameters"
CLIP_LOWER = -1.0  # the clipped score counts a failure as -100 %


def behaviour_achieved(case: str, reference_speed: float, default_rmse: float, rmse: float, failure: str,
                       mean_speed: float | None) -> bool:
    """Did the car do what was asked, whatever the RMSE says? No failure, and the case's own check
    (cases/control.py: a speed request met within SPEED_TOLERANCE, reverse driving backwards, the
    others a better RMSE than the defaults).

    >>> behaviour_achieved("reverse", -1.0, 6.5, 5.2, "", 0.4)  # slower, but still forwards
    False
    >>> behaviour_achieved("refvel", 2.5, 3.1, 0.2, "", 2.41)
    True
    """
    if failure or mean_speed is None:
        return False
    return control_case(case).achieved(Outcome(reference_speed, default_rmse, rmse, mean_speed))


def eval_prompts(mini: bool = False) -> list[ControlPrompt]:
    """The held-out phrasings of the scored cases; `mini`: one per case."""
    prompts = [ControlPrompt.of(case, text) for case, text in eval_phrasings()]
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
        tuning = self.tuner.tune(prompt.text)
        changes = tuning.update.changes
        completion = tuning.completion
        detail = {"update": tuning.update.as_dict(), "prompt_tokens": completion.prompt_tokens,
                  "completion_tokens": completion.completion_tokens, "finish_reason": completion.finish_reason}
        # As in the reference, an answer that changes nothing (no dict, or nothing valid in it) is a failure.
        return Proposal(tuning.params if changes else None, changes, completion.text, detail, completion.latency_s)


@dataclass
class PromptResult:
    case: str
    text: str
    reference_speed: float
    default_rmse: float
    rmse: float
    improvement: float
    failure: str  # "" when the prompt did not fail
    changes: dict[str, float]
    params: dict[str, float] | None
    metrics: dict[str, Any] | None
    output: str
    detail: dict[str, Any]
    latency_s: float | None
    achieved: bool = False  # behaviour_achieved
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

    def summary(self) -> dict[str, Any]:
        return {**_summary(self.prompts), "per_case": {case: _summary([p for p in self.prompts if p.case == case])
                                                       for case in dict.fromkeys(p.case for p in self.prompts)}}

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "control", "proposer": self.proposer, "track": self.track, "scenario": self.scenario,
                "settings": self.settings, "summary": self.summary(), "prompts": [asdict(p) for p in self.prompts]}


def _summary(results: Sequence[PromptResult]) -> dict[str, Any]:
    improvements = [r.improvement for r in results]
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    ok = [r for r in results if not r.failure]
    return {
        "prompts": len(results),
        "score": statistics.fmean(improvements) if results else None,
        "score_clipped": statistics.fmean(max(CLIP_LOWER, i) for i in improvements) if results else None,
        "median_improvement": statistics.median(improvements) if results else None,
        "score_without_failures": statistics.fmean(r.improvement for r in ok) if ok else None,
        "failures": sum(bool(r.failure) for r in results),
        "achieved": sum(r.achieved for r in results),
        "parse_rate": sum(r.parsed for r in results) / len(results) if results else None,
        "crashes": sum(r.failure == "crashed" for r in results),
        "mean_default_rmse": statistics.fmean(r.default_rmse for r in results) if results else None,
        "mean_rmse": statistics.fmean(r.rmse for r in results) if results else None,
        "latency_s_mean": statistics.fmean(latencies) if latencies else None,
        "latency_s_max": max(latencies) if latencies else None,
    }


def evaluate_control(track: Track, proposer: Proposer, prompts: Sequence[ControlPrompt],
                     scenario: Scenario = EVAL_SCENARIO, plot_dir: str | Path | None = None,
                     progress: Callable[[], None] | None = None) -> ControlReport:
    """Score `proposer` on every prompt; one default run serves as the baseline of all of them."""
    default_log = drive_scenario(track, MpcParams(), scenario)
    results = []
    for index, prompt in enumerate(prompts):
        default = score_log(track, default_log, MpcParams(), prompt)
        proposal = proposer.propose(track, prompt)
        if proposal.params is None:
            rmse, failure, metrics, run = FAILURE_RMSE, NO_PARAMETERS, None, None
        else:
            run = score_params(track, proposal.params, prompt, scenario)
            rmse, failure, metrics = run.rmse, run.failure, run.metrics.as_dict()
        result = PromptResult(prompt.case, prompt.text, prompt.reference_speed, default.rmse, rmse,
                              improvement(default.rmse, rmse), failure, proposal.changes,
                              proposal.params.as_dict() if proposal.params else None, metrics, proposal.output,
                              proposal.detail, proposal.latency_s,
                              behaviour_achieved(prompt.case, prompt.reference_speed, default.rmse, rmse, failure,
                                                 metrics["mean_speed"] if metrics else None))
        if plot_dir is not None:
            runs = [("default parameters", default.log)]
            if run is not None:
                runs.append((_short(proposer.name, 40), run.log))
            title = (f"{prompt.case}: \"{prompt.text}\"  RMSE {default.rmse:.3f} -> {rmse:.3f} "
                     f"({100 * result.improvement:+.1f} %){'  FAILED: ' + failure if failure else ''}\n"
                     + _short(", ".join(f"{k}={v:.3g}" for k, v in proposal.changes.items()) or "no changes", 110))
            result.plot = str(plot_runs(track, runs, Path(plot_dir) / f"{index:02d}_{prompt.case}.png", title))
        results.append(result)
        if progress:
            progress()
    return ControlReport(proposer.name, track.name, asdict(scenario), results)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def case_description(case: str) -> str:
    return control_case(case).what
