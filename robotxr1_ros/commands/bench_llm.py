"""`robotxr1 bench llm`: where the time of an answer goes, for DecisionxR1 and MPCxR1, cold and warm.

Cold empties the model's KV cache before every call; warm keeps the static system prompt cached,
as the on-board node does. Per module and phase: end-to-end median and p90, process CPU time,
prompt tokens (cached / evaluated) and prompt-evaluation time, generated tokens and decode speed,
the grammar's share, parse time and the rate of readable answers; beside each call, llama.cpp
alone doing the same work on the same context ("raw s") and the call as a multiple of it ("x raw",
the pipeline's overhead: the ratio holds across machines where seconds do not). The figures depend on the
machine's load, which is printed with them (robotxr1_ros/bench/llm.py), and on the threads and GPU
layers llama.cpp ran with, which are printed too (with whether this llama.cpp can offload to a GPU).

Hook it under `robotxr1 bench` with `register_llm_bench(bench_subparsers)`.
"""
from __future__ import annotations

import argparse
import json

from ..bench.llm import bench_llm, table
from ..cases.control import eval_phrasings
from ..errors import Robotxr1Error
from ..llm.model_spec import MODULES
from ..llm.node_config import DEFAULTS
from .model_options import add_model_arguments, answer_settings, model_spec


def register_llm_bench(subparsers: argparse._SubParsersAction) -> None:
    """Add the `llm` benchmark to a `bench` command's subparsers."""
    parser = subparsers.add_parser("llm", help="LLM latency breakdown of both modules, cold vs cached prefix",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--module", choices=("decision", "tuning", "both"), default="both")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N evaluation phrasings (default all)")
    parser.add_argument("--decisions", type=int, default=16, metavar="N", help="state windows asked (default 16)")
    parser.add_argument("--decision-reasoning-chars", type=int, default=DEFAULTS.decision_reasoning_chars,
                        metavar="N", help=f"reasoning before the verdict (default {DEFAULTS.decision_reasoning_chars}: "
                                          "verdict only)")
    parser.add_argument("--tuning-reasoning-chars", type=int, default=DEFAULTS.tuning_reasoning_chars, metavar="N",
                        help=f"reasoning before the parameters (default {DEFAULTS.tuning_reasoning_chars}; 0: dict "
                             "only)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (every call) instead of text")
    parser.set_defaults(func=run_llm_bench)


def run_llm_bench(args: argparse.Namespace) -> int:
    instructions = [text for _, text in eval_phrasings()][: args.limit]
    if not instructions or args.decisions < 1:
        raise Robotxr1Error("--limit and --decisions must leave at least one call")
    spec = model_spec(args)
    settings = answer_settings(args, args.decision_reasoning_chars, args.tuning_reasoning_chars)
    modules = MODULES if args.module == "both" else (args.module,)
    decision, tuning = (spec.create(module) if module in modules else None for module in MODULES)
    result = bench_llm(settings, decision, tuning, decisions=args.decisions, instructions=instructions)
    result["model"] = spec.describe(None if args.module == "both" else args.module)
    # What llama.cpp ran on, the automatic choices resolved (an endpoint's server chose its own).
    resources = None if spec.endpoint else spec.llama_resources()
    if resources is not None:
        result.update(threads=resources.n_threads, batch_threads=resources.n_threads_batch,
                      n_gpu_layers=resources.n_gpu_layers, gpu_offload=resources.gpu_offload)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        ran_on = f", {resources.describe()}" if resources is not None else ""
        print(f"LLM benchmark: model {result['model']}{ran_on}, grammar {'on' if not args.no_grammar else 'off'}")
        print(table(result))
    return 0
