"""Driven windows reshaped into what other F1TENTH stacks send, for the decision training.

The training track's drives give windows of one simulator: 1-5 s, 5-13 samples, speeds the
catalog drives (up to ~7 m/s), walls where that track has them. Another car's stack sends
8-20 samples over several seconds, speeds held constant up to 10 m/s, walls 1.5 m away or more.
A model trained on the first learns their speeds and shapes instead of the rules. A reshaped copy
of a window keeps its motion and changes, each at random:

- the sampling: another count (5-20) over another duration (2-6 s), by interpolation;
- the signals held: every series at its mean, as a stack that sends a commanded speed does;
- the speed: scaled (or shifted, from standstill) to a mean anywhere in SPEED_RANGE, with noise;
- the walls: the track wider or narrower, the car further to one side or on the centre line;
- the reference line: d_pos measured from another stack's line (its centre line, or a line to one
  side) while the walls stay, so being on the racing line says nothing of the walls.

The copy's flags follow its series (reversing: mean s_speed; crashed: a wall within the car's
half width), and its labels are the rules' over the new numbers (training.decision_windows).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.integrate import cumulative_trapezoid

from ..llm.features import SERIES_KEYS, FeatureConfig, StateFeatures

SAMPLES = (5, 20)
SECONDS = (2.0, 6.0)
SPEED_RANGE = (-3.0, 10.0)  # m/s: the mean speed a reshaped window may be given
STANDING = 0.3  # m/s: a window slower than this is shifted to its new speed, not scaled
HOLD_SHARE = 0.35  # windows whose signals are held at their means
SPEED_SHARE = 0.6  # windows given another speed
NOISE_SHARE = 0.3  # windows given speed noise
WIDTH_SHARE = 0.4  # windows on a wider or narrower track
SHIFT_SHARE = 0.4  # windows moved to one side
CENTRE_SHARE = 0.2  # windows moved onto the centre line (the walls equal within CENTRE_NOISE)
RELINE_SHARE = 0.3  # windows whose d_pos is measured from another reference line (half: the centre line)
CENTRE_NOISE = 0.08  # m: the spread of each wall distance about the half width on the centre line
WIDEN = (-0.5, 1.5)  # m added to both wall distances
SHIFT = (-0.8, 0.8)  # m moved to the left (+) or right (-)
WALL_MIN = 0.05  # m: the closest a wall distance gets


def reshaped(record: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A copy of `record` (a feature record in the reference layout) reshaped as the module says.

    >>> rng = np.random.default_rng(0)
    >>> record = {"time": 2.0, "data_samples": 3, "s_pos": [0.0, 2.0, 4.0], "d_pos": [0.1, 0.1, 0.1],
    ...           "s_speed": [2.0, 2.0, 2.0], "d_speed": [0.0, 0.0, 0.0], "d_left": [1.0, 1.0, 1.0],
    ...           "d_right": [1.2, 1.2, 1.2], "reversing": False, "crashed": False, "facing_wall": False}
    >>> copy = reshaped(record, rng)
    >>> 5 <= copy["data_samples"] == len(copy["s_speed"]) <= 20 and 2.0 <= copy["time"] <= 6.0
    True
    """
    n = int(rng.integers(SAMPLES[0], SAMPLES[1] + 1))
    duration = float(rng.uniform(*SECONDS))
    old_t = np.linspace(0.0, 1.0, len(record["s_speed"]))
    new_t = np.linspace(0.0, 1.0, n)
    series = {key: np.interp(new_t, old_t, np.asarray(record[key], dtype=float)) for key in SERIES_KEYS}
    if rng.random() < HOLD_SHARE:
        series = {key: np.full(n, values.mean()) for key, values in series.items()}
    speed = series["s_speed"]
    if rng.random() < SPEED_SHARE:
        target = float(rng.uniform(*SPEED_RANGE))
        mean = float(speed.mean())
        speed = speed * (target / mean) if abs(mean) > STANDING else speed + (target - mean)
    if rng.random() < NOISE_SHARE:
        speed = speed + rng.normal(0.0, rng.uniform(0.05, 0.5), n)
    left, right, lateral = series["d_left"], series["d_right"], series["d_pos"]
    if rng.random() < WIDTH_SHARE:
        widen = float(rng.uniform(*WIDEN))
        left, right = left + widen, right + widen
    if rng.random() < SHIFT_SHARE:
        shift = float(rng.uniform(*SHIFT))
        left, right, lateral = left - shift, right + shift, lateral + shift
    if rng.random() < CENTRE_SHARE:
        half = (left + right) / 2.0
        lateral = lateral - (right - left) / 2.0  # moved right by its offset from the centre (left +)
        left, right = half + rng.normal(0.0, CENTRE_NOISE, n), half + rng.normal(0.0, CENTRE_NOISE, n)
    if rng.random() < RELINE_SHARE:
        lateral = (right - left) / 2.0 if rng.random() < 0.5 else lateral + float(rng.uniform(*SHIFT))
    left, right = np.maximum(left, WALL_MIN), np.maximum(right, WALL_MIN)
    travelled = cumulative_trapezoid(speed, np.linspace(0.0, duration, n), initial=0.0)
    return StateFeatures(time=duration, data_samples=n, s_pos=_floats(series["s_pos"][0] + travelled),
                         d_pos=_floats(lateral), s_speed=_floats(speed), d_speed=_floats(series["d_speed"]),
                         d_left=_floats(left), d_right=_floats(right),
                         reversing=bool(speed.mean() < -FeatureConfig.reversing_speed),
                         crashed=bool(np.minimum(left, right).min() < FeatureConfig.contact_clearance),
                         facing_wall=bool(record["facing_wall"])).as_record()


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
