"""`bench ros`: the control-loop figures (ROS-free) and a short run of the sim bringup over DDS
with the bundled model. Timings are reported, never asserted."""
import json
import os
import subprocess
import sys
import threading

from ros_fixtures import process_domain_id

from robotxr1_ros.bench.ros import ControlCycle, latency_stats, loop_stats, report_text
from robotxr1_ros.bench.stopping import STANDING_SPEED, stopping
from robotxr1_ros.nodes.priority import lower_thread_priority

# Below pytest's own timeout (setup.cfg, 300 s), so a stuck bench is killed here and fails this test;
# pytest's timeout ends the worker and would leave the child running.
BENCH_TIMEOUT_S = 200.0


def test_loop_stats_count_slots_skipped_on_the_controllers_clock_and_overruns_as_missed():
    starts = [0.0, 0.025, 0.050, 0.081, 0.106, 0.2]  # wall periods 25, 25, 31, 25, 94 ms
    clock = [0.0, 0.025, 0.050, 0.075, 0.100, 0.150]  # the 94 ms one let a slot pass; the 31 ms one did not
    compute = [0.003, 0.003, 0.040, 0.003, 0.003, 0.003]  # one cycle computed longer than a period
    stats = loop_stats([ControlCycle(t, t + c, k) for t, c, k in zip(starts, compute, clock, strict=True)],
                       period_s=0.025)
    assert stats["cycles"] == 6 and stats["late_starts"] == 2
    assert (stats["skipped_slots"], stats["overruns"], stats["missed_deadlines"]) == (1, 1, 2)
    assert stats["period_ms_p50"] == 25.0 and stats["period_ms_max"] == 94.0 and stats["compute_ms_max"] == 40.0
    assert loop_stats([ControlCycle(1.0, 1.001, 0.0)], 0.025)["missed_deadlines"] == 0
    assert latency_stats([]) == {"n": 0, "p50_s": None, "p95_s": None, "max_s": None}
    assert latency_stats([1.0, 2.0, 3.0])["p50_s"] == 2.0


def test_stopping_measures_from_the_instruction_to_the_first_standing_sample():
    t, x, y, speed = [0.0, 1.0, 2.0, 3.0], [0.0, 4.0, 5.0, 5.0], [0.0] * 4, [6.0, 2.0, STANDING_SPEED / 2, 0.0]
    stopped = stopping(t, x, y, speed, start=1.2)  # the sample at 1.0 s was in force then
    assert (stopped.speed_at_start, stopped.seconds, stopped.distance_m) == (2.0, 0.8, 1.0)
    assert stopping(t, x, y, [6.0] * 4, start=0.0).seconds is None


def test_a_worker_thread_lowers_only_its_own_priority():
    seen = {}
    thread = threading.Thread(target=lambda: seen.setdefault("nice", lower_thread_priority(5)))
    thread.start()
    thread.join()
    assert seen["nice"] >= 5 and os.getpriority(os.PRIO_PROCESS, 0) < seen["nice"]


def test_short_bench_ros_run_measures_both_phases():
    """In a child process, as a user runs it: the bench pins itself to one CPU and puts its executor
    threads at SCHED_FIFO, which must never be the state of a test worker that goes on with other tests."""
    environment = {**os.environ, "ROS_DOMAIN_ID": str(process_domain_id())}
    bench = subprocess.run([sys.executable, "-m", "robotxr1_ros.cli", "bench", "ros", "--seconds", "6",
                            "--idle-seconds", "2", "--instruction-every", "3", "--threads", "1", "--stops", "1",
                            "--json"],
                           env=environment, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S)
    assert bench.returncode == 0, bench.stderr
    result = json.loads(bench.stdout)
    for phase in ("idle", "busy"):
        assert result["control"][phase]["cycles"] > 10
        assert result["control"][phase]["missed_deadlines"] >= 0
    assert result["instructions_sent"] == 2 and result["deadline_ms"] == 30.0
    stop = result["stop"]  # a stop while the model tunes: the fast path stands the car
    assert stop["trials"] == stop["applied"] == 1 and stop["never_stood"] == 0
    assert stop["instruction_to_standstill_update"]["p50_s"] > 0.0 and stop["speed_at_stop_mps"]["p50_mps"] > 1.0
    assert stop["to_standstill"]["p50_s"] > 0.0 and stop["distance_to_standstill"]["p50_m"] > 0.0
    if result["instruction_to_update"]["n"]:  # an update holds its tuning: never below 1
        assert result["update_over_tuning"] >= 1.0, result["update_parts"]
    assert "controller busy" in report_text(result) and "stop while the model tunes" in report_text(result)
    assert "x the model's tuning" in report_text(result)
