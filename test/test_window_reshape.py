"""Driven windows reshaped as other stacks send them (training/window_reshape.py) and questions at
random thresholds (training/decision_windows.py): the ranges the decision training then covers,
and labels that follow the reshaped numbers."""
import numpy as np

from robotxr1_ros.cases.decision import DECISION_RULES, SPEED_THRESHOLD_RANGE, faster_than
from robotxr1_ros.cases.summary import WindowSummary, above
from robotxr1_ros.llm.features import StateFeatures, features_from_record
from robotxr1_ros.training.decision_windows import ask, question_pool, training_records
from robotxr1_ros.training.window_reshape import SAMPLES, SECONDS, SPEED_RANGE, reshaped


def window(speed: float = 2.0, left: float = 1.0, right: float = 1.2, n: int = 8) -> dict:
    return {"time": 3.0, "data_samples": n, "s_pos": list(np.linspace(0.0, 3.0 * speed, n)),
            "d_pos": [0.1] * n, "s_speed": list(np.linspace(speed - 0.2, speed + 0.2, n)), "d_speed": [0.0] * n,
            "d_left": [left] * n, "d_right": [right] * n, "reversing": False, "crashed": False, "facing_wall": False}


def test_reshaped_windows_cover_other_stacks_ranges_and_stay_readable():
    rng = np.random.default_rng(0)
    copies = [reshaped(window(), rng) for _ in range(400)]
    for copy in copies:
        assert SAMPLES[0] <= copy["data_samples"] == len(copy["s_speed"]) == len(copy["d_left"]) <= SAMPLES[1]
        assert SECONDS[0] <= copy["time"] <= SECONDS[1]
        assert isinstance(features_from_record(copy), StateFeatures)
        assert copy["reversing"] == (np.mean(copy["s_speed"]) < -0.1)
        assert copy["crashed"] == (min(min(copy["d_left"]), min(copy["d_right"])) < 0.15)
    means = [float(np.mean(copy["s_speed"])) for copy in copies]
    assert SPEED_RANGE[0] - 1.0 < min(means) < -2.0 and 8.0 < max(means) < SPEED_RANGE[1] + 1.0
    held = [copy for copy in copies if len(set(copy["s_speed"])) == 1]
    assert 0.2 < len(held) / len(copies) < 0.5  # held signals, as a stack sending a commanded speed
    walls = [max(np.mean(copy["d_left"]), np.mean(copy["d_right"])) for copy in copies]
    assert max(walls) > 2.0  # wider tracks than the training track's


def test_a_standing_window_is_given_speed_by_a_shift():
    rng = np.random.default_rng(3)
    copies = [reshaped(window(speed=0.0), rng) for _ in range(100)]
    assert max(float(np.mean(copy["s_speed"])) for copy in copies) > 5.0


def test_labels_are_read_from_the_reshaped_numbers():
    records = training_records(1, reshaped_copies=2)
    copies = [record for record in records if record["behaviour"].endswith("(reshaped)")]
    assert len(copies) == 2 * (len(records) - len(copies))
    rule = DECISION_RULES["Drive faster than 3 m/s"]
    fast = [rule.adheres(WindowSummary(record)) for record in copies]
    assert fast == [above(float(np.mean(record["s_speed"])), 3.0) for record in copies]
    assert 0.2 < np.mean(fast) < 0.8  # the copies are both faster and slower than the catalogue drives


def test_questions_at_random_thresholds_are_judged_at_their_threshold():
    rng = np.random.default_rng(1)
    asked = [ask("Drive faster than 3 m/s", rng, threshold_share=1.0) for _ in range(50)]
    thresholds = {float(question.text.split()[3]) for question in asked}
    assert len(thresholds) > 40 and all(SPEED_THRESHOLD_RANGE[0] <= t <= SPEED_THRESHOLD_RANGE[1] for t in thresholds)
    record = window(speed=6.0)
    for question in asked:
        threshold = float(question.text.split()[3])
        assert question.label(record) == faster_than(threshold).adheres(WindowSummary(record))
    pool = {question.text for question in question_pool("Drive forward")}
    assert all(ask("Drive forward", rng, threshold_share=1.0).text in pool for _ in range(10))  # no thresholds
