"""Built-in tracks: a circle (the paper trains on one), an evaluation circuit and a long circuit.

The evaluation circuit has a long straight, a hairpin, a wide sweeper, an S-bend and a width that
varies from 1.6 m to 3.0 m, so that centre-line, racing-line, reversing, speed and smoothness
instructions all have room to differ. It is drawn as a spline with unequal left and right widths,
then re-centred on the midline between its walls (track.midline), so its centre line is the line
of equal distance to both walls, as every centre-line measure assumes. The long circuit
(~340 m, track/circuit.py) is a packaged track-layout CSV, loaded like any track file.
"""
from __future__ import annotations

from functools import cache

import numpy as np

from ..errors import Robotxr1Error
from .circuit import circuit_track
from .closed_path import ClosedPath
from .midline import midline
from .track import Track

CIRCLE_RADIUS = 6.0  # m, centre line
CIRCLE_HALF_WIDTH = 1.5  # m
# The second training track: a stadium oval whose straights are long enough for the speed
# profile to reach its top speed, unlike the circle's (an answer for "faster" or "smooth" that only
# works on a small loop is told apart there).
OVAL_STRAIGHT = 40.0  # m, each
OVAL_RADIUS = 7.0  # m, the bends' centre line
OVAL_HALF_WIDTH = 1.2  # m

# Corner points of the evaluation circuit (m), driven counter-clockwise; the periodic spline
# through them rounds the corners.
EVAL_WAYPOINTS = np.array([
    [0.0, 0.0], [8.0, 0.0], [16.0, 0.0], [21.0, 0.5], [23.5, 3.0], [22.5, 6.0],
    [19.0, 6.8], [15.5, 7.5], [13.5, 10.0], [14.5, 13.5], [12.5, 16.5], [8.0, 17.5],
    [3.0, 16.5], [-1.5, 14.0], [-4.5, 10.0], [-5.5, 5.5], [-4.0, 1.5],
])


def circle_track() -> Track:
    angle = np.linspace(0.0, 2.0 * np.pi, 240, endpoint=False)
    centre = ClosedPath(CIRCLE_RADIUS * np.cos(angle), CIRCLE_RADIUS * np.sin(angle))
    widths = np.full(centre.s_table.size, CIRCLE_HALF_WIDTH)
    return Track.from_centre("circle", centre, widths, widths.copy())


def oval_track() -> Track:
    straight = np.linspace(0.0, OVAL_STRAIGHT, 80, endpoint=False)
    bend = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 60, endpoint=False)
    x = np.concatenate([straight, OVAL_STRAIGHT + OVAL_RADIUS * np.cos(bend), OVAL_STRAIGHT - straight,
                        -OVAL_RADIUS * np.cos(bend)])
    y = np.concatenate([np.zeros_like(straight), OVAL_RADIUS * (1.0 + np.sin(bend)),
                        np.full_like(straight, 2.0 * OVAL_RADIUS), OVAL_RADIUS * (1.0 - np.sin(bend))])
    centre = ClosedPath(x, y)
    widths = np.full(centre.s_table.size, OVAL_HALF_WIDTH)
    return Track.from_centre("oval", centre, widths, widths.copy())


def evaluation_drawing() -> tuple[ClosedPath, np.ndarray, np.ndarray]:
    """The evaluation circuit as drawn: (spline, width_left, width_right), widths unequal."""
    drawn = ClosedPath(EVAL_WAYPOINTS[:, 0], EVAL_WAYPOINTS[:, 1])
    phase = 2.0 * np.pi * drawn.s_table / drawn.length
    width_left = 1.15 + 0.35 * np.sin(phase) + 0.1 * np.cos(3.0 * phase)
    width_right = 1.15 + 0.3 * np.cos(2.0 * phase)
    return drawn, width_left, width_right


def evaluation_track() -> Track:
    centre, half_width = midline(*evaluation_drawing())
    return Track.from_centre("eval", centre, half_width, half_width.copy())


BUILTIN_TRACKS = {"circle": circle_track, "oval": oval_track, "eval": evaluation_track, "circuit": circuit_track}


@cache
def get_track(name: str) -> Track:
    """A built-in track by name, or a track file (.csv) by path; built once per process."""
    if name in BUILTIN_TRACKS:
        return BUILTIN_TRACKS[name]()
    if name.endswith(".csv"):
        return Track.from_csv(name)
    raise Robotxr1Error(f"unknown track {name!r}: use one of {sorted(BUILTIN_TRACKS)} or a .csv track file")
