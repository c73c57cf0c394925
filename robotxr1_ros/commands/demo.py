"""`robotxr1 demo`: the main job on the embedded default model (see README)."""
from __future__ import annotations

from pathlib import Path

from ..closed_loop import Scenario, rollout
from ..metrics import driving_metrics
from ..params import MpcParams
from ..plots import plot_runs
from ..track_library import get_track


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="drive the evaluation track and plot the run")
    parser.add_argument("--track", default="eval")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", default="out/demo")
    parser.set_defaults(func=run)


def run(args) -> int:
    track = get_track(args.track)
    log = rollout(track, MpcParams(), Scenario(seconds=args.seconds))
    metrics = driving_metrics(log, track.raceline.length)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log.write_csv(out / "run.csv")
    plot = plot_runs(track, [("default MPC parameters", log)], out / "trajectory.png", title=f"robotxr1 demo: {track.name}")
    print(f"drove {track.name} for {metrics.duration:.1f} s: lap time {metrics.lap_time}, "
          f"mean speed {metrics.mean_speed:.2f} m/s, crashed {metrics.crashed}")
    print(f"trajectory plot: {plot}")
    return 0
