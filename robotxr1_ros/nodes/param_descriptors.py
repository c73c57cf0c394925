"""The 11 MPC parameters as ROS parameters: descriptors generated from the controller's effective
ranges.

The effective ranges (PARAM_TABLE narrowed by the car's `limits.<name>: [low, high]` and by the
brake floor) come from control/param_limits.py; the descriptors carry them, so `ros2 param
set/describe` and the LLM node (which reads describe_parameters) see what the controller accepts.
Needs only the rcl_interfaces message classes, not a running ROS context.
"""
from __future__ import annotations

from collections.abc import Mapping

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, ParameterType

from ..params import PARAM_TABLE, ParamSpec

LIMITS_PREFIX = "limits."
CROSS_RULES_NOTE = "the whole set must also pass robotxr1_ros.params.check_cross_rules"


def describe(spec: ParamSpec, note: str = "") -> ParameterDescriptor:
    """A double parameter limited to [minimum, maximum]; step 0 = any value in between (rclpy
    rejects values off a non-zero step's grid). `note` says why a range is narrower than the table."""
    unit = "" if spec.unit == "-" else f" [{spec.unit}]"
    constraints = [f"{spec.minimum} <= {spec.name} <= {spec.maximum}", *([note] if note else []), CROSS_RULES_NOTE]
    return ParameterDescriptor(
        name=spec.name,
        type=ParameterType.PARAMETER_DOUBLE,
        description=f"{spec.meaning}{unit}",
        additional_constraints="; ".join(constraints),
        floating_point_range=[FloatingPointRange(from_value=spec.minimum, to_value=spec.maximum, step=0.0)],
    )


def descriptors(specs: Mapping[str, ParamSpec],
                notes: Mapping[str, str] | None = None) -> dict[str, ParameterDescriptor]:
    """One descriptor per MPC parameter, in PARAM_TABLE order."""
    notes = notes or {}
    return {spec.name: describe(specs[spec.name], notes.get(spec.name, "")) for spec in PARAM_TABLE}
