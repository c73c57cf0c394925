"""`robotxr1` command line: one entry point, one module per subcommand in robotxr1_ros/commands/."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import Robotxr1Error

# Command name -> module. Each module defines `register(subparsers)`, which adds its parser and sets
# `func(args) -> int`. Only the module of the command being run is imported, so a command pulls in
# just its own dependencies (`robotxr1 sim` runs where no ROS 2 is installed).
COMMANDS = {
    "sim": "robotxr1_ros.commands.sim",
    "bench": "robotxr1_ros.commands.bench",
    "demo": "robotxr1_ros.commands.demo",
    "ask": "robotxr1_ros.commands.ask",
    "run": "robotxr1_ros.commands.run",
    "record": "robotxr1_ros.commands.record",
    "replay": "robotxr1_ros.commands.replay",
    "eval": "robotxr1_ros.commands.eval",
    "make-datasets": "robotxr1_ros.commands.make_datasets",
    "train": "robotxr1_ros.commands.train",
    "export": "robotxr1_ros.commands.export",
    "prepare": "robotxr1_ros.commands.prepare",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` alone, or for every command (for --help) when it is None."""
    parser = argparse.ArgumentParser(prog="robotxr1", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        if command is None or name == command:
            importlib.import_module(module_name).register(subparsers)
        else:
            subparsers.add_parser(name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
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
