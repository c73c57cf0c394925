"""The SFT teacher's MPC answers: short, readable rules of thumb, chosen by driving.

The oracle (evaluation/oracle.py) finds the best full parameter set for one prompt on one
track; its sets are specific to that track (11 values with decimals, different for every
speed) and a small model fine-tuned on them learns noise. The teacher instead offers a few
compact answers per case, each a function of the instruction's reference speed (a speed case
copies the speed it names; the candidates are the case's `teacher`, cases/control.py), drives
every candidate the model's parameter set can express on the training tracks for the training
prompts, and keeps, per case, the one with the fewest failures, then the most prompts whose
behaviour was achieved (the case's `achieved` check: the only measure of intents without an
RMSE, such as "faster" or "reset"), then the best mean clipped improvement. Every phrasing of a
case then gets the same rule, which is what the model should learn: how to read the
instruction, not one track's optimum.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..cases.control import ControlCase, Outcome, TeacherRule, control_case
from ..control.closed_loop import Scenario
from ..errors import Robotxr1Error, one_line
from ..evaluation.control_cases import EVAL_SCENARIO, CaseRun, ControlPrompt, score_params
from ..evaluation.control_eval import drive_outcome
from ..json_files import read_json
from ..params import PARAM_SETS, MpcParams, ParamError, param_set
from ..track import Track
from .rewards import clipped_improvement


@dataclass(frozen=True)
class RuleScore:
    case: str
    rule: str
    mean_improvement: float | None  # clipped, over the case's training prompts (None: no RMSE applies)
    failures: int
    achieved_rate: float | None = None  # share of the prompts whose `achieved` check passed
    mean_margin: float | None = None  # the case's `margin` over the achieved drives (None: it has none)
    tracks: tuple[str, ...] = ()  # driven on (empty: the training track of an older choice)

    def as_dict(self) -> dict[str, object]:
        return {"case": self.case, "rule": self.rule, "mean_improvement": self.mean_improvement,
                "failures": self.failures, "achieved_rate": self.achieved_rate, "mean_margin": self.mean_margin,
                "tracks": list(self.tracks)}

    @property
    def rank(self) -> tuple[float, float, float, float]:
        """Fewest failures first, then the most achieved, the best mean improvement, the widest margin."""
        return (self.failures, -(self.achieved_rate or 0.0), -(self.mean_improvement or 0.0),
                -(self.mean_margin or 0.0))


def within_set(changes: Mapping[str, float], param_set: str) -> dict[str, float] | None:
    """`changes` restricted to the parameter set, or None when they move a parameter outside it
    from its default (a reset names every parameter: the ones outside the set are left out)."""
    names, default = PARAM_SETS[param_set], MpcParams().as_dict()
    if any(name not in names and value != default[name] for name, value in changes.items()):
        return None
    return {name: value for name, value in changes.items() if name in names}


class _Baselines:
    """The default parameters' run per track and reference speed, driven once."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._runs: dict[tuple[str, float, str], CaseRun] = {}

    def of(self, track: Track, prompt: ControlPrompt) -> CaseRun:
        key = (track.name, prompt.reference_speed, prompt.case)
        if key not in self._runs:
            self._runs[key] = score_params(track, MpcParams(), prompt, self.scenario)
        return self._runs[key]


@dataclass(frozen=True)
class _Judged:
    score: float | None  # clipped improvement (None: no RMSE applies)
    failed: bool
    achieved: bool
    margin: float | None  # the case's margin of an achieved drive


def score_rule(tracks: Sequence[Track], rule: TeacherRule, prompts: Sequence[ControlPrompt], baselines: _Baselines,
               param_set: str) -> tuple[float | None, int, float, float | None]:
    """Mean clipped improvement (None where no RMSE applies), failures, achieved rate and mean
    margin (None: no margin) of `rule` over `prompts` on every track. Prompts the rule answers
    alike are driven once per track."""
    runs: dict[tuple, _Judged] = {}
    scores, failures, achieved, margins = [], 0, [], []
    for track in tracks:
        for prompt in prompts:
            case = control_case(prompt.case)
            changes = within_set(rule(prompt.reference_speed), param_set) or {}
            key = (track.name, tuple(sorted(changes.items())), prompt.case, prompt.reference_speed)
            if key not in runs:
                runs[key] = _judge(track, case, prompt, changes, baselines)
            judged = runs[key]
            failures += judged.failed
            achieved.append(judged.achieved)
            if judged.score is not None:
                scores.append(judged.score)
            if judged.margin is not None:
                margins.append(judged.margin)
    return (float(np.mean(scores)) if scores else None, failures, float(np.mean(achieved)),
            float(np.mean(margins)) if margins else None)


