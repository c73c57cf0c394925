"""The `main()` of every robotxr1 node executable: init, spin one node, shut down cleanly.

SIGINT and SIGTERM only ask the spin loop to stop: no KeyboardInterrupt is raised anywhere, so a
signal arriving during cleanup (Ctrl-C under `ros2 launch` reaches every node twice: from the
terminal and from launch, which then escalates to SIGTERM) cannot interrupt a node's destruction.
The nodes are destroyed while the context is still valid, so the LLM node can stop its worker
thread and release its model before rclpy shuts down. A stopped node exits with code 0.

Nodes spin on the SingleThreadedExecutor. rclpy's EventsExecutor (rclpy.experimental) took the
simulator + controller process of `robotxr1 bench ros` from 95 % to 58 % of a core, but under
load the simulator on it fell to a tenth of its real-time factor (a CI run: 0.76 of 2 laps in
180 s, against 17 s alone), so it is not used until that is understood.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ..errors import Robotxr1Error

SPIN_TIMEOUT_S = 0.1  # how quickly the spin loop notices a stop request
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


def spin_until_stopped(executor, stop: threading.Event, seconds: float | None = None) -> None:
    """Spin until `stop` is set, the context shuts down, or `seconds` of wall time pass."""
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while not stop.is_set() and executor.context.ok() and (deadline is None or time.monotonic() < deadline):
            executor.spin_once(timeout_sec=SPIN_TIMEOUT_S)
    except ExternalShutdownException:
        pass


def run_node(make_node: Callable[[], Node], args: list[str] | None = None) -> int:
    """Spin the node until SIGINT/SIGTERM or shutdown (exit 0); a bad configuration
    (Robotxr1Error) exits with 2, unless a stop was requested meanwhile."""
    with stop_on_signals() as stop:
        rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
        node = None
        executor = None
        try:
            node = make_node()
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            spin_until_stopped(executor, stop)
        except Robotxr1Error as error:
            print(f"{getattr(make_node, '__name__', 'node')}: error: {error}", file=sys.stderr)
            # Stopped while starting up (Ctrl-C also reaches helpers such as a model check): not a failure.
            return 0 if stop.is_set() else 2
        finally:
            if executor is not None:
                executor.shutdown()
            if node is not None:
                node.destroy_node()
            rclpy.try_shutdown()
    return 0
