"""The car's bringup under launch_testing: `launch_test test/launch/drive_launch_testing.py` starts
drive.launch.py (controller + LLM node) with the simulator beside it, checks the car drives and an
instruction retunes the controller, shuts everything down and asserts every exit code is 0."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from launch_harness import QUICK_LLM, config_with, ros_environment

LAUNCH_TEST = Path(__file__).parent / "launch" / "drive_launch_testing.py"
TIMEOUT_S = 300.0


def test_drive_launch_beside_a_simulator_under_launch_testing(launch_domain, tmp_path):
    domain_id, _ = launch_domain
    launch_test = shutil.which("launch_test")
    if launch_test is None:
        pytest.fail("`launch_test` is not on PATH: run `make setup` (ROS 2 tooling wheels) and `. scripts/env.sh`")
    environment = ros_environment(domain_id)
    environment["ROBOTXR1_TEST_CONFIG"] = str(config_with(tmp_path, robotxr1=QUICK_LLM))
    environment["TMPDIR"] = str(tmp_path)  # launch_ros's parameter files, never removed by it
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LAUNCH_TEST.parent.parent),
                                                              environment.get("PYTHONPATH")]))
    result = subprocess.run([launch_test, str(LAUNCH_TEST)], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-8000:]
