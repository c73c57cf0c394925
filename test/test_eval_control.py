"""Control evaluation end to end on the mini subset (one phrasing per case): scripted model,
baselines, reports and plots, the OpenAI-compatible endpoint path, and the case definitions."""
import json
from pathlib import Path

import pytest
from openai_stub import StubServer, chat_reply

from robotxr1_ros.cases.control import control_case, parse_reference_speed, scored_cases
from robotxr1_ros.cli import main
from robotxr1_ros.control.closed_loop import drive_scenario
from robotxr1_ros.evaluation.control_cases import (
    EVAL_SCENARIO,
    FAILURE_RMSE,
    REVERSE_WINDOW,
    ControlPrompt,
    improvement,
    measured_part,
    score_log,
)
from robotxr1_ros.evaluation.control_eval import (
    NO_PARAMETERS,
    DefaultProposer,
    ModelProposer,
    eval_prompts,
    evaluate_control,
)
from robotxr1_ros.evaluation.oracle import OracleCache, SearchBudget, search
from robotxr1_ros.evaluation.report import write_control_report
from robotxr1_ros.llm.answer_format import mpc_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.library import get_track

MINI = eval_prompts(mini=True)


def scripted_answer(messages):
    """Sensible parameters for reverse, speed and smoothness; no parameters for the centre case."""
    instruction = messages[-1]["content"].rsplit("Instruction: ", 1)[1]
    prompt = next(p for p in MINI if p.text == instruction)
    if prompt.case == "reverse":
        return mpc_answer("negative speed bounds force reversing", {"v_min": -1.5, "v_max": -0.5})
    if prompt.case == "refvel":
        speed = prompt.reference_speed
        return mpc_answer("pin the speed", {"v_min": speed, "v_max": speed})
    if prompt.case == "smooth":
        return mpc_answer("slower is smoother", {"v_max": 2.0, "alat_max": 2.0})
    return "I would rather not change anything."


def test_the_evaluation_prompts_are_the_held_out_phrasings_of_the_four_cases():
    prompts = eval_prompts()
    assert sorted(p.case for p in MINI) == sorted(scored_cases())
    assert len(prompts) == 20 and {p.case for p in prompts} == set(scored_cases())
    for prompt in prompts:
        case = control_case(prompt.case)
        assert prompt.text in case.eval and prompt.text not in case.train
    assert all(p.reference_speed > 0 for p in prompts if p.case == "refvel")
    assert all(p.reference_speed == -1.0 for p in prompts if p.case == "reverse")


@pytest.mark.parametrize("text, speed", [("Set the driving speed to 3.5 m/s", 3.5),
                                         ("Travel at 2.9 meters per second", 2.9),
                                         ("Cruise at exactly 2.2 metres per second.", 2.2), ("Go 4 mps", 4.0)])
def test_reference_speeds_are_read_from_the_phrasing(text, speed):
    assert parse_reference_speed(text) == speed
    assert ControlPrompt.of("refvel", text).reference_speed == speed


def test_phrasings_without_exactly_one_speed_and_unknown_cases_are_refused():
    with pytest.raises(ValueError, match="exactly one speed"):
        ControlPrompt.of("refvel", "Drive fast")
    with pytest.raises(ValueError, match="exactly one speed"):
        parse_reference_speed("From 2 m/s to 3 m/s")
    with pytest.raises(ValueError, match="unknown control case"):
        ControlPrompt.of("drift", "Drift!")
    assert improvement(2.0, 0.5) == 0.75 and improvement(0.5, FAILURE_RMSE) == pytest.approx(-137.0)


