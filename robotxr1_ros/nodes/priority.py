"""Scheduling: control first, inference last.

On Linux a thread is a task of its own, so nice values and SCHED policies set with pid 0 apply to
the calling thread only, and threads it starts later inherit them: llama.cpp's compute threads,
created by the LLM worker on its first model call, run at the worker's nice value.

Only our own control threads run at SCHED_FIFO; the middleware's threads get a negative nice
value instead. SCHED_FIFO threads of one priority never share a CPU by time slices, so when all
of them inherited it (before), a Fast DDS thread that busy-waited (its asynchronous writer, seen in
`bench ros`) kept the pinned CPU for good: the control thread never ran again, for 20 minutes
until killed. The control thread still preempts any of them; they still preempt normal work.

The control process is also pinned to one CPU (by default the last one it may use). The LLM
process is left free, so the scheduler gives its decoding thread the other CPUs: on this 2-core
machine the real-time control threads otherwise preempted it wherever it ran, and the tuning's
decoding took 1.02-1.28 s instead of 0.82-0.96 s in `robotxr1 bench ros` (paired runs).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..cpus import control_cpus

CONTROL_FIFO_PRIORITY = 50  # SCHED_FIFO priority of the control thread, where permitted
CONTROL_NICE = -10  # the middleware's threads, and the control thread without SCHED_FIFO, where permitted


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


def raise_thread_nice() -> str:
    """A negative nice value for the calling thread and the threads it starts, where permitted; says which."""
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, CONTROL_NICE)
            return f"nice {CONTROL_NICE}"
        except (PermissionError, OSError):
            pass
    return "default (not permitted to raise)"


def raise_thread_priority() -> str:
    """SCHED_FIFO for the calling thread, else a negative nice value, else nothing; says which."""
    if hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(CONTROL_FIFO_PRIORITY))
            return f"SCHED_FIFO {CONTROL_FIFO_PRIORITY}"
        except (PermissionError, OSError):
            pass
    return raise_thread_nice()


def pin_process(cpus: set[int] | None) -> str:
    """Every thread of this process, and the threads they start later, on `cpus` (None: left as
    they are); says which. Call it before rclpy starts its middleware threads."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        return "any CPU"
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cpus)
        except ProcessLookupError:
            continue  # the thread ended meanwhile
    return f"CPU {', '.join(map(str, sorted(cpus)))}"


@contextmanager
def control_first_while() -> Iterator[str]:
    """put_control_first for a `with` block (bench ros in a process that goes on, such as a test
    worker): afterwards the calling thread's policy and nice value and the process's CPUs are
    restored (also after a raise_thread_priority inside the block). A process left at SCHED_FIFO
    and pinned starves its own other threads when one of them busy-waits: a pytest worker in that
    state once spun for 30 minutes and could not be killed."""
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    param = os.sched_getparam(0) if policy is not None else None
    nice = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else None
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        yield put_control_first()
    finally:
        if policy is not None and param is not None:
            os.sched_setscheduler(0, policy, param)
        if nice is not None and os.getpriority(os.PRIO_PROCESS, 0) != nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        pin_process(cpus)


def put_control_first() -> str:
    """Before rclpy starts: the process pinned (control_cpus) and the calling thread at a negative
    nice value, both inherited by the middleware's threads. Says what was done. Once the nodes
    exist, raise_thread_priority puts the thread that will run the control loop above them."""
    cpus = control_cpus()
    return f"{raise_thread_nice()}, {pin_process(cpus)}"
