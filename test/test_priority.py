"""Control first: the control process pinned to its CPUs ($ROBOTXR1_CONTROL_CPUS), bad settings
refused with the CPUs that may be used, its control thread above DDS's threads and those never
real-time. (The launched controller's pinning: test_launch_sim.py.)"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from launch_harness import ros_environment

from robotxr1_ros.cpus import CONTROL_CPUS_ENV, control_cpus
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.nodes.priority import CONTROL_NICE, control_first_while


@pytest.mark.parametrize("setting, message", [
    ("one", "'one' is not a CPU number"),
    ("0,,1", "'' is not a CPU number"),
    ("4", "CPU 4 is not one this process may use (0, 1, 2, 3)"),
    ("-5", "CPU -5 is not one this process may use"),
])
def test_bad_settings_are_refused_naming_the_usable_cpus(setting, message):
    with pytest.raises(Robotxr1Error, match=f"{CONTROL_CPUS_ENV}=.*{re.escape(message)}"):
        control_cpus({CONTROL_CPUS_ENV: setting}, allowed={0, 1, 2, 3})


def test_control_first_while_gives_the_process_back_as_it_was():
    """Scheduling policy, nice value and CPUs: a process that goes on (bench ros called from Python)
    must not stay at SCHED_FIFO on one CPU."""
    before = (os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0))
    with control_first_while():
        assert os.sched_getaffinity(0) == control_cpus()
    assert (os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0)) == before


def test_the_pinned_process_and_the_threads_it_starts_later_stay_on_the_control_cpu():
    """In a child process: pinned before any thread starts, as the controller's main() does."""
    script = (
        "import json, os, threading\n"
        "from robotxr1_ros.nodes.priority import control_cpus, pin_process\n"
        "said = pin_process(control_cpus())\n"
        "seen = {}\n"
        "thread = threading.Thread(target=lambda: seen.update(cpus=sorted(os.sched_getaffinity(0))))\n"
        "thread.start(); thread.join()\n"
        "print(json.dumps({'said': said, 'main': sorted(os.sched_getaffinity(0)), **seen}))\n")
    allowed = sorted(os.sched_getaffinity(0))
    for setting, expected in (("", [allowed[-1]]), ("-1", [allowed[-1]]), (str(allowed[0]), [allowed[0]]),
                              ("all", allowed)):
        env = {**os.environ, CONTROL_CPUS_ENV: setting}
        result = json.loads(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                           text=True, check=True).stdout)
        assert result["main"] == result["cpus"] == expected, (setting, result)
        assert result["said"] == ("any CPU" if setting == "all" else f"CPU {expected[0]}")


def test_the_controller_refuses_a_bad_setting_before_starting():
    env = {**os.environ, CONTROL_CPUS_ENV: "fast"}
    result = subprocess.run([sys.executable, "-m", "robotxr1_ros.nodes.mpc_controller_node"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    assert f"error: {CONTROL_CPUS_ENV}='fast': 'fast' is not a CPU number" in result.stderr
    assert "Traceback" not in result.stderr


def fifo_permitted() -> bool:
    probe = "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def scheduling_of_threads(pid: int) -> dict[str, tuple[int, int]]:
    """{thread name (the main thread: "main"): (policy, nice)} of a running process."""
    threads = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            name = "main" if int(task) == pid else Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()
            threads[name] = (os.sched_getscheduler(int(task)), os.getpriority(os.PRIO_PROCESS, int(task)))
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
    return threads


def test_the_controllers_control_thread_runs_above_dds_threads_which_are_never_real_time(launch_domain):
    """SCHED_FIFO threads of one priority get no time slices: when DDS's threads inherited it, one of
    them busy-waiting kept the pinned CPU from the control thread for good (a 20-minute hang)."""
    domain_id, _ = launch_domain
    controller = subprocess.Popen([sys.executable, "-m", "robotxr1_ros.nodes.mpc_controller_node"],
                                  env=ros_environment(domain_id), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
    expected_main = os.SCHED_FIFO if fifo_permitted() else os.SCHED_OTHER
    try:
        deadline = time.monotonic() + 60.0
        threads = {}
        while time.monotonic() < deadline and controller.poll() is None:
            threads = scheduling_of_threads(controller.pid)
            if any(name.startswith("dds.") for name in threads) and threads["main"][0] == expected_main:
                break
            time.sleep(0.2)
        middleware = {name: scheduling for name, scheduling in threads.items() if name.startswith("dds.")}
        assert middleware and threads["main"][0] == expected_main, threads
        assert {policy for policy, _ in middleware.values()} == {os.SCHED_OTHER}, threads
        if expected_main == os.SCHED_FIFO:  # privileged: the middleware's threads at the raised nice value
            assert {nice for _, nice in middleware.values()} == {CONTROL_NICE}, threads
    finally:
        controller.send_signal(signal.SIGINT)
        output = controller.communicate(timeout=60)[0]
    assert controller.returncode == 0, output
