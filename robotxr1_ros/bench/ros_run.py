"""The run of `robotxr1 bench ros`: the `sim` bringup's nodes over DDS with the model running,
and the control loop's cycles, decisions and updates recorded on the wall clock (bench/ros.py
turns them into figures). rclpy is imported by the functions that run it.

Layout `process` (default, as launch runs the nodes): each node in a process of its own. The
controller in this process (beside the probe that measures), spun by an executor on its own thread
at SCHED_FIFO where permitted (else nice -10), pinned to the controller's CPU
($ROBOTXR1_CONTROL_CPUS, default the last CPU) before DDS starts its threads, so its clock and
odometry paths are pinned too and at nice -10 (nodes/priority.py: never SCHED_FIFO, which let one
of them busy-wait on that CPU for good). The simulator and the LLM node in child processes at
normal priority on any CPU, the LLM worker and llama.cpp's threads at nice `worker_nice`. In one
process the control thread would share the GIL with the inference worker, which a loaded machine
can deschedule while it holds it, and with the simulator's physics thread, which runs 200-400
ticks a second in Python.
`single` puts every node on one executor in one process at the default priority (the layout of
`robotxr1 run`), for comparison.

After the busy phase, `stops` stop trials: the car is put back to the default parameters and
drives up to speed, a new (non-stop) instruction sets the model tuning, and STOP_AFTER_S later
STOP_INSTRUCTION is published; the LLM node's fast path must apply the standstill set without
waiting for the model, and the car's odometry shows how fast and how far it stopped.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from ..cases.control import eval_phrasings
from ..errors import Robotxr1Error
from ..llm.llama_resources import llama_threads
from ..llm.node_config import DEFAULTS
from ..llm.prompts import require_instruction
from ..llm.supervisor import UpdatePath
from ..nodes.bringup_runner import node_arguments, node_class, node_specs
from ..params import MpcParams
from .ros import DEADLINE_SLACK_S, ControlCycle, latency_stats, loop_stats, stop_stats, update_over_tuning, update_parts
from .stopping import STANDING_SPEED, stopping

GIL_SWITCH_INTERVAL_S = 0.001  # a control callback waits at most this long for the GIL (default 5 ms)
WARMUP_S = 5.0  # the simulator starts, the LLM node's state window fills
LAYOUTS = ("process", "single")
STOP_INSTRUCTION = "Stop the car"
# A drive the car does at default parameters: its tuning ends the stop in force; and the one the
# model is busy tuning when the stop comes, STOP_AFTER_S after it (a tuning takes > 1 s here).
DRIVE_INSTRUCTION, BUSY_INSTRUCTION = "Follow the racing line", "Keep the car in the middle of the track"
STOP_AFTER_S = 0.3
FULL_SPEED_S = 5.0  # wall seconds from a standstill to full speed at default parameters
STOP_WAIT_S = 60.0  # for an update, or for the car to stand


@dataclass(frozen=True)
class RosBenchSettings:
    seconds: float = 120.0  # the busy phase, wall seconds
    idle_seconds: float = 20.0  # the idle phase, wall seconds
    instruction_every: float = 8.0  # a new instruction this often in the busy phase (s)
    period: float = 0.05  # the LLM node's decision period in the busy phase (0.05: back to back)
    threads: int = DEFAULTS.n_threads  # llama.cpp decoding threads of the LLM node (0: the node's choice)
    batch_threads: int = DEFAULTS.n_threads_batch  # llama.cpp prompt threads of the LLM node (0: the node's choice)
    worker_nice: int = DEFAULTS.worker_nice  # nice value of the LLM worker
    layout: str = LAYOUTS[0]  # one of LAYOUTS
    model_path: str = ""  # GGUF model (empty: the LLM node's default)
    stops: int = 20  # stop trials after the busy phase


def bench_ros(settings: RosBenchSettings) -> dict[str, Any]:
    """Run the benchmark; its figures (bench/ros.py's report_text prints them)."""
    from ..nodes.priority import control_first_while

    load_before = [round(v, 2) for v in os.getloadavg()]
    # The LLM node's automatic threads, resolved as it would (before this process is pinned), to be reported.
    threads, batch_threads = llama_threads(settings.threads, settings.batch_threads)
    settings = dataclasses.replace(settings, threads=threads, batch_threads=batch_threads)
    specs = sim_bringup_specs(settings)
    # The LLM process first, at normal priority; then threads started from here on (DDS's, the
    # executors') inherit the raised nice value and the pinning, and the executors' threads, started
    # after a raise_thread_priority, SCHED_FIFO.
    children = ({executable: _start_node_process(specs[executable]) for executable in ("robotxr1_llm", "sim")}
                if settings.layout == "process" else {})
    # This process's scheduling and switch interval are restored afterwards: it may go on (a test worker).
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    try:
        one_process = nullcontext("default (one process, one executor)")
        with control_first_while() if children else one_process as priority:
            return _measure(settings, specs, children, priority, load_before)
    finally:
        sys.setswitchinterval(switch_interval)


def _measure(settings: RosBenchSettings, specs: dict[str, Any], children: dict[str, Any], priority: str,
             load_before: list[float]) -> dict[str, Any]:
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.experimental import EventsExecutor
    from rclpy.node import Node
    from std_msgs.msg import String

    from ..nodes.priority import raise_thread_priority

    separate = bool(children)
    llm_process = children.get("robotxr1_llm")
    context = Context()
    rclpy.init(context=context)
    nodes: list = []
    stop = threading.Event()
    spinners: list[threading.Thread] = []
    sent_count = 0
    try:
        for executable in ("mpc_controller",) + (() if separate else ("sim", "robotxr1_llm")):
            nodes.append(node_class(executable)(context=context, **node_arguments(specs[executable])))
        controller = nodes[0]
        probe = Node("bench_ros_probe", context=context)
        cycles: list[ControlCycle] = []
        _time_control_cycles(controller, cycles)
        updates: list[tuple[float, dict]] = []
        decisions: list[float] = []
        probe.create_subscription(String, "/robotxr1/update", lambda m: updates.append((time.monotonic(),
                                                                                        json.loads(m.data))), 10)
        probe.create_subscription(String, "/robotxr1/decision", lambda m: decisions.append(time.monotonic()), 10)
        odometry: list[tuple[float, float, float, float]] = []  # wall time, x, y, speed
        probe.create_subscription(Odometry, "/odom", lambda m: odometry.append(_odometry_row(m)), 50)
        instruction_publisher = probe.create_publisher(String, "/robotxr1/instruction", 10)
        # As launch runs them, each node has an executor of its own (on a thread here); `single`
        # puts every node on one executor.
        groups = [[node] for node in nodes] + [[probe]] if separate else [[*nodes, probe]]
        nodes.append(probe)
        if separate:  # DDS's threads exist: only the executors' threads start from a raised thread
            priority = f"DDS threads {priority}; executor threads {raise_thread_priority()}"
        for group in groups:
            # The nodes spin as their executables spin them (nodes/spin.py); the probe on the
            # classic executor, which delivered nothing to it on an EventsExecutor here.
            executor = (SingleThreadedExecutor if group == [probe] else EventsExecutor)(context=context)
            for node in group:
                executor.add_node(node)
            spinner = threading.Thread(target=_spin, args=(executor, stop), daemon=True)
            spinner.start()
            spinners.append(spinner)

        _wait_for_llm(probe, llm_process)
        time.sleep(WARMUP_S)
        idle_start = time.monotonic()
        time.sleep(settings.idle_seconds)
        busy_start = time.monotonic()
        sent: dict[str, float] = {}
        phrasings = [text for _, text in eval_phrasings()]
        while time.monotonic() < busy_start + settings.seconds:
            text = phrasings[sent_count % len(phrasings)]
            if sent_count >= len(phrasings):
                text += f" ({sent_count})"  # a repeated instruction would not be tuned again
            sent[text] = time.monotonic()
            sent_count += 1
            instruction_publisher.publish(String(data=text))
            time.sleep(min(settings.instruction_every, max(0.0, busy_start + settings.seconds - time.monotonic())))
        busy_end = time.monotonic()
        trials = [_stop_trial(probe, instruction_publisher, controller.get_fully_qualified_name(), updates, odometry,
                              trial) for trial in range(settings.stops)]
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()
        for child in children.values():
            child.terminate()  # SIGTERM: the node's runner stops (the LLM node releases its model)
        for child in children.values():
            child.join(60)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)

    period = 1.0 / float(controller_rate_hz(controller))
    idle = [cycle for cycle in cycles if idle_start <= cycle.start < busy_start]
    busy = [cycle for cycle in cycles if busy_start <= cycle.start < busy_end]
    observed, applied = [], 0
    for received, record in updates:
        sent_at = sent.pop(record.get("instruction", ""), None)  # "": never sent
        applied += bool(record.get("applied"))
        if sent_at is not None and record.get("applied"):
            observed.append((received - sent_at, record))
    busy_decisions = [t for t in decisions if busy_start <= t < busy_end]
    update, parts = latency_stats([latency for latency, _ in observed]), update_parts(observed)
    return {
        "layout": settings.layout, "threads": settings.threads, "batch_threads": settings.batch_threads,
        "worker_nice": settings.worker_nice,
        "control_priority": priority,
        "seconds": {"idle": round(busy_start - idle_start, 1), "busy": round(busy_end - busy_start, 1)},
        "deadline_ms": round(1e3 * (period + DEADLINE_SLACK_S), 1),
        "control": {"idle": loop_stats(idle, period), "busy": loop_stats(busy, period)},
        "instructions_sent": sent_count, "updates_applied": applied,
        "instruction_to_update": update,
        "update_parts": parts,
        "update_over_tuning": update_over_tuning(update, parts),
        "decisions": len(busy_decisions), "requested_period_s": settings.period,
        "decision_period": latency_stats(_diffs(busy_decisions)),
        "stop": stop_stats(trials),
        "load_before": load_before, "load_after": [round(v, 2) for v in os.getloadavg()],
    }


