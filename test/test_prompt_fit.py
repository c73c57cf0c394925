"""An instruction is refused when a prompt it makes would not fit the model's context with the
answer (ROS-free: scripted backends count words as a model counts tokens; the real tokenizer is in
test_llm_real_model.py)."""
from __future__ import annotations

import pytest

from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.backends import BackendError, ScriptedBackend
from robotxr1_ros.llm.decision import DecisionxR1
from robotxr1_ros.llm.features import StateFeatures
from robotxr1_ros.llm.prompt_fit import (
    PROMPT_MARGIN_TOKENS,
    WIDEST_STATE,
    InstructionTooLong,
    prompt_sizes,
    require_fitting_instruction,
)
from robotxr1_ros.llm.prompts import InstructionError
from robotxr1_ros.llm.tuning import MPCxR1

STATE = StateFeatures(time=2.0, data_samples=5, s_pos=(5.0, 4.6, 4.2, 3.8, 3.4), d_pos=(0.1, -0.2, 0.0, 0.3, 0.1),
                      s_speed=(-0.8,) * 5, d_speed=(0.05,) * 5, d_left=(1.2,) * 5, d_right=(0.3,) * 5,
                      reversing=True, crashed=False, facing_wall=False)


def modules(n_ctx: int | None, max_tokens: int = 60) -> tuple[DecisionxR1, MPCxR1]:
    decision = DecisionxR1(ScriptedBackend([decision_answer("scripted", True)], n_ctx=n_ctx))
    tuning = MPCxR1(ScriptedBackend([mpc_answer("scripted", {"qv": 5.0})], n_ctx=n_ctx), max_tokens=max_tokens)
    return decision, tuning


def fitting_context() -> int:
    """A context in which "Reverse the car" fits with ~40 words to spare, and 100 more words do not."""
    sizes = prompt_sizes("Reverse the car", *modules(10_000))
    return max(size.prompt_tokens + size.answer_tokens for size in sizes) + PROMPT_MARGIN_TOKENS + 40


def test_both_prompts_are_measured_with_each_modules_answer_budget():
    decision, tuning = modules(fitting_context())
    sizes = {size.module: size for size in prompt_sizes("Reverse\u200b the car", decision, tuning)}
    assert set(sizes) == {"decision", "tuning"}
    assert sizes["tuning"].answer_tokens == 60
    assert sizes["decision"].answer_tokens == len("<answer>False</answer>")  # the verdict alone is read
    assert all(size.spare_tokens >= 0 for size in sizes.values())
    assert require_fitting_instruction("Reverse\u200b the car\u202e", decision, tuning) == "Reverse the car"


def test_an_instruction_too_long_for_the_context_is_refused_saying_which_prompt_and_by_how_much():
    decision, tuning = modules(fitting_context())
    with pytest.raises(InstructionTooLong, match=r"the decision prompt it makes has \d+ tokens, .* is \d+ tokens "
                                                 r"more than the model's context of \d+; shorten the instruction"):
        require_fitting_instruction("go " * 100, decision, tuning)
    assert issubclass(InstructionTooLong, InstructionError)  # every door that refuses one refuses the other


def test_an_accepted_instruction_never_overflows_the_model_at_a_call():
    """The guarantee: whatever the instruction's length, it is refused at the door or both modules
    answer it (the scripted backends raise "exceeds the context" as llama.cpp does)."""
    decision, tuning = modules(fitting_context())
    accepted = overflowing = 0
    for words in range(0, 120, 3):
        instruction = "Reverse the car " + "now " * words
        try:
            require_fitting_instruction(instruction, decision, tuning)
        except InstructionTooLong:
            try:  # what would have happened to it (within the margin: nothing)
                decision.decide(instruction, WIDEST_STATE)
                tuning.tune(instruction)
            except BackendError as error:
                assert "exceeds the context" in str(error)
                overflowing += 1
            continue
        accepted += 1
        assert decision.decide(instruction, STATE).completion is not None
        assert tuning.tune(instruction).update.found
    assert accepted and overflowing


def test_a_backend_that_cannot_count_tokens_is_not_measured():
    decision, tuning = modules(None)
    assert prompt_sizes("go " * 160, decision, tuning) == ()
    assert require_fitting_instruction("go " * 160, decision, tuning).startswith("go go")
