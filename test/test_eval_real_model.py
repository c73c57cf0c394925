"""Both evaluators end to end through real llama.cpp inference on the embedded GGUF model."""
import json

from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.decision_dataset import find_datasets, load_dataset


def test_decision_eval_with_the_real_model_scores_every_pair(tmp_path, capsys):
    one_record = tmp_path / "stopped_one.json"
    one_record.write_text(json.dumps([load_dataset(find_datasets("stopped")[0]).records[0]]))
    assert main(["eval", "decision", "--dataset", str(one_record), "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["n"] == 8  # one state, the eight instructions
    assert summary["parse_rate"] == 1.0  # the grammar guarantees a verdict
    assert 0.0 <= summary["accuracy"] <= 1.0
    assert (tmp_path / "decision_report.md").is_file()


def test_control_eval_with_the_real_model_drives_every_case(tmp_path, capsys):
    assert main(["eval", "control", "--mini", "--no-plots", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["prompts"] == 4
    report = json.loads((tmp_path / "control_report.json").read_text())
    assert report["proposer"].endswith(".gguf")
    assert (tmp_path / "control_report.md").is_file()
