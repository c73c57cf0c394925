"""Everything but the rclpy nodes runs where no ROS 2 is installed.

A child interpreter hides rclpy, launch and every ROS interface package (`*_msgs`, `*_srvs`,
`*_interfaces`) behind a meta-path blocker, imports every module outside `nodes/`, and runs the
ROS-free commands. An import of ROS that crept into a shared module fails here.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKER = textwrap.dedent('''
    import importlib.abc, sys

    BLOCKED = {"rclpy", "launch", "launch_ros", "launch_testing", "ament_index_python", "rosidl_runtime_py"}
    SUFFIXES = ("_msgs", "_srvs", "_interfaces")

    class RosBlocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if top in BLOCKED or top.endswith(SUFFIXES):
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by test_ros_free)", name=name)
            return None

    sys.meta_path.insert(0, RosBlocker())
''')


def run_without_ros(code: str, timeout: float = 240.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def test_the_blocker_hides_ros():
    result = run_without_ros("import rclpy")
    assert result.returncode != 0 and "hidden by test_ros_free" in result.stderr


def test_every_module_outside_nodes_imports_without_ros():
    result = run_without_ros('''
        import importlib, pkgutil
        import robotxr1_ros
        names = [m.name for m in pkgutil.walk_packages(robotxr1_ros.__path__, "robotxr1_ros.")
                 if not m.name.startswith("robotxr1_ros.nodes")]
        for name in names:
            importlib.import_module(name)
        print(len(names), "modules")
    ''')
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[0]) > 40


def test_sim_bench_and_eval_run_without_ros(tmp_path):
    result = run_without_ros(f'''
        from robotxr1_ros.cli import main
        out = {str(tmp_path)!r}
        assert main(["sim", "--track", "circle", "--seconds", "3", "--out", out + "/sim"]) == 0
        assert main(["bench", "sim", "--seconds", "2", "--out", out + "/bench"]) == 0
        assert main(["eval", "decision", "--baseline", "always-false", "--dataset", "stopped", "--mini",
                     "--out", out + "/decision"]) == 0
        assert main(["eval", "control", "--baseline", "default", "--mini", "--no-plots",
                     "--out", out + "/control"]) == 0
        print("ok")
    ''', timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
    assert (tmp_path / "decision" / "decision_report.json").is_file()
    assert (tmp_path / "control" / "control_report.json").is_file()
