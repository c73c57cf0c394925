"""The `main()` of every robotxr1 node executable: init, spin one node, shut down cleanly.

SIGINT and SIGTERM only ask the spin loop to stop: no KeyboardInterrupt is raised anywhere, so a
signal arriving during cleanup (Ctrl-C under `ros2 launch` reaches every node twice: from the
terminal and from launch, which then escalates to SIGTERM) cannot interrupt a node's destruction.
The nodes are destroyed while the context is still valid, so the LLM node can stop its worker
thread and release its model before rclpy shuts down. A stopped node exits with code 0.

Once the node is down, the process ends at once (node_main: os._exit, no interpreter teardown).
rclpy's shutdown has already removed the node from the graph, deleted the DDS participant (its
shared-memory files go) and flushed the ROS log; what is left, Python's teardown of ~1,400 modules,
was most of the 0.6 s a stopped simulator took to end under load (0.18 s now), and is the step
that can hang on a leftover thread. Teardown itself has SHUTDOWN_LIMIT_S: past it, faulthandler
prints every thread's stack to stderr and ends the process with code 1, so a hung node neither
waits for launch's escalation to SIGKILL (65 s) nor hides where it hung.

A node also stops, in the same way, when the process that started it dies (nodes/parent_watch.py):
SIGTERM or SIGKILL to `ros2 launch` or `robotxr1 run` no longer leaves its nodes running.

Nodes spin on rclpy's EventsExecutor (rclpy.experimental): it queues ready entities from the
middleware's listeners instead of rebuilding a wait set in Python for every callback, which was
most of the CPU of the simulator + controller process (py-spy). On `robotxr1 bench ros`
instruction -> update applied fell from 1.71-1.93 s to 1.23-1.67 s (p50 of three runs each).
The simulator's physics runs on a thread of its own (nodes/sim_node.py), not on an executor
timer: with its 200-400 Hz timer on this executor, the simulator once fell to a tenth of its
real-time factor in a loaded CI run.
"""
from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ..errors import Robotxr1Error
from .parent_watch import ParentWatch
from .ros_arguments import with_empty_parameter_values

SPIN_TIMEOUT_S = 0.1  # how quickly the spin loop notices a stop request
# A node's teardown (worker join, zero-speed command, rclpy shutdown) takes well under a second;
# this is far from that, and far below launch's 30 s before it escalates SIGINT to SIGTERM.
SHUTDOWN_LIMIT_S = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An Event that SIGINT/SIGTERM set. On leaving, both signals are ignored for the rest of the
    process: the second signal may come after cleanup, while the interpreter finalizes, and Python
    then puts the default handlers back (which would end the process with -2), unless ignored."""
    stop = threading.Event()
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def spin_until_stopped(executor, stop: threading.Event, seconds: float | None = None,
                       parent: ParentWatch | None = None) -> None:
    """Spin until `stop` is set, the context shuts down, or `seconds` of wall time pass. A dead
    `parent` sets `stop`: noticed within SPIN_TIMEOUT_S even without the parent-death signal."""
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while not stop.is_set() and executor.context.ok() and (deadline is None or time.monotonic() < deadline):
            if parent is not None and parent.gone():
                stop.set()
                break
            executor.spin_once(timeout_sec=SPIN_TIMEOUT_S)
    except ExternalShutdownException:
        pass


def run_node(make_node: Callable[[], Node], args: list[str] | None = None,
             before_init: Callable[[], object] | None = None, before_spin: Callable[[], object] | None = None) -> int:
    """Spin the node until SIGINT/SIGTERM, its parent's death or shutdown (exit 0); a bad configuration
    (Robotxr1Error) exits with 2, unless a stop was requested meanwhile. `before_init` runs first:
    process-wide settings (priority, CPU pinning) that the middleware's threads must inherit.
    `before_spin` runs once the node (and so the middleware's threads) exists, in the thread that
    will spin it: settings for that thread and the executor's, but not the middleware's. The
    teardown runs under the SHUTDOWN_LIMIT_S watchdog."""
    with stop_on_signals() as stop:
        parent = ParentWatch.start()  # its signal, SIGTERM, now sets `stop`
        node = None
        executor = None
        try:
            if before_init is not None:
                before_init()
            rclpy.init(args=with_empty_parameter_values(args if args is not None else sys.argv),
                       signal_handler_options=SignalHandlerOptions.NO)
            node = make_node()
            if before_spin is not None:
                before_spin()
            executor = EventsExecutor()
            executor.add_node(node)
            spin_until_stopped(executor, stop, parent=parent)
        except Robotxr1Error as error:
            print(f"{getattr(make_node, '__name__', 'node')}: error: {error}", file=sys.stderr)
            # Stopped while starting up (Ctrl-C also reaches helpers such as a model check): not a failure.
            return 0 if stop.is_set() else 2
        finally:
            faulthandler.dump_traceback_later(SHUTDOWN_LIMIT_S, exit=True)
            if executor is not None:
                executor.shutdown()
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
            faulthandler.cancel_dump_traceback_later()
    return 0


def node_main(make_node: Callable[[], Node], args: list[str] | None = None,
              before_init: Callable[[], object] | None = None,
              before_spin: Callable[[], object] | None = None) -> NoReturn:
    """A node executable's main: run_node, then end the process at once with its exit code."""
    code = run_node(make_node, args, before_init, before_spin)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
