"""Every damaged input file is one line on stderr and exit 2, in every command that reads its kind.

A table: each damaged file (made here from the shipped adapter, the bundled model, a fixture bag
rewritten by the project's BagWriter, a track CSV, a dataset, an oracle cache, a teacher or hints
file, a training run's adapter folder, or an unwritable cache folder) is given to each command
that reads that kind of file. Each run must exit 2 with exactly one line on stderr, `robotxr1
<command>: error: ...`, naming the file, with no traceback and no warning. The runs are in-process
(cli.main, stderr captured at the file descriptor, so llama.cpp's own output would show too); one
file of each kind also goes to a real `robotxr1` process. Every failure comes before any model
answers: no inference runs here. The LLM node reports a damaged adapter or model with its reason,
raised by an autostart (the node process exits 2 with it) and logged by a configure.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from model_files import corrupted_copy
from rosbags.rosbag2 import Reader

from robotxr1_ros.bags.rosbag_io import BagWriter, typestore
from robotxr1_ros.cli import main
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.evaluation.decision_dataset import packaged_dataset_dir
from robotxr1_ros.evaluation.oracle import packaged_oracle_file
from robotxr1_ros.llm import lora_merge, models
from robotxr1_ros.llm.model_spec import shipped_adapter_path
from robotxr1_ros.llm.models import default_model_path
from robotxr1_ros.track.csv_io import save_track
from robotxr1_ros.track.library import get_track
from robotxr1_ros.training.sft_data import MPC, SftExample, write_examples

INSTRUCTION = "Reverse the car"
FIXTURE_BAG = Path(__file__).parent / "fixtures" / "bags" / "stopped"  # recorded by `robotxr1 record --behaviour`
UNWRITABLE = "/proc/robotxr1-cache"  # a folder nobody can create, root included


# --- the damaged files -------------------------------------------------------------------------

def _patched(source: Path, target: Path, offset: int, data: bytes) -> Path:
    shutil.copyfile(source, target)
    with target.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)
    return target


def _truncated(source: Path, target: Path, size: int) -> Path:
    with source.open("rb") as handle:
        target.write_bytes(handle.read(size))
    return target


def _gguf(path: Path, architecture: str, tensors: dict[str, tuple[int, int]]) -> Path:
    """A small valid GGUF file of `architecture` holding zero tensors of the given shapes."""
    from gguf import GGUFWriter

    writer = GGUFWriter(path, architecture)
    for name, shape in tensors.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _lora_gguf(path: Path, architecture: str) -> Path:
    """A valid GGUF LoRA adapter of `architecture` (one rank-16 pair of zeros)."""
    from gguf import GGUFWriter

    writer = GGUFWriter(path, architecture)
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32(lora_merge.ALPHA_KEY, 32.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((16, 576), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((576, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _adapters(folder: Path) -> dict[str, Path]:
    shipped = shipped_adapter_path()
    size = shipped.stat().st_size
    folder.mkdir()
    (folder / "folder.lora.gguf").mkdir()
    return {
        "adapter truncated": _truncated(shipped, folder / "truncated.lora.gguf", 4_000_000),
        "adapter not GGUF": _patched(shipped, folder / "magic.lora.gguf", 0, b"GGUX"),
        "adapter corrupt header": _patched(shipped, folder / "header.lora.gguf", 24, b"\xff" * 64),
        "adapter corrupt key-value count": _patched(shipped, folder / "kv.lora.gguf", 16,
                                                    (10**12).to_bytes(8, "little")),
        "adapter corrupt tensor count": _patched(shipped, folder / "tensors.lora.gguf", 8,
                                                 (10**9).to_bytes(8, "little")),
        "adapter corrupt tensor data": _patched(shipped, folder / "data.lora.gguf", size // 3, b"\xff" * 1_000_000),
        "adapter folder": folder / "folder.lora.gguf",
        "shipped adapter": shipped,
        "adapter for another architecture": _lora_gguf(folder / "qwen2.lora.gguf", "qwen2"),
        # Valid files on their own, made for other bases than this adapter's.
        "base of another architecture": _gguf(folder / "qwen2.gguf", "qwen2", {"blk.0.attn_q.weight": (64, 64)}),
        "base of other shapes": _gguf(folder / "narrow.gguf", "llama", {"blk.0.ffn_down.weight": (64, 64)}),
    }


def _models(folder: Path) -> dict[str, Path]:
    base = default_model_path()
    folder.mkdir()
    (folder / "folder.gguf").mkdir()
    (folder / "bundled").mkdir()
    return {
        "model truncated": _truncated(base, folder / "truncated.gguf", 4_000_000),
        "model corrupt header": _patched(base, folder / "header.gguf", 24, b"\xff" * 64),
        "model corrupt key-value count": _patched(base, folder / "kv.gguf", 16, (10**12).to_bytes(8, "little")),
        "model corrupt tensor data": corrupted_copy(folder),  # loads, then aborts llama.cpp in the probe
        "model folder": folder / "folder.gguf",
        # Named like the bundled model, with other bytes: merged with an adapter, it is named as damaged.
        "bundled model changed": corrupted_copy(folder / "bundled", name=base.name, fill=b"\x00"),
    }


def _copy_bag(source: Path, target: Path, storage: str) -> Path:
    """`source`'s messages in a new bag of `storage` (BagWriter, as `robotxr1 record` writes)."""
    with (Reader(source) as reader,
          BagWriter(target, storage, {c.topic: c.msgtype for c in reader.connections}) as bag):
        for connection, timestamp, data in reader.messages():
            bag.write(connection.topic, timestamp, data)
    return target


