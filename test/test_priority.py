"""Control first: the control process pinned to its CPUs ($ROBOTXR1_CONTROL_CPUS), bad settings
refused with the CPUs that may be used. (The launched controller's pinning: test_launch_sim.py.)"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.nodes.priority import CONTROL_CPUS_ENV, control_cpus, control_first_while


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
