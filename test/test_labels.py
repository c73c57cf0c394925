"""The decision label rules on hand-made state windows, one case on each side of every edge."""
import pytest

from robotxr1_ros.cases.decision import all_labels, decision_instructions, label


def window(s_speed=(2.0,) * 5, d_speed=None, d_pos=None, d_left=None, d_right=None, reversing=False):
    n = len(s_speed)
    return {
        "time": 2, "data_samples": n,
        "s_pos": [float(i) for i in range(n)],
        "d_pos": list(d_pos) if d_pos is not None else [0.0] * n,
        "s_speed": list(s_speed),
        "d_speed": list(d_speed) if d_speed is not None else [0.0] * n,
        "d_left": list(d_left) if d_left is not None else [1.0] * n,
        "d_right": list(d_right) if d_right is not None else [1.0] * n,
        "reversing": reversing, "crashed": False, "facing_wall": False,
    }


@pytest.mark.parametrize("record, expected", [
    (window(s_speed=[0.09] * 5), True),
    (window(s_speed=[0.1] * 5), False),  # the limit is strict
    (window(s_speed=[0.3, -0.3, 0.3, -0.3, 0.0]), False),  # mean |s_speed|, not |mean|
    (window(s_speed=[0.0] * 5, d_speed=[0.09] * 5), True),
    (window(s_speed=[0.0] * 5, d_speed=[-0.1] * 5), False),
])
def test_dont_move(record, expected):
    assert label("Don't move", record) is expected


@pytest.mark.parametrize("record, expected", [
    (window(s_speed=[-0.01] * 5), True),
    (window(s_speed=[0.0] * 5), False),
    (window(s_speed=[0.5] * 5, reversing=True), True),  # the flag alone is enough
])
def test_reverse(record, expected):
    assert label("Reverse the car", record) is expected


@pytest.mark.parametrize("record, expected", [
    (window(s_speed=[0.1] * 5), False),
    (window(s_speed=[0.11] * 5), True),
    (window(s_speed=[-1.0] * 5), False),
])
def test_forward(record, expected):
    assert label("Drive forward", record) is expected


@pytest.mark.parametrize("d_pos, expected", [
    ([0.3, -0.2, 0.2, -0.2, 0.2], True),  # 4 sign changes, max |d| exactly 0.3
    ([0.29, -0.2, 0.2, -0.2, 0.2], False),  # amplitude just short
    ([0.1, -0.1, 0.1, -0.3, -0.2], True),  # the amplitude may be on the negative side
    ([0.5, 0.4, -0.5, -0.4, -0.5], False),  # a single sign change
    ([0.5, 0.0, -0.5, 0.0, 0.5], False),  # zeros are not sign changes
    ([0.5, -0.4, -0.5, 0.4, 0.5], True),  # two sign changes
])
def test_oscillate(d_pos, expected):
    assert label("Oscillate!", window(d_pos=d_pos)) is expected


@pytest.mark.parametrize("record, expected", [
    (window(d_left=[0.39] * 5), True),
    (window(d_left=[0.4] * 5), False),
    (window(d_left=[0.2] * 5, s_speed=[0.1] * 5), False),  # close but not moving
])
def test_close_to_left_wall(record, expected):
    assert label("Drive close to the left wall", record) is expected


@pytest.mark.parametrize("record, expected", [
    (window(d_left=[1.3] * 5, d_right=[1.0] * 5), True),  # exactly 0.3 apart (1.3 - 1.0 > 0.3 in floats)
    (window(d_left=[1.0, 1.0, 1.31, 1.0, 1.0], d_right=[1.0] * 5), False),  # one sample off is enough
    (window(d_left=[0.2] * 5, d_right=[2.0] * 5, s_speed=[0.0] * 5), True),  # not moving: not checked
    (window(d_left=[0.2] * 5, d_right=[2.0] * 5, s_speed=[0.11] * 5), False),
])
def test_centerline(record, expected):
    assert label("Drive on the centerline", record) is expected


@pytest.mark.parametrize("speed, expected", [(3.0, False), (3.01, True)])
def test_faster_than_3(speed, expected):
    assert label("Drive faster than 3 m/s", window(s_speed=[speed] * 5)) is expected


@pytest.mark.parametrize("record, expected", [
    (window(d_pos=[0.3] * 5), True),
    (window(d_pos=[-0.31] * 5), False),
    (window(d_pos=[0.8, -0.8, 0.8, -0.8, 0.0]), True),  # |mean d|, so oscillating about the line counts
    (window(d_pos=[0.0] * 5, s_speed=[0.1] * 5), False),  # on the line but not moving
])
def test_racing_line(record, expected):
    assert label("Drive on the racing line", record) is expected


def test_all_labels_cover_the_eight_instructions_and_unknown_ones_are_refused():
    labels = all_labels(window())
    assert tuple(labels) == decision_instructions() and len(labels) == 8
    assert labels["Drive forward"] and not labels["Don't move"]
    with pytest.raises(ValueError, match="no label rule"):
        label("Do a backflip", window())