def _judge(track: Track, case: ControlCase, prompt: ControlPrompt, changes: Mapping[str, float],
           baselines: _Baselines) -> _Judged:
    start = case.start_params()
    params = start.updated(changes)
    if not case.drives:
        return _Judged(None, False, case.achieved(Outcome(params, start)), None)
    default = baselines.of(track, prompt)
    run = score_params(track, params, prompt, baselines.scenario)
    score = None if case.error is None else clipped_improvement(default.rmse, run.rmse)
    outcome = drive_outcome(params, default.baseline, run)
    achieved = not run.failure and case.achieved(outcome)
    return _Judged(score, bool(run.failure), achieved, case.margin(outcome) if achieved and case.margin else None)


@dataclass
class Teacher:
    """The chosen rule per case, with every candidate's score (the evidence for the choice), for
    the models asked about `param_set` (params.PARAM_SETS)."""

    rules: dict[str, str]
    scores: list[RuleScore]
    param_set: str = "paper"

    @classmethod
    def choose(cls, tracks: Sequence[Track], prompts: Sequence[ControlPrompt], scenario: Scenario = EVAL_SCENARIO,
               progress: Callable[[int], None] | None = None, param_set: str = "paper") -> Teacher:
        """Drive every candidate rule of every case that `param_set` can express, on every track,
        for that case's `prompts`; keep per case the best by RuleScore.rank (candidates are listed
        simplest first, and the first of equals wins)."""
        rules, scores = {}, []
        baselines = _Baselines(scenario)
        names = tuple(track.name for track in tracks)
        for case in sorted({prompt.case for prompt in prompts}):
            mine = [prompt for prompt in prompts if prompt.case == case]
            candidates = {name: rule for name, rule in control_case(case).teacher.items()
                          if all(within_set(rule(p.reference_speed), param_set) is not None for p in mine)}
            if not candidates:
                raise Robotxr1Error(f"no teacher candidate of case {case!r} fits the parameter set {param_set!r}")
            for name, rule in candidates.items():
                mean, failures, achieved, margin = score_rule(tracks, rule, mine, baselines, param_set)
                scores.append(RuleScore(case, name, mean, failures, achieved, margin, names))
                if progress:
                    progress(len(mine) * len(tracks))
            rules[case] = min((s for s in scores if s.case == case), key=lambda s: s.rank).rule
        return cls(rules, scores, param_set)

    def answer(self, prompt: ControlPrompt) -> dict[str, float]:
        changes = control_case(prompt.case).teacher[self.rules[prompt.case]](prompt.reference_speed)
        return within_set(changes, self.param_set) or {}

    def completed(self, tracks: Sequence[Track], prompts: Sequence[ControlPrompt], scenario: Scenario = EVAL_SCENARIO,
                  progress: Callable[[int], None] | None = None) -> Teacher:
        """This teacher with a rule chosen (by driving `tracks`) for every case of `prompts` it has none for."""
        missing = [prompt for prompt in prompts if prompt.case not in self.rules]
        if not missing:
            return self
        chosen = Teacher.choose(tracks, missing, scenario, progress, self.param_set)
        return Teacher({**self.rules, **chosen.rules}, self.scores + chosen.scores, self.param_set)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"param_set": self.param_set, "rules": self.rules,
                                    "scores": [s.as_dict() for s in self.scores]}, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Teacher:
        data = read_json(path, "the teacher file")
        try:
            scores = [RuleScore(**{**s, "tracks": tuple(s.get("tracks", ()))}) for s in data["scores"]]
            teacher = cls(dict(data["rules"]), scores, data.get("param_set", "paper"))
            param_set(teacher.param_set)
        except (KeyError, TypeError, ValueError, ParamError) as error:
            raise Robotxr1Error(f"{path}: not a teacher file ({type(error).__name__}: {one_line(error)})") from None
        return teacher


def packaged_teacher_file(name: str = "paper") -> Path:
    """The rules chosen by driving for the parameter set `name`, shipped so SFT data builds
    without driving: teacher.json for the paper's eleven, teacher.<set>.json for another set."""
    file = "teacher.json" if name == "paper" else f"teacher.{name}.json"
    return Path(str(resources.files("robotxr1_ros") / "data" / "training" / file))
