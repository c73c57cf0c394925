"""A speed in km/h through `robotxr1 ask` with the bundled model and its shipped adapter: the model
is shown the speed in m/s, and the speed parameters applied are never the km/h figure read as m/s
(what the pipeline guarantees whatever the model answers; the shipped adapter answers v_min =
v_max = 2.78, which is not asserted)."""
import json

import pytest

from robotxr1_ros.cases.control import parse_reference_speed
from robotxr1_ros.cli import main
from robotxr1_ros.llm.speed_check import SPEED_PARAMS


def test_ask_applies_10_km_h_as_2_78_m_s(capsys):
    assert main(["ask", "--instruction", "Drive at 10 km/h", "--json"]) == 0
    tuning = json.loads(capsys.readouterr().out)["tuning"]
    assert tuning["instruction"] == "Drive at 2.78 m/s (10 km/h)"
    assert parse_reference_speed(tuning["instruction"]) == pytest.approx(10 / 3.6)  # what the evaluation would score
    update, applied = tuning["update"], tuning["params"]
    assert update["found"], tuning["completion"]["text"]
    for name in SPEED_PARAMS:
        assert abs(applied[name]) != 10.0 and abs(update["accepted"].get(name, 0.0)) != 10.0, tuning
        clamped = update["clamped"].get(name)
        if clamped is not None and abs(clamped["proposed"]) == 10.0:  # the figure read as m/s: corrected, and said so
            assert abs(clamped["value"]) == 2.78 and "read as m/s" in clamped["reason"], update
