"""The nodes' main loop (nodes/spin.py) in a child process, as a node executable runs it: SIGINT
ends the loop, the node is destroyed and run_node returns 0, without a traceback. A dead parent
ends the loop too."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from ros_fixtures import process_domain_id

from robotxr1_ros.nodes.parent_watch import PARENT_DEATH_SIGNAL, ParentWatch
from robotxr1_ros.nodes.spin import STOP_SIGNALS, spin_until_stopped

CHILD = """
import os, signal
from rclpy.node import Node
from robotxr1_ros.nodes.spin import run_node

ticks = []

def make_node():
    node = Node("spin_probe")
    def tick():
        ticks.append(1)
        if len(ticks) == 1:
            os.kill(os.getpid(), signal.SIGINT)
    node.create_timer(0.1, tick)
    return node

print(run_node(make_node, args=[]), len(ticks))
"""


def test_sigint_ends_the_loop_and_run_node_returns_0():
    environment = {**os.environ, "ROS_DOMAIN_ID": str(process_domain_id())}
    child = subprocess.run([sys.executable, "-c", CHILD], env=environment, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0 and "Traceback" not in child.stderr, child.stderr
    code, ticks = child.stdout.split()
    assert code == "0" and int(ticks) >= 1, child.stdout  # the loop ran, then the signal stopped it


class _Executor:
    """What spin_until_stopped needs of an executor: spin_once and a context that is ok."""

    def __init__(self) -> None:
        self.spins = 0
        self.context = self

    def ok(self) -> bool:
        return True

    def spin_once(self, timeout_sec: float) -> None:
        self.spins += 1


def test_a_dead_parent_ends_the_loop_as_a_stop_signal_does():
    executor, stop = _Executor(), threading.Event()
    spin_until_stopped(executor, stop, seconds=5.0, parent=ParentWatch(os.getppid() + 1))
    assert stop.is_set() and executor.spins == 0
    stop.clear()
    spin_until_stopped(executor, stop, seconds=0.05, parent=ParentWatch(os.getppid()))
    assert not stop.is_set() and executor.spins > 0  # a live parent: spins until the time is up
    assert PARENT_DEATH_SIGNAL in STOP_SIGNALS  # the kernel's news of the parent's death stops the node too
