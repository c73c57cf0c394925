"""The open-instruction benchmark (`eval control --suite open`): the intent catalogue's phrasings kept
apart from every training phrasing, each intent's "achieved" check driven with a known-good and a
known-bad parameter set, and the suite end to end with a scripted model."""
import json

import pytest

from robotxr1_ros.cases.control import CAREFUL_SET, CONTROL_CASES, control_case, open_phrasings
from robotxr1_ros.cases.decision import DECISION_RULES
from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.control_eval import (
    ModelProposer,
    Proposal,
    eval_prompts,
    evaluate_control,
    outside_ranges,
)
from robotxr1_ros.evaluation.report import write_control_report
from robotxr1_ros.llm.answer_format import mpc_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.prompts import require_instruction
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.library import get_track
from robotxr1_ros.training.train_prompts import near_copy, normalised

INTENTS = ("center", "refvel", "reverse", "smooth", "stop", "slower", "faster", "walls", "speed_smooth",
           "reverse_careful", "reverse_speed", "reset", "out_of_scope")
MINI = eval_prompts(mini=True, suite="open")


def _training_phrasings():
    """Every phrasing a model is trained or scored on: the control cases' train and eval phrasings,
    and the decision instructions with their restatements and variants."""
    texts = [text for case in CONTROL_CASES.values() for text in (*case.train, *case.open_train, *case.eval)]
    texts += [text for instruction, rule in DECISION_RULES.items()
              for text in (instruction, *rule.restatements, *(variant.text for variant in rule.variants))]
    return texts


def test_every_intent_has_at_least_eight_open_phrasings_and_known_rules():
    per_intent = {name: [text for case, text in open_phrasings() if case == name] for name in INTENTS}
    assert {case for case, _ in open_phrasings()} == set(INTENTS)
    assert all(len(texts) >= 8 for texts in per_intent.values()), per_intent
    assert len(MINI) == len(INTENTS)
    for name in INTENTS:
        case = control_case(name)
        assert not case.rule or case.rule in DECISION_RULES, name
        assert case.scored == (name in ("center", "refvel", "reverse", "smooth")), name
    assert [p.reference_speed for p in eval_prompts(suite="open") if p.case == "stop"] == [0.0] * 9
    assert {round(p.reference_speed, 2) for p in eval_prompts(suite="open") if p.case == "refvel"} \
        == {2.5, 2.78, 3.0, 3.5, 1.75, 3.33, 4.0, 2.24}  # units and number words read (cases/quantities.py)


def test_open_phrasings_are_no_training_phrasing_nor_a_near_duplicate_of_one():
    training = _training_phrasings()
    opened = [normalised(text) for _, text in open_phrasings()]
    assert len(set(opened)) == len(opened)  # no two open phrasings are the same either
    near = [text for text in opened if near_copy(text, training)]
    assert not near


class FixedProposer:
    """Proposes the known-good (0) or known-bad (1) changes of each intent, relative to the
    parameters the intent starts from."""

    name = "fixed"

    def __init__(self, which):
        self.which = which

    def propose(self, track, prompt):
        changes = GOOD_AND_BAD[prompt.case][self.which]
        return Proposal(control_case(prompt.case).start_params().updated(changes), dict(changes))


# intent -> (known-good changes, known-bad changes); the bad ones are plausible mistakes.
GOOD_AND_BAD = {
    "center": ({"track_safety_margin": 1.0}, {}),
    "refvel": ({"v_min": 2.5, "v_max": 2.5}, {"v_max": 1.0}),
    "reverse": ({"v_min": -1.0, "v_max": -1.0}, {"v_max": 1.0}),
    "smooth": ({"qac": 1.0, "v_max": 2.0}, {"a_max": 20.0}),
    "stop": ({"v_min": 0.0, "v_max": 0.0}, {"v_max": 1.0}),
    "slower": ({"v_max": 4.0}, {"v_min": 0.0, "v_max": 0.0}),  # standing still is no lap
    "faster": ({"a_max": 20.0}, {"v_max": 1.0}),  # the shipped model's answer to "Go faster"
    "walls": ({"track_safety_margin": 0.6}, {"track_safety_margin": 0.0}),
    "speed_smooth": ({"v_min": 3.0, "v_max": 3.0, "qac": 1.0}, {"v_max": 2.0, "qac": 1.0}),  # gentle, too slow
    "reverse_careful": ({"v_min": -0.5, "v_max": -0.5}, {"v_min": -1.0, "v_max": -1.0}),  # the plain reverse
    "reverse_speed": ({"v_min": -0.5, "v_max": -0.5}, {"v_min": 0.5, "v_max": 0.5}),  # forwards at the speed
    "reset": (MpcParams().as_dict(), dict.fromkeys(("qv", "qn", "qalpha", "qddelta"), 1.0)),
    "out_of_scope": ({}, {"v_min": -1.0, "v_max": -1.0}),  # nonsense answered by reversing
}


