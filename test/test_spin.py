"""The nodes' main loop (nodes/spin.py) in a child process, as a node executable runs it: SIGINT
ends the loop, the node is destroyed and run_node returns 0, without a traceback. A dead parent
ends the loop too. node_main then ends the process at once, its output flushed; a teardown that
hangs ends it after SHUTDOWN_LIMIT_S with code 1 and every thread's stack."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from ros_fixtures import process_domain_id

from robotxr1_ros.nodes.parent_watch import PARENT_DEATH_SIGNAL, ParentWatch
from robotxr1_ros.nodes.spin import SHUTDOWN_LIMIT_S, STOP_SIGNALS, spin_until_stopped

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


# A node that stops itself with SIGINT on its first tick, and reports its teardown.
STOPPING_NODE = """
import atexit, os, signal, sys, time
from rclpy.node import Node
from robotxr1_ros.nodes import spin

atexit.register(lambda: print("interpreter teardown", flush=True))

class StoppingNode(Node):
    def __init__(self):
        super().__init__("spin_probe")
        self.create_timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))

    def destroy_node(self):
        print("destroyed", end="")  # no newline, no flush: node_main flushes it
        if HANG:
            time.sleep(600)
        super().destroy_node()
"""


def run_child(source: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    environment = {**os.environ, "ROS_DOMAIN_ID": str(process_domain_id())}
    return subprocess.run([sys.executable, "-c", source], env=environment, capture_output=True, text=True,
                          timeout=timeout_s)


def test_sigint_ends_the_loop_and_run_node_returns_0():
    child = run_child(CHILD)
    assert child.returncode == 0 and "Traceback" not in child.stderr, child.stderr
    code, ticks = child.stdout.split()
    assert code == "0" and int(ticks) >= 1, child.stdout  # the loop ran, then the signal stopped it


def test_node_main_ends_the_process_with_the_nodes_code_without_python_teardown():
    child = run_child(STOPPING_NODE + "HANG = False\nspin.node_main(StoppingNode, args=[])\n")
    assert child.returncode == 0 and "Traceback" not in child.stderr, child.stderr
    assert child.stdout == "destroyed", child.stdout  # flushed, and no atexit handler ran


def test_a_teardown_that_hangs_ends_the_process_with_every_threads_stack():
    # Well within run_child's timeout, which fails the test if the watchdog does not end the child.
    child = run_child(STOPPING_NODE + "HANG = True\nspin.SHUTDOWN_LIMIT_S = 1.0\n"
                      "spin.node_main(StoppingNode, args=[])\n")
    assert child.returncode == 1, (child.returncode, child.stderr)
    assert "Timeout" in child.stderr and "in destroy_node" in child.stderr, child.stderr  # where it hung
    assert SHUTDOWN_LIMIT_S < 30.0  # ended by the node itself, before launch escalates to signals


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
