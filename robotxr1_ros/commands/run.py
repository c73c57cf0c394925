"""`robotxr1 run drive|sim`: start a bringup's nodes, each in its own process, as its launch file would.

ROS 2's `launch` is not installable everywhere, so this runner reads the same description
(robotxr1_ros.nodes.bringup) and starts each node's executable (`python -m <node module>`) with
the same parameter files, overrides and remappings. One process per node, as under launch:
with all nodes on one executor in one process, the controller missed 668 of 1,600 deadlines in
40 s while the model answered (the GIL and one executor shared with inference and the
simulator); in a process of its own, raised in priority, it missed 1 in 4,800 with the model
busy (`robotxr1 bench ros`). Ctrl-C or SIGTERM stops every node (SIGINT first, then SIGTERM,
then SIGKILL, as launch escalates), and so does the death of the runner's own parent; the exit
code is 0 when every node exited 0. A runner killed outright leaves no nodes behind either: each
node stops when its parent, the runner, dies (nodes/parent_watch.py).
"""
from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import Robotxr1Error
from ..nodes.bringup import BRINGUPS, EXECUTABLES, NodeLaunch

STOP_TIMEOUT_S = 10.0  # after SIGINT, then after SIGTERM, before escalating
POLL_S = 0.1


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


def node_class(executable: str):
    """The Node subclass an executable runs (bringup.EXECUTABLES)."""
    try:
        target = EXECUTABLES[executable]
    except KeyError:
        raise Robotxr1Error(f"unknown executable {executable!r}; known: {sorted(EXECUTABLES)}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def ros_arguments(spec: NodeLaunch) -> list[str]:
    """The node's name, namespace, parameter files and remappings as --ros-args."""
    arguments = ["--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        arguments += ["-r", f"__ns:=/{spec.namespace.strip('/')}"]
    for parameter_file in spec.parameter_files:
        arguments += ["--params-file", str(parameter_file)]
    for source, target in spec.remappings:
        arguments += ["-r", f"{source}:={target}"]
    return arguments


def node_arguments(spec: NodeLaunch) -> dict[str, Any]:
    """Node() keyword arguments equivalent to launch_ros's Node(name, namespace, parameters, remappings)."""
    from rclpy.parameter import Parameter

    overrides = [Parameter(name, value=value) for name, value in spec.overrides.items()]
    return {"cli_args": ros_arguments(spec), "parameter_overrides": overrides}


def launch_values(bringup_name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every launch argument of the bringup: the given value, else its default."""
    arguments = BRINGUPS[bringup_name].arguments()
    return {a.name: a.default if given.get(a.name) is None else given[a.name] for a in arguments}


def node_specs(bringup_name: str, given: Mapping[str, Any]) -> list[NodeLaunch]:
    """The bringup's nodes for the given launch arguments (defaults for the others)."""
    values = launch_values(bringup_name, given)
    return list(BRINGUPS[bringup_name].nodes(values["config"], values))


def create_nodes(bringup_name: str, given: Mapping[str, Any], context=None) -> list:
    """The bringup's nodes, created in `context` (rclpy must be initialised in it)."""
    nodes = []
    try:
        for spec in node_specs(bringup_name, given):
            nodes.append(node_class(spec.executable)(context=context, **node_arguments(spec)))
    except BaseException:
        for node in nodes:
            node.destroy_node()
        raise
    return nodes


def node_command(spec: NodeLaunch, work_dir: Path) -> list[str]:
    """The command line of one node: its executable's module and its --ros-args, with its
    overrides as one more parameter file after the others (the last one wins)."""
    module = EXECUTABLES[spec.executable].split(":")[0]
    command = [sys.executable, "-m", module, *ros_arguments(spec)]
    if spec.overrides:
        overrides = work_dir / f"{spec.name}.overrides.yaml"
        overrides.write_text(yaml.safe_dump({"/**": {"ros__parameters": dict(spec.overrides)}}), encoding="utf-8")
        command += ["--params-file", str(overrides)]
    return command


def stop_processes(processes: Mapping[str, subprocess.Popen], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGINT every live process, then SIGTERM, then SIGKILL, each after `timeout_s`."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        live = [process for process in processes.values() if process.poll() is None]
        for process in live:
            process.send_signal(sig)
        deadline = time.monotonic() + timeout_s
        while any(process.poll() is None for process in live) and time.monotonic() < deadline:
            time.sleep(POLL_S)


def run(args) -> int:
    from ..nodes.parent_watch import ParentWatch
    from ..nodes.spin import stop_on_signals

    given = {argument.name: getattr(args, argument.name) for argument in BRINGUPS[args.bringup].arguments()}
    specs = node_specs(args.bringup, given)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    processes: dict[str, subprocess.Popen] = {}
    with stop_on_signals() as stop, tempfile.TemporaryDirectory(prefix="robotxr1-run-") as work_dir:
        parent = ParentWatch.start()  # as in every node (nodes/spin.py): its signal sets `stop`
        try:
            for spec in specs:
                label = f"{spec.namespace.strip('/')}/{spec.name}" if spec.namespace else spec.name
                processes[label] = subprocess.Popen(node_command(spec, Path(work_dir)))
                print(f"[robotxr1 run] {label}: process {processes[label].pid}", flush=True)
            while (not stop.is_set() and not parent.gone() and any(p.poll() is None for p in processes.values())
                   and (deadline is None or time.monotonic() < deadline)):
                time.sleep(POLL_S)
        finally:
            stop_processes(processes)
    codes = {label: process.returncode for label, process in processes.items()}
    for label, code in codes.items():
        print(f"[robotxr1 run] {label} exited with {code}", flush=True)
    return 0 if all(code == 0 for code in codes.values()) else 1