@pytest.fixture(scope="module")
def good_and_bad_runs():
    """Every intent's first open phrasing driven with its known-good and its known-bad set."""
    track = get_track("eval")
    return [{r.case: r for r in evaluate_control(track, FixedProposer(which), MINI).prompts} for which in (0, 1)]


@pytest.mark.parametrize("intent", INTENTS)
def test_each_intents_check_passes_a_known_good_set_and_fails_a_known_bad_one(intent, good_and_bad_runs):
    good, bad = (runs[intent] for runs in good_and_bad_runs)
    assert good.achieved and not bad.achieved, (good, bad)
    assert good.out_of_range == bad.out_of_range == []


def scripted_answer(messages):
    """The known-good answer of every intent; no parameter dict for the out-of-scope one."""
    instruction = messages[-1]["content"].rsplit("Instruction: ", 1)[1]
    prompt = next(p for p in MINI if require_instruction(p.text) == instruction)  # speeds written in m/s
    if prompt.case == "out_of_scope":
        return "That is not about driving: nothing to change."
    changes = dict(GOOD_AND_BAD[prompt.case][0])
    if prompt.case == "refvel":
        changes = {"v_min": prompt.reference_speed, "v_max": prompt.reference_speed}
    return mpc_answer("scripted", changes)


def test_the_open_suite_end_to_end_with_a_scripted_model(tmp_path):
    proposer = ModelProposer(MPCxR1(ScriptedBackend(scripted_answer)), "scripted")
    report = evaluate_control(get_track("eval"), proposer, MINI, plot_dir=tmp_path / "plots", suite="open")
    results = {r.case: r for r in report.prompts}
    assert all(r.achieved for r in report.prompts), [r for r in report.prompts if not r.achieved]
    assert results["out_of_scope"].unchanged and results["out_of_scope"].params == MpcParams(**CAREFUL_SET).as_dict()
    assert results["reset"].params == MpcParams().as_dict() and not results["reset"].unchanged
    for name in ("slower", "faster", "walls", "reset", "out_of_scope"):  # judged by their check alone
        assert results[name].improvement is None and results[name].rmse is None
    assert results["stop"].improvement > 0.9 and results["smooth"].improvement > 0

    summary = report.summary()
    assert summary["achieved"] == summary["prompts"] == len(INTENTS) and summary["out_of_range"] == 0
    assert summary["per_case"]["walls"]["score"] is None and summary["per_case"]["out_of_scope"]["unchanged"] == 1
    files = write_control_report(report, tmp_path)
    data = json.loads(files["json"].read_text())
    assert data["suite"] == "open" and data["summary"]["achieved_rate"] == 1.0
    markdown = files["markdown"].read_text()
    assert "suite `open`" in markdown and "| out_of_scope |" in markdown
    assert len(list((tmp_path / "plots").glob("*.png"))) == len(INTENTS) - 2  # reset and out of scope: not driven


def test_cli_open_suite_default_baseline_and_no_oracle(tmp_path, capsys):
    assert main(["eval", "control", "--baseline", "default", "--suite", "open", "--mini", "--no-plots",
                 "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    # The defaults achieve the reset only; out of scope they replace the careful set in force.
    assert summary["achieved"] == 1 and summary["per_case"]["reset"]["achieved"] == 1
    assert summary["out_of_range"] == 0
    assert main(["eval", "control", "--baseline", "oracle", "--suite", "open", "--mini"]) == 2
    assert "default suite only" in capsys.readouterr().err


def test_results_outside_the_ranges_are_named():
    params = MpcParams()
    assert outside_ranges(params) == []
    object.__setattr__(params, "v_max", 99.0)  # what the validator never lets through
    assert outside_ranges(params) == ["v_max"]
