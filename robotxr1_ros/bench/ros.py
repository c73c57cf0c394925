"""Figures of `robotxr1 bench ros` (ROS-free): control-loop periods and deadline misses on the
wall clock, latency percentiles, the report text. The run itself (simulator, controller and LLM
node over DDS) is ros_run.py.

A control cycle misses its deadline when it does not run in its slot: it starts more than one
period + DEADLINE_SLACK_S after the previous one on the controller's own clock (the one its timer
runs on: the simulator's /clock here, so a tick it let pass shows), or it computes for longer than a
period. On the wall clock, the same cycles' starts are reported as "late starts": a cycle whose
/clock tick itself came late (the simulator is a Python process on a shared CPU) starts late on
the wall clock without missing anything the controller owes; on the car, whose controller runs
on the steady clock, the two are the same.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEADLINE_SLACK_S = 0.005
SECONDS_PARTS = ("queued", "read", "tuning", "prompt_eval", "decode", "apply")  # of update_parts, in seconds


@dataclass(frozen=True)
class ControlCycle:
    """One control step: wall-clock (monotonic) start and end, and the controller's clock at the start."""

    start: float
    end: float
    clock: float


def loop_stats(cycles: Sequence[ControlCycle], period_s: float, slack_s: float = DEADLINE_SLACK_S) -> dict[str, Any]:
    """Wall-clock periods between successive cycle starts (percentiles in ms, late starts), compute
    times, and missed deadlines: slots left out on the controller's clock plus overruns.

    >>> cycles = [ControlCycle(t, t + 0.004, c) for t, c in ((0.0, 0.0), (0.033, 0.025), (0.05, 0.05), (0.1, 0.1))]
    >>> stats = loop_stats(cycles, 0.025)
    >>> stats["late_starts"], stats["skipped_slots"], stats["overruns"], stats["missed_deadlines"]
    (2, 1, 0, 1)
    """
    starts = np.asarray([cycle.start for cycle in cycles], dtype=float)
    periods, advances = np.diff(starts), np.diff([cycle.clock for cycle in cycles])
    compute = np.asarray([cycle.end - cycle.start for cycle in cycles], dtype=float)
    skipped = int((advances > period_s + slack_s).sum())
    overruns = int((compute > period_s).sum())
    return {
        "cycles": len(cycles),
        "period_ms_p50": _ms(periods, 50), "period_ms_p99": _ms(periods, 99), "period_ms_max": _ms(periods, 100),
        "late_starts": int((periods > period_s + slack_s).sum()),
        "compute_ms_p99": _ms(compute, 99), "compute_ms_max": _ms(compute, 100),
        "skipped_slots": skipped, "overruns": overruns, "missed_deadlines": skipped + overruns,
    }


def _ms(values: np.ndarray, percentile: float) -> float | None:
    return round(1e3 * float(np.percentile(values, percentile)), 2) if values.size else None


def latency_stats(values: Sequence[float], unit: str = "s") -> dict[str, Any]:
    """p50, p95 and max of `values` (in `unit`, which names the keys)."""
    if not values:
        return {"n": 0, f"p50_{unit}": None, f"p95_{unit}": None, f"max_{unit}": None}
    array = np.asarray(values, dtype=float)
    return {"n": len(values), f"p50_{unit}": round(float(np.percentile(array, 50)), 3),
            f"p95_{unit}": round(float(np.percentile(array, 95)), 3), f"max_{unit}": round(float(array.max()), 3)}


