"""Figures of `robotxr1 bench ros` (ROS-free): control-loop periods and deadline misses on the
wall clock, latency percentiles, the report text. The run itself (simulator, controller and LLM
node over DDS) is ros_run.py.

A control cycle misses its deadline when it starts later than one period + DEADLINE_SLACK_S
after the previous one.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DEADLINE_SLACK_S = 0.005
SECONDS_PARTS = ("queued", "read", "tuning", "prompt_eval", "decode", "apply")  # of update_parts, in seconds


def loop_stats(starts: Sequence[float], period_s: float, slack_s: float = DEADLINE_SLACK_S) -> dict[str, Any]:
    """Wall-clock periods between successive cycle starts: percentiles in ms and missed deadlines."""
    periods = np.diff(np.asarray(starts, dtype=float))
    if periods.size == 0:
        return {"cycles": len(starts), "period_ms_p50": None, "period_ms_p99": None, "period_ms_max": None,
                "missed_deadlines": 0}
    late = periods > period_s + slack_s
    return {
        "cycles": len(starts),
        "period_ms_p50": round(1e3 * float(np.percentile(periods, 50)), 2),
        "period_ms_p99": round(1e3 * float(np.percentile(periods, 99)), 2),
        "period_ms_max": round(1e3 * float(periods.max()), 2),
        "missed_deadlines": int(late.sum()),
    }


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
        lines.append(f"controller {phase:4} ({result['seconds'][phase]:.0f} s): {loop['cycles']} cycles, period p50 "
                     f"{loop['period_ms_p50']} ms, p99 {loop['period_ms_p99']} ms, max {loop['period_ms_max']} ms, "
                     f"missed deadlines {loop['missed_deadlines']} (> {result['deadline_ms']} ms)")
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
