"""`robotxr1 ask` and `robotxr1 bench llm` against a loopback OpenAI-compatible stub server."""
import json

from openai_stub import StubServer, chat_reply

from robotxr1_ros.cli import build_parser, main
from robotxr1_ros.commands.bench_llm import run_llm_bench
from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.prompts import decision_system_prompt

RECORD = {"time": 2.0, "data_samples": 5, "s_pos": [5.0, 4.6, 4.2, 3.8, 3.4], "d_pos": [0.0] * 5,
          "s_speed": [-0.8] * 5, "d_speed": [0.0] * 5, "d_left": [1.5] * 5, "d_right": [1.5] * 5,
          "reversing": True, "crashed": False, "facing_wall": False}


def answer(body):
    """Decision prompts get a True verdict, MPC prompts a reverse parameter set with one bad item."""
    if body["messages"][0]["content"] == decision_system_prompt():
        return chat_reply(decision_answer("s_speed is negative.", True))
    return chat_reply(mpc_answer("Negative speeds.", {"v_min": -2.0, "v_max": -0.5}).replace("}", ", 'qv': 500}"))


def test_ask_json_with_state(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text(json.dumps(RECORD))
    with StubServer(answer) as stub:
        assert main(["ask", "--instruction", "Reverse the car", "--state", str(state), "--endpoint", stub.url,
                     "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"]["status"] == "adheres" and result["decision"]["action"] == "Continue behavior"
    update = result["tuning"]["update"]
    assert update["accepted"] == {"v_min": -2.0, "v_max": -0.5} and update["clamped"]["qv"]["value"] == 100.0
    assert result["tuning"]["params"]["v_max"] == -0.5 and result["grammar"] is True
    assert result["tuning"]["completion"]["prompt_tokens"] == 120
    assert all("grammar" in request["body"] for request in stub.requests)


def test_ask_text_without_state_and_without_grammar(capsys):
    with StubServer(answer) as stub:
        assert main(["ask", "--instruction", "Reverse the car", "--endpoint", stub.url, "--no-grammar"]) == 0
    out = capsys.readouterr().out
    assert "Decision: insufficient data" in out and "no state window was given" in out
    assert "accepted: v_min=-2, v_max=-0.5" in out and "qv 500 -> 100" in out
    assert "Cost: decision model not called; tuning 120 prompt tokens (100 cached)" in out
    assert len(stub.requests) == 1 and "grammar" not in stub.requests[0]["body"]


def test_ask_with_a_nan_state_says_insufficient_data(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text(json.dumps(dict(RECORD, d_pos=[0.0, float("nan"), 0.0, 0.0, 0.0])))
    with StubServer(answer) as stub:
        assert main(["ask", "--instruction", "Reverse the car", "--state", str(state), "--endpoint", stub.url,
                     "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)["decision"]
    assert decision["status"] == "insufficient_data" and "NaN" in decision["explanation"]
    assert decision["completion"] is None and len(stub.requests) == 1  # only the MPC call


def test_ask_bad_input_is_one_line_errors(tmp_path, capsys):
    assert main(["ask", "--instruction", "   "]) == 2
    assert "instruction is empty" in capsys.readouterr().err
    assert main(["ask", "--instruction", "Go", "--model", str(tmp_path / "none.gguf")]) == 2
    err = capsys.readouterr().err
    assert "none.gguf: model file does not exist" in err and len(err.strip().splitlines()) == 1
    assert main(["ask", "--instruction", "Go", "--state", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the state file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["ask", "--instruction", "Go", "--state", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"time": 1.0}))
    assert main(["ask", "--instruction", "Go", "--state", str(partial)]) == 2
    assert "lacks" in capsys.readouterr().err
    assert main(["ask", "--instruction", "Go", "--model", "a.gguf", "--endpoint", "http://127.0.0.1:9/v1"]) == 2
    assert "either a GGUF model path or an endpoint" in capsys.readouterr().err


def test_bench_llm_is_hooked_under_bench_and_reports_both_modules_cold_and_warm(capsys):
    args = build_parser().parse_args(["bench", "llm", "--limit", "3", "--decisions", "2", "--json",
                                      "--endpoint", "URL"])
    assert args.func is run_llm_bench and args.limit == 3
    with StubServer(answer) as stub:
        args.endpoint = stub.url
        assert run_llm_bench(args) == 0
    result = json.loads(capsys.readouterr().out)
    # per module: every call cold, one warm-up, every call warm
    assert len(stub.requests) == (2 + 1 + 2) + (3 + 1 + 3)
    assert result["decision"]["calls"] == 2 and result["tuning"]["calls"] == 3
    for module in ("decision", "tuning"):
        for label in ("cold", "warm"):
            summary = result[module][label]
            assert summary["ok_rate"] == 1.0 and summary["prompt_tokens"] == 120 and summary["cached_tokens"] == 100
            assert summary["evaluated_tokens"] == 20 and summary["median_s"] > 0
            assert len(summary["runs"]) == result[module]["calls"]
    # an endpoint does not say where its time went
    assert result["tuning"]["warm"]["prompt_eval_s"] is None and result["tuning"]["warm"]["decode_tokens_per_s"] is None
