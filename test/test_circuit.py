"""The long circuit (track/circuit.py): the packaged CSV is the drawing, loads through the CSV loader
as a built-in track, and is a sane ~340 m racing layout; the evaluation's duration scales with a
track's length; `eval control` scores several tracks in one run."""
import json
import math

import numpy as np
import pytest

from robotxr1_ros.cli import main
from robotxr1_ros.control.closed_loop import Scenario, drive_scenario
from robotxr1_ros.evaluation.control_cases import (
    EVAL_SCENARIO,
    LAP_TIMEOUT,
    SLOWEST_LAP_SPEED,
    lap_timeout,
    track_scenario,
)
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.circuit import WIDTH_RANGE, circuit_file, circuit_rows
from robotxr1_ros.track.csv_io import save_track
from robotxr1_ros.track.library import get_track


@pytest.fixture(scope="module")
def circuit():
    return get_track("circuit")


def test_the_packaged_file_is_the_drawing_and_small():
    path = circuit_file()
    assert path.stat().st_size < 60_000
    rows = np.loadtxt(path, delimiter=",")
    drawn = circuit_rows()
    assert rows.shape == drawn.shape
    assert np.max(np.abs(rows - drawn)) < 1e-4  # written to 0.1 mm


def test_it_loads_from_the_csv_as_a_closed_track_of_racing_length_and_width(circuit):
    assert circuit.name == "circuit"  # named by the file: loaded through Track.from_csv
    assert 300.0 < circuit.centre.length < 400.0
    assert 300.0 < circuit.raceline.length < circuit.centre.length
    for path in (circuit.centre, circuit.raceline):  # closed: the end of the lap meets its start
        assert np.allclose(path.position(path.length), path.position(0.0), atol=1e-6)
        assert math.isclose(path.heading(path.length), path.heading(0.0), abs_tol=1e-6)
    full = circuit.width_left + circuit.width_right
    narrow, wide = WIDTH_RANGE
    assert narrow - 0.02 < full.min() < narrow + 0.05 and wide - 0.05 < full.max() < wide + 0.02


def test_it_has_long_straights_a_hairpin_and_fast_sweepers(circuit):
    kappa = np.abs(circuit.centre.curvature(circuit.centre.s_table))
    assert np.mean(kappa < 0.02) > 0.3  # straights
    assert 1.0 / kappa.max() < 3.0  # a hairpin
    assert np.mean((kappa > 0.08) & (kappa < 0.2)) > 0.05  # sweepers, radius 5 to 12 m
    straight = np.flatnonzero(kappa[: int(70 / 0.02)] < 0.02)
    assert straight.size * 0.02 > 50.0  # the main straight


def test_its_racing_line_and_speed_profile_are_sane(circuit):
    s = circuit.raceline.s_table
    d_left, d_right = circuit.raceline_bounds(s[::10])
    assert d_left.min() > 0.3 and d_right.min() > 0.3
    v = circuit.raceline_speed
    assert 2.0 < v.min() < 4.0 and v.max() == pytest.approx(7.0)  # slow in the hairpin, flat out on the straight
    ideal_lap = np.sum(np.diff(np.append(s, circuit.raceline.length)) / v)
    assert 40.0 < ideal_lap < 70.0


def test_the_default_parameters_drive_it_without_a_crash(circuit):
    log = drive_scenario(circuit, MpcParams(), Scenario(seconds=10.0))
    assert not np.any(log.crashed)
    assert log.s_race[-1] - log.s_race[0] > 30.0


def test_the_scenario_lasts_a_slow_lap_and_is_unchanged_on_the_short_tracks(circuit):
    assert track_scenario(get_track("eval")) == EVAL_SCENARIO
    assert lap_timeout(get_track("circle")) == LAP_TIMEOUT
    seconds = track_scenario(circuit).seconds
    assert seconds == lap_timeout(circuit) > 300.0
    assert seconds * SLOWEST_LAP_SPEED >= circuit.raceline.length
    assert track_scenario(circuit).start_s == EVAL_SCENARIO.start_s


def test_eval_control_scores_several_tracks_in_one_run(tmp_path, capsys):
    assert main(["eval", "control", "--baseline", "default", "--mini", "--no-plots", "--track", "circle",
                 "--track", "eval", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert list(summary) == ["circle", "eval"]
    assert all(s["prompts"] == 4 and s["failures"] == 0 and s["score"] == 0.0 for s in summary.values())
    for track in ("circle", "eval"):
        report = json.loads((tmp_path / track / "control_report.json").read_text())
        assert report["track"] == track and report["scenario"]["seconds"] == LAP_TIMEOUT
    table = (tmp_path / "control_tracks.md").read_text()
    assert "| circle | 90 | 4 |" in table and "[eval](eval/control_report.md)" in table
    assert json.loads((tmp_path / "control_tracks.json").read_text())["tracks"]["eval"]["summary"]["prompts"] == 4


def test_tracks_of_the_same_name_are_refused(tmp_path, capsys):
    save_track(get_track("circle"), tmp_path / "eval.csv")
    assert main(["eval", "control", "--baseline", "default", "--mini", "--no-plots", "--track", "eval",
                 "--track", str(tmp_path / "eval.csv"), "--out", str(tmp_path / "out")]) == 2
    assert "the same name" in capsys.readouterr().err
