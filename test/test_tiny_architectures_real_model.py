"""Every model path end to end for each architecture of model_files.TINY_ARCHITECTURES: a tiny
GGUF of random weights (conftest.tiny_model, converted by llama.cpp's convert_hf_to_gguf.py)
through `robotxr1 ask`, `eval control`, `eval decision`, `replay`, the LLM node over DDS, LoRA
training (`train sft`), `export` of the adapter, `ask --lora` and the adapter merge
(llm/lora_merge.py). The answers are nonsense; what is checked is that every path runs, its
records are complete, grammar-constrained and parsed, and no update leaves the parameter ranges.
Adding an architecture is one entry in TINY_ARCHITECTURES."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader
from model_files import built_once
from node_harness import OdometrySource, Probe, get_parameters, llm_node, watch_llm_topics
from rclpy.executors import SingleThreadedExecutor
from ros_fixtures import spin_until

from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.decision_dataset import find_datasets, load_dataset
from robotxr1_ros.llm import lora_merge
from robotxr1_ros.llm.backends import LlamaCppBackend
from robotxr1_ros.llm.chat_templates import CHATML, ChatRenderer
from robotxr1_ros.llm.llama_import import import_llama_cpp
from robotxr1_ros.llm.prompts import mpc_messages
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.params import PARAM_NAMES, MpcParams
from robotxr1_ros.training import model_io
from robotxr1_ros.training.metrics_log import read_metrics
from robotxr1_ros.training.sft_data import decision_examples, mpc_examples, write_examples
from robotxr1_ros.training.teacher import Teacher, packaged_teacher_file
from robotxr1_ros.training.train_prompts import train_prompts

ONE_THREAD = ["--threads", "1", "--batch-threads", "1"]
BAG = Path(__file__).parent / "fixtures" / "bags" / "forward"
INSTRUCTION = "Reverse the car"
VERDICTS = ("adheres", "does_not_adhere", "no_verdict")
ADAPTER = "tiny.lora.gguf"


@pytest.fixture(scope="module", autouse=True)
def merge_cache(tmp_path_factory):
    """The merged models of this module's adapters in a folder of their own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(lora_merge.MERGE_CACHE_ENV, str(tmp_path_factory.mktemp("merged")))
        yield


@pytest.fixture(scope="module")
def tiny_fields(tiny_model):
    """The tiny model's GGUF metadata and tensor table, read once (gguf-py takes seconds over the
    vocabulary's arrays)."""
    return GGUFReader(tiny_model.gguf)


@pytest.fixture(scope="module")
def stopped_record(tmp_path_factory):
    """A decision dataset of one state (a car standing still) from the packaged ones."""
    path = tmp_path_factory.mktemp("dataset") / "stopped_one.json"
    path.write_text(json.dumps([load_dataset(find_datasets("stopped")[0]).records[0]]))
    return path


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory, stopped_record):
    """The car's own prompts as SFT examples: two tuning prompts with the packaged teacher's
    answers and the questions about one state. Given to `train sft --data`, so the run does not
    build the teacher's tracks, which take longer than the whole training of a tiny model."""
    examples = (mpc_examples(Teacher.load(packaged_teacher_file()), train_prompts()[:2])
                + decision_examples(json.loads(stopped_record.read_text()), others=1))
    return write_examples(tmp_path_factory.mktemp("sft-data") / "sft_data.jsonl", examples)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model, sft_data):
    """Two LoRA SFT steps on the tiny model (a high learning rate, so the adapter visibly changes
    the logits) and the adapter exported to GGUF, once per test run: (run folder, adapter file)."""
    def train_and_export(folder):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(model_io.BASE_CACHE_ENV, str(folder / "float-base"))
            assert main(["train", "sft", "--model", str(tiny_model.gguf), "--data", str(sft_data), "--steps", "2",
                         "--batch-size", "1", "--lr", "0.01", "--threads", "1", "--out", str(folder / "run")]) == 0
            assert main(["export", str(folder / "run"), "--model", str(tiny_model.gguf), "--out",
                         str(folder / ADAPTER)]) == 0

    folder = built_once(tmp_path_factory, f"trained-{tiny_model.architecture}", train_and_export)
    return folder / "run", folder / ADAPTER


def test_the_converted_file_has_its_architecture_smollm2s_tokenizer_and_chatml(tiny_model, tiny_fields):
    fields = tiny_fields.fields
    assert fields["general.architecture"].contents() == tiny_model.architecture
    assert fields["tokenizer.ggml.pre"].contents() == "smollm"
    assert fields["tokenizer.chat_template"].contents() == CHATML
    messages = mpc_messages("Drive slower")
    assert LlamaCppBackend(tiny_model.gguf, n_threads=1).render(messages) == ChatRenderer(CHATML).prompt(messages)


def _ask(capsys, *arguments: str) -> dict:
    assert main(["ask", *arguments, "--instruction", "Drive slower", "--threads", "1", "--json"]) == 0
    tuning = json.loads(capsys.readouterr().out)["tuning"]
    assert tuning["update"]["found"] is True
    assert MpcParams(**tuning["params"])
    assert tuning["completion"]["completion_tokens"] > 0
    return tuning


def test_ask_answers_with_the_base_model(tiny_model, capsys):
    _ask(capsys, "--model", str(tiny_model.gguf), "--base-only")


