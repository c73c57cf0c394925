"""`robotxr1 run drive|sim`: start a bringup's nodes in one process, as its launch file would.

ROS 2's `launch` is not installable everywhere, so this runner reads the same description
(robotxr1_ros.nodes.bringup) and gives each node the same parameter files, overrides and
remappings, then spins them together on one executor. The LLM node runs its model on a worker
thread of its own, so no executor thread ever waits for inference. The default executor is the
SingleThreadedExecutor: measured on 2 cores with sim + controller at a requested real-time factor
of 8, it reached 5.2x, rclpy's MultiThreadedExecutor 0.7x (0.34x at a requested 1x: the thread
pool's overhead dwarfs 1 ms callbacks) and the experimental EventsExecutor 6.3x.
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping

from ..errors import Robotxr1Error
from ..nodes.bringup import BRINGUPS, EXECUTABLES, NodeLaunch

EXECUTORS = {
    "single": "rclpy.executors:SingleThreadedExecutor",
    "multi": "rclpy.executors:MultiThreadedExecutor",
    "events": "rclpy.experimental:EventsExecutor",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="start the nodes of a bringup (drive: car, sim: simulation) "
                                               "in one process, like launch/<bringup>.launch.py")
    parser.add_argument("bringup", choices=sorted(BRINGUPS))
    seen = set()
    for bringup in BRINGUPS.values():
        for argument in bringup.arguments():
            if argument.name not in seen:
                seen.add(argument.name)
                parser.add_argument(f"--{argument.name.replace('_', '-')}", dest=argument.name, default=None,
                                    help=f"{argument.description} (default: {argument.default!r})")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many wall-clock seconds")
    parser.add_argument("--executor", choices=sorted(EXECUTORS), default="single",
                        help="rclpy executor (default: single; see the module docstring for measurements)")
    parser.set_defaults(func=run)


def node_class(executable: str):
    """The Node subclass an executable runs (bringup.EXECUTABLES)."""
    try:
        target = EXECUTABLES[executable]
    except KeyError:
        raise Robotxr1Error(f"unknown executable {executable!r}; known: {sorted(EXECUTABLES)}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def node_arguments(spec: NodeLaunch) -> dict[str, Any]:
    """Node() keyword arguments equivalent to launch_ros's Node(name, namespace, parameters, remappings)."""
    from rclpy.parameter import Parameter

    cli_args = ["--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        cli_args += ["-r", f"__ns:=/{spec.namespace.strip('/')}"]
    for parameter_file in spec.parameter_files:
        cli_args += ["--params-file", str(parameter_file)]
    for source, target in spec.remappings:
        cli_args += ["-r", f"{source}:={target}"]
    overrides = [Parameter(name, value=value) for name, value in spec.overrides.items()]
    return {"cli_args": cli_args, "parameter_overrides": overrides}


def launch_values(bringup_name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every launch argument of the bringup: the given value, else its default."""
    arguments = BRINGUPS[bringup_name].arguments()
    return {a.name: a.default if given.get(a.name) is None else given[a.name] for a in arguments}


def create_nodes(bringup_name: str, given: Mapping[str, Any], context=None) -> list:
    """The bringup's nodes, created in `context` (rclpy must be initialised in it)."""
    values = launch_values(bringup_name, given)
    specs = BRINGUPS[bringup_name].nodes(values["config"], values)
    nodes = []
    try:
        for spec in specs:
            nodes.append(node_class(spec.executable)(context=context, **node_arguments(spec)))
    except BaseException:
        for node in nodes:
            node.destroy_node()
        raise
    return nodes


def run(args) -> int:
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    from ..nodes.spin import spin_until_stopped, stop_on_signals

    given = {argument.name: getattr(args, argument.name) for argument in BRINGUPS[args.bringup].arguments()}
    module_name, class_name = EXECUTORS[args.executor].split(":")
    executor_class = getattr(importlib.import_module(module_name), class_name)
    # Ctrl-C / SIGTERM stop the loop (exit 0); the nodes are destroyed before rclpy shuts down.
    with stop_on_signals() as stop:
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
        nodes = []
        executor = None
        try:
            nodes = create_nodes(args.bringup, given)
            executor = executor_class()
            for node in nodes:
                executor.add_node(node)
            spin_until_stopped(executor, stop, args.seconds)
        finally:
            if executor is not None:
                executor.shutdown()
            for node in nodes:
                node.destroy_node()
            rclpy.try_shutdown()
    return 0
