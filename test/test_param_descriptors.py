"""Parameter descriptors generated from PARAM_TABLE, and a car config's narrowed ranges (no rclpy.init)."""
from __future__ import annotations

import pytest
from rcl_interfaces.msg import ParameterType

from robotxr1_ros.control.param_limits import narrowed_specs, validated_update
from robotxr1_ros.nodes.param_descriptors import descriptors
from robotxr1_ros.params import PARAM_NAMES, PARAM_SPECS, PARAM_TABLE, MpcParams, ParamError


def test_one_double_descriptor_per_table_row_with_its_range_and_meaning():
    generated = descriptors(PARAM_SPECS)
    assert tuple(generated) == PARAM_NAMES
    for spec in PARAM_TABLE:
        descriptor = generated[spec.name]
        assert descriptor.name == spec.name
        assert descriptor.type == ParameterType.PARAMETER_DOUBLE
        (value_range,) = descriptor.floating_point_range
        assert (value_range.from_value, value_range.to_value, value_range.step) == (spec.minimum, spec.maximum, 0.0)
        assert spec.meaning in descriptor.description
        if spec.unit != "-":
            assert spec.unit in descriptor.description


def test_narrowing_keeps_other_rows_and_clamps_the_default():
    specs = narrowed_specs({"v_max": [0.0, 6.0], "qv": (5.0, 50.0)})
    assert (specs["v_max"].minimum, specs["v_max"].maximum, specs["v_max"].default) == (0.0, 6.0, 6.0)
    assert specs["qv"].default == PARAM_SPECS["qv"].default
    assert specs["qn"] == PARAM_SPECS["qn"]
    assert descriptors(specs)["v_max"].floating_point_range[0].to_value == 6.0


@pytest.mark.parametrize("limits, message", [
    ({"v_max": [0.0, 16.0]}, "never widen"),
    ({"a_min": [-25.0, -1.0]}, "never widen"),
    ({"v_max": [5.0, 4.0]}, "low <= high"),
    ({"v_max": [1.0]}, "expected [low, high]"),
    ({"speed": [0.0, 1.0]}, "unknown MPC parameter"),
])
def test_widening_or_malformed_limits_are_refused(limits, message):
    with pytest.raises(ParamError, match=message.replace("[", r"\[").replace("]", r"\]")):
        narrowed_specs(limits)


def test_validated_update_checks_narrowed_range_and_cross_constraint():
    specs = narrowed_specs({"v_max": [0.0, 6.0]})
    current = MpcParams(v_max=5.0)
    assert validated_update(current, specs, {"v_max": 4.0}).v_max == 4.0
    with pytest.raises(ParamError, match="outside the allowed range"):
        validated_update(current, specs, {"v_max": 8.0})
    with pytest.raises(ParamError, match=r"v_max=0\.5 must be >= v_min=1\.0"):
        validated_update(current, specs, {"v_max": 0.5})
