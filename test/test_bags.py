"""rosbag2 record and replay: the fixture bags (scripts/make_fixture_bags.sh) give the features of
their behaviours; replay runs the LLM loop's Supervisor over a bag and reports the decisions and the
updates the car would have received; offline and live recording write bags that replay reads back."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from itertools import pairwise
from pathlib import Path

import pytest
from node_harness import stop_process

from robotxr1_ros import cli
from robotxr1_ros.bags.recording import record_behaviour, record_live, topic_types
from robotxr1_ros.bags.replay import WindowResult, replay_bag, scripted_modules
from robotxr1_ros.bags.rosbag_io import read_messages
from robotxr1_ros.cases.decision import label
from robotxr1_ros.evaluation.behaviours import behaviours
from robotxr1_ros.llm.decision import DecisionStatus
from robotxr1_ros.llm.features import StateFeatures
from robotxr1_ros.llm.supervisor import Outcome, SupervisorConfig, Trigger, TuningEvent
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.library import get_track

FIXTURES = Path(__file__).parent / "fixtures" / "bags"

FORWARD, REVERSING, STOPPED, OSCILLATING, LEFT_WALL = (
    partial(label, instruction) for instruction in ("Drive forward", "Reverse the car", "Don't move", "Oscillate!",
                                                    "Drive close to the left wall"))
# What each fixture's windows must show: its own rule holds, and the listed others do not.
EXPECTED = {
    "forward": (FORWARD, [REVERSING, STOPPED]),
    "reversing": (REVERSING, [FORWARD, STOPPED]),
    "stopped": (STOPPED, [REVERSING, FORWARD]),
    "oscillating": (OSCILLATING, [REVERSING, LEFT_WALL]),
    "close_to_left_wall": (LEFT_WALL, [OSCILLATING, REVERSING]),
}


def events(bag: Path, window_s: float = 3.0, period_s: float = 1.0, **options) -> list:
    config = SupervisorConfig(window_s=window_s, decision_period_s=period_s)
    return list(replay_bag(bag, get_track("eval"), config=config, **options))


def windows(bag: Path, **options) -> list[WindowResult]:
    return [event for event in events(bag, **options) if isinstance(event, WindowResult)]


def test_fixture_bags_are_behaviours_of_the_one_catalog():
    """The bags and the decision datasets are driven from the same catalog (the decision rules' behaviours)."""
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(EXPECTED)
    assert set(EXPECTED) <= set(behaviours())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_bags_replay_to_their_behaviour(name):
    holds, fails = EXPECTED[name]
    results = windows(FIXTURES / name)
    assert len(results) >= 2
    for result in results:
        assert isinstance(result.features, StateFeatures)
        record = result.features.as_record()
        assert holds(record), (name, result.t, record)
        assert not any(rule(record) for rule in fails), (name, result.t, record)
        assert record["reversing"] == (name == "reversing")
        assert not record["crashed"] and not record["facing_wall"]
        assert result.features.lidar is not None  # the down-sampled scans reached the features


def test_scripted_backend_decides_each_window_by_its_known_answer():
    instruction = "Reverse the car"
    for name, expected in (("reversing", DecisionStatus.ADHERES), ("forward", DecisionStatus.DOES_NOT_ADHERE)):
        results = windows(FIXTURES / name, instruction=instruction, models=scripted_modules(instruction, {}))
        assert results and {r.decision.status for r in results} == {expected}
        assert all(r.label == (expected == DecisionStatus.ADHERES) for r in results)


def test_replay_reports_the_decisions_and_the_updates_the_car_would_have_received():
    """The forward bag never reverses, whatever the car is told: the instruction is tuned for at
    once, each "does not adhere" leads to a tuning, and the same proposal is never sent twice."""
    instruction = "Reverse the car"
    proposal = {"v_min": -2.0, "v_max": -0.5, "qv": 10.0}  # qv is already in force
    log = events(FIXTURES / "forward", window_s=1.0, period_s=0.5, instruction=instruction,
                 models=scripted_modules(instruction, proposal), params=MpcParams(v_min=0.5))
    tunings = [e for e in log if isinstance(e, TuningEvent)]
    decisions = [e for e in log if isinstance(e, WindowResult)]
    first = tunings[0]
    assert log[0] is first and first.trigger == Trigger.INSTRUCTION and first.outcome == Outcome.SEND
    assert first.update.changes == {"v_min": -2.0, "v_max": -0.5}
    assert first.update.previous == {"v_min": 0.5, "v_max": 12.0}
    assert [e.outcome for e in tunings[1:]] == [Outcome.UNCHANGED] * (len(tunings) - 1) and len(tunings) >= 2
    assert all(e.trigger == Trigger.DECISION for e in tunings[1:])
    assert len(decisions) >= 2 and all(d.decision.status == DecisionStatus.DOES_NOT_ADHERE for d in decisions)
    # The first decision judged a full window recorded after the update, and the waits grow.
    assert decisions[0].t >= first.t + 0.9
    times = [e.t for e in log]
    assert times == sorted(times)
    gaps = [b.t - a.t for a, b in pairwise(decisions)]
    assert all(later >= earlier - 1e-6 for earlier, later in pairwise(gaps))


def test_replay_cli_prints_one_line_per_event(capsys):
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--instruction", "Don't move", "--backend", "scripted",
                     "--period", "0.5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # A stop: the standstill set at once, no model asked.
    assert "fast path: stop after the instruction: update v_min 1 -> 0, v_max 12 -> 0" in lines[0]
    decisions = lines[1:-1]
    # windows covering 2.7 s from 1.5 s on (the car's time to brake), judged at 4.2 and 4.7 s (the bag ends
    # at 4.98 s)
    assert len(decisions) == 2
    assert all("label adheres" in line and "decision adheres -> Continue behavior" in line for line in decisions)
    assert lines[-1] == "2 decisions, 1 updates sent to the controller"
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert records and all(STOPPED(r["features"]) and r["decision"] is None for r in records)


def test_replay_cli_json_reports_updates_with_timestamps(capsys):
    assert cli.main(["replay", str(FIXTURES / "forward"), "--instruction", "Reverse the car", "--backend", "scripted",
                     "--propose", "v_min=-2", "v_max=-0.5", "--params", "v_min=-2", "--window", "1", "--period", "0.5",
                     "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    updates = [r["update"] for r in records if r["event"] == "tuning" and r["outcome"] == "send"]
    assert len(updates) == 1 and updates[0]["changes"] == {"v_max": -0.5}  # v_min=-2 was in force already
    assert updates[0]["previous"] == {"v_max": 12.0} and updates[0]["t"] == records[0]["t"]
    decisions = [r for r in records if r["event"] == "decision"]
    assert decisions and all(r["decision"]["status"] == DecisionStatus.DOES_NOT_ADHERE and r["t"] > updates[0]["t"]
                             for r in decisions)


def test_replay_cli_reports_bad_input_in_one_line(capsys, tmp_path):
    assert cli.main(["replay", str(tmp_path / "missing")]) == 2
    assert "not a rosbag2 directory" in capsys.readouterr().err
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--backend", "scripted"]) == 2
    assert "needs an --instruction" in capsys.readouterr().err
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--instruction", "x" * 501]) == 2
    assert "at most 500" in capsys.readouterr().err
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--params", "v_min=3", "v_max=2"]) == 2
    assert "must be >= v_min" in capsys.readouterr().err


def test_offline_records_in_sqlite3_and_mcap_replay_alike(tmp_path):
    for storage in ("sqlite3", "mcap"):
        counts = record_behaviour(tmp_path / storage, storage, "reversing", 4.0, beam_stride=8)
        assert counts == {"/odom": 200, "/scan": 160, "/imu": 400, "/drive": 160}
    assert (tmp_path / "sqlite3" / "sqlite3.db3").is_file() and (tmp_path / "mcap" / "mcap.mcap").is_file()
    sqlite3, mcap = ([r.features.as_record() for r in windows(tmp_path / storage)] for storage in ("sqlite3", "mcap"))
    assert sqlite3 == mcap and len(mcap) == 2  # windows covering 2.7 of 3 s, judged at 2.7 and 3.7 s of 4 s
    drives = [m for _, _, m in read_messages(tmp_path / "sqlite3", ["/drive"])]
    assert drives and drives[-1].drive.speed < 0.0


def test_topic_types_need_a_known_topic_or_an_explicit_type():
    assert topic_types(["/odom", "/chatter=std_msgs/msg/String"]) == {
        "/odom": "nav_msgs/msg/Odometry", "/chatter": "std_msgs/msg/String"}
    with pytest.raises(ValueError, match="no known type"):
        topic_types(["/chatter"])


def test_live_record_of_the_simulator_in_another_process(ros_context, tmp_path):
    environment = {**os.environ, "ROS_DOMAIN_ID": str(ros_context.get_domain_id())}
    sim = subprocess.Popen([sys.executable, "-m", "robotxr1_ros.nodes.sim_node", "--ros-args",
                            "-p", "scan_beam_stride:=8", "-p", "real_time_factor:=2.0"],
                           env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        counts = record_live(tmp_path / "live", "mcap", topic_types(["/odom", "/scan", "/imu"]), seconds=8.0,
                             context=ros_context)
    finally:
        output = stop_process(sim)
    assert counts["/odom"] > 100 and counts["/scan"] > 50 and counts["/imu"] > 100, (counts, output)
    records = [r.features.as_record() for r in windows(tmp_path / "live", window_s=1.0)]
    # A window in which a busy machine delivered too few odometry messages is reported as such (and
    # cannot be judged); the car, without a controller, is at rest in every other one.
    judged = [record for record in records if "insufficient" not in record]
    assert len(judged) >= len(records) / 2 and all(STOPPED(record) for record in judged), records


def test_record_cli_writes_a_simulated_behaviour_and_refuses_an_existing_bag(tmp_path, capsys):
    bag = tmp_path / "stopped"
    assert cli.main(["record", str(bag), "--behaviour", "stopped", "--seconds", "3.5", "--storage", "sqlite3",
                     "--beam-stride", "8"]) == 0
    assert "/odom 175" in capsys.readouterr().out
    assert [STOPPED(r.features.as_record()) for r in windows(bag)] == [True]
    assert cli.main(["record", str(bag), "--behaviour", "stopped"]) == 2
    assert "already exists" in capsys.readouterr().err