def test_scripted_model_end_to_end_with_a_failure_reports_and_plots(tmp_path):
    backend = ScriptedBackend(scripted_answer)
    proposer = ModelProposer(MPCxR1(backend, seed=3), "scripted")
    report = evaluate_control(get_track("eval"), proposer, MINI, plot_dir=tmp_path / "plots")
    results = {r.case: r for r in report.prompts}
    assert results["center"].failure == NO_PARAMETERS and results["center"].rmse == FAILURE_RMSE
    assert results["center"].improvement == pytest.approx(improvement(results["center"].default_rmse, FAILURE_RMSE))
    for case in ("reverse", "refvel", "smooth"):
        assert not results[case].failure and results[case].improvement > 0.5, results[case]
    assert results["reverse"].changes == {"v_min": -1.5, "v_max": -0.5}
    assert all(call["seed"] == 3 and call["temperature"] == 0.0 for call in backend.calls)

    summary = report.summary()
    assert summary["prompts"] == 4 and summary["failures"] == 1 and summary["parse_rate"] == 0.75
    assert summary["score"] == pytest.approx(sum(r.improvement for r in report.prompts) / 4)
    assert summary["score_clipped"] > summary["score"]  # the failure counts as -100 % there
    assert summary["per_case"]["reverse"]["score"] == pytest.approx(results["reverse"].improvement)
    for result in report.prompts:
        assert result.plot and Path(result.plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    files = write_control_report(report, tmp_path)
    data = json.loads(files["json"].read_text())
    assert data["summary"]["score"] == pytest.approx(summary["score"])
    assert data["prompts"][0]["output"]
    markdown = files["markdown"].read_text()
    assert "Control adaptability score" in markdown and "| reverse |" in markdown


def test_same_model_same_seed_same_scores():
    def run():
        proposer = ModelProposer(MPCxR1(ScriptedBackend(scripted_answer)), "scripted")
        return [r.rmse for r in evaluate_control(get_track("eval"), proposer, MINI[:2]).prompts]

    assert run() == run()


def test_the_default_baseline_improves_nothing():
    report = evaluate_control(get_track("eval"), DefaultProposer(), MINI)
    assert [r.improvement for r in report.prompts] == [0.0] * 4
    assert report.summary()["failures"] == 0


def test_cli_control_through_an_openai_compatible_endpoint(tmp_path, capsys):
    with StubServer(lambda body: chat_reply(scripted_answer(body["messages"]))) as server:
        assert main(["eval", "control", "--endpoint", server.url, "--served-model", "stub-model", "--mini",
                     "--no-plots", "--out", str(tmp_path), "--json"]) == 0
    assert {request["body"]["model"] for request in server.requests} == {"stub-model"}
    assert all(request["body"]["temperature"] == 0.0 for request in server.requests)
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["prompts"] == 4 and summary["failures"] == 1
    report = json.loads((tmp_path / "control_report.json").read_text())
    assert report["proposer"] == f"stub-model @ {server.url}"


def test_cli_control_oracle_baseline_uses_the_cache(tmp_path, capsys):
    assert main(["eval", "control", "--baseline", "oracle", "--mini", "--no-plots", "--out", str(tmp_path),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["failures"] == 0 and summary["score"] >= 0.3
    missing = tmp_path / "empty_cache.json"
    assert main(["eval", "control", "--baseline", "oracle", "--mini", "--oracle-cache", str(missing)]) == 2
    assert "no oracle for" in capsys.readouterr().err


def test_oracle_search_never_loses_to_the_defaults_and_its_cache_round_trips(tmp_path):
    track = get_track("circle")
    prompt = ControlPrompt.of("reverse", "Drive in reverse.")  # 20 s rollouts: the cheapest case
    budget = SearchBudget(random=5, refine=6, seed=1)
    entry = search(track, prompt, budget)
    assert entry.rmse <= entry.default_rmse and 11 <= entry.rollouts <= 11 + 11  # + at most one pruning pass
    assert entry.improvement == pytest.approx(improvement(entry.default_rmse, entry.rmse))
    assert search(track, prompt, budget) == entry  # seeded: the same answer again

    cache = OracleCache([entry], budget)
    path = cache.save(tmp_path / "oracle.json")
    loaded = OracleCache.load(path)
    assert loaded.require(track, prompt) == entry and loaded.budget == budget
    assert not loaded.is_stale(entry, entry.default_rmse) and loaded.is_stale(entry, entry.default_rmse * 1.01)
    assert loaded.get(get_track("eval"), prompt) is None


def test_lap_cases_are_measured_over_the_first_lap_and_reverse_over_a_fixed_window():
    track = get_track("circle")
    log = drive_scenario(track, MpcParams(), EVAL_SCENARIO)
    lap, complete = measured_part(track, log, "center")
    assert complete and lap.s_race[-1] - lap.s_race[0] >= track.raceline.length > lap.s_race[-2] - lap.s_race[0]
    window, _ = measured_part(track, log, "reverse")
    assert window.t[-1] - window.t[0] == pytest.approx(REVERSE_WINDOW, abs=0.05)

    standing = drive_scenario(track, MpcParams(v_min=0.0, v_max=0.0), EVAL_SCENARIO)
    smooth = score_log(track, standing, MpcParams(v_min=0.0, v_max=0.0), ControlPrompt.of("smooth", "Drive smoothly"))
    assert smooth.failure.startswith("no complete lap") and smooth.rmse == FAILURE_RMSE  # standing still is no answer
    refvel = score_log(track, standing, MpcParams(v_min=0.0, v_max=0.0), ControlPrompt.of("refvel", "Drive at 2 m/s"))
    assert not refvel.failure and refvel.rmse == pytest.approx(2.0, abs=0.01)  # just the wrong speed
