"""PNG plots of tracks and runs (headless: the Agg backend, no display needed)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..control.run_log import RunLog
from ..track import Track


def draw_track(ax, track: Track) -> None:
    for wall in (track.left_wall, track.right_wall):
        closed = np.vstack([wall, wall[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color="black", linewidth=1.2)
    ax.plot(*track.centre.xy_table.T, linestyle="--", color="grey", linewidth=0.8, label="centre line")
    ax.plot(*track.raceline.xy_table.T, color="tab:orange", linewidth=0.8, label="racing line")
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")


def plot_runs(track: Track, runs: Sequence[tuple[str, RunLog]], path: str | Path, title: str = "") -> Path:
    """One panel per run: the driven path coloured by speed along the track."""
    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 5.5), squeeze=False)
    speeds = np.concatenate([log.speed_along for _, log in runs])
    limit = max(1.0, float(np.max(np.abs(speeds))))
    for ax, (label, log) in zip(axes[0], runs, strict=True):
        draw_track(ax, track)
        points = ax.scatter(log.x, log.y, c=log.speed_along, cmap="coolwarm", vmin=-limit, vmax=limit, s=4)
        if np.any(log.crashed > 0):
            first = int(np.argmax(log.crashed > 0))
            ax.plot(log.x[first], log.y[first], "kx", markersize=12, label="crash")
        ax.set_title(label)
        ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(points, ax=axes[0].tolist(), label="speed along track [m/s]")
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
