"""Track geometry: Frenet round trips, built-in tracks, raceline CSV layouts and their errors."""
import numpy as np
import pytest

from robotxr1_ros.track import ClosedPath, Track
from robotxr1_ros.track.csv_io import TrackFileError, save_raceline, save_track
from robotxr1_ros.track.library import BUILTIN_TRACKS, CIRCLE_RADIUS, evaluation_drawing, get_track


@pytest.fixture(params=sorted(BUILTIN_TRACKS))
def track(request):
    return get_track(request.param)


def test_frenet_round_trip_on_both_lines(track):
    rng = np.random.default_rng(0)
    for path in (track.centre, track.raceline):
        s = rng.uniform(0, path.length, 500)
        d = rng.uniform(-0.8, 0.8, 500)
        x, y = path.to_cartesian(s, d)
        s_back, d_back = path.project(x, y)
        assert np.max(np.abs(path.signed_gap(s_back, s))) < 1e-3
        assert np.max(np.abs(d_back - d)) < 1e-3


def test_circle_geometry_is_exact():
    track = get_track("circle")
    assert track.centre.length == pytest.approx(2 * np.pi * CIRCLE_RADIUS, rel=1e-4)
    s = track.centre.sample(0.5)
    assert np.allclose(track.centre.curvature(s), 1 / CIRCLE_RADIUS, rtol=1e-3)
    heading_of_first_point = track.centre.heading(0.0)
    assert heading_of_first_point == pytest.approx(np.pi / 2, abs=1e-3)  # counter-clockwise


def _distance_to_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to a closed polyline (exact, segment by segment)."""
    start, end = polygon, np.roll(polygon, -1, axis=0)
    edge = end - start
    along = np.einsum("pqk,qk->pq", points[:, None, :] - start[None], edge) / np.einsum("qk,qk->q", edge, edge)
    foot = start[None] + np.clip(along, 0.0, 1.0)[..., None] * edge[None]
    return np.min(np.linalg.norm(points[:, None, :] - foot, axis=-1), axis=1)


def test_centre_line_is_the_midline_between_the_walls(track):
    """What the center case measures (d to track.centre) and what the decision rule checks
    (|d_left - d_right|) are the same line: equidistant to both walls, measured as true distances."""
    assert np.allclose(track.width_left, track.width_right)
    points = track.centre.xy_table[::25]
    to_left = _distance_to_polygon(points, track.left_wall[::5])
    to_right = _distance_to_polygon(points, track.right_wall[::5])
    assert np.max(np.abs(to_left - to_right)) < 0.005


def test_recentring_the_eval_track_keeps_its_drawn_walls():
    drawn, width_left, width_right = evaluation_drawing()
    assert np.max(np.abs(width_left - width_right)) > 0.5  # drawn off-centre: the re-centring matters
    track = get_track("eval")
    old_left = np.column_stack(drawn.to_cartesian(drawn.s_table, width_left))
    old_right = np.column_stack(drawn.to_cartesian(drawn.s_table, -width_right))
    for new_wall, old_wall in ((track.left_wall, old_left), (track.right_wall, old_right)):
        assert np.max(_distance_to_polygon(new_wall[::25], old_wall[::5])) < 0.005
    _, d_drawn = drawn.project(*track.centre.position(track.centre.s_table[::25]))
    assert np.max(np.abs(d_drawn)) > 0.3  # and the centre line did move


def test_track_file_with_unequal_widths_loads_recentred(tmp_path):
    """A circle of radius 6 m, 0.5 m of track to its left (inside) and 1.5 m to its right: walls at
    radius 5.5 and 7.5, so the centre line is the circle of radius 6.5 with half-width 1.0."""
    angle = np.linspace(0.0, 2.0 * np.pi, 120, endpoint=False)
    rows = np.column_stack([6.0 * np.cos(angle), 6.0 * np.sin(angle), np.full(120, 1.5), np.full(120, 0.5)])
    np.savetxt(tmp_path / "lopsided.csv", rows, delimiter=",")
    track = Track.from_csv(tmp_path / "lopsided.csv")
    assert np.allclose(np.hypot(*track.centre.xy_table.T), 6.5, atol=2e-3)
    assert np.allclose(track.width_left, 1.0, atol=2e-3) and np.allclose(track.width_right, 1.0, atol=2e-3)


def test_raceline_is_inside_the_walls_and_not_the_centre_line(track):
    s = track.raceline.s_table
    d_left, d_right = track.raceline_bounds(s)
    assert d_left.min() > 0.3 and d_right.min() > 0.3
    _, d_centre = track.centre.project(*track.raceline.position(s))
    assert np.max(np.abs(d_centre)) > 0.5


def test_speed_profile_respects_its_limits(track):
    v = track.raceline_speed
    assert v.min() > 1.0 and v.max() <= 7.0 + 1e-9
    lateral = v**2 * np.abs(track.raceline.curvature(track.raceline.s_table))
    assert lateral.max() <= 5.0 + 1e-6


def test_eval_track_has_straights_tight_and_wide_corners_and_varying_width():
    track = get_track("eval")
    kappa = np.abs(track.centre.curvature(track.centre.s_table))
    assert np.mean(kappa < 0.02) > 0.15  # straights
    assert kappa.max() > 0.4  # a tight corner, radius < 2.5 m
    assert np.any((kappa > 0.1) & (kappa < 0.25))  # a wide corner
    width = track.width_left + track.width_right
    assert width.max() - width.min() > 1.0


def test_wall_distances_and_contains(track):
    x, y = track.centre.position(np.array([0.0, 10.0]))
    d_left, _ = track.wall_distances(x, y)
    assert np.allclose(d_left, track.centre_widths(np.array([0.0, 10.0]))[0], atol=1e-3)
    assert np.all(track.contains(x, y))
    far_x, far_y = track.centre.to_cartesian(np.array([5.0]), np.array([5.0]))
    assert not track.contains(far_x, far_y)[0]


def test_track_csv_round_trip(tmp_path, track):
    save_track(track, tmp_path / "t.csv")
    save_raceline(track, tmp_path / "r.csv")
    loaded = Track.from_csv(tmp_path / "t.csv", tmp_path / "r.csv")
    assert loaded.centre.length == pytest.approx(track.centre.length, rel=2e-3)
    assert loaded.raceline.length == pytest.approx(track.raceline.length, rel=2e-3)
    s = loaded.raceline.sample(1.0)
    assert np.allclose(loaded.speed_at(s), track.speed_at(s), atol=0.1)
    computed = Track.from_csv(tmp_path / "t.csv")  # racing line computed when none is given
    assert computed.raceline.length < computed.centre.length


@pytest.mark.parametrize("content, where, what", [
    ("1,2,3,4\n1,2,3\n", ":2:", "expected 4"),
    ("# header\n0,0,1,1\n1,0,1,x\n", ":3:", "not a number"),
    ("0,0,1,1\n1,0,1,nan\n", ":2:", "finite"),
    ("0,0,1,1\n1,0,1,1\n", "", "at least 4 data rows"),
])
def test_malformed_track_file_names_file_and_line(tmp_path, content, where, what):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TrackFileError, match=what) as error:
        Track.from_csv(path)
    assert f"{path}{where}" in str(error.value)


def test_missing_track_file_and_unknown_track():
    with pytest.raises(TrackFileError, match="no such track file"):
        Track.from_csv("/nonexistent/track.csv")
    with pytest.raises(ValueError, match="unknown track 'moon'"):
        get_track("moon")


def test_closed_path_rejects_degenerate_input():
    with pytest.raises(ValueError, match="at least 4"):
        ClosedPath(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]))