def sim_bringup_specs(settings: RosBenchSettings) -> dict[str, Any]:
    """The sim bringup's nodes as `robotxr1 run sim` creates them, by executable; the LLM node with
    the bench's period, threads and worker priority."""
    llm_settings = {"period_s": settings.period, "max_backoff_s": max(settings.period, 2.0),
                    "n_threads": settings.threads, "n_threads_batch": settings.batch_threads,
                    "worker_nice": settings.worker_nice}
    specs = {}
    for spec in node_specs("sim", {"model_path": settings.model_path}):
        if spec.executable == "robotxr1_llm":
            spec = dataclasses.replace(spec, overrides={**spec.overrides, **llm_settings})
        specs[spec.executable] = spec
    return specs


def _start_node_process(spec):
    """A node in a child process at normal priority (a new interpreter: nothing inherited but the
    environment)."""
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(target=_run_node, args=(spec,), daemon=True)
    process.start()
    return process


def _run_node(spec) -> None:
    """The node's own runner (nodes/spin.py), as its executable runs it."""
    import functools

    from ..nodes.spin import node_main

    node_main(functools.partial(node_class(spec.executable), **node_arguments(spec)), [])


def _wait_for_llm(probe, llm_process, timeout_s: float = 120.0) -> None:
    """Until the LLM node (model loaded) subscribes to instructions."""
    deadline = time.monotonic() + timeout_s
    while probe.count_subscribers("/robotxr1/instruction") == 0:
        if llm_process is not None and not llm_process.is_alive():
            raise Robotxr1Error(f"the LLM node process ended (exit code {llm_process.exitcode})")
        if time.monotonic() > deadline:
            raise Robotxr1Error(f"the LLM node did not come up within {timeout_s:.0f} s")
        time.sleep(0.1)


