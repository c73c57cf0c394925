"""`robotxr1 replay BAG`: a recorded bag through the LLM node's loop (the same Supervisor).

With an instruction and a backend, prints in bag time each decision (features in brief, the
rule-based label for the instructions of the decision evaluation, the verdict) and each tuning
with the update the car would have received (only the parameters that change, and their values
before). The parameters in force start at the table defaults, or at --params. `--backend
scripted` needs no model: each decision answers the window's label and each tuning proposes
--propose; `--backend llama` asks the GGUF model (or --endpoint). `--backend none` lists the
windows the loop would judge, with their features.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..bags.replay import WindowResult, model_modules, replay_bag, scripted_modules, summary_line
from ..errors import Robotxr1Error
from ..llm.module_pair import ModuleBackends
from ..llm.node_config import DEFAULTS
from ..llm.prompts import require_instruction
from ..llm.supervisor import Outcome, SupervisorConfig
from ..params import MpcParams, parse_assignments
from ..track.library import get_track
from .model_options import add_model_arguments, answer_settings, model_spec


def register(subparsers) -> None:
    parser = subparsers.add_parser("replay", help="run a recorded bag through the LLM loop: decisions and updates",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, help="rosbag2 directory (mcap or sqlite3)")
    parser.add_argument("--track", default="eval", help="track the bag was recorded on (built-in name or CSV)")
    parser.add_argument("--instruction", default=None, help="what the car should do, given at the bag's start")
    parser.add_argument("--backend", choices=("none", "scripted", "llama"), default="none",
                        help="none (windows and features only), scripted (known answers), llama (model)")
    parser.add_argument("--params", nargs="+", default=[], metavar="NAME=VALUE",
                        help="parameters in force at the start (others: the table defaults)")
    parser.add_argument("--propose", nargs="+", default=[], metavar="NAME=VALUE",
                        help="what the scripted backend proposes at every tuning (default: nothing)")
    parser.add_argument("--window", type=float, default=DEFAULTS.window_s, help="window length (s of bag time)")
    parser.add_argument("--period", type=float, default=1.0, help="at most one decision per period (s of bag time)")
    parser.add_argument("--odom-topic", default="/odom")
    parser.add_argument("--scan-topic", default="/scan")
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per event")
    parser.set_defaults(func=run)


def run(args) -> int:
    instruction = require_instruction(args.instruction) if args.instruction is not None else None
    params = MpcParams().updated(parse_assignments(args.params))
    proposal = parse_assignments(args.propose)
    config = SupervisorConfig(window_s=args.window, decision_period_s=args.period,
                              max_backoff_s=max(SupervisorConfig.max_backoff_s, args.period))
    models = None
    if args.backend != "none":
        if not instruction:
            raise Robotxr1Error(f"--backend {args.backend} needs an --instruction to judge")
        if args.backend == "scripted":
            models = scripted_modules(instruction, proposal)
        else:
            models = model_modules(answer_settings(args).pair(ModuleBackends.from_spec(model_spec(args))))
    windows = updates = 0
    for event in replay_bag(args.bag, get_track(args.track), instruction, models, config, params,
                            args.odom_topic, args.scan_topic):
        print(json.dumps(event.as_dict()) if args.json else summary_line(event), flush=True)
        if isinstance(event, WindowResult):
            windows += 1
        elif event.outcome == Outcome.SEND:
            updates += 1
    if windows == 0:
        raise Robotxr1Error(f"{args.bag}: no full {args.window} s window of {args.odom_topic} in the bag")
    if models is not None and not args.json:
        print(f"{windows} decisions, {updates} updates sent to the controller")
    return 0
