"""`robotxr1 make-datasets`: write the data the driving cases define (robotxr1_ros/cases/).

- The decision datasets: every decision rule's behaviour driven in the simulator on the
  evaluation track (evaluation/behaviours.py), cut into state windows (decision_dataset.py).
- The decision hints (data/decision_hints.json): every rule's hint and the state's; those
  already in the file keep their place.
- The teacher's choice (data/training/teacher.json) for every control case that has none yet,
  chosen by driving its candidate answers on the training track.

After adding a case, `make data` runs this and `robotxr1 eval oracle` (the oracle's cache).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..cases.hints import HINTS_FILE, hints_file_text
from ..errors import Robotxr1Error
from ..evaluation.decision_dataset import DATASET_TRACK, generate_datasets, packaged_dataset_dir
from ..json_files import read_json
from ..track.library import get_track
from ..training.teacher import Teacher, packaged_teacher_file
from ..training.train_prompts import TRAIN_TRACK, train_prompts


def register(subparsers) -> None:
    parser = subparsers.add_parser("make-datasets", help="write the data the driving cases define: decision "
                                   "datasets, hints, the teacher's choices", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder; its name is the version (default: the packaged version folder)")
    parser.add_argument("--windows", type=int, default=30, help="state windows per behaviour (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs per behaviour, from random starts (default 3)")
    parser.add_argument("--track", default=DATASET_TRACK, help=f"track (default {DATASET_TRACK})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hints", type=Path, default=HINTS_FILE, help="hints file (default: the packaged one)")
    parser.add_argument("--teacher", type=Path, default=None, help="teacher file (default: the packaged one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.windows < 1 or args.runs < 1:
        raise Robotxr1Error("--windows and --runs must be at least 1")
    out = args.out or packaged_dataset_dir()
    # The files this command reads are read before it drives: a damaged one fails at once.
    teacher_file = args.teacher or packaged_teacher_file()
    teacher = Teacher.load(teacher_file) if teacher_file.exists() else Teacher({}, [])
    previous_hints = read_hints(args.hints)
    manifest = generate_datasets(out, windows=args.windows, runs=args.runs, seed=args.seed, track_name=args.track)
    for name, info in manifest["datasets"].items():
        rates = ", ".join(f"{instruction} {rate:.0%}" for instruction, rate in info["label_rates"].items())
        print(f"{name:20s} {info['records']:3d} records; labelled True: {rates}")
    print(f"datasets: {out}")
    print(f"hints: {write_hints(args.hints, previous_hints)}")
    print(f"teacher: {complete_teacher(teacher_file, teacher)}")
    return 0


def read_hints(path: Path) -> str | None:
    """The hints file's text (its order of hints is kept), once checked; None if there is none."""
    if not path.exists():
        return None
    data = read_json(path, "the hints file")
    if not isinstance(data, dict) or not isinstance(data.get("hints"), list) \
            or not all(isinstance(entry, dict) and "id" in entry for entry in data["hints"]):
        raise Robotxr1Error(f'{path}: not a hints file (a JSON object whose "hints" is a list of objects with an "id")')
    return path.read_text(encoding="utf-8")


def write_hints(path: Path, previous: str | None) -> str:
    text = hints_file_text(previous)
    if text == previous:
        return f"{path} (unchanged)"
    path.write_text(text, encoding="utf-8")
    return str(path)


def complete_teacher(path: Path, teacher: Teacher) -> str:
    completed = teacher.completed([get_track(TRAIN_TRACK)], train_prompts())
    if completed is teacher:
        return f"{path} (unchanged: a rule for every case)"
    completed.save(path)
    return f"{path} ({', '.join(f'{case}: {rule}' for case, rule in completed.rules.items())})"
