"""pytest helpers for tests that use real rclpy: a private Context per test and a bounded spin.

rclpy is imported inside the functions so that test modules which never ask for ROS do not load it.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rclpy.context import Context
    from rclpy.executors import Executor

# Test processes use DDS domains FIRST_TEST_DOMAIN .. FIRST_TEST_DOMAIN + TEST_DOMAIN_COUNT - 1:
# below scripts/env.sh's default (42) and the 60..99 that developers pick by hand, and inside the
# 0..101 range whose ports never collide with Linux's ephemeral ports.
FIRST_TEST_DOMAIN = 1
TEST_DOMAIN_COUNT = 40
# Tests that start whole bringups (ros2 launch) take a domain of their own per test from 43..59,
# so a launch's processes never meet another test's nodes.
FIRST_LAUNCH_DOMAIN = 43
LAUNCH_DOMAIN_COUNT = 17
_launch_domains_taken = 0


def process_domain_id() -> int:
    """The DDS domain of this test process.

    pytest-xdist workers (PYTEST_XDIST_WORKER = "gw0", "gw1", ...) get one domain each, so the
    workers of one run never share a domain; a plain pytest process is spread by its pid.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    key = int(worker[2:]) if worker.startswith("gw") else os.getpid()
    return FIRST_TEST_DOMAIN + key % TEST_DOMAIN_COUNT


def next_launch_domain_id() -> int:
    """A domain for one launch test: successive calls in a process take successive domains.
    pytest-xdist workers each cycle through a slice of the launch range of their own; a plain
    pytest process starts at a pid-dependent one, so concurrent test processes rarely meet."""
    global _launch_domains_taken
    _launch_domains_taken += 1
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        size = max(1, LAUNCH_DOMAIN_COUNT // workers)
        return FIRST_LAUNCH_DOMAIN + (int(worker[2:]) % workers) * size + _launch_domains_taken % size
    return FIRST_LAUNCH_DOMAIN + (os.getpid() + _launch_domains_taken) % LAUNCH_DOMAIN_COUNT


def make_context(domain_id: int) -> Context:
    """An initialised private rclpy Context on `domain_id` (shut it down with try_shutdown)."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    return context


def close_context(context: Context) -> None:
    """Shut `context` down and end its DDS participant now. The participant lives until every handle
    on the context is gone, and executors (their guard conditions) sit in reference cycles: without
    a collection here each test left a participant (11 threads, announcing itself) in the process
    until the collector's next full pass."""
    import gc

    context.try_shutdown()
    context.destroy()
    gc.collect()


@pytest.fixture
def ros_context() -> Context:
    """A private, initialised rclpy Context on this process's test domain; shut down afterwards.

    Create nodes with `rclpy.create_node(name, context=ros_context)` and executors with
    `SingleThreadedExecutor(context=ros_context)`; shutting the context down destroys its nodes.
    """
    context = make_context(process_domain_id())
    try:
        yield context
    finally:
        close_context(context)


def spin_until(executor: Executor, condition: Callable[[], object], timeout_s: float) -> bool:
    """Spin `executor` in a background thread until `condition()` is truthy or `timeout_s` passes.

    Returns whether the condition held. The condition is polled from the calling thread; the
    executor's thread has stopped when this returns, so the test may then destroy its nodes.
    """
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set() and executor.context.ok():
            executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin, name="spin_until", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not condition():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True
    finally:
        stop.set()
        thread.join()
