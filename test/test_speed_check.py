"""The parameter answer checked against the speeds its instruction names (llm/speed_check.py), through
MPCxR1 with a scripted model, the supervisor and `robotxr1 ask` (a loopback stub server)."""
import json

import pytest
from openai_stub import StubServer, chat_reply

from robotxr1_ros.cases.quantities import find_speeds
from robotxr1_ros.cli import main
from robotxr1_ros.control.param_limits import narrowed_specs
from robotxr1_ros.llm.answer_format import mpc_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.parsing import parse_mpc_answer
from robotxr1_ros.llm.speed_check import SPEED_PARAMS
from robotxr1_ros.llm.supervisor import Outcome, Supervisor
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.params import PARAM_SPECS, MpcParams


def tune(instruction: str, values: dict, **kwargs):
    """MPCxR1's tuning when the model answers `values`, and the prompt it was asked."""
    backend = ScriptedBackend([mpc_answer("scripted", values)])
    tuning = MPCxR1(backend).tune(instruction, **kwargs)
    return tuning, backend.calls[0]["messages"][-1]["content"]


def test_the_speed_parameters_are_the_tables_in_m_s():
    assert {"v_min", "v_max"} == SPEED_PARAMS == {name for name, spec in PARAM_SPECS.items() if spec.unit == "m/s"}


def test_a_figure_read_as_m_s_is_corrected_to_the_speed_the_model_was_shown():
    tuning, prompt = tune("Drive at 10 km/h", {"v_min": 10.0, "v_max": 10.0})
    assert "Drive at 2.78 m/s (10 km/h)" in prompt and tuning.instruction == "Drive at 2.78 m/s (10 km/h)"
    assert tuning.params.v_min == tuning.params.v_max == 2.78
    assert not tuning.update.accepted and not tuning.update.rejected
    for name in ("v_min", "v_max"):
        item = tuning.update.clamped[name]
        assert (item.proposed, item.value) == (10.0, 2.78)
        assert item.reason == "10 is '10 km/h' read as m/s; 10 km/h = 2.78 m/s"


def test_an_answer_in_m_s_passes_and_so_does_a_whole_number_beside_the_speed():
    tuning, _ = tune("Drive at 10 km/h", {"v_max": 2.78, "v_min": 1.0})
    assert tuning.update.accepted == {"v_max": 2.78, "v_min": 1.0} and not tuning.update.clamped
    tuning, _ = tune("Drive at 3 m/s", {"v_max": 3.0, "alat_max": 3.0})
    assert tuning.update.accepted == {"v_max": 3.0, "alat_max": 3.0}  # 3 may be meant for alat_max


def test_a_speed_copied_into_another_parameter_is_refused():
    tuning, _ = tune("Drive at 3.25 m/s", {"qddelta": 3.25, "v_max": 3.25})
    assert tuning.update.accepted == {"v_max": 3.25}
    (refused,) = tuning.update.rejected
    assert refused.reason == "3.25 is the instruction's speed (3.25 m/s), not a qddelta value; qddelta keeps 0.1"
    assert tuning.params.qddelta == MpcParams().qddelta
    # The m/s value shown to the model, of a speed in another unit, and its figure as written.
    tuning, _ = tune("Go 5 mph", {"qv": 2.24, "qn": 5.0})
    assert not tuning.update.changes and len(tuning.update.rejected) == 2
    assert "5 mph = 2.24 m/s" in tuning.update.rejected[0].reason
    # A whole number is refused only when the answer sets no speed parameter at all.
    tuning, _ = tune("Drive at 3 m/s", {"qddelta": 3.0})
    assert not tuning.update.changes and "not a qddelta value" in tuning.update.rejected[0].reason
    # A value the parameter already has changes nothing, and is not judged.
    assert tune("Drive at 10 m/s", {"qv": 10.0})[0].update.accepted == {"qv": 10.0}


