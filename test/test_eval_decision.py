"""Decision evaluation end to end on the mini subset with scripted backends, the packaged
datasets, and datasets in the reference's external format."""
import json

import pytest

from robotxr1_ros.cases.decision import all_labels, decision_instructions, label
from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.behaviours import behaviours
from robotxr1_ros.evaluation.decision_dataset import (
    MANIFEST,
    MIN_RECORD_SAMPLES,
    find_datasets,
    load_dataset,
    packaged_dataset_dir,
)
from robotxr1_ros.evaluation.decision_eval import UNIT_RECORDS, evaluate_decision, selected_records, total_calls
from robotxr1_ros.evaluation.report import decision_markdown, write_decision_report
from robotxr1_ros.llm.answer_format import decision_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.decision import DecisionxR1
from robotxr1_ros.llm.features import features_from_record
from robotxr1_ros.params import MpcParams

# A record as the reference's datasets write them: integer seconds and speeds, plain lists.
EXTERNAL_RECORD = {
    "time": 2, "data_samples": 6,
    "s_pos": [10, 15, 20, 25, 30, 35],
    "d_pos": [0.4, -0.5, 0.6, -0.7, 0.8, -0.9],
    "s_speed": [6, 6.5, 5.5, 6, 6.5, 5.5],
    "d_speed": [0.6, -0.7, 0.8, -0.9, 1.0, -1.1],
    "d_left": [0.6, 0.5, 0.7, 0.4, 0.8, 0.9],
    "d_right": [1.2, 1.3, 1.1, 1.4, 1.0, 0.9],
    "reversing": False, "crashed": False, "facing_wall": False,
}


def rule_following_decider(datasets, mini: bool) -> DecisionxR1:
    """A perfect scripted model: the label of the (instruction, record) whose prompt it is asked."""
    labels = {}
    decider = DecisionxR1(ScriptedBackend(
        lambda messages: decision_answer("applied the rule", labels[messages[1]["content"]])))
    for dataset in datasets:
        for _, record in selected_records(dataset, mini):
            state = features_from_record(record, min_samples=MIN_RECORD_SAMPLES)
            for instruction in decision_instructions():
                labels[decider.messages(instruction, state)[1]["content"]] = label(instruction, record)
    return decider


def test_an_external_dataset_loads_as_it_is(tmp_path):
    path = tmp_path / "oscillating_external.json"
    path.write_text(json.dumps([EXTERNAL_RECORD, {**EXTERNAL_RECORD, "s_speed": [0, 0, 0, 0, 0, 0],
                                                  "d_speed": [0, 0, 0, 0, 0, 0]}]))
    dataset = load_dataset(path)
    assert dataset.name == "oscillating_external" and len(dataset.records) == 2
    assert dataset.records[0] == EXTERNAL_RECORD  # untouched
    assert label("Oscillate!", dataset.records[0]) and label("Drive faster than 3 m/s", dataset.records[0])
    assert label("Don't move", dataset.records[1])
    assert find_datasets(tmp_path) == [path] and find_datasets(path) == [path]
    assert dataset.notes == ()


def test_records_whose_data_samples_disagrees_with_their_lists_load_and_are_scored(tmp_path, capsys):
    """Real recordings have such records: the lists are the truth, and the file says so once."""
    path = tmp_path / "recorded.json"
    path.write_text(json.dumps([{**EXTERNAL_RECORD, "data_samples": 7}, EXTERNAL_RECORD,
                                {**EXTERNAL_RECORD, "data_samples": 5}]))
    dataset = load_dataset(path)
    assert [r["data_samples"] for r in dataset.records] == [6, 6, 6]
    assert dataset.records[1] == EXTERNAL_RECORD  # a consistent record is untouched
    assert len(dataset.notes) == 1 and dataset.notes[0].startswith("2 of 3 records")
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and str(path) in warnings[0] and "data_samples" in warnings[0]

    report = evaluate_decision(rule_following_decider([dataset], mini=False), [dataset], "rules")
    assert report.summary()["n"] == 3 * 8 and report.summary()["accuracy"] == 1.0
    assert report.as_dict()["dataset_notes"] == {"recorded": list(dataset.notes)}
    assert f"- recorded: {dataset.notes[0]}" in decision_markdown(report)


@pytest.mark.parametrize("content, message", [
    ("{}", "non-empty JSON list"),
    ("[1, 2", "not valid JSON"),
    (json.dumps([{**EXTERNAL_RECORD, "d_pos": [0.1]}]), "record 0: .*different lengths"),
    (json.dumps([EXTERNAL_RECORD, {k: v for k, v in EXTERNAL_RECORD.items() if k != "d_left"}]), "record 1: .*lacks"),
])
def test_malformed_datasets_are_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_dataset(path)


