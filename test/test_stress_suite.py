"""The stress decision suite: deterministic, in its ranges, labelled by the rules, kept apart from
the training, and reported by `robotxr1 eval decision --suite stress`."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robotxr1_ros.cases.decision import (
    DECISION_RULES,
    SPEED_THRESHOLDS,
    faster_than,
    reverse_at,
    rule_instructions,
    slower_than,
)
from robotxr1_ros.cases.summary import WindowSummary
from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.decision_dataset import MIN_RECORD_SAMPLES
from robotxr1_ros.evaluation.decision_eval import evaluate_decision, selected_records, total_calls
from robotxr1_ros.evaluation.stress_suite import (
    OSCILLATION_AMPLITUDES,
    STRESS_REVERSE_SPEEDS,
    STRESS_SPEEDS,
    SYNTHETIC_KINDS,
    sim_records,
    stress_datasets,
    stress_questions,
    synthetic_records,
)
from robotxr1_ros.llm.answer_format import decision_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.decision import DecisionxR1
from robotxr1_ros.llm.features import StateFeatures, features_from_record
from robotxr1_ros.llm.prompts import state_text
from robotxr1_ros.training.decision_windows import question_pool, training_records
from robotxr1_ros.training.sft_data import decision_examples

TRAINING = Path(__file__).resolve().parents[1] / "robotxr1_ros" / "training"


def all_records():
    return [record for dataset in stress_datasets() for record in dataset.records]


def test_the_suite_is_deterministic_and_the_seed_matters():
    for kind in SYNTHETIC_KINDS:
        assert synthetic_records(kind) == synthetic_records(kind)
        assert synthetic_records(kind) != synthetic_records(kind, seed=1)
    sim = next(d for d in stress_datasets() if d.name == "sim")
    assert list(sim.records) == sim_records()


def test_windows_are_in_the_reference_layout_and_cover_the_ranges():
    datasets = {d.name: d for d in stress_datasets()}
    assert list(datasets) == [f"synthetic_{kind}" for kind in SYNTHETIC_KINDS] + ["sim"]
    assert len(json.dumps(all_records())) < 300_000  # small enough to have written, had it been written
    for record in all_records():
        assert isinstance(features_from_record(record, min_samples=MIN_RECORD_SAMPLES), StateFeatures)
        assert 5 <= record["data_samples"] <= 20 and 1.9 <= record["time"] <= 6.0
    synthetic = [r for name, d in datasets.items() if name != "sim" for r in d.records]
    speeds = [float(np.mean(r["s_speed"])) for r in synthetic]
    assert -3.5 <= min(speeds) < -2.0 and 8.0 < max(speeds) <= 10.5
    walls = np.concatenate([r[side] for r in synthetic for side in ("d_left", "d_right")])
    assert 0.05 <= walls.min() < 0.2 and 2.0 < walls.max() <= 3.1
    offsets = [float(np.mean(r["d_pos"])) for r in synthetic]
    assert min(offsets) < -0.3 and max(offsets) > 0.3  # either side of the racing line
    constant = datasets["synthetic_constant"].records
    assert all(len(set(r["s_speed"])) == 1 for r in constant)
    assert any(len(set(r["s_speed"])) > 1 for r in datasets["synthetic_noisy"].records)
    swings = {round(float(np.ptp(r["d_pos"])), 1) for r in datasets["synthetic_oscillating"].records}
    assert len(swings) >= len(OSCILLATION_AMPLITUDES)  # several amplitudes
    assert max(float(np.mean(r["s_speed"])) for r in datasets["sim"].records) > 4.0  # the catalog, faster


def test_labels_are_the_rules_and_every_question_is_both_true_and_false():
    questions = stress_questions()
    assert list(questions)[:len(DECISION_RULES)] == list(rule_instructions())
    trained = {q.text for rule in DECISION_RULES for q in question_pool(rule)}
    untrained = [text for text in questions if text not in DECISION_RULES]
    assert untrained == ([faster_than(speed).text for speed in STRESS_SPEEDS]
                         + [slower_than(speed).text for speed in STRESS_SPEEDS]
                         + [reverse_at(speed).text for speed in STRESS_REVERSE_SPEEDS])
    assert not trained & set(untrained)
    assert not set(STRESS_SPEEDS) & set(SPEED_THRESHOLDS)
    records = all_records()
    for text, judge in questions.items():
        labels = {judge(WindowSummary(record)) for record in records}
        assert labels == {True, False}, text
    for record in synthetic_records("constant"):  # a held speed is faster than exactly the thresholds below it
        speed = record["s_speed"][0]
        for threshold in STRESS_SPEEDS:
            assert questions[faster_than(threshold).text](WindowSummary(record)) is (speed > threshold)


def test_the_training_never_reads_the_suite():
    for module in TRAINING.glob("*.py"):
        assert "stress" not in module.read_text(encoding="utf-8").lower(), module.name
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, robotxr1_ros.training.sft_data, robotxr1_ros.training.decision_windows;"
                               "print(sorted(m for m in sys.modules if 'stress' in m))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert imported == "[]"
    # What the SFT data is made of shows no stress window and asks no stress threshold, with the
    # reshaped windows and the random thresholds too.
    examples = decision_examples(training_records(windows_per_behaviour=1, reshaped_copies=1), threshold_share=0.5)
    shown = "\n".join(message["content"] for example in examples for message in example.messages)
    for record in all_records():
        assert state_text(features_from_record(record, min_samples=MIN_RECORD_SAMPLES)) not in shown
    asked = {example.meta["instruction"] for example in examples}
    assert not asked & {text for text in stress_questions() if text not in DECISION_RULES}


def test_a_model_that_applies_the_rules_scores_100_percent_on_it():
    datasets, questions = stress_datasets(), stress_questions()
    labels = {}
    decider = DecisionxR1(ScriptedBackend(
        lambda messages: decision_answer("applied the rule", labels[messages[1]["content"]])))
    for dataset in datasets:
        for _, record in selected_records(dataset, mini=True):
            state = features_from_record(record, min_samples=MIN_RECORD_SAMPLES)
            for text, judge in questions.items():
                labels[decider.messages(text, state)[1]["content"]] = judge(WindowSummary(record))
    report = evaluate_decision(decider, datasets, "rules", mini=True, instructions=list(questions), judges=questions)
    assert report.summary()["n"] == total_calls(datasets, True, list(questions))
    assert report.summary()["accuracy"] == 1.0


def test_cli_stress_suite_on_the_mini_subset(tmp_path, capsys):
    assert main(["eval", "decision", "--suite", "stress", "--mini", "--baseline", "always-true",
                 "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    records = sum(len(selected_records(d, mini=True)) for d in stress_datasets())
    assert summary["n"] == records * len(stress_questions())
    assert summary["accuracy"] == pytest.approx(summary["label_true_rate"])
    assert set(summary["per_dataset"]) == {d.name for d in stress_datasets()}
    assert set(summary["per_instruction"]) == set(stress_questions())
    report = json.loads((tmp_path / "decision_report.json").read_text())
    assert report["settings"]["suite"] == "stress"
    assert "| Drive faster than 4.25 m/s |" in (tmp_path / "decision_report.md").read_text()


def test_cli_refuses_a_suite_with_datasets(capsys):
    assert main(["eval", "decision", "--baseline", "always-true", "--suite", "stress", "--dataset", "fast"]) == 2
    assert "either --suite or --dataset" in capsys.readouterr().err