def test_a_speed_asked_beyond_the_range_is_clamped_with_the_reason():
    tuning, _ = tune("Drive at 20 m/s", {"v_min": 20.0, "v_max": 20.0})
    clamped = tuning.update.clamped
    assert (clamped["v_max"].value, clamped["v_max"].reason) == (15.0, "asked 20 m/s; the car's v_max range ends at 15")
    assert (clamped["v_min"].value, clamped["v_min"].reason) == (4.0, "asked 20 m/s; the car's v_min range ends at 4")
    # A car's narrower range is the one that ends it; a figure read as m/s is corrected first.
    car = narrowed_specs({"v_max": [0.5, 8.0]}).values()
    tuning, _ = tune("Drive at 72 km/h", {"v_max": 72.0}, specs=car)
    assert tuning.update.clamped["v_max"].value == 8.0
    assert tuning.update.clamped["v_max"].reason == ("72 is '72 km/h' read as m/s; 72 km/h = 20 m/s; "
                                                     "the car's v_max range ends at 8")
    # Backwards: the direction is the model's, the range's end the car's.
    tuning, _ = tune("Reverse at 10 km/h", {"v_min": -10.0, "v_max": -10.0})
    assert tuning.params.v_min == -2.0 and tuning.params.v_max == -1.0
    assert tuning.update.clamped["v_max"].reason.endswith("the car's v_max range ends at -1")


def test_a_speed_parameter_out_of_range_is_refused_unless_it_was_asked_for():
    assert parse_mpc_answer("{'v_max': 20}").rejected  # no instruction: a safety limit is not clamped
    update = parse_mpc_answer("{'v_max': 99}", speeds=find_speeds("Drive at 3 m/s"))
    assert not update.changes and "a safety limit is not clamped" in update.rejected[0].reason


def test_ranges_are_read_and_changes_of_speed_are_not_targets():
    tuning, _ = tune("Keep between 10 and 15 km/h", {"v_min": 10.0, "v_max": 15.0})
    assert tuning.update.changes == {"v_min": 2.78, "v_max": 4.17}
    # "2 km/h faster" names no target: the answer is not checked against it.
    tuning, _ = tune("Go 2 km/h faster", {"v_max": 2.0, "qv": 0.56})
    assert tuning.update.accepted == {"v_max": 2.0, "qv": 0.56}


def test_the_supervisor_sends_the_corrected_speed():
    supervisor = Supervisor()
    assert supervisor.set_instruction("Drive at ten kilometres an hour", 0.0) == "Drive at 2.78 m/s (10 km/h)"
    job = supervisor.next_job(0.0)
    assert job is not None and job.instruction == "Drive at 2.78 m/s (10 km/h)"
    tuning = MPCxR1(ScriptedBackend([mpc_answer("slow", {"v_max": 10.0})])).tune(job.instruction, supervisor.params,
                                                                                 supervisor.specs)
    event = supervisor.on_tuning(tuning, 0.1)
    assert event.outcome == Outcome.SEND and dict(event.update.changes) == {"v_max": 2.78}
    assert "read as m/s" in json.dumps(event.as_dict())


@pytest.mark.parametrize("text_output", [False, True])
def test_ask_reports_the_correction(capsys, text_output):
    def answer(body):
        return chat_reply(mpc_answer("slow", {"v_max": 10.0}))

    with StubServer(answer) as stub:
        assert main(["ask", "--instruction", "Drive at 10 km/h", "--endpoint", stub.url,
                     *([] if text_output else ["--json"])]) == 0
    assert "Drive at 2.78 m/s (10 km/h)" in stub.requests[-1]["body"]["messages"][-1]["content"]
    out = capsys.readouterr().out
    if text_output:
        assert "v_max 10 -> 2.78 (10 is '10 km/h' read as m/s; 10 km/h = 2.78 m/s)" in out
    else:
        tuning = json.loads(out)["tuning"]
        assert tuning["params"]["v_max"] == 2.78 and tuning["update"]["clamped"]["v_max"]["proposed"] == 10.0
