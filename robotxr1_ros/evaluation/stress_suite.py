"""The stress decision suite: state windows unlike the training's, to measure how the decision
model generalises. It is generated here from a seed (nothing is stored) and never trained on: no
training module reads it (test/test_stress_suite.py keeps it so).

Sources (one dataset each, reported per source):
- synthetic_constant, synthetic_noisy, synthetic_oscillating: records written directly in the
  reference's layout, as another F1TENTH stack would send them: 5-20 samples over 2-6 s, speeds held
  (or noisy around a value) from -3 to 10 m/s, walls 0.1-3 m away, offsets either side of the
  racing line, sine oscillations of several amplitudes and periods;
- sim: the behaviour catalog driven on the evaluation track at speeds of its own (each behaviour's
  `vary`, and forward driving held at 5-9 m/s), cut into windows of the same lengths.

Questions: every decision rule's instruction (the reference's eight, then the open intents'
"Go slower than 3 m/s" and "Reverse at 1 m/s"), and "Drive faster than X m/s", "Go slower than
X m/s" and "Reverse at X m/s" at thresholds the training never asks (between its thresholds and
above them). Labels are the rules' of cases/decision.py (a variant's label is its maker's, as the
training variants').
"""
from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..cases.decision import DECISION_RULES, SPEED_THRESHOLDS, Judge, faster_than, reverse_at, slower_than
from ..track.library import get_track
from .behaviours import behaviours
from .decision_dataset import DATASET_TRACK, Dataset, cut_windows, record_behaviour

STRESS_SEED = 0
STRESS_SPEEDS = (1.75, 3.25, 4.25, 5.5, 7.0)  # m/s "faster / slower than" thresholds; none is a training one
STRESS_REVERSE_SPEEDS = (0.75, 1.25, 2.5)  # m/s "reverse at" speeds; none is a training one
WINDOW_SECONDS = (2.0, 6.0)
WINDOW_SAMPLES = (5, 20)
SPEED_RANGE = (-3.0, 10.0)  # m/s along the track
HALF_WIDTH = (0.4, 1.55)  # m: half the track's width, so a wall is 0.1 - 3 m away
WALL_MIN = 0.1  # m: the car's centre is never closer to a wall
OSCILLATION_AMPLITUDES = (0.1, 0.2, 0.35, 0.6, 1.0)  # m
SYNTHETIC_KINDS = ("constant", "noisy", "oscillating")
SYNTHETIC_WINDOWS = 40  # per kind
SIM_WINDOWS = 5  # per drive
HELD_FAST = (5.0, 9.0)  # m/s: v_max of the extra forward drive


def stress_questions() -> dict[str, Judge]:
    """Question -> its label: every rule's instruction, then the untrained speed thresholds."""
    variants = ([faster_than(speed) for speed in STRESS_SPEEDS] + [slower_than(speed) for speed in STRESS_SPEEDS]
                + [reverse_at(speed) for speed in STRESS_REVERSE_SPEEDS])
    return {**{instruction: rule.adheres for instruction, rule in DECISION_RULES.items()},
            **{variant.text: variant.adheres for variant in variants}}


def _speed(rng: np.random.Generator) -> float:
    """Standing still, close to a speed threshold, or anywhere in SPEED_RANGE."""
    draw = rng.random()
    if draw < 0.15:
        return 0.0
    if draw < 0.35:
        thresholds = (*SPEED_THRESHOLDS, *STRESS_SPEEDS)
        return float(thresholds[int(rng.integers(len(thresholds)))] + rng.uniform(-0.3, 0.3))
    return float(rng.uniform(*SPEED_RANGE))


