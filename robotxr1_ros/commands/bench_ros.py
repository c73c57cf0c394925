"""`robotxr1 bench ros`: the simulated car over DDS with the model running; does control come first?

Starts the `sim` bringup's nodes (simulator, MPC controller, LLM node with the real model) as
launch does, and measures on the wall clock:
- the controller's 40 Hz loop, first with the LLM idle (no instruction), then busy: decisions back
  to back (`--period`, default 0.05 s) and a new instruction every `--instruction-every` s. Missed
  deadlines: cycles that left a slot out on the controller's own clock (started more than a period
  + 5 ms after the previous one on the simulator's /clock) or computed longer than a period; the
  wall-clock period p50/p99/max and the late starts (cycles whose /clock tick came late) beside;
- instruction published -> update applied on the controller (the LLM node's /robotxr1/update
  after set_parameters_atomically succeeded), p50/p95;
- the decision period achieved;
- `--stops` times, a stop from full speed while the model tunes: instruction -> standstill update
  applied (the LLM node's fast path), and the car's time and distance to standstill.

`--layout process` (default) runs each node in a process of its own as launch does (the controller
in the benchmark's, beside the probe that measures), `single` puts
every node on one executor in one process, for comparison (robotxr1_ros/bench/ros_run.py says how).
The figures are computed by robotxr1_ros/bench/ros.py.
"""
from __future__ import annotations

import argparse
import json

from ..bench.ros import report_text
from ..bench.ros_run import LAYOUTS, RosBenchSettings, bench_ros
from ..errors import Robotxr1Error

DEFAULT = RosBenchSettings()


def register_ros_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ros", help="sim + controller + LLM node over DDS: control deadlines with the "
                                               "model idle and busy, instruction -> update latency",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=DEFAULT.seconds,
                        help=f"busy phase, wall seconds (default {DEFAULT.seconds:g})")
    parser.add_argument("--idle-seconds", type=float, default=DEFAULT.idle_seconds,
                        help=f"idle phase, wall seconds (default {DEFAULT.idle_seconds:g})")
    parser.add_argument("--instruction-every", type=float, default=DEFAULT.instruction_every, metavar="S",
                        help="a new instruction every S seconds in the busy phase "
                             f"(default {DEFAULT.instruction_every:g})")
    parser.add_argument("--period", type=float, default=DEFAULT.period, metavar="S",
                        help=f"the LLM node's decision period in the busy phase (default {DEFAULT.period:g}: back "
                             "to back)")
    parser.add_argument("--threads", type=int, default=DEFAULT.threads,
                        help=f"llama.cpp decoding threads of the LLM node (default {DEFAULT.threads}: the node's "
                             "choice from the CPUs)")
    parser.add_argument("--batch-threads", type=int, default=DEFAULT.batch_threads,
                        help=f"llama.cpp prompt threads of the LLM node (default {DEFAULT.batch_threads}: the node's "
                             "choice from the CPUs)")
    parser.add_argument("--worker-nice", type=int, default=DEFAULT.worker_nice,
                        help=f"nice value of the LLM worker (default {DEFAULT.worker_nice})")
    parser.add_argument("--layout", choices=LAYOUTS, default=DEFAULT.layout)
    parser.add_argument("--model-path", default=DEFAULT.model_path, help="GGUF model (default: the LLM node's default)")
    parser.add_argument("--stops", type=int, default=DEFAULT.stops,
                        help=f"stop trials after the busy phase (default {DEFAULT.stops}; 0: none)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run_ros_bench)


def run_ros_bench(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or args.idle_seconds <= 0 or args.instruction_every <= 0:
        raise Robotxr1Error("--seconds, --idle-seconds and --instruction-every must be positive")
    if args.stops < 0:
        raise Robotxr1Error("--stops must not be negative")
    result = bench_ros(RosBenchSettings(
        seconds=args.seconds, idle_seconds=args.idle_seconds, instruction_every=args.instruction_every,
        period=args.period, threads=args.threads, batch_threads=args.batch_threads, worker_nice=args.worker_nice,
        layout=args.layout, model_path=args.model_path, stops=args.stops))
    print(json.dumps(result, indent=2) if args.json else report_text(result))
    return 0
