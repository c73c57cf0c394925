"""Read and write the common raceline CSV layouts.

- Track layout (comma separated): `x_m, y_m, w_tr_right_m, w_tr_left_m`, one centre-line point per row.
- Racing-line layout (TUM, semicolon separated): `s_m; x_m; y_m; psi_rad; kappa_radpm; vx_mps[; ax_mps2]`,
  where psi is zero pointing north (add pi/2 for the usual heading convention).
Lines starting with '#' are comments. Errors name the file and the line.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import Robotxr1Error
from .closed_path import ClosedPath

if TYPE_CHECKING:
    from .track import Track


# The longest closed path through a file's points: a 1:10 track is tens of metres long, and its
# tables are sampled every 2 cm (a file in millimetres would take minutes and gigabytes to build).
MAX_PATH_LENGTH_M = 1000.0


class TrackFileError(Robotxr1Error):
    """A track or racing-line file that cannot be read, with its file and line."""


def _read_rows(path: Path, delimiter: str, min_columns: int) -> np.ndarray:
    if path.is_dir():
        raise TrackFileError(f"{path}: a folder, not a track file")
    if not path.is_file():
        raise TrackFileError(f"{path}: no such track file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TrackFileError(f"{path}: cannot read the track file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise TrackFileError(f"{path}: not a text file (byte {error.start} is not UTF-8)") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        cells = [cell.strip() for cell in text.split(delimiter)]
        if len(cells) < min_columns:
            raise TrackFileError(f"{path}:{number}: expected {min_columns} '{delimiter}'-separated columns, "
                                 f"got {len(cells)}")
        try:
            values = [float(cell) for cell in cells]
        except ValueError:
            raise TrackFileError(f"{path}:{number}: not a number in {text!r}") from None
        if not all(np.isfinite(values)):
            raise TrackFileError(f"{path}:{number}: values must be finite, got {text!r}")
        rows.append(values)
    if len(rows) < 4:
        raise TrackFileError(f"{path}: needs at least 4 data rows, has {len(rows)}")
    return np.array(rows)


def _closed_path(path: Path, x: np.ndarray, y: np.ndarray) -> ClosedPath:
    """The closed path through a file's points, any error naming the file."""
    with np.errstate(over="ignore", invalid="ignore"):  # absurd coordinates give an infinite length
        length = float(np.sum(np.hypot(np.diff(x, append=x[:1]), np.diff(y, append=y[:1]))))
    if not length <= MAX_PATH_LENGTH_M:
        raise TrackFileError(f"{path}: the closed path through its points is {length:.3g} m long, more than "
                             f"{MAX_PATH_LENGTH_M:.0f} m (coordinates must be in metres)")
    try:
        return ClosedPath(x, y)
    except ValueError as error:
        raise TrackFileError(f"{path}: {error}") from None


def read_track_rows(path: str | Path) -> tuple[ClosedPath, np.ndarray, np.ndarray]:
    """(centre line, width_left, width_right at centre.s_table) from a track-layout CSV."""
    path = Path(path)
    rows = _read_rows(path, ",", 4)
    if np.any(rows[:, 2:4] <= 0):
        bad = int(np.argmax(np.any(rows[:, 2:4] <= 0, axis=1)))
        raise TrackFileError(f"{path}: data row {bad + 1}: track widths must be positive")
    centre = _closed_path(path, rows[:, 0], rows[:, 1])
    # Widths are given per file row; carry them to the dense table by each row's arc length.
    s_rows, _ = centre.project(rows[:, 0], rows[:, 1])
    order = np.argsort(s_rows)
    width_right = np.interp(centre.s_table, s_rows[order], rows[order, 2], period=centre.length)
    width_left = np.interp(centre.s_table, s_rows[order], rows[order, 3], period=centre.length)
    return centre, width_left, width_right


def read_raceline_rows(path: str | Path) -> tuple[ClosedPath, np.ndarray, np.ndarray]:
    """(path, speed per file row, arc length of each file row) from a TUM racing-line CSV."""
    path = Path(path)
    rows = _read_rows(path, ";", 6)
    raceline = _closed_path(path, rows[:, 1], rows[:, 2])
    s_rows, _ = raceline.project(rows[:, 1], rows[:, 2])
    return raceline, rows[:, 5], s_rows


def save_track(track: Track, path: str | Path, step: float = 0.5) -> None:
    """Write the centre line and widths in the track layout."""
    s = track.centre.sample(step)
    x, y = track.centre.position(s)
    w_left, w_right = track.centre_widths(s)
    write_track_rows(path, np.column_stack([x, y, w_right, w_left]))


def write_track_rows(path: str | Path, rows: np.ndarray) -> None:
    """Write `x_m, y_m, w_tr_right_m, w_tr_left_m` rows in the track layout (to the millimetre)."""
    np.savetxt(path, rows, delimiter=",", fmt="%.4f", header="x_m,y_m,w_tr_right_m,w_tr_left_m")


def save_raceline(track: Track, path: str | Path, step: float = 0.25) -> None:
    """Write the racing line in the TUM layout (psi zero pointing north)."""
    line = track.raceline
    s = line.sample(step)
    x, y = line.position(s)
    psi = np.mod(line.heading(s) - np.pi / 2 + np.pi, 2 * np.pi) - np.pi
    vx = track.speed_at(s)
    ax = np.gradient(vx**2 / 2.0, s)
    rows = np.column_stack([s, x, y, psi, line.curvature(s), vx, ax])
    np.savetxt(path, rows, delimiter=";", fmt="%.5f", header="s_m;x_m;y_m;psi_rad;kappa_radpm;vx_mps;ax_mps2")
