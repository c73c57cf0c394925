"""DecisionxR1 and MPCxR1 with a scripted backend: what reaches the model and what comes back."""
from dataclasses import replace

import pytest

from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.backends import Completion, ScriptedBackend
from robotxr1_ros.llm.decision import DecisionStatus, DecisionxR1, decision_from_text
from robotxr1_ros.llm.features import InsufficientData, StateFeatures
from robotxr1_ros.llm.grammar import decision_grammar, mpc_grammar
from robotxr1_ros.llm.prompts import InstructionError
from robotxr1_ros.llm.tuning import TUNING_REASONING_CHARS, MPCxR1, tuning_from_text
from robotxr1_ros.params import DEFAULT_PARAM_SET, PARAM_TABLE, MpcParams, specs_of_set

REVERSING = StateFeatures(time=2.0, data_samples=5, s_pos=(5.0, 4.6, 4.2, 3.8, 3.4), d_pos=(0.0,) * 5,
                          s_speed=(-0.8,) * 5, d_speed=(0.0,) * 5, d_left=(1.5,) * 5, d_right=(1.5,) * 5,
                          reversing=True, crashed=False, facing_wall=False)


def test_tuning_applies_a_valid_answer():
    backend = ScriptedBackend([mpc_answer("Both speeds negative.", {"v_min": -2.0, "v_max": -0.5})])
    tuning = MPCxR1(backend).tune("  Drive   in reverse. ")
    assert tuning.instruction == "Drive in reverse."
    assert tuning.params == MpcParams(v_min=-2.0, v_max=-0.5)
    assert tuning.reasoning == "Both speeds negative." and tuning.update.accepted == {"v_min": -2.0, "v_max": -0.5}
    call = backend.calls[0]
    assert call["grammar"] == mpc_grammar(reasoning_chars=TUNING_REASONING_CHARS) and call["temperature"] == 0.0
    assert call["max_tokens"] == 200
    assert "A negative v_min allows the car to reverse" in call["messages"][1]["content"]  # retrieved memory


def test_tuning_without_grammar_and_with_a_bad_answer_keeps_defaults():
    backend = ScriptedBackend(["I think the car should go faster!"])
    tuning = MPCxR1(backend, use_grammar=False, max_tokens=64).tune("Go fast")
    assert backend.calls[0]["grammar"] is None and backend.calls[0]["max_tokens"] == 64
    assert not tuning.update.found and tuning.params == MpcParams()


def test_tuning_clamps_and_reports():
    text = "new_mpc_params = {'qv': 120, 'v_max': 99, 'boost': 1}"
    tuning = tuning_from_text("Go fast", Completion(text, 10, 5, 0.1))
    assert tuning.params.qv == 100.0 and tuning.update.clamped["qv"].proposed == 120.0
    assert tuning.params.v_max == MpcParams().v_max  # a safety limit out of range is rejected, not clamped
    assert sorted(r.reason.split(" ")[0] for r in tuning.update.rejected) == ["99", "unknown"]


def test_tuning_relative_to_a_custom_base_and_narrowed_ranges():
    base = MpcParams(v_min=-1.0, v_max=-0.5)
    tuning = MPCxR1(ScriptedBackend(["new_mpc_params = {'v_min': 2.0}"]), base=base).tune("Forward again")
    assert tuning.params == base  # v_max -0.5 < v_min 2: refused whole
    narrowed = tuple(replace(spec, maximum=5.0) if spec.name == "v_max" else spec for spec in PARAM_TABLE)
    backend = ScriptedBackend(["new_mpc_params = {'v_max': 4.0}"])
    tuning = MPCxR1(backend, specs=narrowed).tune("Slower", base=MpcParams(v_max=5.0))
    assert tuning.params == MpcParams(v_max=4.0)
    # The controller's ranges, narrowed to the model's parameter set.
    assert backend.calls[0]["grammar"] == mpc_grammar(specs_of_set(narrowed, DEFAULT_PARAM_SET),
                                                      reasoning_chars=TUNING_REASONING_CHARS)
    system_prompt = backend.calls[0]["messages"][0]["content"]
    assert "- v_max: maximum speed; negative forces reversing, m/s, -1 to 5" in system_prompt

    assert ("speed_scale" in system_prompt) is (DEFAULT_PARAM_SET == "extended")


