"""Where the time of an LLM answer goes, for both modules, cold and warm.

DecisionxR1 is asked about recorded state windows (the packaged decision datasets, a new window
each call, as on the car); MPCxR1 about the held-out evaluation phrasings. "cold" empties the KV
cache before every call (every prompt token is evaluated); "warm" keeps what the previous call
left, as the on-board node does (the static system prompt stays cached).

Per call: end-to-end time (retrieval, prompt, model, parse), prompt tokens evaluated vs cached,
prompt-evaluation time, generated tokens (and how many of them the grammar forced, evaluated in
batches instead of decoded one by one) and decode speed, the grammar's share of decoding,
parsing, and the process CPU time (on a loaded machine wall time stretches, CPU time much less).
Beside each call, llama.cpp alone doing the same work on the same context (Backend.raw_decode_s), and the
pipeline's time as a multiple of it ("x raw"): the overhead of everything that is not the model.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from ..cases.control import eval_phrasings
from ..cases.decision import decision_instructions
from ..evaluation.decision_dataset import MIN_RECORD_SAMPLES, find_datasets, load_dataset
from ..llm.backends import Backend, Completion
from ..llm.decision import DecisionxR1, decision_from_text
from ..llm.features import InsufficientData, StateFeatures, features_from_record
from ..llm.module_pair import AnswerSettings
from ..llm.tuning import MPCxR1, tuning_from_text

PHASES = ("cold", "warm")
WINDOWS_PER_INSTRUCTION = 4  # decision benchmark: windows asked per instruction, in a row


@dataclass(frozen=True)
class CallTiming:
    total_s: float  # the module's call, end to end
    cpu_s: float  # process CPU time during the call (all threads)
    prompt_tokens: int
    cached_tokens: int
    prompt_eval_s: float | None
    completion_tokens: int
    forced_tokens: int  # of completion_tokens, the grammar's forced text (jump_forward)
    decode_s: float | None
    grammar_s: float | None
    parse_s: float
    ok: bool  # a verdict / a parameter dict was read
    raw_s: float | None = None  # the model alone doing the same work (Backend.raw_decode_s), where it can tell

    @classmethod
    def of(cls, total_s: float, cpu_s: float, completion: Completion, parse_s: float, ok: bool,
           backend: Backend) -> CallTiming:
        return cls(total_s, cpu_s, completion.prompt_tokens, completion.cached_tokens, completion.prompt_eval_s,
                   completion.completion_tokens, completion.forced_tokens, completion.decode_s, completion.grammar_s,
                   parse_s, ok, backend.raw_decode_s(completion))

    @property
    def raw_ratio(self) -> float | None:
        return self.total_s / self.raw_s if self.raw_s else None


def decision_inputs(count: int) -> list[tuple[str, StateFeatures | InsufficientData]]:
    """`count` (instruction, state window) pairs spread over the packaged datasets, asked as the car
    asks: each instruction about WINDOWS_PER_INSTRUCTION windows in a row (a new window every
    period until the instruction changes), so a warm call finds the instruction in the KV cache."""
    datasets = [load_dataset(path) for path in find_datasets(None)]
    instructions = decision_instructions()
    pairs = []
    for i in range(count):
        dataset = datasets[i % len(datasets)]
        record = dataset.records[(i // len(datasets) * 7) % len(dataset.records)]
        instruction = instructions[(i // WINDOWS_PER_INSTRUCTION) % len(instructions)]
        pairs.append((instruction, features_from_record(record, min_samples=MIN_RECORD_SAMPLES)))
    return pairs


def never_stop() -> bool:
    """The LLM node's calls carry a stop check (llama.cpp's abort callback asks it during a prompt):
    timed the same way."""
    return False


def time_decision(decider: DecisionxR1, instruction: str, state: StateFeatures | InsufficientData) -> CallTiming:
    wall, cpu = time.perf_counter(), time.process_time()
    decision = decider.decide(instruction, state, stop=never_stop)
    total, cpu_used = time.perf_counter() - wall, time.process_time() - cpu
    assert decision.completion is not None, "load_dataset admits only windows the model is asked about"
    parse_start = time.perf_counter()
    decision_from_text(instruction, decision.completion)
    return CallTiming.of(total, cpu_used, decision.completion, time.perf_counter() - parse_start,
                         decision.adheres is not None, decider.backend)


def time_tuning(tuner: MPCxR1, instruction: str) -> CallTiming:
    wall, cpu = time.perf_counter(), time.process_time()
    tuning = tuner.tune(instruction, stop=never_stop)
    total, cpu_used = time.perf_counter() - wall, time.process_time() - cpu
    parse_start = time.perf_counter()
    tuning_from_text(instruction, tuning.completion)
    return CallTiming.of(total, cpu_used, tuning.completion, time.perf_counter() - parse_start, tuning.update.found,
                         tuner.backend)


def run_phases(backend: Backend, calls: Sequence[Callable[[], CallTiming]]) -> dict[str, dict[str, Any]]:
    """Every call cold, then warm (one unmeasured call first fills the cache)."""
    cold = []
    for call in calls:
        backend.reset_cache()
        cold.append(call())
    backend.reset_cache()
    calls[-1]()
    warm = [call() for call in calls]
    return {"cold": summarize(cold), "warm": summarize(warm)}


def bench_llm(settings: AnswerSettings, decision: Backend | None = None, tuning: Backend | None = None, *,
              decisions: int = 16, instructions: Sequence[str] | None = None) -> dict[str, Any]:
    """The modules given a backend, each built by `settings` (the same backend twice is fine;
    each phase starts from its own cache state)."""
    result: dict[str, Any] = {"load_before": _load()}
    if decision is not None:
        decider = settings.decision(decision)
        pairs = decision_inputs(decisions)
        result["decision"] = {"calls": len(pairs), "options": settings.options("decision"),
                              **run_phases(decider.backend,
                                           [partial(time_decision, decider, i, s) for i, s in pairs])}
    if tuning is not None:
        tuner = settings.tuning(tuning)
        texts = list(instructions) if instructions is not None else [text for _, text in eval_phrasings()]
        result["tuning"] = {"calls": len(texts), "options": settings.options("tuning"),
                            **run_phases(tuner.backend, [partial(time_tuning, tuner, t) for t in texts])}
    result["load_after"] = _load()
    return result


def summarize(runs: Sequence[CallTiming]) -> dict[str, Any]:
    def median(values):
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 4) if values else None

    totals = sorted(run.total_s for run in runs)
    evaluated = [run.prompt_tokens - run.cached_tokens for run in runs]
    prompt_rate = [(run.prompt_tokens - run.cached_tokens) / run.prompt_eval_s for run in runs if run.prompt_eval_s]
    decode_rate = [run.completion_tokens / run.decode_s for run in runs if run.decode_s]
    return {
        "median_s": round(statistics.median(totals), 3),
        "p90_s": round(totals[min(len(totals) - 1, int(0.9 * len(totals)))], 3),
        "cpu_s_median": median(run.cpu_s for run in runs),
        "prompt_tokens": median(run.prompt_tokens for run in runs),
        "cached_tokens": median(run.cached_tokens for run in runs),
        "evaluated_tokens": median(evaluated),
        "prompt_eval_s": median(run.prompt_eval_s for run in runs),
        "prompt_tokens_per_s": median(prompt_rate),
        "completion_tokens": median(run.completion_tokens for run in runs),
        "forced_tokens": median(run.forced_tokens for run in runs),
        "decode_s": median(run.decode_s for run in runs),
        "decode_tokens_per_s": median(decode_rate),
        "grammar_s": median(run.grammar_s for run in runs),
        "parse_ms": round(1000 * statistics.median(run.parse_s for run in runs), 3),
        "raw_s": median(run.raw_s for run in runs),
        "raw_ratio": median(run.raw_ratio for run in runs),  # per call, paired
        "ok_rate": round(sum(run.ok for run in runs) / len(runs), 3),
        "runs": [asdict(run) for run in runs],
    }


def table(result: dict[str, Any]) -> str:
    columns = (("median_s", "median s", 9, ".3f"), ("p90_s", "p90 s", 7, ".3f"), ("cpu_s_median", "cpu s", 7, ".3f"),
               ("prompt_tokens", "prompt", 7, ".0f"), ("cached_tokens", "cached", 7, ".0f"),
               ("evaluated_tokens", "eval'd", 7, ".0f"), ("prompt_eval_s", "eval s", 7, ".3f"),
               ("prompt_tokens_per_s", "ptok/s", 7, ".0f"), ("completion_tokens", "gen", 5, ".0f"),
               ("forced_tokens", "forced", 7, ".0f"),
               ("decode_s", "dec s", 6, ".3f"), ("decode_tokens_per_s", "tok/s", 6, ".0f"),
               ("grammar_s", "gram s", 7, ".3f"), ("parse_ms", "parse ms", 9, ".2f"), ("raw_s", "raw s", 6, ".3f"),
               ("raw_ratio", "x raw", 6, ".2f"), ("ok_rate", "ok", 5, ".0%"))
    lines = [f"{'':15}" + " ".join(f"{title:>{width}}" for _, title, width, _ in columns)]
    for module in ("decision", "tuning"):
        if module not in result:
            continue
        for phase in PHASES:
            summary = result[module][phase]
            cells = [("-" if summary[key] is None else format(summary[key], fmt)).rjust(width)
                     for key, _, width, fmt in columns]
            lines.append(f"{module + ' ' + phase:15}" + " ".join(cells))
    lines.append(f"load average before {result['load_before']}, after {result['load_after']}")
    return "\n".join(lines)


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