def test_packaged_datasets_cover_the_eight_behaviours_and_show_them():
    paths = find_datasets()
    assert sorted(p.stem for p in paths) == sorted(behaviours())
    manifest = json.loads((packaged_dataset_dir() / MANIFEST).read_text())
    for name, info in manifest["datasets"].items():  # made from the catalog as it is now
        assert MpcParams(**info["params"]) == behaviours()[name].params and info["note"] == behaviours()[name].note
    total_bytes = sum(p.stat().st_size for p in paths)
    assert total_bytes < 400_000
    datasets = {p.stem: load_dataset(p) for p in paths}
    for dataset in datasets.values():
        for record in dataset.records:
            assert 5 <= record["data_samples"] <= 13 and 0.9 <= record["time"] <= 5.0

    def rate(name, instruction):
        records = datasets[name].records
        return sum(all_labels(r)[instruction] for r in records) / len(records)

    # Each behaviour shows the behaviour its name promises in most of its windows.
    assert rate("stopped", "Don't move") == 1.0
    assert rate("reversing", "Reverse the car") == 1.0
    assert rate("forward", "Drive forward") == 1.0
    assert rate("oscillating", "Oscillate!") >= 0.7
    assert rate("close_to_left_wall", "Drive close to the left wall") >= 0.9
    assert rate("centerline", "Drive on the centerline") >= 0.9
    assert rate("fast", "Drive faster than 3 m/s") == 1.0
    assert rate("racing_line", "Drive on the racing line") >= 0.9


def test_a_model_that_applies_the_rules_scores_100_percent_and_a_constant_one_the_label_rate(tmp_path):
    datasets = [load_dataset(p) for p in find_datasets()]
    perfect = evaluate_decision(rule_following_decider(datasets, mini=True), datasets, "rules", mini=True)
    summary = perfect.summary()
    assert summary["n"] == total_calls(datasets, mini=True) == 6 * 8 * 8
    assert summary["accuracy"] == 1.0 and perfect.wrong == []

    backend = ScriptedBackend([decision_answer("always", True)])
    constant = evaluate_decision(DecisionxR1(backend), datasets, "always-true", mini=True)
    summary = constant.summary()
    assert summary["accuracy"] == pytest.approx(summary["label_true_rate"])
    assert summary["per_instruction"]["Don't move"]["accuracy"] == pytest.approx(1 / 8)
    assert summary["per_dataset_instruction"]["stopped"]["Don't move"] == 1.0
    assert backend.calls[0]["grammar"] is not None  # the grammar is on by default
    # Asked as on the car: one instruction about many states in a row (its prompt prefix stays
    # cached); reported record by record, each with the eight instructions in order.
    asked = [call["messages"][1]["content"].split("Instruction: ")[1].splitlines()[0] for call in backend.calls]
    instructions = decision_instructions()
    assert asked[:UNIT_RECORDS] == [instructions[0]] * UNIT_RECORDS
    first = constant.calls[:len(instructions)]
    assert [c.instruction for c in first] == list(instructions) and len({c.index for c in first}) == 1
    wrong = constant.wrong[0]
    assert wrong["expected"] is False and wrong["verdict"] is True
    assert wrong["prompt"][-1]["content"].endswith(f"Instruction, again: {wrong['instruction']}\nIs the car doing it?")

    files = write_decision_report(constant, tmp_path)
    assert len(files["wrong"].read_text().splitlines()) == len(constant.wrong)
    assert json.loads(files["json"].read_text())["summary"]["accuracy"] == summary["accuracy"]
    assert "| Don't move |" in files["markdown"].read_text()


def test_unreadable_answers_count_as_wrong():
    dataset = load_dataset(find_datasets("stopped")[0])
    report = evaluate_decision(DecisionxR1(ScriptedBackend(["I am not sure."]), use_grammar=False), [dataset],
                               "mumbler", mini=True, instructions=["Don't move"])
    assert report.summary()["accuracy"] == 0.0 and report.summary()["parse_rate"] == 0.0
    assert all(entry["verdict"] is None for entry in report.wrong)


def test_cli_decision_baseline_on_the_mini_subset(tmp_path, capsys):
    assert main(["eval", "decision", "--baseline", "always-false", "--mini", "--dataset", "stopped",
                 "--dataset", "fast", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["n"] == 2 * 6 * 8
    assert set(summary["per_dataset"]) == {"stopped", "fast"}
    assert (tmp_path / "decision_report.md").exists() and (tmp_path / "wrong_answers.jsonl").exists()


def test_cli_decision_rejects_unknown_datasets_and_mixed_choices(capsys):
    assert main(["eval", "decision", "--baseline", "always-true", "--dataset", "no_such_behaviour"]) == 2
    assert "no dataset 'no_such_behaviour'" in capsys.readouterr().err
    assert main(["eval", "decision", "--baseline", "always-true", "--endpoint", "http://127.0.0.1:9/v1"]) == 2
    assert "either --baseline or a model" in capsys.readouterr().err
