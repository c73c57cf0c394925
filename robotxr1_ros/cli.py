"""`robotxr1` command line: one entry point, one module per subcommand in robotxr1_ros/commands/."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import Robotxr1Error

# Each module defines `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
COMMAND_MODULES = (
    "robotxr1_ros.commands.sim",
    "robotxr1_ros.commands.bench",
    "robotxr1_ros.commands.demo",
    "robotxr1_ros.commands.ask",
    "robotxr1_ros.commands.run",
    "robotxr1_ros.commands.record",
    "robotxr1_ros.commands.replay",
    "robotxr1_ros.commands.eval",
    "robotxr1_ros.commands.make_datasets",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robotxr1", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Robotxr1Error as error:
        # Bad input (parameters, files, instructions) is reported in one line; a bug keeps its traceback.
        print(f"robotxr1 {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
