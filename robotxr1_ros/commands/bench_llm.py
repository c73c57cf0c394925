"""`robotxr1 bench llm`: instruction -> validated MPC parameters, cold vs with the cached prefix.

Runs the MPC module over the held-out evaluation phrasings twice: "cold" clears the model's KV
cache before every instruction (every prompt token is evaluated), "warm" keeps the static
system prompt cached across instructions, as the on-board node does. Reports end-to-end
latency (retrieval + model + validation), generation speed and the parse rate.

Hook it under `robotxr1 bench` with `register_llm_bench(bench_subparsers)`.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any, Sequence

from ..errors import Robotxr1Error
from ..llm.backends import Backend
from ..llm.phrasings import eval_phrasings
from ..llm.tuning import MPCxR1
from .model_options import add_model_arguments, model_spec


def register_llm_bench(subparsers: argparse._SubParsersAction) -> None:
    """Add the `llm` benchmark to a `bench` command's subparsers."""
    parser = subparsers.add_parser("llm", help="LLM latency and tokens/s, cold vs cached prefix",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N evaluation phrasings (default all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run_llm_bench)


def run_llm_bench(args: argparse.Namespace) -> int:
    instructions = [text for _, text in eval_phrasings()][: args.limit]
    if not instructions:
        raise Robotxr1Error("--limit must leave at least one instruction")
    backend = model_spec(args).create()
    result = bench_llm(backend, instructions, use_grammar=not args.no_grammar, max_tokens=args.max_tokens)
    result["model"] = args.endpoint or str(getattr(backend, "model_path", ""))
    result["threads"] = args.threads
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def bench_llm(backend: Backend, instructions: Sequence[str], *, use_grammar: bool = True,
              max_tokens: int = 200) -> dict[str, Any]:
    tuner = MPCxR1(backend, use_grammar=use_grammar, max_tokens=max_tokens)
    cold = []
    for instruction in instructions:
        backend.reset_cache()
        cold.append(_timed(tuner, instruction))
    backend.reset_cache()
    tuner.tune(instructions[0])  # puts the static prefix into the cache; not measured
    warm = [_timed(tuner, instruction) for instruction in instructions]
    cold_summary, warm_summary = _summary(cold), _summary(warm)
    return {"instructions": len(instructions), "grammar": use_grammar, "max_tokens": max_tokens,
            "cold": cold_summary, "warm": warm_summary,
            "speedup_median": round(cold_summary["median_s"] / warm_summary["median_s"], 2)}


def _timed(tuner: MPCxR1, instruction: str) -> dict[str, Any]:
    start = time.perf_counter()
    tuning = tuner.tune(instruction)
    total = time.perf_counter() - start
    c = tuning.completion
    return {"total_s": total, "prompt_tokens": c.prompt_tokens, "cached_tokens": c.cached_tokens,
            "completion_tokens": c.completion_tokens, "tokens_per_s": c.tokens_per_s, "parsed": tuning.update.found}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    totals = sorted(run["total_s"] for run in runs)
    return {
        "median_s": round(statistics.median(totals), 3),
        "mean_s": round(statistics.fmean(totals), 3),
        "p90_s": round(totals[min(len(totals) - 1, int(0.9 * len(totals)))], 3),
        "tokens_per_s_median": round(statistics.median(run["tokens_per_s"] for run in runs), 1),
        "prompt_tokens_mean": round(statistics.fmean(run["prompt_tokens"] for run in runs), 1),
        "cached_tokens_mean": round(statistics.fmean(run["cached_tokens"] for run in runs), 1),
        "completion_tokens_mean": round(statistics.fmean(run["completion_tokens"] for run in runs), 1),
        "parse_rate": round(sum(run["parsed"] for run in runs) / len(runs), 3),
    }


def _table(result: dict[str, Any]) -> str:
    lines = [f"LLM benchmark: {result['instructions']} instructions, model {result['model']}, "
             f"{result['threads']} threads, grammar {'on' if result['grammar'] else 'off'}",
             f"{'':6} {'median s':>9} {'mean s':>8} {'p90 s':>7} {'tok/s':>7} {'prompt':>7} {'cached':>7} "
             f"{'gen':>6} {'parsed':>7}"]
    for label in ("cold", "warm"):
        s = result[label]
        lines.append(f"{label:6} {s['median_s']:9.3f} {s['mean_s']:8.3f} {s['p90_s']:7.3f} "
                     f"{s['tokens_per_s_median']:7.1f} {s['prompt_tokens_mean']:7.1f} {s['cached_tokens_mean']:7.1f} "
                     f"{s['completion_tokens_mean']:6.1f} {s['parse_rate']:7.0%}")
    lines.append(f"median speed-up from the cached prefix: {result['speedup_median']}x")
    return "\n".join(lines)
