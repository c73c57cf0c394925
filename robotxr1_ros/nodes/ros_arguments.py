"""The command line handed to rclpy.init, with empty parameter values made explicit.

rcl reads the value of `-p name:=value` as YAML, and an empty value is no YAML value at all: rcl
does not make it an empty string (nor a parameter without a value) but refuses the whole command
line, and rclpy.init raises RCLError ("Couldn't parse parameter override rule: '-p lora_path:='")
before any node exists. `-p lora_path:=""` comes to the same, since the shell takes the quotes.
An empty value is meant as the empty string (lora_path: the base model alone), so it is passed
to rcl as the YAML empty string `''`; a parameter of another type then refuses it with rclpy's
type error naming the parameter.
"""
from __future__ import annotations

from collections.abc import Sequence

ROS_ARGS, END_OF_ROS_ARGS = "--ros-args", "--"
PARAMETER_FLAGS = ("-p", "--param")


def with_empty_parameter_values(args: Sequence[str]) -> list[str]:
    """`args` with each `-p name:=` (inside --ros-args) given the value `''`.

    >>> with_empty_parameter_values(["node", "--ros-args", "-p", "lora_path:=", "-p", "n_ctx:=512"])
    ['node', '--ros-args', '-p', "lora_path:=''", '-p', 'n_ctx:=512']
    >>> with_empty_parameter_values(["node", "-p", "x:=", "--ros-args", "--", "-p", "y:="])
    ['node', '-p', 'x:=', '--ros-args', '--', '-p', 'y:=']
    """
    result: list[str] = []
    in_ros_args = after_flag = False
    for arg in args:
        if in_ros_args and after_flag and arg.endswith(":=") and arg.count(":=") == 1:
            arg += "''"
        after_flag = in_ros_args and arg in PARAMETER_FLAGS
        if arg == ROS_ARGS:
            in_ros_args = True
        elif arg == END_OF_ROS_ARGS:
            in_ros_args = False
        result.append(arg)
    return result
