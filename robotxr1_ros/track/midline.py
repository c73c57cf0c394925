"""Re-centring a track on the midline between its walls.

A track drawn as a centre line with unequal left and right widths has walls that are not
symmetric about that line. Everything that speaks of "the centre line" (the center control case,
the decision rule |d_left - d_right|, the hints) means the line of equal distance to both walls,
so tracks are stored with that line as their centre and equal half-widths; the walls do not move.
"""
from __future__ import annotations

import numpy as np

from .closed_path import ClosedPath

MIDLINE_STEP = 0.25  # m between the wall midpoints the new centre line is fitted through


def midline(centre: ClosedPath, width_left: np.ndarray, width_right: np.ndarray,
            step: float = MIDLINE_STEP) -> tuple[ClosedPath, np.ndarray]:
    """(centre line through the midpoints between the walls, half-width at its s_table).

    `width_left`/`width_right` are given at `centre.s_table`. The walls `centre ± width·normal`
    stay where they are up to second order in the width's slope (a few mm on the built-in tracks).
    """
    s = centre.sample(step)
    w_left = np.interp(s, centre.s_table, width_left, period=centre.length)
    w_right = np.interp(s, centre.s_table, width_right, period=centre.length)
    mid_x, mid_y = centre.to_cartesian(s, 0.5 * (w_left - w_right))
    middle = ClosedPath(mid_x, mid_y)
    # Carry the half-width to the new line's table by each midpoint's arc length on it.
    s_middle, _ = middle.project(mid_x, mid_y)
    order = np.argsort(s_middle)
    half = np.interp(middle.s_table, s_middle[order], 0.5 * (w_left + w_right)[order], period=middle.length)
    return middle, half
