"""Decision accuracy: the fraction of (instruction, state window) pairs where the model's verdict
equals the rule label (cases/decision.py).

Every dataset record is asked every decision instruction (the eight), as in the reference tester.
The model is asked through the LLM layer's DecisionxR1 (prompt, hints, grammar, parser); an
answer without a readable verdict counts as wrong. `mini` keeps every fifth record (the
reference's mini test).

With `workers` > 1 the work is shared out to worker processes, each with its own model
instance built by a picklable factory; the calls are reported in dataset/record order. A call's
verdict depends only on its prompt (greedy, no state carried between calls but the KV cache of
a common prefix, which does not change the numbers), so any number of workers gives the same
report but for the latencies.
"""
from __future__ import annotations

import multiprocessing
import statistics
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from ..cases.decision import Judge, decision_instructions, label
from ..cases.summary import WindowSummary
from ..errors import Robotxr1Error
from ..llm.decision import DecisionxR1
from ..llm.features import StateFeatures, features_from_record
from .decision_dataset import MIN_RECORD_SAMPLES, Dataset

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


Record = tuple[str, int, dict[str, Any]]  # dataset name, record index, record
Unit = tuple[str, tuple[Record, ...], tuple[bool, ...]]  # an instruction, the records it is asked about, their labels
UnitResult = tuple[list["DecisionCall"], list[dict[str, Any]]]  # the calls of a unit, and the wrong ones
UNIT_RECORDS = 16  # records per unit of work: enough to keep the instruction cached, small for progress


def evaluate_decision(decider: DecisionxR1 | Callable[[], DecisionxR1], datasets: Sequence[Dataset], model: str,
                      mini: bool = False, instructions: Sequence[str] | None = None,
                      progress: Callable[[], None] | None = None, workers: int = 1,
                      judges: Mapping[str, Judge] | None = None) -> DecisionReport:
    """Ask every instruction (default: every rule's) about every (selected) record of every dataset.
    `decider` is a DecisionxR1, or a picklable factory of one (needed for `workers` > 1: one per process).
    `judges` labels the instructions that are not a rule's (a rule's variant at another threshold);
    the labels are computed here, so the workers need no judge.

    One instruction is asked about many records in a row, as on the car (the same instruction, a
    new state every period): the prompt up to the state stays in the model's KV cache. The calls
    are reported in dataset / record / instruction order whatever the order of work.
    """
    if workers < 1:
        raise Robotxr1Error(f"workers must be >= 1, got {workers}")
    instructions = decision_instructions() if instructions is None else instructions
    records = [(dataset.name, index, record)
               for dataset in datasets for index, record in selected_records(dataset, mini)]
    judges = judges or {}

    def expected(instruction: str, record: dict[str, Any]) -> bool:
        judge = judges.get(instruction)
        return judge(WindowSummary(record)) if judge else label(instruction, record)

    chunks = [(instruction, tuple(records[start:start + UNIT_RECORDS]))
              for instruction in instructions for start in range(0, len(records), UNIT_RECORDS)]
    units = [(instruction, chunk, tuple(expected(instruction, record) for _, _, record in chunk))
             for instruction, chunk in chunks]
    if workers == 1:
        local = decider if isinstance(decider, DecisionxR1) else decider()
        report = _collect((evaluate_unit(local, *unit) for unit in units), progress)
    else:
        if isinstance(decider, DecisionxR1):
            raise Robotxr1Error("parallel evaluation needs a factory of deciders (one model per worker process)")
        context = multiprocessing.get_context("spawn")  # no llama.cpp/OpenMP state inherited through fork
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(decider,)) as pool:
            report = _collect(pool.map(_worker_unit, units), progress)
    position = {(name, index): rank for rank, (name, index, _) in enumerate(records)}
    asked = {instruction: rank for rank, instruction in enumerate(instructions)}
    report.calls.sort(key=lambda call: (position[call.dataset, call.index], asked[call.instruction]))
    report.wrong.sort(key=lambda wrong: (position[wrong["dataset"], wrong["index"]], asked[wrong["instruction"]]))
    report.model = model
    report.dataset_notes = {dataset.name: dataset.notes for dataset in datasets if dataset.notes}
    return report


def evaluate_unit(decider: DecisionxR1, instruction: str, records: Sequence[Record],
                  labels: Sequence[bool]) -> UnitResult:
    """`instruction` about each of `records`, one after the other; `labels` are theirs."""
    calls, wrong = [], []
    for (dataset, index, record), expected in zip(records, labels, strict=True):
        state = features_from_record(record, min_samples=MIN_RECORD_SAMPLES)
        decision = decider.decide(instruction, state)
        completion = decision.completion
        call = DecisionCall(dataset, index, instruction, expected, decision.adheres,
                            decision.status, completion.text if completion else "",
                            completion.latency_s if completion else 0.0,
                            completion.prompt_tokens if completion else 0,
                            completion.completion_tokens if completion else 0)
        calls.append(call)
        if not call.correct:
            # A record too short to judge reaches no model: there is no prompt to log.
            prompt = decider.messages(instruction, state) if isinstance(state, StateFeatures) else None
            wrong.append({"dataset": dataset, "index": index, "instruction": instruction,
                          "expected": call.expected, "verdict": call.verdict, "status": call.status,
                          "prompt": prompt, "output": call.output})
    return calls, wrong


def _collect(results, progress: Callable[[], None] | None) -> DecisionReport:
    calls: list[DecisionCall] = []
    wrong: list[dict[str, Any]] = []
    for unit_calls, unit_wrong in results:
        calls.extend(unit_calls)
        wrong.extend(unit_wrong)
        if progress:
            for _ in unit_calls:
                progress()
    return DecisionReport("", calls, wrong)


_worker: DecisionxR1 | None = None  # the decider of this worker process


def _start_worker(factory: Callable[[], DecisionxR1]) -> None:
    global _worker
    _worker = factory()


def _worker_unit(unit: Unit) -> UnitResult:
    assert _worker is not None, "_start_worker runs first in every worker process"
    return evaluate_unit(_worker, *unit)


def total_calls(datasets: Sequence[Dataset], mini: bool, instructions: Sequence[str] | None = None) -> int:
    asked = decision_instructions() if instructions is None else instructions
    return sum(len(selected_records(d, mini)) for d in datasets) * len(asked)
