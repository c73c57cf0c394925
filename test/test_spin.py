"""The nodes' main loop (nodes/spin.py) in a child process, as a node executable runs it: SIGINT
ends the loop, the node is destroyed and run_node returns 0, without a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

from ros_fixtures import process_domain_id

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
