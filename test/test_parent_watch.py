"""nodes/parent_watch.py, without ROS: a process notices that its parent died, by the parent-death
signal and by its parent's pid."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from robotxr1_ros.nodes.parent_watch import ParentWatch

# The watched process: records its parent and arms the signal, then waits for both to tell it the
# parent is gone. Its output goes to the pipe it inherits, which outlives the parent.
WATCHED = """
import signal, threading, time
from robotxr1_ros.nodes.parent_watch import ParentWatch

signalled = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: signalled.set())
watch = ParentWatch.start()
print("ready", flush=True)
deadline = time.monotonic() + 20.0
while not (signalled.is_set() and watch.gone()) and time.monotonic() < deadline:
    time.sleep(0.01)
print("signalled" if signalled.is_set() else "no signal", "gone" if watch.gone() else "not gone", flush=True)
"""
# Its parent: starts it from the main thread, as launch and `robotxr1 run` do, then waits to be killed.
PARENT = f"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", {WATCHED!r}])
time.sleep(60.0)
"""
TIMEOUT_S = 30.0


def test_a_live_parent_is_not_gone_and_another_pid_is():
    assert not ParentWatch(os.getppid()).gone()
    assert ParentWatch(os.getppid() + 1).gone()


def test_a_killed_parent_is_noticed_by_signal_and_by_pid():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(parent.stdout), daemon=True)  # EOF: the child ended
    try:
        reader.start()
        deadline = time.monotonic() + TIMEOUT_S
        while not lines and reader.is_alive() and time.monotonic() < deadline:
            reader.join(0.01)
        assert lines == ["ready\n"], lines
        parent.kill()  # SIGKILL: the parent can do nothing for its child
        parent.wait(TIMEOUT_S)
        reader.join(TIMEOUT_S)
    finally:
        parent.kill()
    assert not reader.is_alive(), "the watched process did not end after its parent was killed"
    assert lines == ["ready\n", "signalled gone\n"], lines
