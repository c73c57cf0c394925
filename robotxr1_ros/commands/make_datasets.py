"""`robotxr1 make-datasets`: generate the decision datasets in the simulator (see
robotxr1_ros/evaluation/behaviours.py for how each behaviour is driven, decision_dataset.py for
how windows are cut)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import Robotxr1Error
from ..evaluation.decision_dataset import DATASET_TRACK, generate_datasets, packaged_dataset_dir


def register(subparsers) -> None:
    parser = subparsers.add_parser("make-datasets", help="generate the decision datasets in the simulator",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder; its name is the version (default: the packaged version folder)")
    parser.add_argument("--windows", type=int, default=30, help="state windows per behaviour (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs per behaviour, from random starts (default 3)")
    parser.add_argument("--track", default=DATASET_TRACK, help=f"track (default {DATASET_TRACK})")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.windows < 1 or args.runs < 1:
        raise Robotxr1Error("--windows and --runs must be at least 1")
    out = args.out or packaged_dataset_dir()
    manifest = generate_datasets(out, windows=args.windows, runs=args.runs, seed=args.seed, track_name=args.track)
    for name, info in manifest["datasets"].items():
        rates = ", ".join(f"{instruction} {rate:.0%}" for instruction, rate in info["label_rates"].items())
        print(f"{name:20s} {info['records']:3d} records; labelled True: {rates}")
    print(f"datasets: {out}")
    return 0
