"""`robotxr1 run drive|sim`: start a bringup's nodes, each in its own process, as its launch file would
(nodes/bringup_runner.py). Ctrl-C or SIGTERM stops every node; the exit code is 0 when every node
exited 0.
"""
from __future__ import annotations

from ..nodes.bringup import BRINGUPS
from ..nodes.bringup_runner import run_bringup


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="start the nodes of a bringup (drive: car, sim: simulation), "
                                               "one process each, like launch/<bringup>.launch.py")
    parser.add_argument("bringup", choices=sorted(BRINGUPS))
    seen = set()
    for bringup in BRINGUPS.values():
        for argument in bringup.arguments():
            if argument.name not in seen:
                seen.add(argument.name)
                parser.add_argument(f"--{argument.name.replace('_', '-')}", dest=argument.name, default=None,
                                    help=f"{argument.description} (default: {argument.default!r})")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many wall-clock seconds")
    parser.set_defaults(func=run)


def run(args) -> int:
    given = {argument.name: getattr(args, argument.name) for argument in BRINGUPS[args.bringup].arguments()}
    return run_bringup(args.bringup, given, args.seconds)
