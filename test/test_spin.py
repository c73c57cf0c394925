"""The nodes' main loop (nodes/spin.py) in a child process, as a node executable runs it: the objects
built at start-up are frozen out of the garbage collector while the loop runs (and handed back
before the node is destroyed), and SIGINT ends it with 0."""
from __future__ import annotations

import os
import subprocess
import sys

from ros_fixtures import process_domain_id

CHILD = """
import gc, os, signal
from rclpy.node import Node
from robotxr1_ros.nodes.spin import run_node

seen = {}

def make_node():
    node = Node("freeze_probe")
    def tick():
        if not seen:
            seen["frozen"] = gc.get_freeze_count()
            os.kill(os.getpid(), signal.SIGINT)
    node.create_timer(0.1, tick)
    return node

code = run_node(make_node, args=[])
print(code, seen["frozen"], gc.get_freeze_count())
"""


def test_the_loop_runs_with_start_up_objects_frozen_and_sigint_ends_it_with_0():
    environment = {**os.environ, "ROS_DOMAIN_ID": str(process_domain_id())}
    child = subprocess.run([sys.executable, "-c", CHILD], env=environment, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    code, frozen, after = child.stdout.split()
    assert code == "0" and int(frozen) > 10_000, child.stdout  # every module and the node itself
    assert after == "0", child.stdout  # handed back before the node was destroyed, so it is finalised
