"""Start a bringup's nodes as its launch file would: each in a process of its own, or all in this one.

ROS 2's `launch` is not installable everywhere, so this runner reads the same description
(bringup.py) and starts each node's executable (`python -m <node module>`) with the same parameter
files, overrides and remappings. One process per node, as under launch: with all nodes on one
executor in one process, the controller missed 668 of 1,600 deadlines in 40 s while the model
answered (the GIL and one executor shared with inference and the simulator); in a process of its
own, raised in priority, it missed 1 in 4,800 with the model busy (`robotxr1 bench ros`). A stop
request (Ctrl-C, SIGTERM) stops every node (SIGINT first, then SIGTERM, then SIGKILL, as launch
escalates), and so does the death of the runner's own parent. A runner killed outright leaves no
nodes behind either: each node stops when its parent, the runner, dies (parent_watch.py).
`create_nodes` makes the same nodes in this process instead (`robotxr1 demo`, `bench ros`, tests).
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
from .bringup import BRINGUPS, EXECUTABLES, NodeLaunch

STOP_TIMEOUT_S = 10.0  # after SIGINT, then after SIGTERM, before escalating
POLL_S = 0.1


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


def run_bringup(bringup_name: str, given: Mapping[str, Any], seconds: float | None = None) -> int:
    """Run the bringup's nodes, one process each, until a stop request, the runner's parent's
    death, every node's exit or `seconds` of wall time; 0 when every node exited 0."""
    from .parent_watch import ParentWatch
    from .spin import stop_on_signals

    specs = node_specs(bringup_name, given)
    deadline = None if seconds is None else time.monotonic() + seconds
    processes: dict[str, subprocess.Popen] = {}
    with stop_on_signals() as stop, tempfile.TemporaryDirectory(prefix="robotxr1-run-") as work_dir:
        parent = ParentWatch.start()  # as in every node (spin.py): its signal sets `stop`
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
