"""`robotxr1 sim`: drive a track with given MPC parameters; metrics, CSV log and PNG plot."""
from __future__ import annotations

import json
from pathlib import Path

from ..control.closed_loop import Scenario, drive_scenario
from ..evaluation.metrics import driving_metrics
from ..evaluation.plots import plot_runs
from ..params import MpcParams, parse_assignments
from ..track.library import BUILTIN_TRACKS, get_track


def register(subparsers) -> None:
    parser = subparsers.add_parser("sim", help="drive a track in the simulator with the MPC")
    parser.add_argument("--track", default="eval", help=f"built-in track ({', '.join(BUILTIN_TRACKS)}) or a track CSV")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="MPC parameter override, repeatable (e.g. --param v_max=4)")
    parser.add_argument("--reference-speed", type=float, default=-1.0,
                        help="speed the speed RMSE is measured against (m/s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/sim", help="folder for the CSV log and the PNG plot")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    params = MpcParams().updated(parse_assignments(args.param))
    track = get_track(args.track)
    log = drive_scenario(track, params, Scenario(seconds=args.seconds, seed=args.seed))
    metrics = driving_metrics(log, track.raceline.length, reference_speed=args.reference_speed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log.write_csv(out / "run.csv")
    plot_runs(track, [(f"{track.name}: {', '.join(args.param) or 'default parameters'}", log)], out / "run.png")
    if args.json:
        print(json.dumps({"track": track.name, "params": params.as_dict(), "metrics": metrics.as_dict(),
                          "csv": str(out / "run.csv"), "plot": str(out / "run.png")}, indent=2))
    else:
        for name, value in metrics.as_dict().items():
            print(f"{name:>14}: {value:.3f}" if isinstance(value, float) else f"{name:>14}: {value}")
        print(f"log: {out / 'run.csv'}\nplot: {out / 'run.png'}")
    return 0
