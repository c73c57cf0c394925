"""SIGTERM or SIGKILL to `ros2 launch robotxr1 sim.launch.py` alone (not to its process group, as
Ctrl-C would): launch ends at once without stopping its nodes, so each node must notice that its
parent is gone (nodes/parent_watch.py). Within 2 s no node process is left, and the last command on
drive is zero speed, sent by the controller as it shut down."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from launch_harness import QUICK_LLM, CarProbe, config_with, ros2_launch

START_TIMEOUT_S = 90.0
NODES_GONE_S = 2.0  # after the signal to launch
DRAIN_S = 0.2
DRIVING_SPEED = 0.5  # m/s of the simulated car: the controller is driving it
PROCESSES = {"sim", "mpc_controller", "robotxr1_llm"}


def node_processes(launch_pid: int) -> dict[int, str]:
    """{pid: executable name} of the processes launch started."""
    processes = {}
    for task in Path(f"/proc/{launch_pid}/task").iterdir():
        for pid in (task / "children").read_text().split():
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            processes[int(pid)] = Path(command[1].decode()).name
    return processes


def alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped by its new parent, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_nodes_stop_and_the_car_is_stopped_when_launch_is_killed(launch_domain, tmp_path, sig):
    domain_id, context = launch_domain
    car = CarProbe(context)
    launched = ros2_launch("sim.launch.py", domain_id, config=str(config_with(tmp_path, robotxr1=QUICK_LLM)))
    nodes: dict[int, str] = {}
    try:
        driving = car.wait(lambda: car.llm_ready() and car.speed() > DRIVING_SPEED, START_TIMEOUT_S)
        assert driving, f"the car did not drive\n{launched.output}"
        nodes = node_processes(launched.process.pid)
        assert set(nodes.values()) == PROCESSES, nodes
        signalled, ended = time.monotonic(), {}
        launched.process.send_signal(sig)
        launched.process.wait(timeout=10.0)

        def all_ended() -> bool:
            ended.update({name: round(time.monotonic() - signalled, 2) for pid, name in nodes.items()
                          if name not in ended and not alive(pid)})
            return len(ended) == len(nodes)
        gone = car.wait(all_ended, NODES_GONE_S)
        print(f"{sig.name} to launch: node processes ended after {ended} s")
        assert gone, f"still running {NODES_GONE_S} s after {sig.name} to launch: " \
                     f"{sorted(PROCESSES - set(ended))}\n{launched.output}"
        car.wait(lambda: False, DRAIN_S)  # the probe takes what its reader already holds
        last = car.probe.latest("drives")
        print(f"last drive command: speed {last.drive.speed} m/s")
        assert last.drive.speed == 0.0, f"the last command on drive was {last.drive}"
    finally:
        for pid in nodes:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)  # nothing may drive into a later test
        launched.stop()
        car.close()
