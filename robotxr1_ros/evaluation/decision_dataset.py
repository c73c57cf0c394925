"""Decision datasets: state windows of eight recorded behaviours, generated in the simulator, and
the loader for datasets in the reference's format (a JSON list of feature records).

The behaviours are the catalog's (behaviours.py, also used for the fixture bags), driven on the
evaluation track. The features are always computed against the real racing line, by the LLM
layer's own feature extraction (llm.features.compute_features) from the simulator's noisy
odometry and LiDAR, exactly as the on-board node sees them.

Windows of 1-5 s are cut at random times and down-sampled to 5-13 samples. Labels are not
stored: the rules (cases/decision.py) are applied to each record when it is evaluated, so external
datasets are scored by the same rules. External records whose `data_samples` disagrees with the
length of their lists (real recordings have them) are loaded with the lists as the truth, and
the dataset says so once in its `notes`.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..cases.behaviours import Behaviour
from ..cases.decision import all_labels, decision_instructions
from ..errors import Robotxr1Error
from ..json_files import read_json
from ..llm.features import SERIES_KEYS, FeatureConfig, InsufficientData, compute_features, features_from_record
from ..samples import OdomSample, ScanSample, StateWindow
from ..track import Track
from ..track.library import get_track
from .behaviours import SensorRates, behaviours, sensor_stream

DATASET_VERSION = "v1"
DATASET_TRACK = "eval"  # the evaluation track; training uses the circle
MANIFEST = "manifest.json"
# What a dataset run records: odometry at the control rate, LiDAR at 10 Hz (no IMU in the features).
RECORDED_RATES = SensorRates(odom_hz=40.0, scan_hz=10.0, imu_hz=1.0)
RUN_SECONDS = 20.0  # simulated per run
WINDOW_SECONDS = (1.0, 5.0)
WINDOW_SAMPLES = (5, 13)
SETTLE_SECONDS = 1.5  # the start of a run is not part of any window
# A window must hold at least this many samples to be judged (external records are taken as they are).
MIN_RECORD_SAMPLES = 2


def packaged_dataset_dir(version: str = DATASET_VERSION) -> Path:
    return Path(str(resources.files("robotxr1_ros") / "data" / "decision" / version))


@dataclass
class Recording:
    """Odometry and LiDAR scans (at RECORDED_RATES) from one run."""

    odometry: list[OdomSample] = field(default_factory=list)
    scans: list[ScanSample] = field(default_factory=list)

    def window(self, start: float, end: float) -> StateWindow:
        return StateWindow(tuple(o for o in self.odometry if start <= o.t <= end),
                           tuple(s for s in self.scans if start <= s.t <= end))


def record_behaviour(track: Track, behaviour: Behaviour, start_s: float, seed: int) -> Recording:
    """Drive `behaviour` from `start_s` and record what the on-board node would receive."""
    recording = Recording()
    for reading in sensor_stream(track, behaviour, RUN_SECONDS, start_s=start_s, seed=seed, rates=RECORDED_RATES):
        if isinstance(reading.value, OdomSample):  # the "odom" readings
            recording.odometry.append(reading.value)
        elif isinstance(reading.value, ScanSample):  # the "scan" readings
            recording.scans.append(reading.value)
    return recording


def cut_windows(recording: Recording, track: Track, count: int, rng: np.random.Generator,
                seconds: tuple[float, float] = WINDOW_SECONDS,
                samples_range: tuple[int, int] = WINDOW_SAMPLES) -> list[dict[str, Any]]:
    """`count` feature records from random windows of the recording (durations and sample counts
    drawn from the ranges given)."""
    end_time = recording.odometry[-1].t
    records: list[dict[str, Any]] = []
    while len(records) < count:
        duration = rng.uniform(*seconds)
        start = rng.uniform(SETTLE_SECONDS, end_time - duration)
        samples = int(rng.integers(samples_range[0], samples_range[1] + 1))
        features = compute_features(recording.window(start, start + duration), track, FeatureConfig(n_samples=samples))
        if not isinstance(features, InsufficientData):
            records.append(features.as_record())
    return records


def generate_behaviour(behaviour: Behaviour, track: Track, windows: int, runs: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, list(behaviours()).index(behaviour.name)])
    records: list[dict[str, Any]] = []
    for run in range(runs):
        start_s = float(rng.uniform(0.0, track.raceline.length))
        recording = record_behaviour(track, behaviour, start_s, seed=int(rng.integers(1 << 31)))
        records += cut_windows(recording, track, windows // runs + (run < windows % runs), rng)
    return records


def generate_datasets(out_dir: str | Path, windows: int = 30, runs: int = 3, seed: int = 0,
                      track_name: str = DATASET_TRACK) -> dict:
    """Write one dataset file per behaviour and a manifest (settings, label rates); returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    track = get_track(track_name)
    manifest: dict[str, Any] = {"version": out.name, "track": track_name, "seed": seed, "windows": windows,
                                "runs": runs, "window_seconds": WINDOW_SECONDS, "window_samples": WINDOW_SAMPLES,
                                "datasets": {}}
    for behaviour in behaviours().values():
        records = generate_behaviour(behaviour, track, windows, runs, seed)
        write_dataset(out / f"{behaviour.name}.json", records)
        manifest["datasets"][behaviour.name] = {"records": len(records), "note": behaviour.note,
                                                "params": behaviour.params.as_dict(), "path": behaviour.path,
                                                "label_rates": label_rates(records)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def label_rates(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Fraction of records labelled True, per instruction."""
    labels = [all_labels(record) for record in records]
    return {instruction: round(float(np.mean([record_labels[instruction] for record_labels in labels])), 3)
            for instruction in decision_instructions()}


def write_dataset(path: str | Path, records: Sequence[dict[str, Any]]) -> None:
    """A JSON list, one record per line (readable diffs)."""
    lines = ",\n".join(json.dumps(record, separators=(", ", ": ")) for record in records)
    Path(path).write_text(f"[\n{lines}\n]\n", encoding="utf-8")


# -- loading --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    records: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()  # what was repaired on loading, once per kind


def _trust_the_lists(record: Any) -> tuple[Any, bool]:
    """(record, repaired): a record whose `data_samples` disagrees with its lists' common length
    gets that length, the lists being what is scored; anything else is returned as it is."""
    if not isinstance(record, dict) or not all(isinstance(record.get(key), list) for key in SERIES_KEYS):
        return record, False
    lengths = {len(record[key]) for key in SERIES_KEYS}
    count = record.get("data_samples")
    if len(lengths) != 1 or isinstance(count, bool) or not isinstance(count, int) or count in lengths:
        return record, False
    return {**record, "data_samples": lengths.pop()}, True


def load_dataset(path: str | Path) -> Dataset:
    """A dataset file in the reference's format; a malformed file or record raises Robotxr1Error.

    Records whose `data_samples` disagrees with the length of their lists are loaded with the
    lists' length; the dataset's `notes` (and one line on stderr per file) say how many."""
    path = Path(path)
    data = read_json(path, "the dataset")
    if not isinstance(data, list) or not data:
        raise Robotxr1Error(f"{path}: a dataset is a non-empty JSON list of state records")
    repaired = [_trust_the_lists(record) for record in data]
    data = [record for record, _ in repaired]
    notes: tuple[str, ...] = ()
    fixed = sum(was_fixed for _, was_fixed in repaired)
    if fixed:
        notes = (f"{fixed} of {len(data)} records had a data_samples that disagrees with the length of their "
                 f"lists; loaded with the lists' length",)
        print(f"note: {path}: {notes[0]}", file=sys.stderr)
    for index, record in enumerate(data):
        try:
            checked = features_from_record(record, min_samples=MIN_RECORD_SAMPLES)
        except ValueError as error:
            raise Robotxr1Error(f"{path}: record {index}: {error}") from None
        if isinstance(checked, InsufficientData):
            raise Robotxr1Error(f"{path}: record {index}: {checked.reason}")
    return Dataset(path.stem, path, tuple(data), notes)


def find_datasets(spec: str | Path | None = None) -> list[Path]:
    """Dataset files: the packaged set (None), a file, a folder of files, or a packaged name."""
    if spec is None:
        return _dataset_files(packaged_dataset_dir())
    path = Path(spec)
    if path.is_dir():
        return _dataset_files(path)
    if path.is_file():
        return [path]
    packaged = packaged_dataset_dir() / f"{spec}.json"
    if packaged.is_file():
        return [packaged]
    raise Robotxr1Error(f"no dataset {str(spec)!r}: give a JSON file, a folder of them, or one of "
                     f"{[p.stem for p in _dataset_files(packaged_dataset_dir())]}")


def _dataset_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.glob("*.json") if p.name != MANIFEST)
    if not files:
        raise Robotxr1Error(f"{folder}: no dataset files (*.json)")
    return files