def test_eval_control_drives_every_case_within_the_ranges(tiny_model, tmp_path, capsys):
    assert main(["eval", "control", "--model", str(tiny_model.gguf), "--base-only", "--mini", "--no-plots",
                 *ONE_THREAD, "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["prompts"] == 4 and summary["out_of_range"] == 0
    assert 0.0 <= summary["parse_rate"] <= 1.0 and 0 <= summary["failures"] <= 4
    report = json.loads((tmp_path / "control_report.json").read_text())
    assert report["proposer"].endswith(tiny_model.gguf.name)
    for prompt in report["prompts"]:
        assert "<answer>" in prompt["output"] and prompt["out_of_range"] == []
        assert math.isfinite(prompt["rmse"]) and math.isfinite(prompt["improvement"])
        if prompt["params"] is not None:
            assert MpcParams(**prompt["params"])
    assert (tmp_path / "control_report.md").is_file()


def test_eval_decision_reads_a_verdict_for_every_pair(tiny_model, stopped_record, tmp_path, capsys):
    assert main(["eval", "decision", "--model", str(tiny_model.gguf), "--base-only", "--dataset",
                 str(stopped_record), *ONE_THREAD, "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["n"] == 8  # one state, the eight instructions
    assert summary["parse_rate"] == 1.0  # read from the next-token probabilities of the verdicts
    assert 0.0 <= summary["accuracy"] <= 1.0 and summary["completion_tokens_mean"] == 1.0
    assert (tmp_path / "decision_report.md").is_file()


def test_replay_asks_the_model_about_a_bag(tiny_model, capsys):
    assert main(["replay", str(BAG), "--instruction", INSTRUCTION, "--backend", "llama", "--model",
                 str(tiny_model.gguf), "--base-only", "--period", "1.0", *ONE_THREAD, "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    first, decisions = events[0], [e for e in events if e["event"] == "decision"]
    assert first["event"] == "tuning" and first["trigger"] == "instruction" and first["path"] == "model"
    assert first["tuning"]["update"]["found"] is True and MpcParams(**first["tuning"]["params"])
    assert len(decisions) >= 2 and all(d["decision"]["status"] in VERDICTS for d in decisions)


def test_lora_training_adapts_every_linear_weight_of_every_block(tiny_model, tiny_fields, trained):
    run, adapter = trained
    rows = read_metrics(run)
    assert [row["step"] for row in rows] == [1, 2] and all(math.isfinite(row["loss"]) for row in rows)
    assert json.loads((run / "settings.json").read_text())["trainable_parameters"] > 0
    linear = {t.name for t in tiny_fields.tensors if t.name.startswith("blk.") and len(t.shape) == 2}
    assert {name.split(".")[1] for name in linear} == {"0", "1"}
    lora = GGUFReader(adapter)
    assert lora.fields["general.architecture"].contents() == tiny_model.architecture
    assert {t.name.removesuffix(".lora_a").removesuffix(".lora_b") for t in lora.tensors} == linear
    assert len(lora.tensors) == 2 * len(linear)


def test_ask_with_the_exported_adapter(tiny_model, trained, capsys):
    _ask(capsys, "--model", str(tiny_model.gguf), "--lora", str(trained[1]))


def _logits(**model) -> np.ndarray:
    llama = import_llama_cpp().Llama(n_ctx=256, n_threads=1, logits_all=True, verbose=False, **model)
    tokens = llama.tokenize(ChatRenderer(CHATML).prompt([{"role": "user", "content": "Back up."}]).encode(),
                            special=True)
    llama.eval(tokens)
    return np.array(llama.scores[:len(tokens)], dtype=np.float64)


def test_the_merged_model_computes_what_the_runtime_adapter_does(tiny_model, trained):
    base, adapter = tiny_model.gguf, trained[1]
    merged = lora_merge.merged_model_path(base, adapter)
    runtime = _logits(model_path=str(base), lora_path=str(adapter))
    merged_logits = _logits(model_path=str(merged))
    untrained = _logits(model_path=str(base))
    merge_error = np.abs(runtime - merged_logits).max()
    # Q8_0 rounding only: measured 0.01, where the adapter moves the logits by up to 0.9
    assert merge_error < 0.2 * np.abs(runtime - untrained).max(), merge_error


def test_the_llm_node_runs_the_trained_adapter_and_its_update_reaches_the_controller(ros_context, tiny_model,
                                                                                   trained):
    controller = MpcControllerNode(context=ros_context)
    source = OdometrySource(ros_context)
    llm = llm_node(ros_context, instruction=INSTRUCTION, model_path=str(tiny_model.gguf), lora_path=str(trained[1]),
                   n_threads=1, n_threads_batch=1)
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, source.node, llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: probe.snapshot("updates") and probe.snapshot("decisions"), 60.0)
    update = probe.snapshot("updates")[0]
    assert update["trigger"] == "instruction" and update["instruction"] == INSTRUCTION
    assert update["tuning"]["completion"]["completion_tokens"] > 0 and update["tuning"]["update"]["found"]
    assert update["outcome"] in ("send", "unchanged", "refused")
    in_force = get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))
    assert in_force in [u["tuning"]["params"] for u in probe.snapshot("updates")]  # a validated proposal
    decision = probe.snapshot("decisions")[0]["decision"]
    assert decision["completion"]["completion_tokens"] > 0 and decision["status"] in VERDICTS
    executor.shutdown()
