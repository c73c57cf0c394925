"""The SFT teacher's MPC answers: short, readable rules of thumb, chosen by driving.

The oracle (evaluation/oracle.py) finds the best full parameter set for one prompt on one
track; its sets are specific to that track (11 values with decimals, different for every
speed) and a small model fine-tuned on them learns noise. The teacher instead offers a few
compact answers per case, each a function of the instruction's reference speed (a speed case
copies the speed it names; the candidates are the case's `teacher`, cases/control.py), drives
every candidate on the training track for the training prompts, and keeps, per case, the one
with the best mean clipped improvement. Every phrasing of a case then gets the same rule, which
is what the model should learn: how to read the instruction, not one track's optimum.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..cases.control import TeacherRule, control_case
from ..control.closed_loop import Scenario
from ..errors import Robotxr1Error, one_line
from ..evaluation.control_cases import EVAL_SCENARIO, ControlPrompt, score_params
from ..json_files import read_json
from ..params import MpcParams
from ..track import Track
from .rewards import clipped_improvement


@dataclass(frozen=True)
class RuleScore:
    case: str
    rule: str
    mean_improvement: float  # clipped, over the case's training prompts
    failures: int

    def as_dict(self) -> dict[str, object]:
        return {"case": self.case, "rule": self.rule, "mean_improvement": self.mean_improvement,
                "failures": self.failures}


def score_rule(track: Track, rule: TeacherRule, prompts: Sequence[ControlPrompt], defaults: Mapping[float, float],
               scenario: Scenario = EVAL_SCENARIO) -> tuple[float, int]:
    """Mean clipped improvement and failure count of `rule` over `prompts`; `defaults` maps a
    prompt's reference speed to the default parameters' RMSE. A rule that gives the same
    parameters for prompts scored alike (every phrasing of a case but the speed ones) is driven once."""
    runs: dict[tuple, tuple[float, bool]] = {}
    scores, failures = [], 0
    for prompt in prompts:
        changes = rule(prompt.reference_speed)
        key = (tuple(sorted(changes.items())), prompt.case, prompt.reference_speed)
        if key not in runs:
            run = score_params(track, MpcParams().updated(changes), prompt, scenario)
            runs[key] = (run.rmse, bool(run.failure))
        rmse, failed = runs[key]
        failures += failed
        scores.append(clipped_improvement(defaults[prompt.reference_speed], rmse))
    return float(np.mean(scores)), failures


@dataclass
class Teacher:
    """The chosen rule per case, with every candidate's score (the evidence for the choice)."""

    rules: dict[str, str]
    scores: list[RuleScore]

    @classmethod
    def choose(cls, track: Track, prompts: Sequence[ControlPrompt], scenario: Scenario = EVAL_SCENARIO,
               progress: Callable[[int], None] | None = None) -> Teacher:
        """Drive every candidate rule of every case on `track` for that case's `prompts`."""
        rules, scores = {}, []
        for case in sorted({prompt.case for prompt in prompts}):
            mine = [prompt for prompt in prompts if prompt.case == case]
            speeds = {prompt.reference_speed: prompt for prompt in mine}  # one default run per speed
            defaults = {speed: score_params(track, MpcParams(), prompt, scenario).rmse
                        for speed, prompt in speeds.items()}
            for name, rule in control_case(case).teacher.items():
                mean, failures = score_rule(track, rule, mine, defaults, scenario)
                scores.append(RuleScore(case, name, mean, failures))
                if progress:
                    progress(len(mine))
            # Fewest failures first, then the best mean; candidates are listed simplest first.
            best = min((s for s in scores if s.case == case), key=lambda s: (s.failures, -s.mean_improvement))
            rules[case] = best.rule
        return cls(rules, scores)

    def answer(self, prompt: ControlPrompt) -> dict[str, float]:
        return control_case(prompt.case).teacher[self.rules[prompt.case]](prompt.reference_speed)

    def completed(self, track: Track, prompts: Sequence[ControlPrompt], scenario: Scenario = EVAL_SCENARIO,
                  progress: Callable[[int], None] | None = None) -> Teacher:
        """This teacher with a rule chosen (by driving `track`) for every case of `prompts` it has none for."""
        missing = [prompt for prompt in prompts if prompt.case not in self.rules]
        if not missing:
            return self
        chosen = Teacher.choose(track, missing, scenario, progress)
        return Teacher({**self.rules, **chosen.rules}, self.scores + chosen.scores)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rules": self.rules, "scores": [s.as_dict() for s in self.scores]}, indent=1),
                        encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Teacher:
        data = read_json(path, "the teacher file")
        try:
            return cls(dict(data["rules"]), [RuleScore(**s) for s in data["scores"]])
        except (KeyError, TypeError, ValueError) as error:
            raise Robotxr1Error(f"{path}: not a teacher file ({type(error).__name__}: {one_line(error)})") from None


def packaged_teacher_file() -> Path:
    """The rules chosen on the training track, shipped so SFT data builds without driving."""
    return Path(str(resources.files("robotxr1_ros") / "data" / "training" / "teacher.json"))
