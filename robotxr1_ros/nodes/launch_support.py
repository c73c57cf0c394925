"""Build a ROS 2 launch description from a bringup of robotxr1_ros.nodes.bringup.

Used by launch/*.launch.py; `launch` and `launch_ros` are imported only here and only when a
launch file runs (they are not installable everywhere, and `robotxr1 run` does not need them).
"""
from __future__ import annotations

from .bringup import BRINGUPS


def launch_description(bringup_name: str):
    """Launch arguments of the bringup, then one launch_ros Node per NodeLaunch, given exactly what
    `robotxr1 run` gives its nodes (namespace, parameter files, overrides, remappings)."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    bringup = BRINGUPS[bringup_name]
    arguments = bringup.arguments()
    values = {argument.name: LaunchConfiguration(argument.name) for argument in arguments}
    actions = [DeclareLaunchArgument(argument.name, default_value=argument.default, description=argument.description)
               for argument in arguments]
    for spec in bringup.nodes(values["config"], values):
        stop = {} if spec.stop_timeout_s is None else {"sigterm_timeout": str(spec.stop_timeout_s)}
        actions.append(Node(package=spec.package, executable=spec.executable, name=spec.name, output="screen",
                            parameters=[*spec.parameter_files, dict(spec.overrides)],
                            remappings=list(spec.remappings), namespace=spec.namespace, **stop))
    return LaunchDescription(actions)