def _stop_trial(probe, instructions, controller: str, updates: list[tuple[float, dict]],
                odometry: list[tuple[float, float, float, float]], trial: int) -> dict[str, Any]:
    """One stop from full speed while the model tunes: instruction -> standstill update applied
    (seconds on the wall clock) and the car's stop (stopping.Stopping's fields)."""
    from std_msgs.msg import String

    def publish(text: str) -> float:
        instructions.publish(String(data=text))
        return time.monotonic()

    def update(text: str, since: float, path: UpdatePath) -> tuple[float, dict] | None:
        expected = require_instruction(text)
        return next(((received, record) for received, record in list(updates) if received >= since
                     and record.get("instruction") == expected and record.get("path") == path), None)

    drive = f"{DRIVE_INSTRUCTION} (stop trial {trial})"  # distinct: a repeated instruction is not tuned again
    since = publish(drive)
    _wait(lambda: update(drive, since, UpdatePath.MODEL), STOP_WAIT_S)  # its answer must not come later
    _set_parameters(probe, controller, MpcParams().as_dict())
    time.sleep(FULL_SPEED_S)
    publish(f"{BUSY_INSTRUCTION} (stop trial {trial})")
    time.sleep(STOP_AFTER_S)
    sent = publish(STOP_INSTRUCTION)
    stop = _wait(lambda: update(STOP_INSTRUCTION, sent, UpdatePath.FAST_PATH_STOP), STOP_WAIT_S)
    _wait(lambda: odometry and odometry[-1][0] > sent and odometry[-1][3] < STANDING_SPEED, STOP_WAIT_S)
    wall, x, y, speed = zip(*odometry, strict=True)
    stopped = stopping(wall, x, y, speed, sent)
    return {"update_s": None if stop is None else stop[0] - sent, "applied": bool(stop and stop[1]["applied"]),
            **dataclasses.asdict(stopped)}


