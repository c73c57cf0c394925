"""llama.cpp alone beside the pipeline (`bench llm`'s "x raw"), with the shipped tuning adapter:
the raw run does the answer's work on the same context and leaves it as the next answer expects.
Its time is reported, never asserted."""
from __future__ import annotations

import json

import pytest

from robotxr1_ros.cli import main
from robotxr1_ros.llm.model_spec import ModelSpec
from robotxr1_ros.llm.module_pair import AnswerSettings

FIRST, SECOND = "Drive at 2.5 m/s.", "Drive in reverse."


@pytest.fixture(scope="module")
def tuner():
    return AnswerSettings().tuning(ModelSpec(n_threads=1, n_threads_batch=1).create("tuning"))


def test_the_raw_run_leaves_the_cache_as_the_next_answer_expects(tuner):
    tuner.backend.reset_cache()
    tuner.tune(FIRST)
    undisturbed = tuner.tune(SECOND).completion
    tuner.backend.reset_cache()
    first = tuner.tune(FIRST).completion
    raw_s = tuner.backend.raw_decode_s(first)
    second = tuner.tune(SECOND).completion
    assert raw_s > 0 and first.sampled_tokens == first.completion_tokens - first.forced_tokens > 0
    assert second.text == undisturbed.text
    assert second.cached_tokens == undisturbed.cached_tokens > 0  # the system prompt stayed cached


def test_forced_text_costs_no_forward_pass_of_its_own(tuner, monkeypatch):
    """Forced runs go with the token before them: one evaluation for the prompt (with the text
    forced at the start), one per sampled token but the last (the literal forced after it ends the
    answer, not evaluated)."""
    llama = tuner.backend.llama
    evaluated = []
    eval_tokens = llama.eval
    monkeypatch.setattr(llama, "eval", lambda tokens: (evaluated.append(len(tokens)), eval_tokens(tokens))[1])
    completion = tuner.tune(FIRST).completion
    assert completion.forced_tokens > 0 and completion.finish_reason == "stop"
    assert len(evaluated) == completion.sampled_tokens
    assert any(size > 1 for size in evaluated[1:])  # a sampled token and the run it began


def test_bench_llm_reports_the_pipeline_against_llama_cpp_alone(capsys):
    assert main(["bench", "llm", "--limit", "2", "--decisions", "2", "--threads", "1", "--batch-threads", "1",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for module in ("decision", "tuning"):
        for phase in ("cold", "warm"):
            summary = result[module][phase]
            assert summary["raw_s"] > 0 and summary["raw_ratio"] > 0, (module, phase, summary)
            assert all(run["raw_s"] > 0 for run in summary["runs"])
