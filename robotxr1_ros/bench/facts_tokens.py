"""What the facts lines (cases/facts.py) cost in prompt tokens: every question of the stress suite
about every one of its windows, the decision prompt counted by the model's own tokenizer without
and with facts. The issue that asked for the facts allows 15 % more prompt tokens."""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import Robotxr1Error
from ..evaluation.decision_dataset import MIN_RECORD_SAMPLES, Dataset
from ..llm.backends import Backend
from ..llm.decision import decision_prompt
from ..llm.features import StateFeatures, features_from_record


def facts_token_growth(backend: Backend, datasets: Sequence[Dataset], questions: Sequence[str]) -> dict[str, Any]:
    """Prompt tokens without and with facts per (window, question); growth = with / without - 1."""
    states = [state for dataset in datasets for record in dataset.records
              if isinstance(state := features_from_record(record, min_samples=MIN_RECORD_SAMPLES), StateFeatures)]
    per_question: dict[str, list[tuple[int, int]]] = {}
    for question in questions:
        counts = per_question.setdefault(question, [])
        for state in states:
            counts.append((_tokens(backend, decision_prompt(question, state)),
                           _tokens(backend, decision_prompt(question, state, facts=True))))
    pairs = [pair for counts in per_question.values() for pair in counts]
    return {"windows": len(states), "questions": len(questions), "prompts": len(pairs), **_growth(pairs),
            "per_question": {question: _growth(counts) for question, counts in per_question.items()}}


def _tokens(backend: Backend, messages: Sequence[Mapping[str, str]]) -> int:
    count = backend.count_tokens(list(messages))
    if count is None:
        raise Robotxr1Error(f"{type(backend).__name__} cannot count tokens: the benchmark needs a local model")
    return count


def _growth(pairs: Sequence[tuple[int, int]]) -> dict[str, float]:
    without = [a for a, _ in pairs]
    with_facts = [b for _, b in pairs]
    growth = [b / a - 1.0 for a, b in pairs]
    return {"tokens_without_mean": round(statistics.fmean(without), 1),
            "tokens_with_mean": round(statistics.fmean(with_facts), 1),
            "growth_mean": round(statistics.fmean(with_facts) / statistics.fmean(without) - 1.0, 4),
            "growth_max": round(max(growth), 4)}
