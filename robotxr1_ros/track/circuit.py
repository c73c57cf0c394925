"""The long circuit: a ~340 m racing layout, shipped as a track-layout CSV (data/tracks/circuit.csv).

The evaluation track is a 76 m loop; an answer tuned to it alone (a top speed that happens to fit
its straight, a lap that happens to fit its timeout) should not pass on a track of another length
and shape. This one has a 66 m main straight into a hairpin, a back straight and a right-hander,
fast sweepers up one side, a top straight broken by a chicane, and esses down the other; its full
width varies from 1.6 m to 3.0 m, narrowest in the chicane.

It is drawn like the evaluation track (a periodic spline through corner points, unequal left and
right widths) and written once to the CSV by `write_circuit`; `get_track("circuit")` loads the file,
so the built-in list exercises the CSV loader (and its re-centring on the midline) too. Regenerate
with `write_circuit(CIRCUIT_FILE)` after changing the drawing; a test checks the file matches it.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .closed_path import ClosedPath
from .csv_io import write_track_rows
from .track import Track

# Corner points (m), driven counter-clockwise from the start of the main straight.
CIRCUIT_WAYPOINTS = np.array([
    [0.0, 0.0], [22.0, 0.0], [44.0, 0.0], [66.0, 0.0],  # main straight
    [71.5, 0.3], [74.8, 2.2], [75.1, 5.3], [72.6, 7.5], [67.1, 8.8],  # hairpin
    [58.3, 11.0], [49.5, 13.2], [44.0, 17.6], [44.0, 24.2],  # back straight, right-hander
    [45.1, 33.0], [50.6, 39.6], [59.4, 42.9], [69.3, 46.2], [75.9, 52.8], [74.8, 61.6], [68.2, 66.6],  # sweepers
    [57.2, 67.1], [49.5, 67.1], [44.6, 65.2], [39.1, 68.0], [34.1, 66.0], [26.4, 67.1], [15.4, 67.1],  # chicane
    [5.5, 67.1], [-3.3, 63.8], [-8.8, 56.1], [-11.0, 46.2], [-9.9, 35.2], [-13.2, 26.4], [-16.5, 17.6],  # esses
    [-14.3, 7.7], [-8.8, 1.7],
])
WIDTH_RANGE = (1.6, 3.0)  # m, full width between the walls
FILE_STEP = 0.5  # m between the rows of the CSV


def circuit_file() -> Path:
    return Path(str(resources.files("robotxr1_ros") / "data" / "tracks" / "circuit.csv"))


def circuit_drawing() -> tuple[ClosedPath, np.ndarray, np.ndarray]:
    """The circuit as drawn: (spline, width_left, width_right at its s_table), widths unequal."""
    drawn = ClosedPath(CIRCUIT_WAYPOINTS[:, 0], CIRCUIT_WAYPOINTS[:, 1])
    phase = 2.0 * np.pi * drawn.s_table / drawn.length
    narrow, wide = WIDTH_RANGE
    # Full width: widest on the main straight (0.14 lap), narrowest in the chicane (0.64 lap).
    full = 0.5 * (wide + narrow) + 0.5 * (wide - narrow) * np.cos(phase - 0.28 * np.pi)
    share_left = 0.5 + 0.12 * np.sin(3.0 * phase)  # the drawn line is off the middle, as drawn tracks are
    return drawn, share_left * full, (1.0 - share_left) * full


def circuit_rows(step: float = FILE_STEP) -> np.ndarray:
    """The CSV's rows: x_m, y_m, w_tr_right_m, w_tr_left_m every ~`step` metres of the drawing."""
    drawn, width_left, width_right = circuit_drawing()
    s = drawn.sample(step)
    x, y = drawn.position(s)
    right, left = (np.interp(s, drawn.s_table, width, period=drawn.length) for width in (width_right, width_left))
    return np.column_stack([x, y, right, left])


def write_circuit(path: str | Path) -> None:
    write_track_rows(path, circuit_rows())


def circuit_track() -> Track:
    return Track.from_csv(circuit_file())
