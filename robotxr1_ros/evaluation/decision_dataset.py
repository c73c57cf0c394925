"""Decision datasets: state windows of eight recorded behaviours, generated in the simulator, and
the loader for datasets in the reference's format (a JSON list of feature records).

Every behaviour is driven by the MPC on the evaluation track. Where the MPC's parameters cannot
produce a behaviour (it always tracks the racing line), the MPC is given a scripted reference
path instead of the racing line: the midline between the walls, a line 0.3 m from the left
wall, or the racing line with a sinusoidal lateral offset. The simulator keeps the real walls,
and the features are always computed against the real racing line, by the LLM layer's own
feature extraction (llm.features.compute_features) from the simulator's noisy odometry and
LiDAR, exactly as the on-board node sees them. Stopping and reversing come from the speed
bounds (v_min = v_max = 0; v_max < 0).

Windows of 1-5 s are cut at random times and down-sampled to 5-13 samples. Labels are not
stored: the rules in labels.py are applied to each record when it is evaluated, so external
datasets are scored by the same rules.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import Robotxr1Error
from ..control.closed_loop import drive
from ..llm.features import FeatureConfig, InsufficientData, compute_features, features_from_record
from ..samples import OdomSample, ScanSample, StateWindow
from ..control.mpc import FrenetMPC
from ..sim.sensors import odometry_sample, scan_sample
from ..params import MpcParams
from ..sim.simulator import Simulator
from ..track import ClosedPath, Track
from ..track.library import get_track
from .labels import DECISION_INSTRUCTIONS, all_labels

DATASET_VERSION = "v1"
DATASET_TRACK = "eval"  # the evaluation track; training uses the circle
MANIFEST = "manifest.json"
SCAN_PERIOD = 0.1  # s between recorded LiDAR scans (10 Hz)
WINDOW_SECONDS = (1.0, 5.0)
WINDOW_SAMPLES = (5, 13)
SETTLE_SECONDS = 1.5  # the start of a run (from rest) is not part of any window
# A window must hold at least this many samples to be judged (external records are taken as they are).
MIN_RECORD_SAMPLES = 2


def packaged_dataset_dir(version: str = DATASET_VERSION) -> Path:
    return Path(str(resources.files("robotxr1_ros") / "data" / "decision" / version))


# -- reference paths for behaviours the MPC's parameters cannot produce -------------------------

def _reference_track(track: Track, label: str, path: ClosedPath, speed: float) -> Track:
    """`track` with `path` in place of its racing line, driven at a constant `speed`."""
    return Track(f"{track.name}:{label}", track.centre, track.width_left, track.width_right, path,
                 np.full(path.s_table.size, speed))


def midline_path(track: Track, step: float = 0.25) -> ClosedPath:
    """The line of equal distance to both walls: the decision rule's centre line.

    It differs from `track.centre` wherever the track's left and right widths differ.
    """
    s = track.centre.sample(step)
    width_left, width_right = track.centre_widths(s)
    return ClosedPath(*track.centre.to_cartesian(s, 0.5 * (width_left - width_right)))


def left_wall_path(track: Track, clearance: float = 0.3, step: float = 0.25) -> ClosedPath:
    """The line `clearance` metres (centre of the car) from the left wall."""
    s = track.centre.sample(step)
    width_left, _ = track.centre_widths(s)
    return ClosedPath(*track.centre.to_cartesian(s, width_left - clearance))


def oscillating_path(track: Track, amplitude: float = 0.6, wavelength: float = 7.0, wall_gap: float = 0.35,
                     step: float = 0.25) -> ClosedPath:
    """The racing line with a sinusoidal lateral offset, kept `wall_gap` away from the walls."""
    line = track.raceline
    cycles = max(1, round(line.length / wavelength))  # a whole number of waves closes the loop
    s = line.sample(step)
    free_left, free_right = track.raceline_bounds(s)
    offset = np.clip(amplitude * np.sin(2.0 * np.pi * cycles * s / line.length),
                     -(free_right - wall_gap), free_left - wall_gap)
    return ClosedPath(*line.to_cartesian(s, offset))


PATHS = {"racing_line": None, "midline": midline_path, "left_wall": left_wall_path,
         "oscillating": oscillating_path}


@dataclass(frozen=True)
class Behaviour:
    """How one dataset's behaviour is driven."""

    name: str
    params: MpcParams
    path: str = "racing_line"  # a key of PATHS
    path_speed: float = 2.5  # m/s along a scripted path
    start_speed: float = 0.0
    start_offset: float = 0.0  # m left of the racing line at the start
    seconds: float = 20.0
    note: str = ""

    def controller_track(self, track: Track) -> Track:
        make_path = PATHS[self.path]
        if make_path is None:
            return track
        return _reference_track(track, self.path, make_path(track), self.path_speed)


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("stopped", MpcParams(v_min=0.0, v_max=0.0), start_speed=1.5, start_offset=0.3,
              note="speed bounds v_min = v_max = 0: the MPC brakes to a stop and holds"),
    Behaviour("reversing", MpcParams(v_min=-1.5, v_max=-0.5), note="v_max < 0 forces reversing"),
    Behaviour("forward", MpcParams(v_max=2.5), note="default weights, v_max = 2.5 m/s"),
    Behaviour("oscillating", MpcParams(qn=60.0, v_max=3.0), path="oscillating", path_speed=2.5,
              note="scripted path: racing line + 0.6 m sine offset, 7 m wavelength"),
    Behaviour("close_to_left_wall", MpcParams(track_safety_margin=0.05, v_max=2.5), path="left_wall",
              path_speed=2.0, note="scripted path 0.3 m from the left wall"),
    Behaviour("centerline", MpcParams(qn=60.0, v_max=3.5), path="midline", path_speed=3.0,
              note="scripted path: the line of equal distance to both walls"),
    Behaviour("fast", MpcParams(v_min=3.5), note="v_min = 3.5 m/s keeps the car above 3 m/s"),
    Behaviour("racing_line", MpcParams(), note="default parameters"),
)
BEHAVIOUR_NAMES = tuple(b.name for b in BEHAVIOURS)


