"""`robotxr1 record`: write robotxr1's topics to a rosbag2 (mcap or sqlite3) without rosbag2
(bags/recording.py): live topics (default), or with `--behaviour NAME` that behaviour driven in the
simulator offline (no DDS), stamped in simulated time (how the test fixtures are made).
"""
from __future__ import annotations

from pathlib import Path

from ..bags.recording import LIVE_DEFAULT_TOPICS, record_behaviour, record_live, topic_types
from ..bags.rosbag_io import STORAGES
from ..errors import Robotxr1Error
from ..evaluation.behaviours import behaviours


def register(subparsers) -> None:
    parser = subparsers.add_parser("record", help="record topics (live, or a simulated behaviour) to a rosbag2",
                                   description=__doc__)
    parser.add_argument("out", type=Path, help="bag directory to create")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    parser.add_argument("--seconds", type=float, default=None,
                        help="how long to record (live: wall-clock, until Ctrl-C if omitted; behaviour: simulated, 5)")
    parser.add_argument("--topic", action="append", default=None, metavar="TOPIC[=pkg/msg/Type]",
                        help=f"live topic to record, repeatable (default: {', '.join(LIVE_DEFAULT_TOPICS)})")
    parser.add_argument("--use-sim-time", action="store_true", help="live: stamp messages with /clock time")
    parser.add_argument("--behaviour", choices=tuple(behaviours()),
                        help="record this simulated behaviour (one per decision rule, cases/decision.py) instead")
    parser.add_argument("--track", default="eval", help="behaviour: built-in track or track CSV")
    parser.add_argument("--start-s", type=float, default=0.0, help="behaviour: start position on the racing line (m)")
    parser.add_argument("--beam-stride", type=int, default=1, help="behaviour: keep every n-th LiDAR beam")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.out.exists():
        raise Robotxr1Error(f"{args.out} already exists: choose a new bag directory")
    if args.behaviour:
        counts = record_behaviour(args.out, args.storage, args.behaviour, 5.0 if args.seconds is None else args.seconds,
                                  track=args.track, start_s=args.start_s, beam_stride=args.beam_stride)
    else:
        counts = record_live(args.out, args.storage, topic_types(args.topic or LIVE_DEFAULT_TOPICS),
                             args.seconds, args.use_sim_time)
    print(f"{args.out} ({args.storage}): " + ", ".join(f"{topic} {n}" for topic, n in counts.items()))
    return 0