def _bags(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    good = _copy_bag(FIXTURE_BAG, folder / "good", "mcap")
    truncated = _copy_bag(FIXTURE_BAG, folder / "truncated", "mcap")
    (mcap,) = truncated.glob("*.mcap")
    os.truncate(mcap, mcap.stat().st_size // 2)
    truncated_sqlite = _copy_bag(FIXTURE_BAG, folder / "truncated_sqlite", "sqlite3")
    (db3,) = truncated_sqlite.glob("*.db3")
    os.truncate(db3, db3.stat().st_size // 2)
    no_metadata = folder / "no_metadata"
    shutil.copytree(good, no_metadata)
    (no_metadata / "metadata.yaml").unlink()
    (folder / "empty").mkdir()
    with BagWriter(folder / "no_odometry", "mcap", {"/scan": "sensor_msgs/msg/LaserScan"}):
        pass
    store = typestore(["std_msgs/msg/String"])
    text = store.serialize_cdr(store.types["std_msgs/msg/String"](data="not odometry"), "std_msgs/msg/String")
    with BagWriter(folder / "wrong_type", "mcap", {"/odom": "std_msgs/msg/String"}) as bag:
        bag.write("/odom", 1, text)
    return {"good bag": good, "bag truncated": truncated, "sqlite3 bag truncated": truncated_sqlite,
            "bag without metadata": no_metadata, "empty folder": folder / "empty",
            "bag without odometry": folder / "no_odometry", "odometry of the wrong type": folder / "wrong_type",
            "a file, not a bag folder": next(good.glob("*.mcap"))}


def _tracks(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    save_track(get_track("circle"), folder / "good.csv")
    good = (folder / "good.csv").read_text().splitlines()
    data = [line for line in good if not line.startswith("#")]
    ring = [f"{r * np.cos(a):.3f},{r * np.sin(a):.3f},1,1"
            for r, a in zip([1e5] * 8, np.linspace(0, 6, 8), strict=True)]
    contents: dict[str, str | bytes] = {
        "garbage": "hello, world\nthis is, not, a track\n",
        "not text": bytes(range(256)) * 4,
        "too few points": "\n".join(data[:3]) + "\n",
        "NaN": "\n".join([*data[:5], "nan,1.0,1.0,1.0", *data[6:]]) + "\n",
        "wrong columns": "\n".join(line.rsplit(",", 1)[0] for line in data) + "\n",
        "millimetres": "\n".join(ring) + "\n",
    }
    files = {}
    for index, (name, content) in enumerate(contents.items()):
        path = folder / f"track{index}.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        files[f"track {name}"] = path
    (folder / "folder.csv").mkdir()
    files["track folder"] = folder / "folder.csv"
    return files


def _json_files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    record = json.loads((packaged_dataset_dir() / "forward.json").read_text())[0]
    oracle = json.loads(packaged_oracle_file().read_text())
    entry = oracle["entries"][0]
    contents = {
        "dataset not JSON": b'[{"time": 1.0, ',
        "dataset not UTF-8": bytes(range(128, 256)),
        "dataset nested too deeply": b"[" * 100_000 + b"]" * 100_000,
        "dataset empty": [],
        "dataset not a list": {"records": [record]},
        "dataset record without keys": [{"time": 1.0}],
        "dataset record with text": [{**record, "s_pos": ["fast"] * len(record["s_pos"])}],
        "dataset record of unequal lists": [{**record, "d_pos": record["d_pos"][:-1]}],
        "dataset record with NaN": [{**record, "s_speed": [float("nan")] * len(record["s_speed"])}],
        "dataset number too large": json.dumps([{**record, "time": "HUGE"}]).replace('"HUGE"',
                                                                                     "1" + "0" * 400).encode(),
        "state not JSON": b"{time: 1}",
        "state number too large": json.dumps({**record, "time": "HUGE"}).replace('"HUGE"', "1" + "0" * 400).encode(),
        "state a list": [record],
        "state without keys": {"time": 1.0},
        "state with text": {**record, "d_left": "near"},
        "oracle cache not JSON": b'{"entries": [',
        "oracle cache not UTF-8": bytes(range(128, 256)),
        "oracle cache without entries": {**oracle, "entries": None},
        "oracle cache entry with text": {**oracle, "entries": [{**entry, "rmse": "low"}]},
        "oracle cache entry with unknown parameters": {**oracle, "entries": [{**entry, "params": {"speed": 3.0}}]},
        "teacher file not JSON": b'{"rules": ',
        "teacher file without scores": {"rules": {}},
        "hints file not JSON": b'{"hints": [',
        "hints file without ids": {"hints": [{"text": "keep left"}]},
    }
    files = {}
    for index, (name, content) in enumerate(contents.items()):
        path = folder / f"{name.split()[0]}{index}.json"
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        files[name] = path
    return files


def _trained_runs(folder: Path) -> dict[str, Path]:
    """Adapter folders of a training run (`robotxr1 export` reads their adapter_config.json)."""
    runs = {"trained adapter": {"r": 16, "lora_alpha": 32}, "adapter config not JSON": b"{r: 16",
            "adapter config not an object": [16, 32]}
    files = {"sft data": write_examples(folder / "sft_data.jsonl", [SftExample(MPC, [], "<answer/>", {})])}
    for index, (name, config) in enumerate(runs.items()):
        files[name] = folder / f"run{index}"
        files[name].mkdir(parents=True)
        (files[name] / "adapter_config.json").write_bytes(config if isinstance(config, bytes)
                                                          else json.dumps(config).encode())
    return files


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("damaged")
    (root / "not_a_folder").write_text("a file where a cache folder should be\n")
    return {**_adapters(root / "adapters"), **_models(root / "models"), **_bags(root / "bags"),
            **_tracks(root / "tracks"), **_json_files(root / "json"), **_trained_runs(root / "runs"), "root": root,
            "XDG_CACHE_HOME": root / "not_a_folder", "unwritable": Path(UNWRITABLE)}


# --- the table ---------------------------------------------------------------------------------

def _model_commands(model: list[str]) -> dict[str, list[str]]:
    """Every command that loads a model, with the `model` options."""
    return {
        "ask": ["ask", "--instruction", INSTRUCTION, *model],
        "eval decision": ["eval", "decision", "--dataset", "forward", "--mini", "--out", "{out}", *model],
        "eval control": ["eval", "control", "--mini", "--no-plots", "--out", "{out}", *model],
        "replay": ["replay", "{good bag}", "--backend", "llama", "--instruction", INSTRUCTION, *model],
    }


def _track_commands() -> dict[str, list[str]]:
    """Every command that reads a track file, which is {file}."""
    return {
        "sim": ["sim", "--track", "{file}", "--seconds", "1", "--out", "{out}"],
        "replay": ["replay", "{good bag}", "--track", "{file}"],
        "eval control": ["eval", "control", "--baseline", "default", "--track", "{file}", "--mini", "--no-plots",
                         "--out", "{out}"],
        "eval oracle": ["eval", "oracle", "--track", "{file}", "--cache", "{out}/oracle.json"],
        "make-datasets": ["make-datasets", "--track", "{file}", "--out", "{out}/v0", "--windows", "1", "--runs", "1"],
        "record": ["record", "{out}/bag", "--behaviour", "forward", "--track", "{file}", "--seconds", "1"],
    }


ADAPTER_CASES = ["adapter truncated", "adapter not GGUF", "adapter corrupt header", "adapter corrupt key-value count",
                 "adapter corrupt tensor count", "adapter corrupt tensor data", "adapter folder"]
MODEL_CASES = ["model truncated", "model corrupt header", "model corrupt key-value count", "model corrupt tensor data",
               "model folder"]
# Found by the probe's child process running llama.cpp (1 s), the first two then named by gguf-py
# reading the model's 49k-token vocabulary (2-3 s): given to `ask` alone. The other commands meet
# them on the same path (ModelSpec.create / check), which the cheaper model cases take through all four.
SLOW_MODEL_CASES = {"model truncated", "model corrupt key-value count", "model corrupt tensor data"}
BAG_CASES = ["bag truncated", "sqlite3 bag truncated", "bag without metadata", "empty folder",
             "bag without odometry", "odometry of the wrong type", "a file, not a bag folder"]
TRACK_CASES = ["track garbage", "track not text", "track too few points", "track NaN", "track wrong columns",
               "track millimetres", "track folder"]
DATASET_CASES = ["dataset not JSON", "dataset not UTF-8", "dataset nested too deeply", "dataset empty",
                 "dataset not a list", "dataset record without keys", "dataset record with text",
                 "dataset record of unequal lists", "dataset record with NaN", "dataset number too large"]
STATE_CASES = ["state not JSON", "dataset not UTF-8", "state a list", "state without keys", "state with text",
               "state number too large"]
ORACLE_CASES = ["oracle cache not JSON", "oracle cache not UTF-8", "oracle cache without entries",
                "oracle cache entry with text", "oracle cache entry with unknown parameters"]


def _rows() -> list[tuple[str, str, list[str], dict[str, str], str]]:
    """(case, command, argv with {placeholders}, environment variables, the file the line names)."""
    rows = []
    for case in ADAPTER_CASES:
        rows += [(case, command, argv, {}, case)
                 for command, argv in _model_commands(["--lora", f"{{{case}}}"]).items()]
    for base in ("base of another architecture", "base of other shapes"):
        model = ["--model", f"{{{base}}}", "--lora", "{shipped adapter}"]
        rows += [(f"adapter for a {base}", command, argv, {}, "shipped adapter")
                 for command, argv in _model_commands(model).items()]
    model = ["--model", "{bundled model changed}", "--lora", "{shipped adapter}"]
    rows += [("bundled model changed, with an adapter", command, argv, {}, "bundled model changed")
             for command, argv in _model_commands(model).items()]
    for case in MODEL_CASES:
        rows += [(case, command, argv, {}, case)
                 for command, argv in _model_commands(["--model", f"{{{case}}}"]).items()
                 if case not in SLOW_MODEL_CASES or command == "ask"]
    for case in BAG_CASES:
        rows += [(case, "replay", ["replay", f"{{{case}}}"], {}, case),
                 (case, "replay", ["replay", f"{{{case}}}", "--backend", "scripted", "--instruction", INSTRUCTION],
                  {}, case)]
    for case in TRACK_CASES:
        rows += [(case, command, [f"{{{case}}}" if word == "{file}" else word for word in argv], {}, case)
                 for command, argv in _track_commands().items()]
    rows += [(case, "eval decision", ["eval", "decision", "--baseline", "always-true", "--dataset", f"{{{case}}}",
                                      "--out", "{out}"], {}, case) for case in DATASET_CASES]
    rows += [(case, "ask", ["ask", "--instruction", INSTRUCTION, "--state", f"{{{case}}}"], {}, case)
             for case in STATE_CASES]
    for case in ORACLE_CASES:
        rows += [(case, "eval control", ["eval", "control", "--baseline", "oracle", "--oracle-cache", f"{{{case}}}",
                                         "--mini", "--no-plots", "--out", "{out}"], {}, case),
                 (case, "eval oracle", ["eval", "oracle", "--cache", f"{{{case}}}", "--track", "circle"], {}, case)]
    # Caches that cannot be written: the shipped adapters' merge, the probe's verdict.
    for command, argv in _model_commands([]).items():
        rows += [("XDG_CACHE_HOME a file", command, argv, {"XDG_CACHE_HOME": "{XDG_CACHE_HOME}"}, "XDG_CACHE_HOME"),
                 ("merge cache cannot be made", command, argv, {lora_merge.MERGE_CACHE_ENV: UNWRITABLE}, "unwritable")]
    rows.append(("verified cache cannot be made", "ask", ["ask", "--instruction", INSTRUCTION, "--base-only"],
                 {models.VERIFIED_CACHE_ENV: UNWRITABLE}, "unwritable"))
    for case in ("teacher file not JSON", "teacher file without scores"):
        rows += [(case, "make-datasets", ["make-datasets", "--teacher", f"{{{case}}}", "--out", "{out}/v0"], {}, case),
                 (case, "train sft", ["train", "sft", "--teacher", f"{{{case}}}", "--out", "{out}/run"], {}, case)]
    rows += [(case, "make-datasets", ["make-datasets", "--hints", f"{{{case}}}", "--out", "{out}/v0"], {}, case)
             for case in ("hints file not JSON", "hints file without ids")]
    # `robotxr1 train --init-from X.gguf` reads the GGUF adapter before the model (its SFT data given).
    train = ["train", "sft", "--data", "{sft data}", "--out", "{out}/run", "--init-from"]
    rows += [(case, "train sft", [*train, f"{{{case}}}"], {}, case)
             for case in [*ADAPTER_CASES, "adapter for another architecture"]]
    rows.append(("adapter of another rank", "train sft", [*train, "{shipped adapter}", "--lora-rank", "8"], {},
                 "shipped adapter"))
    # `robotxr1 export` reads the base model (--model) and the run's adapter configuration.
    export = ["export", "{trained adapter}", "--out", "{out}/adapter.gguf"]
    rows += [(case, "export", [*export, "--model", f"{{{case}}}"], {}, case) for case in ("model corrupt header",
                                                                                         "model folder")]
    rows += [(case, "export", ["export", f"{{{case}}}", "--out", "{out}/adapter.gguf"], {}, case)
             for case in ("adapter config not JSON", "adapter config not an object")]
    return rows


ROWS = _rows()
# Run as real `robotxr1` processes too: one of each kind of file.
SUBPROCESS_ROWS = [("adapter truncated", "ask"), ("bag truncated", "replay"), ("track garbage", "sim"),
                   ("dataset not JSON", "eval decision"), ("XDG_CACHE_HOME a file", "ask")]


def _fill(words: list[str], files: dict[str, Path], out: Path) -> list[str]:
    """`words` with each {name} replaced by that file's path ({out}: the run's own folder)."""
    values = {f"{{{name}}}": str(path) for name, path in {**files, "out": out}.items()}
    filled = []
    for word in words:
        for placeholder, value in values.items():
            word = word.replace(placeholder, value)
        filled.append(word)
    return filled


def _set_environment(monkeypatch, files: dict[str, Path], extra: dict[str, str]) -> None:
    """The caches in the test's folder (a merge must never land in the user's), then `extra`. An
    XDG_CACHE_HOME there moves every cache: their own variables are unset."""
    for name, folder in ((lora_merge.MERGE_CACHE_ENV, "merged"), (models.VERIFIED_CACHE_ENV, "verified")):
        if "XDG_CACHE_HOME" in extra:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(files["root"] / folder))
    for name, value in extra.items():
        monkeypatch.setenv(name, _fill([value], files, files["root"])[0])
    # A process verifies each model file once (models._verify_file is cached): whether an earlier test
    # in this worker already did must not decide whether the verified cache is written here.
    models._verify_file.cache_clear()


def _assert_one_line(returncode: int, err: str, command: str, named: str) -> None:
    lines = err.splitlines()
    assert returncode == 2 and len(lines) == 1, f"exit {returncode}, stderr:\n{err}"
    assert lines[0].startswith(f"robotxr1 {command.split()[0]}: error: "), lines[0]
    assert "Traceback" not in err and "Warning" not in err, err
    assert named in lines[0], f"{named} not named in: {lines[0]}"


def _row_id(case: str, command: str, argv: list[str]) -> str:
    options = [word for word in argv if word in ("scripted", "llama", "--base-only")]
    return " ".join([case, "|", command, *options])


@pytest.mark.parametrize(("case", "command", "argv", "extra", "named"), ROWS,
                         ids=[_row_id(case, command, argv) for case, command, argv, *_ in ROWS])
def test_a_damaged_file_is_one_line_and_exit_2(files, tmp_path, monkeypatch, capfd, case, command, argv, extra,
                                               named):
    _set_environment(monkeypatch, files, extra)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        returncode = main(_fill(argv, files, tmp_path))
    err = capfd.readouterr().err
    assert [str(warning.message) for warning in caught] == []
    _assert_one_line(returncode, err, command, str(files[named]))


@pytest.fixture(scope="module")
def processes(files, tmp_path_factory) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """The subprocess rows, all started at once (each is mostly Python's start-up and imports)."""
    started = {}
    for case, command in SUBPROCESS_ROWS:
        (argv, extra) = next((argv, extra) for row_case, row_command, argv, extra, _ in ROWS
                             if (row_case, row_command) == (case, command))
        with pytest.MonkeyPatch.context() as monkeypatch:
            _set_environment(monkeypatch, files, extra)
            environment = dict(os.environ)
        out = tmp_path_factory.mktemp("out")
        started[case, command] = subprocess.Popen([sys.executable, "-m", "robotxr1_ros.cli", *_fill(argv, files, out)],
                                                  env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                  text=True)
    done = {}
    for key, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        done[key] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return done


@pytest.mark.parametrize(("case", "command"), SUBPROCESS_ROWS, ids=[" | ".join(row) for row in SUBPROCESS_ROWS])
def test_a_damaged_file_is_one_line_and_exit_2_from_the_robotxr1_process(files, processes, case, command):
    named = next(named for row_case, row_command, *_, named in ROWS if (row_case, row_command) == (case, command))
    done = processes[case, command]
    _assert_one_line(done.returncode, done.stderr, command, str(files[named]))


# --- the LLM node --------------------------------------------------------------------------------

def _llm_node(context, backends=None, **parameters):
    from rclpy.parameter import Parameter

    from robotxr1_ros.nodes.llm_node import LlmNode

    return LlmNode(backends=backends, context=context,
                   parameter_overrides=[Parameter(name, value=value) for name, value in parameters.items()])


def test_the_llm_node_raises_the_reason_a_damaged_adapter_fails_its_autostart(ros_context, files, monkeypatch):
    _set_environment(monkeypatch, files, {})
    with pytest.raises(Robotxr1Error) as failure:
        _llm_node(ros_context, lora_path=str(files["adapter corrupt tensor data"]))
    message = str(failure.value)
    assert message.startswith("robotxr1: configure: ") and "\n" not in message, message
    assert f"{files['adapter corrupt tensor data']}: tensor " in message and "corrupt tensor data" in message


def test_the_llm_node_process_exits_2_with_one_line_naming_a_damaged_adapter(ros_context, files, monkeypatch):
    _set_environment(monkeypatch, files, {})
    environment = {**os.environ, "ROS_DOMAIN_ID": str(ros_context.get_domain_id())}
    done = subprocess.run([sys.executable, "-m", "robotxr1_ros.nodes.llm_node", "--ros-args",
                           "-p", f"lora_path:={files['adapter truncated']}"], env=environment, capture_output=True,
                          text=True, timeout=120)
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"error: robotxr1: configure: {files['adapter truncated']}: the GGUF file is truncated or corrupt" \
        in lines[0], lines[0]


def test_the_llm_node_logs_the_reason_a_damaged_model_fails_configure(ros_context, files, monkeypatch, capfd):
    from rclpy.lifecycle import TransitionCallbackReturn

    _set_environment(monkeypatch, files, {})
    model = files["model corrupt tensor data"]
    node = _llm_node(ros_context, autostart=False, model_path=str(model), lora_path="")
    capfd.readouterr()
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    (line,) = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert "[ERROR]" in line and f"configure: {model}: llama.cpp crashed (signal 6)" in line, line


def test_a_bug_in_the_llm_nodes_configure_keeps_its_traceback(ros_context):
    """Not a bad file: rclpy would drop the exception, so the autostart raises it as the cause."""
    def broken():
        raise KeyError("a bug")

    with pytest.raises(RuntimeError, match="configure failed") as failure:
        _llm_node(ros_context, backends=broken)
    assert isinstance(failure.value.__cause__, KeyError)
