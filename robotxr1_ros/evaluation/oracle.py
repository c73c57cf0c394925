"""The oracle: the best parameter set a search in the simulator finds for a control prompt.

It is the ceiling the models chase, found with a fixed budget of rollouts per prompt: random
search (each parameter kept at the incumbent's value or drawn uniformly from its range), then
coordinate refinement (each parameter up and down by its own step, which halves whenever
neither direction improves), then pruning: every changed parameter goes back to its default if that
costs less than `prune_tolerance` of the RMSE, so the answer names only what matters. Seeded, so
the same budget gives the same answer. Results are cached in a JSON file committed with the
package, so evaluations do not repeat the search; each entry keeps the default RMSE it was
measured against, which tells when the simulator or the MPC has changed since (the cache is then
stale and the search must be rerun).

Prompts of one case share an oracle unless their reference speed differs (refvel).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..control.closed_loop import Scenario
from ..errors import Robotxr1Error, one_line
from ..json_files import read_json
from ..params import PARAM_NAMES, PARAM_SETS, PARAM_SPECS, MpcParams, ParamError
from ..track import Track
from .control_cases import EVAL_SCENARIO, ControlPrompt, improvement, score_params

ORACLE_VERSION = 1
STALE_TOLERANCE = 1e-6  # relative change of the default RMSE that marks a cache entry stale
MIN_STEP = 1e-3  # of a parameter's range: refinement stops when every step is smaller


def packaged_oracle_file() -> Path:
    return Path(str(resources.files("robotxr1_ros") / "data" / "oracle" / "oracle.json"))


@dataclass(frozen=True)
class SearchBudget:
    random: int = 150  # rollouts of random search (the defaults are the first)
    refine: int = 150  # rollouts of coordinate refinement
    seed: int = 0
    keep_probability: float = 0.5  # chance that a random candidate keeps a parameter's incumbent value
    first_step: float = 0.25  # of each parameter's range
    prune_tolerance: float = 0.02  # relative RMSE increase accepted to drop a change


@dataclass(frozen=True)
class OracleEntry:
    track: str
    case: str
    reference_speed: float
    params: dict[str, float]  # the full set
    rmse: float
    default_rmse: float
    improvement: float
    rollouts: int

    @property
    def key(self) -> tuple[str, str, float]:
        return (self.track, self.case, round(self.reference_speed, 3))

    def mpc_params(self) -> MpcParams:
        return MpcParams(**self.params)

    def changes(self) -> dict[str, float]:
        """The parameters that differ from the defaults."""
        default = MpcParams().as_dict()
        return {name: value for name, value in self.params.items() if not math.isclose(value, default[name])}


def _checked_entry(item: dict[str, Any]) -> OracleEntry:
    """An entry read from a cache file: its numbers are numbers, its parameters a valid set."""
    entry = OracleEntry(**item)
    numbers = (entry.reference_speed, entry.rmse, entry.default_rmse, entry.improvement)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
        raise ValueError(f"an entry's reference_speed, rmse, default_rmse and improvement must be finite numbers, "
                         f"got {numbers}")
    entry.mpc_params()
    return entry


def prompt_key(track: Track, prompt: ControlPrompt) -> tuple[str, str, float]:
    return (track.name, prompt.case, round(prompt.reference_speed, 3))


class _Objective:
    """Scores parameter sets for one prompt; counts every call against the budget."""

    def __init__(self, track: Track, prompt: ControlPrompt, scenario: Scenario,
                 progress: Callable[[int], None] | None) -> None:
        self.track, self.prompt, self.scenario, self.progress = track, prompt, scenario, progress
        self.seen: dict[tuple[float, ...], float] = {}
        self.calls = 0

    def __call__(self, params: MpcParams) -> float:
        self.calls += 1
        if self.progress:
            self.progress(1)
        key = tuple(params.as_dict().values())
        if key not in self.seen:
            self.seen[key] = score_params(self.track, params, self.prompt, self.scenario).rmse
        return self.seen[key]


def _span(name: str) -> float:
    return PARAM_SPECS[name].maximum - PARAM_SPECS[name].minimum


def _random_candidate(incumbent: MpcParams, rng: np.random.Generator, keep: float,
                      names: tuple[str, ...]) -> MpcParams:
    while True:
        values = incumbent.as_dict()
        for name in names:
            if rng.random() >= keep:
                spec = PARAM_SPECS[name]
                values[name] = float(rng.uniform(spec.minimum, spec.maximum))
        try:
            return MpcParams(**values)
        except ParamError:  # v_max < v_min: draw again
            continue


def _neighbours(incumbent: MpcParams, name: str, step: float) -> Iterable[MpcParams]:
    spec = PARAM_SPECS[name]
    current = getattr(incumbent, name)
    for value in (current + step, current - step):
        value = spec.clamp(value)
        if value == current:
            continue
        try:
            yield incumbent.updated({name: value})
        except ParamError:
            continue


def search(track: Track, prompt: ControlPrompt, budget: SearchBudget = SearchBudget(),
           scenario: Scenario = EVAL_SCENARIO, progress: Callable[[int], None] | None = None,
           param_set: str = "paper") -> OracleEntry:
    """Best parameters of `param_set` (params.PARAM_SETS; the cache holds the paper's) found for
    `prompt` on `track` within `budget` rollouts."""
    names = PARAM_SETS[param_set]
    objective = _Objective(track, prompt, scenario, progress)
    rng = np.random.default_rng(budget.seed)
    best = MpcParams()
    default_rmse = best_rmse = objective(best)
    while objective.calls < budget.random:
        candidate = _random_candidate(best, rng, budget.keep_probability, names)
        rmse = objective(candidate)
        if rmse < best_rmse:
            best, best_rmse = candidate, rmse
    steps = {name: budget.first_step * _span(name) for name in names}
    limit = budget.random + budget.refine
    while objective.calls < limit and any(steps[name] > MIN_STEP * _span(name) for name in names):
        for name in names:
            improved = False
            for candidate in _neighbours(best, name, steps[name]):
                if objective.calls >= limit:
                    break
                rmse = objective(candidate)
                if rmse < best_rmse:
                    best, best_rmse, improved = candidate, rmse, True
                    break
            if not improved:
                steps[name] *= 0.5
    best, best_rmse = _prune(best, best_rmse, objective, budget.prune_tolerance)
    return OracleEntry(track.name, prompt.case, prompt.reference_speed, best.as_dict(), best_rmse, default_rmse,
                       improvement(default_rmse, best_rmse), objective.calls)


def _prune(best: MpcParams, best_rmse: float, objective: _Objective, tolerance: float) -> tuple[MpcParams, float]:
    """Reset changed parameters to their defaults while the RMSE stays within `tolerance`."""
    default = MpcParams()
    allowed = best_rmse * (1.0 + tolerance)
    for name in PARAM_NAMES:
        if getattr(best, name) == getattr(default, name):
            continue
        try:
            candidate = best.updated({name: getattr(default, name)})
        except ParamError:
            continue
        rmse = objective(candidate)
        if rmse <= allowed:
            best, best_rmse = candidate, rmse
    return best, best_rmse


class OracleCache:
    """Oracle entries by (track, case, reference speed), stored as JSON."""

    def __init__(self, entries: Iterable[OracleEntry] = (), budget: SearchBudget = SearchBudget(),
                 scenario: Scenario = EVAL_SCENARIO) -> None:
        self.entries = {entry.key: entry for entry in entries}
        self.budget = budget
        self.scenario = scenario

    @classmethod
    def load(cls, path: str | Path | None = None) -> OracleCache:
        path = Path(path) if path is not None else packaged_oracle_file()
        if not path.exists():
            return cls()
        data = read_json(path, "the oracle cache")
        try:
            return cls((_checked_entry(entry) for entry in data["entries"]), SearchBudget(**data["budget"]),
                       Scenario(**data["scenario"]))
        except (KeyError, TypeError, ValueError) as error:
            raise Robotxr1Error(f"{path}: not an oracle cache ({type(error).__name__}: {one_line(error)})") from None

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path is not None else packaged_oracle_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = sorted(self.entries.values(), key=lambda e: e.key)
        data: dict[str, Any] = {"version": ORACLE_VERSION, "budget": asdict(self.budget),
                                "scenario": asdict(self.scenario), "entries": [asdict(entry) for entry in entries]}
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        return path

    def get(self, track: Track, prompt: ControlPrompt) -> OracleEntry | None:
        return self.entries.get(prompt_key(track, prompt))

    def require(self, track: Track, prompt: ControlPrompt) -> OracleEntry:
        entry = self.get(track, prompt)
        if entry is None:
            raise Robotxr1Error(f"no oracle for {prompt.case!r} at {prompt.reference_speed} m/s on track "
                                f"{track.name!r}; run `robotxr1 eval oracle --track {track.name}` first")
        return entry

    def add(self, entry: OracleEntry) -> None:
        self.entries[entry.key] = entry

    def is_stale(self, entry: OracleEntry, default_rmse: float) -> bool:
        """Whether the default RMSE measured now differs from the one the entry was found against."""
        return abs(default_rmse - entry.default_rmse) > STALE_TOLERANCE * max(1.0, abs(entry.default_rmse))
