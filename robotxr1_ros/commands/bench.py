"""`robotxr1 bench sim|llm|ros|safety|facts`: measured speed of the driving loop and of the on-board
LLM, control deadlines with the model running over DDS, the safety envelope of the command path
under random faults, and the prompt tokens the decision facts cost."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..bench.facts_tokens import facts_token_growth
from ..bench.physics import bench_physics
from ..bench.safety import bench_safety, markdown
from ..control.closed_loop import Scenario, drive_scenario
from ..control.mpc import MpcConfig
from ..params import MpcParams
from ..track.library import get_track
from .model_options import add_model_arguments, model_spec


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks (figures, not pass/fail)")
    benches = parser.add_subparsers(dest="bench", required=True)
    sim = benches.add_parser("sim", help="simulator + MPC: realtime factor and solve times on one core")
    sim.add_argument("--track", default="eval")
    sim.add_argument("--seconds", type=float, default=30.0, help="simulated seconds per configuration")
    sim.add_argument("--json", action="store_true")
    sim.add_argument("--out", default="out/bench")
    sim.set_defaults(func=run_sim_bench)
    from .bench_llm import register_llm_bench

    register_llm_bench(benches)
    from .bench_ros import register_ros_bench

    register_ros_bench(benches)
    safety = benches.add_parser("safety", help="random fault sequences through gate + MPC + safety filter: "
                                               "unsafe commands (must be 0) and stop latency")
    safety.add_argument("--sequences", type=int, default=10_000, help="random fault sequences to replay")
    safety.add_argument("--seed", type=int, default=0)
    safety.add_argument("--mpc-every", type=int, default=100, metavar="N",
                        help="every N-th sequence uses the real FrenetMPC instead of arbitrary outputs (0: none)")
    safety.add_argument("--track", default="eval")
    safety.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    safety.add_argument("--out", default="out/bench", help="directory for safety.json and safety.md")
    safety.set_defaults(func=run_safety_bench)
    facts = benches.add_parser("facts", help="decision prompt tokens without and with the facts lines, over the "
                                             "stress suite's windows and questions (the model's tokenizer)")
    add_model_arguments(facts)
    facts.add_argument("--mini", action="store_true", help="every fifth window")
    facts.set_defaults(func=run_facts_bench)


@contextmanager
def one_core():
    """Run the block pinned to one core, so figures are per-core figures; yields the core."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    core = min(allowed)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, allowed)


def bench_closed_loop(track_name: str, seconds: float, config: MpcConfig) -> dict:
    track = get_track(track_name)
    drive_scenario(track, MpcParams(), Scenario(seconds=1.0), config)  # compile and warm caches
    start = time.perf_counter()
    log = drive_scenario(track, MpcParams(), Scenario(seconds=seconds), config)
    wall = time.perf_counter() - start
    solve = log.solve_ms
    return {
        "horizon": config.horizon,
        "dt": config.dt,
        "control_rate_hz": config.control_rate_hz,
        "simulated_s": seconds,
        "wall_s": round(wall, 3),
        "realtime_factor": round(seconds / wall, 1),
        "mpc_solve_ms_p50": round(float(np.percentile(solve, 50)), 4),
        "mpc_solve_ms_p99": round(float(np.percentile(solve, 99)), 4),
        "mpc_solve_ms_max": round(float(np.max(solve)), 4),
        "fallbacks": int(np.count_nonzero(log.fallback)),
        "crashed": bool(log.crashed[-1] > 0),
    }


def run_sim_bench(args) -> int:
    with one_core() as core:
        results = {"track": args.track, "core": core,
                   "reference": bench_closed_loop(args.track, args.seconds, MpcConfig())}
        results.update(results["reference"])  # headline figures at the top level
        results["simulator_only"] = bench_physics(track_name=args.track)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sim.json").write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        ref = results["reference"]
        print(f"sim + MPC on one core, N={ref['horizon']}, {ref['control_rate_hz']} Hz: "
              f"realtime factor {ref['realtime_factor']}, solve p50 {ref['mpc_solve_ms_p50']} ms, "
              f"p99 {ref['mpc_solve_ms_p99']} ms")
    return 0


def run_facts_bench(args) -> int:
    from ..evaluation.decision_eval import selected_records
    from ..evaluation.stress_suite import stress_datasets, stress_questions

    datasets = [dataclasses.replace(dataset, records=tuple(r for _, r in selected_records(dataset, args.mini)))
                for dataset in stress_datasets()]
    result = facts_token_growth(model_spec(args).create("decision"), datasets, list(stress_questions()))
    print(json.dumps(result, indent=2))
    return 0


def run_safety_bench(args) -> int:
    """Exit code 1 if any command was unsafe or a stop came later than the deadline."""
    result = bench_safety(args.sequences, args.seed, args.mpc_every, args.track)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = markdown(result)
    (out / "safety.json").write_text(json.dumps(result, indent=2))
    (out / "safety.md").write_text(report + "\n")
    print(json.dumps(result, indent=2) if args.json else report)
    return 1 if result["unsafe_commands"] or result["max_stop_latency_s"] > result["stop_deadline_s"] else 0
