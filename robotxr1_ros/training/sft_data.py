"""The SFT warm start's examples, made without any cloud model.

MPC examples: each training prompt (training.train_prompts: never an eval phrasing or speed)
with the prompt the car builds (llm.tuning.tuning_prompt: the same system prompt and retrieved
memories), and as target an answer in the exact on-board format whose parameters are the
teacher's rule for the case (training.teacher: compact answers chosen by driving the training
track), with a short reasoning that opens with the case's goal (cases/control.py) and names the
changes from the parameter table.

Decision examples: state windows driven on the training track (training.decision_windows), each
with the instructions it adheres to and a few it does not, in their training phrasings, the
prompt the car builds (llm.decision.decision_prompt) and as target the rule label, alone
when the car reads the verdict alone (DECISION_REASONING_CHARS 0), else after a reasoning that
quotes the quantities the rule looks at (its `evidence`, cases/decision.py).

Targets are what the car's grammars admit (values rounded to the grammar's decimals, names in
table order, reasoning within the car's bound and without '<'): training and inference see the
same answer shape.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cases.control import control_case
from ..cases.decision import decision_rule
from ..cases.summary import WindowSummary
from ..evaluation.control_cases import ControlPrompt
from ..llm.answer_format import ANSWER_TAG, VERDICT_FALSE, VERDICT_TRUE, decision_answer, mpc_answer, wrap
from ..llm.decision import DECISION_REASONING_CHARS, decision_prompt
from ..llm.grammar import ANSWER_ONLY, FRACTION_DIGITS
from ..llm.tuning import tuning_prompt
from ..params import PARAM_NAMES, PARAM_SPECS, MpcParams, set_specs
from .decision_windows import asked_questions
from .teacher import Teacher
from .train_prompts import train_prompts

MPC = "mpc"
DECISION = "decision"
# Training targets name every change in up to 60 characters, longer than the car's grammar bound
# (tuning.TUNING_REASONING_CHARS): the model learns the whole plan, and the car's grammar cuts it
# after the main change, which answers no worse and sooner (measured there).
TARGET_REASONING_CHARS = 60
UNIT_EXAMPLES = 4  # decision examples of one instruction run side by side


@dataclass(frozen=True)
class SftExample:
    kind: str  # MPC or DECISION
    messages: list[dict[str, str]]
    answer: str
    meta: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def answer_values(changes: Mapping[str, float]) -> dict[str, float]:
    """Changes rounded as the grammar writes numbers, in table order, still a valid parameter set.

    >>> answer_values({'v_max': 2.20787, 'v_min': 1.0})
    {'v_min': 1.0, 'v_max': 2.21}
    """
    values = {name: round(float(changes[name]), FRACTION_DIGITS) for name in PARAM_NAMES if name in changes}
    MpcParams().updated(values)  # raises if rounding broke a range or v_min <= v_max
    return values


def control_reasoning(prompt: ControlPrompt, values: Mapping[str, float], limit: int = TARGET_REASONING_CHARS) -> str:
    """The goal and as many of the changes as fit in `limit` characters, largest change first.

    >>> control_reasoning(ControlPrompt.of('reverse', 'Back up.'), {'v_min': -1.0, 'v_max': -1.0})
    'To drive backwards: v_max down to -1, v_min down to -1.'
    """
    default = MpcParams().as_dict()

    def relative_change(name: str) -> float:
        spec = PARAM_SPECS[name]
        return abs(values[name] - default[name]) / (spec.maximum - spec.minimum)

    text = f"To {control_case(prompt.case).goal.format(speed=prompt.reference_speed)}: "
    for name in sorted(values, key=relative_change, reverse=True):
        change = "up to" if values[name] > default[name] else "down to" if values[name] < default[name] else "at"
        part = f"{name} {change} {values[name]:g}"
        if len(text) + len(part) + 3 > limit:
            break
        text += ("" if text.endswith(": ") else ", ") + part
    return (text.rstrip(": ") + ".").replace("<", "")


def mpc_examples(teacher: Teacher, prompts: Sequence[ControlPrompt] | None = None,
                 reasoning_chars: int = TARGET_REASONING_CHARS) -> list[SftExample]:
    examples = []
    specs = set_specs(teacher.param_set)
    for prompt in prompts if prompts is not None else train_prompts():
        values = answer_values(teacher.answer(prompt))
        # Every parameter at its default is written as {**defaults}: one choice, not 13 numbers.
        from_defaults = all(values.get(spec.name) == spec.default for spec in specs)
        if from_defaults:
            values = {}
        examples.append(SftExample(MPC, tuning_prompt(prompt.text, specs),
                                   mpc_answer(control_reasoning(prompt, values, reasoning_chars), values,
                                              from_defaults),
                                   {"case": prompt.case, "instruction": prompt.text,
                                    "reference_speed": prompt.reference_speed,
                                    "rule": teacher.rules[prompt.case], "param_set": teacher.param_set}))
    return examples


def decision_target(instruction: str, record: Mapping[str, Any], adheres: bool,
                    reasoning_chars: int = DECISION_REASONING_CHARS) -> str:
    """The verdict alone (reasoning_chars 0, as the car reads it), else after the evidence."""
    if reasoning_chars == ANSWER_ONLY:
        return wrap(ANSWER_TAG, VERDICT_TRUE if adheres else VERDICT_FALSE)
    verdict = "the car does what is asked" if adheres else "the car does not do what is asked"
    evidence = decision_rule(instruction).evidence(WindowSummary(record))
    reasoning = f"{evidence.capitalize()}, so {verdict}."[:reasoning_chars].replace("<", "")
    return decision_answer(reasoning, adheres)


def decision_examples(records: Iterable[Mapping[str, Any]], others: int = 2, seed: int = 0,
                      reasoning_chars: int = DECISION_REASONING_CHARS, facts: bool = False,
                      threshold_share: float = 0.0) -> list[SftExample]:
    """Per record, every rule it adheres to and `others` it does not, each asked in one of its
    phrasings (decision_windows.questions_for). Examples of one instruction come in units of
    UNIT_EXAMPLES, so a step runs them together and their shared prompt prefix once. `facts`: the
    prompts with the facts lines (llm.decision.DecisionxR1's `facts`). `threshold_share`: of the
    questions about a rule with thresholds, the share asked at a random one (decision_windows.ask)."""
    rng = np.random.default_rng([seed, 11])
    examples = [SftExample(DECISION, decision_prompt(asked.question.text, asked.state, facts=facts),
                           decision_target(asked.question.rule, asked.record, asked.adheres, reasoning_chars),
                           {"instruction": asked.question.text, "rule": asked.question.rule, "label": asked.adheres,
                            "window": asked.window, "behaviour": asked.record.get("behaviour", "")})
                for asked in asked_questions(records, rng, others, threshold_share)]
    # Units of one instruction about windows drawn across all drives: neighbouring windows come
    # from one drive and mostly share their label, which would leave a step a few distinct cases.
    by_instruction: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        by_instruction.setdefault(example.meta["instruction"], []).append(index)
    for text, indices in by_instruction.items():
        for position, index in enumerate(rng.permutation(indices)):
            examples[index].meta["unit"] = f"{text} #{position // UNIT_EXAMPLES}"
    return examples


def write_examples(path: str | Path, examples: Sequence[SftExample]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(example.as_dict()) + "\n" for example in examples), encoding="utf-8")
    return path


def read_examples(path: str | Path) -> list[SftExample]:
    return [SftExample(**json.loads(line)) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