@dataclass
class Recording:
    """Odometry at control rate and LiDAR scans at SCAN_PERIOD from one run."""

    odometry: list[OdomSample] = field(default_factory=list)
    scans: list[ScanSample] = field(default_factory=list)

    def window(self, start: float, end: float) -> StateWindow:
        return StateWindow(tuple(o for o in self.odometry if start <= o.t <= end),
                           tuple(s for s in self.scans if start <= s.t <= end))


def record_behaviour(track: Track, behaviour: Behaviour, start_s: float, seed: int) -> Recording:
    """Drive `behaviour` from `start_s` and record what the on-board node would receive."""
    sim = Simulator(track, seed=seed)
    x, y = track.raceline.to_cartesian(start_s, behaviour.start_offset)
    sim.reset(pose=(float(x), float(y), float(track.raceline.heading(start_s))), speed=behaviour.start_speed)
    controller = FrenetMPC(behaviour.controller_track(track), params=behaviour.params)
    recording = Recording()
    next_scan = [0.0]

    def sense(t: float) -> None:
        recording.odometry.append(odometry_sample(sim, t))
        if t >= next_scan[0] - 1e-9:
            recording.scans.append(scan_sample(sim, t))
            next_scan[0] += SCAN_PERIOD

    drive(sim, controller, behaviour.seconds, on_step=sense)
    return recording


def cut_windows(recording: Recording, track: Track, count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """`count` feature records from random windows of the recording."""
    end_time = recording.odometry[-1].t
    records = []
    while len(records) < count:
        duration = rng.uniform(*WINDOW_SECONDS)
        start = rng.uniform(SETTLE_SECONDS, end_time - duration)
        samples = int(rng.integers(WINDOW_SAMPLES[0], WINDOW_SAMPLES[1] + 1))
        features = compute_features(recording.window(start, start + duration), track, FeatureConfig(n_samples=samples))
        if not isinstance(features, InsufficientData):
            records.append(features.as_record())
    return records


def generate_behaviour(behaviour: Behaviour, track: Track, windows: int, runs: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, BEHAVIOUR_NAMES.index(behaviour.name)])
    records: list[dict[str, Any]] = []
    for run in range(runs):
        start_s = float(rng.uniform(0.0, track.raceline.length))
        recording = record_behaviour(track, behaviour, start_s, seed=int(rng.integers(1 << 31)))
        records += cut_windows(recording, track, windows // runs + (run < windows % runs), rng)
    return records


def generate_datasets(out_dir: str | Path, windows: int = 30, runs: int = 3, seed: int = 0,
                      track_name: str = DATASET_TRACK, behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict:
    """Write one dataset file per behaviour and a manifest (settings, label rates); returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    track = get_track(track_name)
    manifest: dict[str, Any] = {"version": out.name, "track": track_name, "seed": seed, "windows": windows,
                                "runs": runs, "window_seconds": WINDOW_SECONDS, "window_samples": WINDOW_SAMPLES,
                                "datasets": {}}
    for behaviour in behaviours:
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
    return {instruction: round(float(np.mean([l[instruction] for l in labels])), 3) for instruction in DECISION_INSTRUCTIONS}


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


def load_dataset(path: str | Path) -> Dataset:
    """A dataset file in the reference's format; a malformed file or record raises ValueError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise Robotxr1Error(f"{path}: cannot read the dataset ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise Robotxr1Error(f"{path}: not JSON ({error})") from None
    if not isinstance(data, list) or not data:
        raise Robotxr1Error(f"{path}: a dataset is a non-empty JSON list of state records")
    for index, record in enumerate(data):
        try:
            checked = features_from_record(record, min_samples=MIN_RECORD_SAMPLES)
        except ValueError as error:
            raise Robotxr1Error(f"{path}: record {index}: {error}") from None
        if isinstance(checked, InsufficientData):
            raise Robotxr1Error(f"{path}: record {index}: {checked.reason}")
    return Dataset(path.stem, path, tuple(data))


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