def test_the_extended_set_asks_about_the_extension_and_the_paper_set_refuses_it():
    answer = "new_mpc_params = {'speed_scale': 1.1, 'centre_blend': 1.0}"
    backend = ScriptedBackend([answer])
    tuning = MPCxR1(backend, param_set="extended").tune("Race on the centre line")
    assert tuning.params == MpcParams(speed_scale=1.1, centre_blend=1.0)
    system_prompt = backend.calls[0]["messages"][0]["content"]
    assert "- centre_blend: line followed: 0 the racing line, 1 the centre line" in system_prompt
    assert "'speed_scale'" in backend.calls[0]["grammar"]
    paper = MPCxR1(ScriptedBackend([answer]), use_grammar=False, param_set="paper").tune("Race on the centre line")
    assert paper.params == MpcParams()  # names outside the model's set are not applied
    assert {item.item.split(":")[0].strip("'") for item in paper.update.rejected} == {"speed_scale", "centre_blend"}


def test_empty_instruction_never_reaches_the_model():
    backend = ScriptedBackend(["x"])
    with pytest.raises(InstructionError):
        MPCxR1(backend).tune(" ")
    with pytest.raises(InstructionError):
        DecisionxR1(backend).decide("", REVERSING)
    assert backend.calls == []


def test_decision_adheres_and_maps_to_continue():
    backend = ScriptedBackend([decision_answer("Mean s_speed is negative.", True)])
    decision = DecisionxR1(backend).decide("Reverse the car", REVERSING)
    assert decision.status == DecisionStatus.ADHERES and decision.adheres is True
    assert decision.action == "Continue behavior"
    assert decision.explanation == "Mean s_speed is negative."
    call = backend.calls[0]
    assert call["grammar"] == decision_grammar(reasoning_chars=0)  # the default: the verdict alone
    assert "s_speed: [-0.8,-0.8,-0.8,-0.8,-0.8] m/s, mean -0.80: moving backwards" in call["messages"][1]["content"]
    assert "A negative s_speed means the car travels backwards" in call["messages"][1]["content"]  # a hint


def test_decision_not_adhering_hands_the_instruction_on():
    decision = DecisionxR1(ScriptedBackend(["<answer>False</answer>"])).decide("Drive forward", REVERSING)
    assert decision.status == DecisionStatus.DOES_NOT_ADHERE and decision.action == "Change behavior: Drive forward"


def test_insufficient_data_never_asks_the_model():
    backend = ScriptedBackend(["<answer>True</answer>"])
    decider = DecisionxR1(backend)
    missing = decider.decide("Reverse the car", None)
    nan = decider.decide("Reverse the car", InsufficientData("odometry sample 3 contains NaN"))
    assert missing.status == nan.status == DecisionStatus.INSUFFICIENT_DATA
    assert missing.adheres is None and missing.action is None and missing.completion is None
    assert "NaN" in nan.explanation and backend.calls == []


def test_unreadable_verdict_is_no_verdict_not_a_guess():
    decision = decision_from_text("Stop", Completion("The car moves. crashed: False. reversing: True.", 10, 5, 0.1))
    assert decision.status == DecisionStatus.NO_VERDICT and decision.adheres is None and decision.action is None
    assert decision.as_dict()["completion"]["completion_tokens"] == 5


def test_hand_built_states_with_nan_or_few_samples_are_insufficient():
    backend = ScriptedBackend(["<answer>True</answer>"])
    decider = DecisionxR1(backend)
    nan = decider.decide("Reverse the car", replace(REVERSING, d_pos=(0.0, float("nan"), 0.0, 0.0, 0.0)))
    few = replace(REVERSING, data_samples=1, s_pos=(5.0,), d_pos=(0.0,), s_speed=(-0.8,), d_speed=(0.0,),
                  d_left=(1.5,), d_right=(1.5,))
    assert nan.status == decider.decide("Reverse the car", few).status == DecisionStatus.INSUFFICIENT_DATA
    assert "NaN" in nan.explanation and backend.calls == []
