"""Parallel decision evaluation: any number of worker processes gives the same report as one."""
import json

import pytest

from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.evaluation.decision_dataset import find_datasets, load_dataset
from robotxr1_ros.evaluation.decision_eval import evaluate_decision, total_calls
from robotxr1_ros.llm.answer_format import decision_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.decision import DecisionxR1
from robotxr1_ros.llm.model_spec import ModelSpec
from robotxr1_ros.llm.module_pair import DeciderFactory


def state_dependent_answer(messages):
    """A verdict that depends on the state and the instruction, so a mix-up between records shows."""
    user = messages[1]["content"]
    return decision_answer("a rule of thumb", "s_speed: [-" in user or "Don't move" in user)


def scripted_decider():  # module level: worker processes import it by name
    return DecisionxR1(ScriptedBackend(state_dependent_answer))


def _rows(report):
    return [(c.dataset, c.index, c.instruction, c.expected, c.verdict, c.status, c.output) for c in report.calls]


def test_three_workers_give_the_report_of_one_process():
    datasets = [load_dataset(path) for path in find_datasets(None)]
    one = evaluate_decision(scripted_decider, datasets, "scripted", mini=True)
    three = evaluate_decision(scripted_decider, datasets, "scripted", mini=True, workers=3)
    assert len(one.calls) == total_calls(datasets, True)
    assert _rows(one) == _rows(three) and one.wrong == three.wrong
    assert one.summary()["accuracy"] == three.summary()["accuracy"]
    assert 0.0 < one.summary()["accuracy"] < 1.0  # the verdicts do vary
    assert three.model == "scripted"


def test_parallel_evaluation_needs_a_factory_of_deciders():
    datasets = [load_dataset(find_datasets(None)[0])]
    with pytest.raises(Robotxr1Error, match="factory"):
        evaluate_decision(scripted_decider(), datasets, "scripted", mini=True, workers=2)
    with pytest.raises(Robotxr1Error, match="workers"):
        evaluate_decision(scripted_decider(), datasets, "scripted", mini=True, workers=0)


def test_real_model_gives_the_same_verdicts_with_one_and_two_workers(tmp_path):
    records = json.loads(find_datasets(None)[0].read_text())[:1] + json.loads(find_datasets(None)[3].read_text())[:1]
    path = tmp_path / "two_records.json"
    path.write_text(json.dumps(records))
    datasets = [load_dataset(path)]
    factory = DeciderFactory(ModelSpec(n_threads=1))
    one = evaluate_decision(factory, datasets, "bundled")
    two = evaluate_decision(factory, datasets, "bundled", workers=2)
    assert len(one.calls) == 16 and _rows(one) == _rows(two)
    assert all(call.verdict is not None for call in one.calls)
