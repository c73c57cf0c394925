"""The parameter table: validation errors name the allowed range."""
import math

import pytest

from robotxr1_ros.params import PARAM_NAMES, PARAM_TABLE, MpcParams, ParamError, parse_assignments


def test_defaults_come_from_the_table():
    params = MpcParams()
    assert params.as_dict() == {spec.name: spec.default for spec in PARAM_TABLE}
    assert len(PARAM_NAMES) == 11


@pytest.mark.parametrize("name, value", [("v_max", 15.5), ("qac", -0.1), ("track_safety_margin", 1.2), ("a_min", 1.0)])
def test_out_of_range_names_the_range(name, value):
    spec = next(s for s in PARAM_TABLE if s.name == name)
    with pytest.raises(ParamError, match=rf"{name}.*\[{spec.minimum}, {spec.maximum}\]"):
        MpcParams().updated({name: value})


@pytest.mark.parametrize("value", [math.nan, math.inf, "3", True, None])
def test_non_numbers_are_rejected(value):
    with pytest.raises(ParamError, match="qv"):
        MpcParams().updated({"qv": value})


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ParamError, match=r"unknown MPC parameter.*'speed'.*v_max"):
        MpcParams().updated({"speed": 3.0})


def test_v_max_must_not_be_below_v_min():
    with pytest.raises(ParamError, match=r"v_max=0\.5 must be >= v_min=1\.0"):
        MpcParams().updated({"v_max": 0.5})
    assert MpcParams().updated({"v_min": -2.0, "v_max": -0.5}).v_max == -0.5


def test_command_line_assignments():
    assert parse_assignments(["v_max=4", " qn = 2.5"]) == {"v_max": 4.0, "qn": 2.5}
    for bad, message in [("v_max", "name=value"), ("vmax=3", "unknown"), ("v_max=fast", "not a number"),
                         ("v_max=99", r"\[-1.0, 15.0\]")]:
        with pytest.raises(ParamError, match=message):
            parse_assignments([bad])
