"""The Fast DDS profile scripts/env.sh gives every process (config/fastdds_localhost.xml): it is the one
in use, and Fast DDS loads it without a parse error (a broken profile would be reported the same way,
checked with a broken copy)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROFILE = Path(__file__).resolve().parent.parent / "config" / "fastdds_localhost.xml"
PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
CREATE_A_NODE = ("import rclpy; rclpy.init(); node = rclpy.create_node('profile_check'); "
                 "node.destroy_node(); rclpy.shutdown(); print('node created')")


def fast_dds_output(profile: Path) -> str:
    done = subprocess.run([sys.executable, "-c", CREATE_A_NODE], env={**os.environ, PROFILE_ENV: str(profile)},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert done.returncode == 0 and "node created" in done.stdout, done.stdout
    return done.stdout


def test_env_sh_points_fast_dds_at_the_localhost_profile():
    value = os.environ.get(PROFILE_ENV)
    assert value == str(PROFILE), \
        f"{PROFILE_ENV}={value!r}, not {PROFILE}: source scripts/env.sh (it keeps a profile already set)"


def test_fast_dds_loads_the_profile_without_a_parse_error(tmp_path):
    assert "XMLPARSER" not in fast_dds_output(PROFILE)
    broken = tmp_path / "broken.xml"
    broken.write_text(PROFILE.read_text().replace("<sec>0</sec>", "<sec>soon</sec>"))
    assert "XMLPARSER" in fast_dds_output(broken)
