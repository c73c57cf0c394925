"""The parameter table: validation errors name the allowed range."""
import math

import pytest

from robotxr1_ros.params import (
    PARAM_NAMES,
    PARAM_SETS,
    PARAM_TABLE,
    MpcParams,
    ParamError,
    parse_assignments,
    set_specs,
    specs_of_set,
)

PAPER_ELEVEN = ("qv", "qn", "qalpha", "qac", "qddelta", "alat_max", "a_min", "a_max", "v_min", "v_max",
                "track_safety_margin")


def test_defaults_come_from_the_table():
    params = MpcParams()
    assert params.as_dict() == {spec.name: spec.default for spec in PARAM_TABLE}
    assert len(PARAM_NAMES) == 13


def test_the_paper_set_is_the_papers_eleven_and_extended_is_everything():
    assert PARAM_SETS["paper"] == PAPER_ELEVEN
    assert PARAM_SETS["extended"] == PARAM_NAMES
    assert [spec.name for spec in set_specs("paper")] == list(PAPER_ELEVEN)


def test_an_unknown_set_names_the_known_ones():
    with pytest.raises(ParamError, match=r"unknown parameter set 'paper2'; known: \['extended', 'paper'\]"):
        specs_of_set(PARAM_TABLE, "paper2")


def test_the_extension_is_neutral_at_its_defaults():
    """At their defaults the extension parameters leave the paper's controller as it is
    (the MPC maths: speed_scale 1 and an n target of 0 are the reference's cost)."""
    extension = {spec.name: spec.default for spec in PARAM_TABLE if not spec.paper}
    assert extension == {"speed_scale": 1.0, "centre_blend": 0.0}


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
