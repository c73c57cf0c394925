"""`robotxr1 replay BAG`: recorded odometry and LiDAR through the state and decision pipeline.

Prints one line per window: the features in brief, the rule-based label of the instruction (for
the instructions of the decision evaluation) and the decision. `--backend scripted` answers each
window's label (no model needed); `--backend llama` asks the GGUF model (or --endpoint).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import Robotxr1Error
from ..llm.state_buffer import DEFAULT_WINDOW_S
from ..bags.replay import model_decider, replay_bag, scripted_decider, summary_line
from ..track.library import get_track
from .ask import add_model_arguments, make_backend


def register(subparsers) -> None:
    parser = subparsers.add_parser("replay", help="run a recorded bag through the state and decision pipeline",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, help="rosbag2 directory (mcap or sqlite3)")
    parser.add_argument("--track", default="eval", help="track the bag was recorded on (built-in name or CSV)")
    parser.add_argument("--instruction", default=None, help="instruction to judge each window against")
    parser.add_argument("--backend", choices=("none", "scripted", "llama"), default="none",
                        help="decision backend: none (features only), scripted (known answers), llama (model)")
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW_S, help="window length (s of bag time)")
    parser.add_argument("--period", type=float, default=1.0, help="time between windows (s of bag time)")
    parser.add_argument("--odom-topic", default="/odom")
    parser.add_argument("--scan-topic", default="/scan")
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per window")
    parser.set_defaults(func=run)


def run(args) -> int:
    decide = None
    if args.backend != "none":
        if not args.instruction:
            raise Robotxr1Error(f"--backend {args.backend} needs an --instruction to judge")
        if args.backend == "scripted":
            decide = scripted_decider(args.instruction)
        else:
            decide = model_decider(args.instruction, make_backend(args), use_grammar=not args.no_grammar,
                                   max_tokens=args.max_tokens)
    windows = 0
    for result in replay_bag(args.bag, get_track(args.track), args.instruction, decide, args.window, args.period,
                             args.odom_topic, args.scan_topic):
        print(json.dumps(result.as_dict()) if args.json else summary_line(result), flush=True)
        windows += 1
    if windows == 0:
        raise Robotxr1Error(f"{args.bag}: no full {args.window} s window of {args.odom_topic} in the bag")
    return 0