def stop_stats(trials: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The stop trials of ros_run.py: instruction -> standstill update applied, the speed the car
    had then, and its time (wall clock) and distance to standstill.

    >>> stop_stats([{"update_s": 0.02, "applied": True, "speed_at_start": 6.0, "seconds": 1.5, "distance_m": 4.0},
    ...             {"update_s": None, "applied": False, "speed_at_start": 5.0, "seconds": None, "distance_m": None}])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'trials': 2, 'applied': 1, 'instruction_to_standstill_update': {'n': 1, 'p50_s': 0.02, 'p95_s': 0.02,
     'max_s': 0.02}, 'speed_at_stop_mps': {'n': 2, 'p50_mps': 5.5, 'p95_mps': 5.95, 'max_mps': 6.0},
     'to_standstill': {'n': 1, 'p50_s': 1.5, 'p95_s': 1.5, 'max_s': 1.5},
     'distance_to_standstill': {'n': 1, 'p50_m': 4.0, 'p95_m': 4.0, 'max_m': 4.0}, 'never_stood': 1}
    """
    applied = [trial for trial in trials if trial["applied"]]
    stood = [trial for trial in trials if trial["seconds"] is not None]
    return {
        "trials": len(trials), "applied": len(applied),
        "instruction_to_standstill_update": latency_stats([trial["update_s"] for trial in applied]),
        "speed_at_stop_mps": latency_stats([trial["speed_at_start"] for trial in trials], "mps"),
        "to_standstill": latency_stats([trial["seconds"] for trial in stood]),
        "distance_to_standstill": latency_stats([trial["distance_m"] for trial in stood], "m"),
        "never_stood": len(trials) - len(stood),
    }


def update_parts(observed: Sequence[tuple[float, Mapping[str, Any]]]) -> dict[str, float | None]:
    """Medians of each part of instruction -> update applied, from (latency seen by the bench, the
    LLM node's update record): seconds "queued" (DDS delivery, and cancelling the model call in
    progress when the instruction came), then the node's own "read" (the controller's
    parameters), "tuning" (of which the model's "prompt_eval" and "decode") and "apply"; and the
    tuning's prompt tokens "evaluated" (not cached) and "generated" tokens.

    >>> parts = update_parts([(1.5, {"latency_s": {"read": 0.1, "tuning": 1.0, "apply": 0.05, "total": 1.15},
    ...                              "tuning": {"completion": {"prompt_eval_s": 0.2, "decode_s": 0.7,
    ...                                                        "prompt_tokens": 600, "cached_tokens": 540,
    ...                                                        "completion_tokens": 55}}})])
    >>> parts  # doctest: +NORMALIZE_WHITESPACE
    {'queued': 0.35, 'read': 0.1, 'tuning': 1.0, 'prompt_eval': 0.2, 'decode': 0.7, 'apply': 0.05,
     'evaluated': 60.0, 'generated': 55.0}
    """
    names = ("queued", "read", "tuning", "prompt_eval", "decode", "apply", "evaluated", "generated")
    parts: dict[str, list[float]] = {name: [] for name in names}
    for latency, record in observed:
        node, completion = record["latency_s"], record["tuning"]["completion"]
        parts["queued"].append(latency - node["total"])
        for name in ("read", "tuning", "apply"):
            parts[name].append(node[name])
        for name in ("prompt_eval", "decode"):
            if completion.get(f"{name}_s") is not None:
                parts[name].append(completion[f"{name}_s"])
        parts["evaluated"].append(completion["prompt_tokens"] - completion["cached_tokens"])
        parts["generated"].append(completion["completion_tokens"])
    return {name: round(float(np.median(values)), 3) if values else None for name, values in parts.items()}


def update_over_tuning(update: Mapping[str, Any], parts: Mapping[str, float | None]) -> float | None:
    """Instruction -> update applied (p50) as a multiple of the model's tuning alone (median): what
    the node and DDS add to the answer `bench llm` times.

    >>> update_over_tuning({"p50_s": 1.5}, {"tuning": 1.2})
    1.25
    """
    if update.get("p50_s") is None or not parts.get("tuning"):
        return None
    return round(update["p50_s"] / parts["tuning"], 2)


def report_text(result: dict[str, Any]) -> str:
    lines = [f"bench ros: sim + controller + LLM node over DDS, LLM threads {result['threads']} decode / "
             f"{result['batch_threads']} prompt, "
             f"control: {result['control_priority']}, LLM worker nice {result['worker_nice']}"]
    for phase in ("idle", "busy"):
        loop = result["control"][phase]
        lines.append(f"controller {phase:4} ({result['seconds'][phase]:.0f} s): {loop['cycles']} cycles, missed "
                     f"deadlines {loop['missed_deadlines']} ({loop['skipped_slots']} slots skipped on its clock, "
                     f"{loop['overruns']} computed > a period; compute p99 {loop['compute_ms_p99']} ms, max "
                     f"{loop['compute_ms_max']} ms)")
        lines.append(f"  wall-clock period p50 {loop['period_ms_p50']} ms, p99 {loop['period_ms_p99']} ms, max "
                     f"{loop['period_ms_max']} ms; late starts {loop['late_starts']} (> {result['deadline_ms']} ms: "
                     "the /clock tick came late)")
    update = result["instruction_to_update"]
    lines.append(f"instruction -> update applied: p50 {update['p50_s']} s, p95 {update['p95_s']} s, max "
                 f"{update['max_s']} s over {update['n']} instructions ({result['instructions_sent']} sent, "
                 f"{result['updates_applied']} applied)")
    parts = result["update_parts"]
    lines.append("  of which, medians: " + ", ".join(f"{name} {parts[name]} s" for name in SECONDS_PARTS)
                 + f"; tuning prompt tokens evaluated {parts['evaluated']}, generated {parts['generated']}")
    lines.append(f"  instruction -> update p50 is {result['update_over_tuning']} x the model's tuning")
    period = result["decision_period"]
    lines.append(f"decisions: {result['decisions']} in the busy phase, period achieved p50 {period['p50_s']} s, "
                 f"p95 {period['p95_s']} s (requested {result['requested_period_s']} s)")
    stop = result["stop"]
    if stop["trials"]:
        update, speed = stop["instruction_to_standstill_update"], stop["speed_at_stop_mps"]
        lines.append(f"stop while the model tunes: instruction -> standstill update applied p50 {update['p50_s']} s, "
                     f"p95 {update['p95_s']} s, max {update['max_s']} s ({stop['applied']} of {stop['trials']} "
                     "applied)")
        time_, distance = stop["to_standstill"], stop["distance_to_standstill"]
        lines.append(f"  from {speed['p50_mps']} m/s (p50): to standstill p50 {time_['p50_s']} s, max "
                     f"{time_['max_s']} s; distance p50 {distance['p50_m']} m, max {distance['max_m']} m; "
                     f"never stood {stop['never_stood']}")
    lines.append(f"load average before {result['load_before']}, after {result['load_after']}")
    return "\n".join(lines)
