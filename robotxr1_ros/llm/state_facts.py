"""What a state window shows, in the words a driving instruction uses.

A small model is good at matching "Hug the left wall" with "close to the left wall" and poor at
averaging a list of decimals and comparing the mean with 0.4. So the decision prompt gives it
both: the summary numbers, and what they mean under the hints' thresholds (the facts of
data/decision_hints.json: a wall closer than 0.4 m is close, |d| above 0.3 m is off the racing
line, ...). Judging the instruction against those facts is left to the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import StateFeatures

STILL_SPEED = 0.1  # m/s: mean |s_speed| and mean |d_speed| below this is standing still
FORWARD_SPEED = 0.1  # m/s: mean s_speed above this is moving forward
CLOSE_WALL = 0.4  # m: a mean wall distance below this is close
CENTRED_GAP = 0.3  # m: |d_left - d_right| at most this at every sample is on the centerline
OFF_LINE = 0.3  # m: |mean d_pos| above this is off the racing line
SWING_AMPLITUDE = 0.3  # m: swinging across the racing line reaches at least this |d_pos| ...
SWING_SIGN_CHANGES = 2  # ... and crosses it at least this often


@dataclass(frozen=True)
class StateFacts:
    mean_speed: float  # m/s along the racing line
    mean_abs_speed: float
    mean_abs_lateral_speed: float
    mean_offset: float  # m from the racing line, positive left
    max_abs_offset: float
    sign_changes: int  # of the offset: crossings of the racing line
    mean_left: float  # m to the left wall
    mean_right: float
    max_wall_gap: float  # m, largest |d_left - d_right|

    @classmethod
    def of(cls, state: StateFeatures) -> "StateFacts":
        s_speed, d_pos = np.asarray(state.s_speed), np.asarray(state.d_pos)
        d_left, d_right = np.asarray(state.d_left), np.asarray(state.d_right)
        return cls(mean_speed=float(s_speed.mean()), mean_abs_speed=float(np.abs(s_speed).mean()),
                   mean_abs_lateral_speed=float(np.abs(np.asarray(state.d_speed)).mean()),
                   mean_offset=float(d_pos.mean()), max_abs_offset=float(np.abs(d_pos).max()),
                   sign_changes=int(np.count_nonzero(d_pos[1:] * d_pos[:-1] < 0.0)),
                   mean_left=float(d_left.mean()), mean_right=float(d_right.mean()),
                   max_wall_gap=float(np.abs(d_left - d_right).max()))

    @property
    def motion(self) -> str:
        """
        >>> StateFacts(0.02, 0.05, 0.01, 0.0, 0.0, 0, 1.0, 1.0, 0.0).motion
        'standing still'
        >>> StateFacts(-0.8, 0.8, 0.1, 0.0, 0.0, 0, 1.0, 1.0, 0.0).motion
        'moving backwards'
        """
        if self.mean_abs_speed < STILL_SPEED and self.mean_abs_lateral_speed < STILL_SPEED:
            return "standing still"
        if self.mean_speed > FORWARD_SPEED:
            return "moving forward"
        if self.mean_speed < 0.0:
            return "moving backwards"
        return "barely moving"

    @property
    def on_racing_line(self) -> bool:
        return abs(self.mean_offset) <= OFF_LINE

    @property
    def swinging(self) -> bool:
        return self.sign_changes >= SWING_SIGN_CHANGES and self.max_abs_offset >= SWING_AMPLITUDE

    @property
    def centred(self) -> bool:
        return self.max_wall_gap <= CENTRED_GAP

    def walls(self) -> str:
        """
        >>> StateFacts(2.0, 2.0, 0.1, 0.5, 0.5, 0, 0.3, 1.6, 1.3).walls()
        'close to the left wall, not on the centerline'
        """
        close = [f"close to the {side} wall" for side, distance in (("left", self.mean_left),
                                                                     ("right", self.mean_right))
                 if distance < CLOSE_WALL]
        return ", ".join([*(close or ["close to neither wall"]),
                          "on the centerline" if self.centred else "not on the centerline"])
