"""Learning curves of a run as PNG files, from its metrics.jsonl.

One panel per group that the run recorded: the SFT loss; the reward and each reward component;
the control score (mean clipped improvement on the training track); the decision accuracy.
Noisy per-step values are drawn faintly with a moving average over them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .metrics_log import read_metrics

CURVES_PNG = "curves.png"
PANELS = (
    ("loss", ("loss",)),
    ("reward per component", None),  # every reward* column
    ("control score (mean clipped improvement)", ("improvement",)),
    ("decision accuracy", ("accuracy",)),
)


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over up to `window` values.

    >>> moving_average([1.0, 3.0, 5.0], 2).tolist()
    [1.0, 2.0, 4.0]
    """
    array = np.asarray(values, dtype=float)
    sums = np.cumsum(np.insert(array, 0, 0.0))
    starts = np.maximum(np.arange(1, len(array) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(array) + 1) - starts)


def _columns(rows: Sequence[dict[str, Any]], wanted: Sequence[str] | None) -> list[str]:
    present = [key for key in rows[0] if all(isinstance(row.get(key), (int, float)) for row in rows)]
    if wanted is None:
        return [key for key in present if key.startswith("reward")]
    return [key for key in wanted if key in present]


def plot_curves(run_dir: str | Path, window: int = 10) -> Path | None:
    """Write `curves.png` into the run folder; None if the run has no metrics yet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    if not rows:
        return None
    panels = [(title, cols) for title, wanted in PANELS if (cols := _columns(rows, wanted))]
    steps = [row["step"] for row in rows]
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 2.8 * len(panels)), squeeze=False)
    for axis, (title, columns) in zip(axes[:, 0], panels, strict=True):
        for column in columns:
            values = [row[column] for row in rows]
            line, = axis.plot(steps, moving_average(values, window), label=column)
            axis.plot(steps, values, color=line.get_color(), alpha=0.25, linewidth=0.8)
        axis.set_title(title)
        axis.grid(alpha=0.3)
        if len(columns) > 1:
            axis.legend(fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("step")
    figure.tight_layout()
    target = Path(run_dir) / CURVES_PNG
    figure.savefig(target, dpi=100)
    plt.close(figure)
    return target
