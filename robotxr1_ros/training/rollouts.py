"""Rollouts in worker processes, and the cache of the default parameters' runs.

A GRPO step drives one rollout per completion; they are independent, so they run in a pool of
worker processes (spawned, each with one BLAS/numba thread, so that they never compete with the
trainer's torch threads for more cores than asked). With `workers=0` everything runs inline,
which is what the tests and a machine with one free core want.

The rewards need each prompt's run under the default parameters on the same scenario (its RMSE,
and for the intents judged by their `achieved` check its mean speed and nearest wall): it is the
same for every step, so it is driven once and kept in a JSON file.
"""
from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from ..control.closed_loop import Scenario
from ..evaluation.control_cases import Baseline, ControlPrompt, score_params
from ..params import MpcParams
from ..track.library import get_track

T = TypeVar("T")
_SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "NUMBA_NUM_THREADS": "1"}


def _init_worker() -> None:
    os.environ.update(_SINGLE_THREAD)
    try:  # a worker never trains; keep torch (if something imports it) to one thread too
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


class RolloutPool:
    """`map(fn, items)` over `workers` spawned processes, or inline when `workers` is 0."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        if workers > 0:
            for key, value in _SINGLE_THREAD.items():  # inherited by the spawned children
                os.environ.setdefault(key, value)
            self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker)

    def map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
        if self._executor is None:
            return [fn(item) for item in items]
        return list(self._executor.map(fn, items))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None

    def __enter__(self) -> RolloutPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def default_run_key(track: str, prompt: ControlPrompt, scenario: Scenario) -> str:
    return json.dumps([track, prompt.case, round(prompt.reference_speed, 3), asdict(scenario)], sort_keys=True)


def _default_run(job: tuple[str, ControlPrompt, Scenario]) -> dict[str, float]:
    track, prompt, scenario = job
    return asdict(score_params(get_track(track), MpcParams(), prompt, scenario).baseline)


class DefaultRunCache:
    """The default parameters' runs per (track, case, reference speed, scenario), in a JSON file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.values: dict[str, dict[str, float]] = {}
        if self.path is not None and self.path.exists():
            self.values = json.loads(self.path.read_text(encoding="utf-8"))

    def fill(self, track: str, prompts: Sequence[ControlPrompt], scenario: Scenario,
             pool: RolloutPool | None = None) -> None:
        """Drive the defaults for every prompt whose key is missing (in the pool if given)."""
        missing = {default_run_key(track, p, scenario): p for p in prompts}
        missing = {key: p for key, p in missing.items() if key not in self.values}
        if not missing:
            return
        jobs = [(track, p, scenario) for p in missing.values()]
        results = (pool or RolloutPool(0)).map(_default_run, jobs)
        self.values.update(zip(missing, results, strict=True))
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.values, indent=1) + "\n", encoding="utf-8")

    def get(self, track: str, prompt: ControlPrompt, scenario: Scenario) -> Baseline:
        key = default_run_key(track, prompt, scenario)
        if key not in self.values:
            self.fill(track, [prompt], scenario)
        return Baseline(**self.values[key])
