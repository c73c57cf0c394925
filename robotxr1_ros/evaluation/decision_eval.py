"""Decision accuracy: the fraction of (instruction, state window) pairs where the model's verdict
equals the rule label (labels.py).

Every dataset record is asked every one of the eight instructions, as in the reference tester.
The model is asked through the LLM layer's DecisionxR1 (prompt, hints, grammar, parser); an
answer without a readable verdict counts as wrong. `mini` keeps every fifth record (the
reference's mini test).
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from ..llm.decision import DecisionxR1
from ..llm.features import features_from_record
from .decision_dataset import MIN_RECORD_SAMPLES, Dataset
from .labels import DECISION_INSTRUCTIONS, label

MINI_STRIDE = 5


@dataclass
class DecisionCall:
    dataset: str
    index: int  # record index in the dataset file
    instruction: str
    expected: bool
    verdict: bool | None  # None: no verdict could be read
    status: str
    output: str
    latency_s: float
    prompt_tokens: int
    completion_tokens: int

    @property
    def correct(self) -> bool:
        return self.verdict is self.expected


@dataclass
class DecisionReport:
    model: str
    calls: list[DecisionCall]
    wrong: list[dict[str, Any]]  # every wrong answer with its prompt
    settings: dict[str, Any] = field(default_factory=dict)
    dataset_notes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what loading repaired, per dataset

    def summary(self) -> dict[str, Any]:
        return {
            **_accuracy(self.calls),
            "per_instruction": {i: _accuracy([c for c in self.calls if c.instruction == i])
                                for i in dict.fromkeys(c.instruction for c in self.calls)},
            "per_dataset": {d: _accuracy([c for c in self.calls if c.dataset == d])
                            for d in dict.fromkeys(c.dataset for c in self.calls)},
            "per_dataset_instruction": {
                d: {i: _accuracy([c for c in self.calls if c.dataset == d and c.instruction == i])["accuracy"]
                    for i in dict.fromkeys(c.instruction for c in self.calls)}
                for d in dict.fromkeys(c.dataset for c in self.calls)},
        }

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "decision", "model": self.model, "settings": self.settings, "summary": self.summary(),
                "dataset_notes": {name: list(notes) for name, notes in self.dataset_notes.items()},
                "calls": [asdict(c) for c in self.calls]}


def _accuracy(calls: Sequence[DecisionCall]) -> dict[str, Any]:
    n = len(calls)
    latencies = [c.latency_s for c in calls]
    return {
        "n": n,
        "accuracy": sum(c.correct for c in calls) / n if n else None,
        "parse_rate": sum(c.verdict is not None for c in calls) / n if n else None,
        "label_true_rate": sum(c.expected for c in calls) / n if n else None,
        "latency_s_mean": statistics.fmean(latencies) if latencies else None,
        "completion_tokens_mean": statistics.fmean(c.completion_tokens for c in calls) if n else None,
    }


def selected_records(dataset: Dataset, mini: bool) -> list[tuple[int, dict[str, Any]]]:
    indexed = list(enumerate(dataset.records))
    return indexed[::MINI_STRIDE] if mini else indexed


def evaluate_decision(decider: DecisionxR1, datasets: Sequence[Dataset], model: str, mini: bool = False,
                      instructions: Sequence[str] = DECISION_INSTRUCTIONS,
                      progress: Callable[[], None] | None = None) -> DecisionReport:
    """Ask `decider` every instruction about every (selected) record of every dataset."""
    calls: list[DecisionCall] = []
    wrong: list[dict[str, Any]] = []
    for dataset in datasets:
        for index, record in selected_records(dataset, mini):
            state = features_from_record(record, min_samples=MIN_RECORD_SAMPLES)
            for instruction in instructions:
                decision = decider.decide(instruction, state)
                completion = decision.completion
                call = DecisionCall(dataset.name, index, instruction, label(instruction, record), decision.adheres,
                                    decision.status, completion.text if completion else "",
                                    completion.latency_s if completion else 0.0,
                                    completion.prompt_tokens if completion else 0,
                                    completion.completion_tokens if completion else 0)
                calls.append(call)
                if not call.correct:
                    wrong.append({"dataset": dataset.name, "index": index, "instruction": instruction,
                                  "expected": call.expected, "verdict": call.verdict, "status": call.status,
                                  "prompt": decider.messages(instruction, state), "output": call.output})
                if progress:
                    progress()
    return DecisionReport(model, calls, wrong,
                          dataset_notes={dataset.name: dataset.notes for dataset in datasets if dataset.notes})


def total_calls(datasets: Sequence[Dataset], mini: bool, instructions: Sequence[str] = DECISION_INSTRUCTIONS) -> int:
    return sum(len(selected_records(d, mini)) for d in datasets) * len(instructions)
