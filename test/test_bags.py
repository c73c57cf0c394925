"""rosbag2 record and replay: the fixture bags (scripts/make_fixture_bags.sh) give the features of
their behaviours; offline and live recording write bags that replay reads back."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node_harness import stop_process
from robotxr1_ros import cli
from robotxr1_ros.bags.rosbag_io import read_messages
from robotxr1_ros.commands.record import record_behaviour, record_live, topic_types
from robotxr1_ros.evaluation import labels
from robotxr1_ros.llm.decision import ADHERES, DOES_NOT_ADHERE
from robotxr1_ros.llm.features import StateFeatures
from robotxr1_ros.bags.replay import replay_bag, scripted_decider
from robotxr1_ros.track.library import get_track

FIXTURES = Path(__file__).parent / "fixtures" / "bags"

# What each fixture's windows must show: its own rule holds, and the listed others do not.
EXPECTED = {
    "forward": (labels.is_driving_forward, [labels.is_reversing, labels.is_stopped]),
    "reversing": (labels.is_reversing, [labels.is_driving_forward, labels.is_stopped]),
    "stopped": (labels.is_stopped, [labels.is_reversing, labels.is_driving_forward]),
    "oscillating": (labels.is_oscillating, [labels.is_reversing, labels.is_close_to_left_wall]),
    "left_wall": (labels.is_close_to_left_wall, [labels.is_oscillating, labels.is_reversing]),
}


def windows(bag: Path, **options) -> list:
    return list(replay_bag(bag, get_track("eval"), **options))


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
    for name, expected in (("reversing", ADHERES), ("forward", DOES_NOT_ADHERE)):
        results = windows(FIXTURES / name, instruction=instruction, decide=scripted_decider(instruction))
        assert {r.decision.status for r in results} == {expected}
        assert all(r.label == (expected == ADHERES) for r in results)


def test_replay_cli_prints_one_line_per_window(capsys):
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--instruction", "Don't move", "--backend", "scripted",
                     "--period", "0.5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4  # windows ending at 3.0, 3.5, 4.0 and 4.5 s (the bag ends at 4.98 s)
    assert all("label adheres" in line and "decision adheres -> Continue behavior" in line for line in lines)
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert all(labels.is_stopped(r["features"]) and r["decision"] is None for r in records)


def test_replay_cli_reports_bad_input_in_one_line(capsys, tmp_path):
    assert cli.main(["replay", str(tmp_path / "missing")]) == 2
    assert "not a rosbag2 directory" in capsys.readouterr().err
    assert cli.main(["replay", str(FIXTURES / "stopped"), "--backend", "scripted"]) == 2
    assert "needs an --instruction" in capsys.readouterr().err


def test_offline_records_in_sqlite3_and_mcap_replay_alike(tmp_path):
    for storage in ("sqlite3", "mcap"):
        counts = record_behaviour(tmp_path / storage, storage, "reversing", 4.0, beam_stride=8)
        assert counts == {"/odom": 200, "/scan": 160, "/imu": 400, "/drive": 160}
    assert (tmp_path / "sqlite3" / "sqlite3.db3").is_file() and (tmp_path / "mcap" / "mcap.mcap").is_file()
    sqlite3, mcap = ([r.features.as_record() for r in windows(tmp_path / storage)] for storage in ("sqlite3", "mcap"))
    assert sqlite3 == mcap and len(mcap) == 1  # one full 3 s window in 4 s
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
    results = windows(tmp_path / "live", window_s=1.0)
    assert results and all(labels.is_stopped(r.features.as_record()) for r in results)  # no controller: at rest


def test_record_cli_writes_a_simulated_behaviour_and_refuses_an_existing_bag(tmp_path, capsys):
    bag = tmp_path / "stopped"
    assert cli.main(["record", str(bag), "--behaviour", "stopped", "--seconds", "3.5", "--storage", "sqlite3",
                     "--beam-stride", "8"]) == 0
    assert "/odom 175" in capsys.readouterr().out
    assert [labels.is_stopped(r.features.as_record()) for r in windows(bag)] == [True]
    assert cli.main(["record", str(bag), "--behaviour", "stopped"]) == 2
    assert "already exists" in capsys.readouterr().err
