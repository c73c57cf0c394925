"""Scheduling of the calling thread: control first, inference last.

On Linux a thread is a task of its own, so nice values and SCHED policies set with pid 0 apply to
the calling thread only, and threads it starts later inherit them: llama.cpp's compute threads,
created by the LLM worker on its first model call, run at the worker's nice value.
"""
from __future__ import annotations

import os

CONTROL_FIFO_PRIORITY = 50  # SCHED_FIFO priority of the control thread, where permitted
CONTROL_NICE = -10  # the fallback without SCHED_FIFO, where permitted


def lower_thread_priority(nice: int) -> int | None:
    """The calling thread at SCHED_OTHER with a nice value of at least `nice`; returns the value in
    force, None where unsupported."""
    if not hasattr(os, "setpriority"):
        return None
    if hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))  # a real-time policy came along
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    return os.getpriority(os.PRIO_PROCESS, 0)


def raise_thread_priority() -> str:
    """SCHED_FIFO for the calling thread, else a negative nice value, else nothing; says which."""
    if hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(CONTROL_FIFO_PRIORITY))
            return f"SCHED_FIFO {CONTROL_FIFO_PRIORITY}"
        except (PermissionError, OSError):
            pass
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, CONTROL_NICE)
            return f"nice {CONTROL_NICE}"
        except (PermissionError, OSError):
            pass
    return "default (not permitted to raise)"