def synthetic_record(rng: np.random.Generator, kind: str) -> dict[str, Any]:
    """One window of `kind` (SYNTHETIC_KINDS) in the reference's layout."""
    n = int(rng.integers(WINDOW_SAMPLES[0], WINDOW_SAMPLES[1] + 1))
    duration = float(rng.uniform(*WINDOW_SECONDS))
    t = np.linspace(0.0, duration, n)
    half = float(rng.uniform(*HALF_WIDTH))
    room = half - WALL_MIN  # how far the car's centre may be from the track's centre
    raceline = float(rng.uniform(-0.4, 0.4)) * room / HALF_WIDTH[1]  # the racing line's offset from the centre
    place = rng.random()
    if kind == "oscillating":
        centre = raceline + rng.uniform(-0.2, 0.2)
    elif place < 0.3:
        centre = rng.uniform(-0.12, 0.12)  # on the centerline
    elif place < 0.5:
        centre = room - rng.uniform(0.0, 0.35)  # close to the left wall
    else:
        centre = rng.uniform(-room, room)
    speed = np.full(n, _speed(rng))
    lateral = np.full(n, float(centre))
    lateral_speed = np.zeros(n)
    if kind == "oscillating":
        amplitude = OSCILLATION_AMPLITUDES[int(rng.integers(len(OSCILLATION_AMPLITUDES)))]
        omega = 2.0 * np.pi / rng.uniform(0.8, 4.0)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        lateral = lateral + amplitude * np.sin(omega * t + phase)
        lateral_speed = amplitude * omega * np.cos(omega * t + phase)
    if kind == "noisy":  # a standing car's odometry is quieter
        still = speed[0] == 0.0
        speed = speed + rng.normal(0.0, rng.uniform(0.01, 0.08) if still else rng.uniform(0.1, 0.6), n)
        lateral = lateral + rng.normal(0.0, 0.03, n)
        lateral_speed = lateral_speed + rng.normal(0.0, 0.03 if still else 0.1, n)
    lateral = np.clip(lateral, -room, room)
    walls_noise = rng.normal(0.0, 0.02, (2, n)) if kind == "noisy" else np.zeros((2, n))
    s_pos = rng.uniform(0.0, 100.0) + np.concatenate([[0.0], np.cumsum(np.diff(t) * (speed[1:] + speed[:-1]) / 2)])
    series = {"s_pos": s_pos, "d_pos": lateral - raceline, "s_speed": speed, "d_speed": lateral_speed,
              "d_left": np.maximum(half - lateral + walls_noise[0], 0.05),
              "d_right": np.maximum(half + lateral + walls_noise[1], 0.05)}
    return {"time": round(duration, 3), "data_samples": n,
            **{key: [round(float(v), 4) for v in values] for key, values in series.items()},
            "reversing": bool(np.mean(speed) < -0.1), "crashed": False, "facing_wall": False}


def synthetic_records(kind: str, count: int = SYNTHETIC_WINDOWS, seed: int = STRESS_SEED) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, SYNTHETIC_KINDS.index(kind)])
    return [synthetic_record(rng, kind) for _ in range(count)]


def sim_records(windows: int = SIM_WINDOWS, seed: int = STRESS_SEED,
                track_name: str = DATASET_TRACK) -> list[dict[str, Any]]:
    """Windows of every behaviour at a speed of its own, and of forward driving held fast."""
    track = get_track(track_name)
    rng = np.random.default_rng([seed, len(SYNTHETIC_KINDS)])
    forward = behaviours()["forward"]
    held = float(rng.uniform(*HELD_FAST))
    drives = [b.at_random_speed(rng) for b in behaviours().values()]
    drives.append(dataclasses.replace(forward, name="forward_held_fast", params=dataclasses.replace(
        forward.params, v_min=4.0, v_max=held)))
    records = []
    for driven in drives:
        start_s = float(rng.uniform(0.0, track.raceline.length))
        recording = record_behaviour(track, driven, start_s, seed=int(rng.integers(1 << 31)))
        records += cut_windows(recording, track, windows, rng, WINDOW_SECONDS, WINDOW_SAMPLES)
    return records


@cache
def stress_datasets(seed: int = STRESS_SEED) -> tuple[Dataset, ...]:
    """The suite's sources, each a dataset named after it (its path says how it was made)."""
    sources = {f"synthetic_{kind}": synthetic_records(kind, seed=seed) for kind in SYNTHETIC_KINDS}
    sources["sim"] = sim_records(seed=seed)
    return tuple(Dataset(name, Path(f"stress-suite-seed-{seed}") / name, tuple(records))
                 for name, records in sources.items())
