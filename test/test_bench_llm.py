"""`bench llm`'s measuring logic (robotxr1_ros/bench/llm.py) on a scripted backend: both modules,
cold and warm, every call accounted for. Timings are reported, never asserted."""
from robotxr1_ros.bench.llm import WINDOWS_PER_INSTRUCTION, bench_llm, decision_inputs, table
from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.module_pair import AnswerSettings
from robotxr1_ros.llm.prompts import decision_system_prompt


def answer(messages):
    if messages[0]["content"] == decision_system_prompt():
        return decision_answer("moving", True)
    return mpc_answer("slower", {"v_max": 3.0})


def test_both_modules_cold_and_warm():
    backend = ScriptedBackend(answer)
    settings = AnswerSettings(decision_reasoning_chars=0, tuning_reasoning_chars=0)
    result = bench_llm(settings, backend, backend, decisions=3, instructions=["Drive slowly", "Drive at 3 m/s"])
    assert len(backend.calls) == (3 + 1 + 3) + (2 + 1 + 2)  # cold, one warm-up, warm; per module
    for module, calls in (("decision", 3), ("tuning", 2)):
        assert result[module]["calls"] == calls
        assert result[module]["options"] == settings.options(module)
        for phase in ("cold", "warm"):
            summary = result[module][phase]
            assert summary["ok_rate"] == 1.0 and len(summary["runs"]) == calls
            assert summary["prompt_eval_s"] is None  # a scripted backend has no phases to report
    text = table(result)
    assert "decision cold" in text and "tuning warm" in text and "load average" in text


def test_decision_inputs_spread_over_the_datasets_and_ask_each_instruction_in_a_row():
    pairs = decision_inputs(16)
    instructions = [instruction for instruction, _ in pairs]
    assert len(pairs) == 16 and len(set(instructions)) == 16 // WINDOWS_PER_INSTRUCTION
    assert instructions == sorted(instructions, key=instructions.index)  # consecutive, as on the car
    assert len({state.s_pos for _, state in pairs}) == 16
