"""State window -> Frenet features of the racing line: the decision module's view of the car.

The feature record (`StateFeatures.as_record()`) is also the dataset record of the decision
evaluation. A window that cannot support a judgement (NaN, too few samples) yields an explicit
`InsufficientData`, never a guess.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import Robotxr1Error
from ..samples import StateWindow
from ..track import Track
from .lidar_features import CAR_HALF_WIDTH, LidarFeatures, LidarThresholds, lidar_features

SERIES_KEYS = ("s_pos", "d_pos", "s_speed", "d_speed", "d_left", "d_right")
FLAG_KEYS = ("reversing", "crashed", "facing_wall")
RECORD_KEYS = ("time", "data_samples", *SERIES_KEYS, *FLAG_KEYS)
MIN_JUDGEABLE_SAMPLES = 2  # the floor under any configuration: one sample shows no behaviour


@dataclass(frozen=True)
class FeatureConfig:
    n_samples: int = 8  # samples kept after down-sampling (the papers use ~5-13)
    min_samples: int = 5  # fewer samples than this cannot show a behaviour
    reversing_speed: float = 0.1  # m/s; mean body-frame vx below minus this means reversing
    contact_clearance: float = CAR_HALF_WIDTH  # m; a wall closer than this touches the car
    facing_distance: float = 0.6  # m; a wall this close straight ahead means facing the wall
    lidar: LidarThresholds = LidarThresholds()

    def __post_init__(self) -> None:
        if min(self.n_samples, self.min_samples) < MIN_JUDGEABLE_SAMPLES:
            raise Robotxr1Error(f"n_samples and min_samples must be >= {MIN_JUDGEABLE_SAMPLES}, "
                             f"got {self.n_samples}, {self.min_samples}")


@dataclass(frozen=True)
class InsufficientData:
    """The window cannot support a judgement; `reason` says why."""

    reason: str

    def as_record(self) -> dict[str, str]:
        """What a report or a topic carries in place of the features."""
        return {"insufficient": self.reason}


@dataclass(frozen=True)
class StateFeatures:
    time: float  # s covered by the window
    data_samples: int
    s_pos: tuple[float, ...]  # m along the racing line
    d_pos: tuple[float, ...]  # m, positive left of the racing line
    s_speed: tuple[float, ...]  # m/s along the racing line (negative: backwards along the track)
    d_speed: tuple[float, ...]  # m/s across the racing line
    d_left: tuple[float, ...]  # m to the left wall
    d_right: tuple[float, ...]  # m to the right wall
    reversing: bool  # driving backwards relative to the car's own heading
    crashed: bool
    facing_wall: bool
    lidar: LidarFeatures | None = None  # the scanner's independent view, when scans were given

    def insufficiency(self, min_samples: int = FeatureConfig.min_samples) -> InsufficientData | None:
        """Why these features cannot support a judgement (NaN, too few samples), or None."""
        if self.data_samples < min_samples:
            return InsufficientData(f"{self.data_samples} samples in the state, at least {min_samples} needed")
        values = [self.time, *(v for key in SERIES_KEYS for v in getattr(self, key))]
        if not all(math.isfinite(v) for v in values):
            return InsufficientData("the state contains NaN, infinite or missing values")
        return None

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"time": round(self.time, 3), "data_samples": self.data_samples}
        for key in SERIES_KEYS:
            record[key] = [round(value, 4) for value in getattr(self, key)]
        for key in FLAG_KEYS:
            record[key] = getattr(self, key)
        return record


def compute_features(window: StateWindow, track: Track,
                     config: FeatureConfig = FeatureConfig()) -> StateFeatures | InsufficientData:
    """Frenet features of the window along `track.raceline`, down-sampled to config.n_samples."""
    samples = list(window.odometry)
    if len(samples) < config.min_samples:
        return InsufficientData(f"{len(samples)} odometry samples, at least {config.min_samples} needed")
    data = np.array([sample.values() for sample in samples], dtype=float)
    bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
    if bad.size:
        return InsufficientData(f"odometry sample {int(bad[0])} contains NaN or infinite values")
    t, x, y, yaw, vx, vy, _ = data.T
    if np.any(np.diff(t) <= 0):
        return InsufficientData("odometry timestamps are not strictly increasing")

    s, d = track.raceline.project(x, y)
    heading = track.raceline.heading(s)
    # Body-frame twist -> world frame -> components along and across the racing line.
    vx_world = vx * np.cos(yaw) - vy * np.sin(yaw)
    vy_world = vx * np.sin(yaw) + vy * np.cos(yaw)
    s_speed = vx_world * np.cos(heading) + vy_world * np.sin(heading)
    d_speed = -vx_world * np.sin(heading) + vy_world * np.cos(heading)
    d_left, d_right = track.wall_distances(x, y)

    lidar = None
    if window.scans:
        lidar = lidar_features(window.scans[-1], float(vx[-1]), config.lidar)
    crashed = bool(np.min(np.minimum(d_left, d_right)) < config.contact_clearance)
    facing_wall = _faces_wall(track, x[-1], y[-1], yaw[-1], config)
    if lidar is not None:
        crashed = crashed or min(lidar.d_left, lidar.d_right) < config.contact_clearance
        facing_wall = facing_wall or lidar.imminent_collision

    keep = np.unique(np.round(np.linspace(0, len(samples) - 1, min(config.n_samples, len(samples)))).astype(int))
    return StateFeatures(
        time=float(t[-1] - t[0]),
        data_samples=int(keep.size),
        s_pos=_floats(s[keep]),
        d_pos=_floats(d[keep]),
        s_speed=_floats(s_speed[keep]),
        d_speed=_floats(d_speed[keep]),
        d_left=_floats(d_left[keep]),
        d_right=_floats(d_right[keep]),
        reversing=bool(np.mean(vx) < -config.reversing_speed),
        crashed=crashed,
        facing_wall=bool(facing_wall),
        lidar=lidar,
    )


def features_from_record(record: Mapping[str, Any],
                         min_samples: int = FeatureConfig.min_samples) -> StateFeatures | InsufficientData:
    """A feature record (e.g. loaded from JSON) back into StateFeatures.

    A malformed record (missing keys, wrong types, lists of different lengths) raises ValueError;
    a well-formed one with NaN/None values or too few samples is InsufficientData.
    """
    if not isinstance(record, Mapping):
        raise Robotxr1Error(f"a state record must be a JSON object, got {type(record).__name__}")
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise Robotxr1Error(f"state record lacks {missing}; expected keys {list(RECORD_KEYS)}")
    series: dict[str, tuple[float, ...]] = {}
    for key in SERIES_KEYS:
        values = record[key]
        if not isinstance(values, list) or not all(_is_number_or_none(v) for v in values):
            raise Robotxr1Error(f"state record field {key!r} must be a list of numbers")
        series[key] = tuple(math.nan if v is None else float(v) for v in values)
    lengths = {len(values) for values in series.values()}
    if len(lengths) != 1:
        raise Robotxr1Error(f"state record lists have different lengths {sorted(lengths)}")
    for key in FLAG_KEYS:
        if not isinstance(record[key], bool):
            raise Robotxr1Error(f"state record field {key!r} must be true or false, got {record[key]!r}")
    if not _is_number_or_none(record["time"]) or isinstance(record["data_samples"], bool) \
            or not isinstance(record["data_samples"], int):
        raise Robotxr1Error("state record fields 'time' and 'data_samples' must be numbers")
    n = lengths.pop()
    if record["data_samples"] != n:
        raise Robotxr1Error(f"state record says data_samples={record['data_samples']} but its lists hold {n}")
    fields: dict[str, Any] = {**series, **{key: record[key] for key in FLAG_KEYS}}  # the lists and the flags
    features = StateFeatures(time=math.nan if record["time"] is None else float(record["time"]), data_samples=n,
                             **fields)
    return features.insufficiency(min_samples) or features


def _faces_wall(track: Track, x: float, y: float, yaw: float, config: FeatureConfig) -> bool:
    """Whether the straight line ahead of the car leaves the track within facing_distance."""
    ahead = np.linspace(config.contact_clearance, config.facing_distance, 8)
    px, py = x + ahead * math.cos(yaw), y + ahead * math.sin(yaw)
    return not bool(np.all(track.contains(px, py)))


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _is_number_or_none(value: Any) -> bool:
    """None, a float, or an int that a float can hold (JSON integers have no bound)."""
    if isinstance(value, bool):
        return False
    return value is None or isinstance(value, float) or (isinstance(value, int) and abs(value) <= sys.float_info.max)