def _odometry_row(message) -> tuple[float, float, float, float]:
    pose, twist = message.pose.pose.position, message.twist.twist.linear
    return time.monotonic(), pose.x, pose.y, float(np.hypot(twist.x, twist.y))


def _set_parameters(probe, controller: str, values: dict[str, float]) -> None:
    """Through the controller's parameter service, as an operator would (the probe spins elsewhere)."""
    from rcl_interfaces.srv import SetParametersAtomically
    from rclpy.parameter import Parameter

    client = probe.create_client(SetParametersAtomically, f"{controller}/set_parameters_atomically")
    try:
        if not client.wait_for_service(timeout_sec=STOP_WAIT_S):
            raise Robotxr1Error(f"{controller}/set_parameters_atomically is not available")
        future = client.call_async(SetParametersAtomically.Request(parameters=[
            Parameter(name, value=float(value)).to_parameter_msg() for name, value in values.items()]))
        if not _wait(future.done, STOP_WAIT_S) or not future.result().result.successful:
            raise Robotxr1Error(f"{controller} did not take the default parameters: "
                                f"{future.result().result.reason if future.done() else 'no answer'}")
    finally:
        probe.destroy_client(client)


def _wait(condition, timeout_s: float):
    """Until `condition()` is true (the probe spins on its own thread); its last value."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value


def controller_rate_hz(controller) -> float:
    return controller.get_parameter("control_rate_hz").value


def _time_control_cycles(controller, cycles: list[ControlCycle]) -> None:
    """Record every control step's wall-clock start and end and the controller's clock at its start
    (wraps the control timer's callback)."""
    timer = next((timer for timer in controller.timers if timer.callback == controller._control_step), None)
    if timer is None:
        raise Robotxr1Error("the controller has no control-step timer to measure")
    step = timer.callback

    clock = controller.get_clock()

    def timed() -> None:  # no parameters: the executors then pass no TimerInfo
        start, now = time.monotonic(), clock.now().nanoseconds * 1e-9
        try:
            step()
        finally:
            cycles.append(ControlCycle(start, time.monotonic(), now))

    timer.callback = timed


def _spin(executor, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()


def _diffs(values: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(values)]
