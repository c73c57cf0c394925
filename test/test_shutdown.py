"""Ctrl-C on `ros2 launch robotxr1 sim.launch.py`, five times in a row: every node exits with code 0
and no traceback, the first time while the LLM node's worker is inside a model call (its model
must be released only after the worker has stopped)."""
from __future__ import annotations

import time

from launch_harness import QUICK_LLM, CarProbe, config_with, exit_codes, graph_seen_by_newcomer, ros2_launch

RUNS = 5
START_TIMEOUT_S = 90.0
# A node's goodbye reaches the probe within a fraction of a second. When the probe still lists the
# nodes after this, a participant that joins now says what is really left (see the test).
PROBE_FORGETS_S = 2.0
NODES = {"/sim", "/mpc_controller", "/robotxr1"}
PROCESSES = {"sim", "mpc_controller", "robotxr1_llm"}
# Short answers: a model call still running at Ctrl-C ends well within the LLM node's stop timeout.
SHORT_ANSWERS = {**QUICK_LLM, "max_tokens": 48}


def test_five_starts_and_stops_all_exit_cleanly(launch_domain, tmp_path):
    domain_id, context = launch_domain
    config = config_with(tmp_path, robotxr1=SHORT_ANSWERS)
    car = CarProbe(context)
    try:
        for run in range(RUNS):
            launched = ros2_launch("sim.launch.py", domain_id, config=str(config))
            try:
                up = car.wait(lambda: car.node_names() >= NODES and car.llm_ready(), START_TIMEOUT_S)
                if run == 0:
                    car.instruct("Drive slower")  # Ctrl-C while the worker is inside a model call
                    time.sleep(0.5)
            finally:
                output = launched.stop()
            assert up, f"run {run}: nodes did not come up\n{output}"
            assert exit_codes(output) == dict.fromkeys(PROCESSES, 0), f"run {run}:\n{output}"
            assert "Traceback" not in output, f"run {run}:\n{output}"
            # The processes are gone (exit codes above); their nodes leave the graph when Fast DDS's
            # goodbye arrives. The probe's participant has been seen to keep listing them for good
            # (one full test run: five times in a row, each beyond the 20 s lease, so its lease checks
            # were not running either): then a participant that joins now, which only hears from live
            # participants, must see the probe and none of them.
            forgotten = car.wait(lambda: not NODES & car.node_names(), PROBE_FORGETS_S)
            seen = set() if forgotten else graph_seen_by_newcomer(domain_id, car.probe.node.get_fully_qualified_name())
            assert not NODES & seen, f"run {run}: nodes left behind: {sorted(NODES & seen)}"
    finally:
        car.close()
