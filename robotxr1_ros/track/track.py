"""A closed track: centre line with wall widths, racing line with its speed profile.

Conventions as in closed_path: s is arc length, d positive to the left of travel. The alternative
constructors build a track from a centre line (racing line computed) or from CSV files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import Robotxr1Error
from .closed_path import ClosedPath, periodic_interp
from .csv_io import TrackFileError, read_raceline_rows, read_track_rows
from .midline import midline
from .raceline import elastic_band_line, speed_profile


@dataclass
class Track:
    """A closed track: centre line with wall widths, and a racing line with its speed profile.

    The racing line is a ClosedPath of its own; `raceline_speed` holds its speed profile at
    `raceline.s_table`. Wall distances along the racing line's normal come from the centre-line
    widths (exact for straight walls, a close approximation elsewhere).
    """

    name: str
    centre: ClosedPath
    width_left: np.ndarray  # at centre.s_table
    width_right: np.ndarray  # at centre.s_table
    raceline: ClosedPath
    raceline_speed: np.ndarray  # m/s, at raceline.s_table
    left_wall: np.ndarray = field(init=False)
    right_wall: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        for label, values, path in (
            ("width_left", self.width_left, self.centre),
            ("width_right", self.width_right, self.centre),
            ("raceline_speed", self.raceline_speed, self.raceline),
        ):
            if np.shape(values) != path.s_table.shape:
                raise Robotxr1Error(f"{label} must have one value per table sample ({path.s_table.size})")
        if np.any(self.width_left <= 0) or np.any(self.width_right <= 0):
            raise Robotxr1Error(f"track {self.name!r}: wall widths must be positive")
        s = self.centre.s_table
        self.left_wall = np.column_stack(self.centre.to_cartesian(s, self.width_left))
        self.right_wall = np.column_stack(self.centre.to_cartesian(s, -self.width_right))

    @classmethod
    def from_centre(cls, name: str, centre: ClosedPath, width_left: np.ndarray, width_right: np.ndarray) -> Track:
        """A track whose racing line and speed profile are computed from the centre line and widths."""
        raceline = elastic_band_line(centre, width_left, width_right)
        return cls(name, centre, width_left, width_right, raceline, speed_profile(raceline))

    @classmethod
    def from_csv(cls, path: str | Path, raceline_path: str | Path | None = None) -> Track:
        """A track from a track-layout CSV; the racing line is read from `raceline_path` (TUM
        layout) or computed. The file's centre line is re-centred on the midline between its
        walls (see midline.py): the walls are the file's, the centre line is equidistant to them."""
        try:
            return cls._from_csv(path, raceline_path)
        except TrackFileError:
            raise
        except Robotxr1Error as error:  # the file's points are numbers, but they make no track
            raise TrackFileError(f"{path}: not a usable track ({error})") from None

    @classmethod
    def _from_csv(cls, path: str | Path, raceline_path: str | Path | None) -> Track:
        centre, width_left = midline(*read_track_rows(path))
        width_right = width_left.copy()
        name = Path(path).stem
        if raceline_path is None:
            return cls.from_centre(name, centre, width_left, width_right)
        raceline, speeds_at_rows, s_race_rows = read_raceline_rows(raceline_path)
        speed = np.interp(raceline.s_table, s_race_rows, speeds_at_rows, period=raceline.length)
        if np.all(speed <= 0):
            speed = speed_profile(raceline)
        return cls(name, centre, width_left, width_right, raceline, speed)

    def centre_widths(self, s_centre):
        """(width_left, width_right) of the centre line at arc length s_centre."""
        return (
            periodic_interp(s_centre, self.centre.s_table, self.width_left, self.centre.length),
            periodic_interp(s_centre, self.centre.s_table, self.width_right, self.centre.length),
        )

    def wall_distances(self, x, y):
        """Distances from points to the left and right wall (negative once beyond that wall)."""
        s_c, d_c = self.centre.project(x, y)
        w_left, w_right = self.centre_widths(s_c)
        return w_left - d_c, w_right + d_c

    def contains(self, x, y, margin: float = 0.0):
        d_left, d_right = self.wall_distances(x, y)
        return (d_left > margin) & (d_right > margin)

    def speed_at(self, s_race):
        return periodic_interp(s_race, self.raceline.s_table, self.raceline_speed, self.raceline.length)

    def raceline_bounds(self, s_race):
        """(d_left, d_right): free space left and right of the racing line at arc length s_race."""
        return self.wall_distances(*self.raceline.position(s_race))
