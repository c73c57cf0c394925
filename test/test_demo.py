"""`robotxr1 demo`, short, as a user runs it (a child process, the bundled model): the reverse scene,
then the stop scene, whose fast-path update stands the car. Timings are reported, never asserted."""
import json
import os
import subprocess
import sys

import pytest
from ros_fixtures import process_domain_id

from robotxr1_ros.bench.stopping import STANDING_SPEED
from robotxr1_ros.llm.supervisor import UpdatePath

DEMO_TIMEOUT_S = 200.0  # below pytest's timeout (setup.cfg), so a stuck demo fails here and is ended


@pytest.mark.dds
@pytest.mark.slow_model
def test_short_demo_reverses_then_stops_the_car(tmp_path):
    environment = {**os.environ, "ROS_DOMAIN_ID": str(process_domain_id())}
    demo = subprocess.run([sys.executable, "-m", "robotxr1_ros.cli", "demo", "--before", "3", "--after", "3",
                           "--out", str(tmp_path)],  # the stop scene as `make demo` plays it
                          env=environment, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S)
    assert demo.returncode == 0, demo.stderr
    report = json.loads((tmp_path / "demo.json").read_text())
    assert set(report["metrics"]) == {"before", "after", "then"}
    assert [u["instruction"] for u in report["updates"]][-1] == "Stop the car"
    stop = report["then"]
    assert stop["instruction"] == "Stop the car" and stop["update_path"] == UpdatePath.FAST_PATH_STOP
    assert stop["update_applied"] and stop["update_latency_s"] >= 0.0
    assert stop["to_standstill_sim_s"] >= 0.0 and stop["to_standstill_wall_s"] >= 0.0
    assert stop["distance_to_standstill_m"] >= 0.0
    assert stop["final_speed"] < STANDING_SPEED and stop["mean_speed_after_standstill"] < STANDING_SPEED
    assert (tmp_path / "trajectory.png").stat().st_size > 0
    print(stop)
