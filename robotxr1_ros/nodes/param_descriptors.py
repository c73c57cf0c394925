"""The 11 MPC parameters as ROS parameters: descriptors generated from PARAM_TABLE, a car's
narrowed ranges, validation of an update, and the order in which to set a new parameter set.

A car's config may narrow a parameter's range (`limits.<name>: [low, high]` in the controller's
YAML) but never widen it; the narrowed table is what the descriptors, and so `ros2 param set`,
enforce. Needs only the rcl_interfaces message classes, not a running ROS context.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, ParameterType

from ..params import PARAM_SPECS, PARAM_TABLE, MpcParams, ParamError, ParamSpec

LIMITS_PREFIX = "limits."


def narrowed_specs(limits: Mapping[str, Sequence[float]]) -> dict[str, ParamSpec]:
    """PARAM_SPECS with the car's [low, high] ranges applied; defaults are clamped into them.

    Raises ParamError for an unknown name, a malformed pair, or a range reaching outside the table.
    """
    specs = dict(PARAM_SPECS)
    for name, bounds in limits.items():
        if name not in PARAM_SPECS:
            raise ParamError(f"limits: unknown MPC parameter {name!r}; known: {list(PARAM_SPECS)}")
        if len(bounds) != 2:
            raise ParamError(f"limits.{name}: expected [low, high], got {list(bounds)}")
        spec = PARAM_SPECS[name]
        low, high = (float(value) for value in bounds)
        if not spec.minimum <= low <= high <= spec.maximum:
            raise ParamError(f"limits.{name}=[{low}, {high}] must lie inside [{spec.minimum}, {spec.maximum}]"
                             " with low <= high: a car config may narrow a range, never widen it")
        specs[name] = replace(spec, minimum=low, maximum=high, default=min(high, max(low, spec.default)))
    return specs


def describe(spec: ParamSpec) -> ParameterDescriptor:
    """A double parameter limited to [minimum, maximum]; step 0 = any value in between (rclpy
    rejects values off a non-zero step's grid)."""
    unit = "" if spec.unit == "-" else f" [{spec.unit}]"
    return ParameterDescriptor(
        name=spec.name,
        type=ParameterType.PARAMETER_DOUBLE,
        description=f"{spec.meaning}{unit}",
        additional_constraints=f"{spec.minimum} <= {spec.name} <= {spec.maximum}; v_min <= v_max",
        floating_point_range=[FloatingPointRange(from_value=spec.minimum, to_value=spec.maximum, step=0.0)],
    )


def descriptors(specs: Mapping[str, ParamSpec]) -> dict[str, ParameterDescriptor]:
    """One descriptor per MPC parameter, in PARAM_TABLE order."""
    return {spec.name: describe(specs[spec.name]) for spec in PARAM_TABLE}


def validated_update(current: MpcParams, specs: Mapping[str, ParamSpec],
                     changes: Mapping[str, float]) -> MpcParams:
    """`current` with `changes` applied, checked against the (narrowed) specs and MpcParams' own
    cross-checks (v_max >= v_min); raises ParamError with the reason otherwise."""
    for name, value in changes.items():
        if name in specs:
            specs[name].check(value)
    return current.updated(changes)


def sequential_order(current_v_min: float, current_v_max: float, target: Mapping[str, float]) -> list[tuple[str, float]]:
    """`target` as (name, value) pairs in an order that a parameter service setting them one by one
    (rcl_interfaces/SetParameters) accepts: v_min and v_max are cross-checked on every single set,
    so the new v_max goes first when the new v_min lies above the current v_max."""
    names = [name for name in PARAM_SPECS if name in target]
    if "v_min" in target and "v_max" in target and target["v_min"] > current_v_max:
        names.remove("v_max")
        names.insert(names.index("v_min"), "v_max")
    return [(name, float(target[name])) for name in names]
