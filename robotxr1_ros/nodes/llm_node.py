"""Node `robotxr1`: the on-board LLM that watches the car and retunes the MPC controller.

A managed (lifecycle) node: `configure` loads the model (two llama.cpp backends on the same
memory-mapped GGUF, one KV cache per prompt family) and the retrievers, `activate` starts the
decision timer and the inference worker. With `autostart` (the default) it configures and
activates itself, so it also runs without a lifecycle manager.

Subscriptions only fill a StateBuffer (odometry, LiDAR, IMU), so they never wait for the model.
Inference runs on a worker thread: every `period_s`, and at once on a new instruction (topic
/robotxr1/instruction or parameter `instruction`), it turns the window into features and asks
DecisionxR1 whether the car follows the instruction. If not, MPCxR1 proposes parameters, parsed and
validated by robotxr1_ros.llm, and the worker sends them to the controller through
/<controller>/set_parameters (rcl_interfaces/SetParameters, as `ros2 param set` does), in an
order the controller's v_min <= v_max check accepts. Decisions and updates are published as JSON
on /robotxr1/decision and /robotxr1/update.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter, parameter_value_to_python
from sensor_msgs.msg import Imu, LaserScan
from std_msgs.msg import String

from ..errors import Robotxr1Error
from ..llm.backends import Backend, LlamaCppBackend
from ..llm.decision import DOES_NOT_ADHERE, Decision, DecisionxR1
from ..llm.features import StateFeatures, compute_features
from ..llm.tuning import MPCxR1, Tuning
from ..track.library import get_track
from ..samples import odometry_to_sample, scan_to_sample, stamp_seconds
from .conversions import imu_acceleration
from .param_descriptors import sequential_order
from .spin import run_node
from ..llm.state_buffer import DEFAULT_WINDOW_S, StateBuffer

FULL_WINDOW = 0.9  # a window covering this fraction of window_s is full enough to judge
IMU_HISTORY = 200  # IMU samples kept for the acceleration summary of a decision
POLL_S = 0.05  # how often the worker checks for a stop while waiting for the controller


@dataclass(frozen=True)
class ModuleBackends:
    """The backends of the two modules (the same object twice is fine, e.g. a scripted one)."""

    decision: Backend
    tuning: Backend


class LlmNode(LifecycleNode):
    def __init__(self, backends: Callable[[], ModuleBackends] | None = None, **kwargs) -> None:
        """`backends` replaces the llama.cpp backends (tests, other model servers)."""
        super().__init__("robotxr1", **kwargs)
        self._make_backends = backends
        declare = self.declare_parameter
        self._config = {
            "model_path": declare("model_path", "", _fixed("GGUF model; empty: $ROBOTXR1_MODEL or the bundled SmolLM2")).value,
            "n_threads": declare("n_threads", 2, _fixed("llama.cpp threads")).value,
            "n_ctx": declare("n_ctx", 2048, _fixed("llama.cpp context length (tokens)")).value,
            "max_tokens": declare("max_tokens", 200, _fixed("generation budget per answer (tokens)")).value,
            "use_grammar": declare("use_grammar", True, _fixed("constrain answers with the GBNF grammars")).value,
            "retrieval_k": declare("retrieval_k", 3, _fixed("hints / memories retrieved per prompt")).value,
            "period_s": declare("period_s", 2.0, _fixed("time between decisions [s]")).value,
            "window_s": declare("window_s", DEFAULT_WINDOW_S, _fixed("state window length [s]")).value,
            "track": declare("track", "eval", _fixed("built-in track name or track CSV (racing line)")).value,
            "controller": declare("controller", "mpc_controller", _fixed("node whose MPC parameters are tuned")).value,
            "service_timeout_s": declare("service_timeout_s", 5.0, _fixed("wait for the controller [s]")).value,
            "tune_on_new_instruction": declare(
                "tune_on_new_instruction", False,
                _fixed("a new instruction goes straight to the MPC module, without a decision first")).value,
            "odom_topic": declare("odom_topic", "/odom", _fixed("nav_msgs/Odometry input")).value,
            "scan_topic": declare("scan_topic", "/scan", _fixed("sensor_msgs/LaserScan input")).value,
            "imu_topic": declare("imu_topic", "/imu", _fixed("sensor_msgs/Imu input (optional)")).value,
        }
        declare("instruction", "", ParameterDescriptor(description="what the car should do; setting it starts a decision"))
        declare("autostart", True, _fixed("configure and activate on start, without a lifecycle manager"))
        self.add_on_set_parameters_callback(self._check_instruction)
        self.add_post_set_parameters_callback(self._on_parameters_set)

        self._lock = threading.Lock()  # guards the buffer, the instruction and the request flags
        self._instruction = ""
        self._new_instruction_at: float | None = None  # monotonic time of a not yet handled instruction
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._timer = None
        self._active = False
        self._buffer = StateBuffer(float(self._config["window_s"]))
        self._imu: deque[tuple[float, float]] = deque(maxlen=IMU_HISTORY)
        self.cycles = 0  # finished inference cycles, for monitoring
        self._inputs: list = []  # created by configure
        self._get_client = self._set_client = None
        self._decision_publisher = self._update_publisher = None
        self._decision: DecisionxR1 | None = None
        self._tuning: MPCxR1 | None = None
        if self.get_parameter("autostart").value:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise Robotxr1Error("robotxr1: configuration failed (see the log)")
            self.trigger_activate()

    # --- lifecycle -----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        config = self._config
        try:
            self._track = get_track(config["track"])
            backends = self._make_backends() if self._make_backends else self._llama_backends()
        except Robotxr1Error as error:
            self.get_logger().error(f"configure: {error}")
            return TransitionCallbackReturn.FAILURE
        k, use_grammar, max_tokens = int(config["retrieval_k"]), bool(config["use_grammar"]), int(config["max_tokens"])
        self._decision = DecisionxR1(backends.decision, n_hints=k, use_grammar=use_grammar, max_tokens=max_tokens)
        self._tuning = MPCxR1(backends.tuning, n_memories=k, use_grammar=use_grammar, max_tokens=max_tokens)
        controller = config["controller"]
        self._get_client = self.create_client(GetParameters, f"/{controller}/get_parameters")
        self._set_client = self.create_client(SetParameters, f"/{controller}/set_parameters")
        self._decision_publisher = self.create_lifecycle_publisher(String, "/robotxr1/decision", 10)
        self._update_publisher = self.create_lifecycle_publisher(String, "/robotxr1/update", 10)
        self._inputs = [
            self.create_subscription(Odometry, config["odom_topic"], self._on_odometry, 50),
            self.create_subscription(LaserScan, config["scan_topic"], self._on_scan, 5),
            self.create_subscription(Imu, config["imu_topic"], self._on_imu, 50),
            self.create_subscription(String, "/robotxr1/instruction", self._on_instruction_message, 10),
        ]
        self.get_logger().info(f"configured: track {self._track.name!r}, decision every {config['period_s']} s "
                               f"on {config['window_s']} s windows, controller /{controller}")
        return super().on_configure(state)

    def _llama_backends(self) -> ModuleBackends:
        config = self._config
        options = {"n_ctx": int(config["n_ctx"]), "n_threads": int(config["n_threads"])}
        path = config["model_path"] or None
        start = time.perf_counter()
        decision = LlamaCppBackend(path, **options)
        tuning = LlamaCppBackend(decision.model_path, **options)  # same weights (mmap), its own KV cache
        self.get_logger().info(f"model {decision.model_path} loaded in {time.perf_counter() - start:.2f} s")
        return ModuleBackends(decision, tuning)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._worker is not None:
            self._worker.join()  # the previous activation's last model call (not from a shutdown)
        self._stop.clear()
        self._wake.clear()
        self._worker = threading.Thread(target=self._work, name="robotxr1_inference", daemon=True)
        self._worker.start()
        self._timer = self.create_timer(float(self._config["period_s"]), self._wake.set)
        self._active = True
        self._set_instruction(self.get_parameter("instruction").value or self._instruction)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        self._release()
        return super().on_shutdown(state)

    def _release(self) -> None:
        """Undo configure: inputs, clients, publishers and the model go."""
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        for client in (self._get_client, self._set_client):
            if client is not None:
                self.destroy_client(client)
        for publisher in (self._decision_publisher, self._update_publisher):
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
        self._inputs = []
        self._get_client = self._set_client = self._decision_publisher = self._update_publisher = None
        self._decision = self._tuning = None

    def _halt(self) -> None:
        """Stop deciding. A model call in progress cannot be interrupted: the worker finishes it,
        drops its result and exits, so nobody waits for it (waiting could deadlock a shutdown
        that holds the context while the worker asks the context whether it is still ok)."""
        self._active = False
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        self._stop.set()
        self._wake.set()

    def destroy_node(self) -> None:
        self._halt()
        super().destroy_node()

    # --- inputs (executor threads: cheap, never wait for the model) ------------------------
    def _on_odometry(self, message: Odometry) -> None:
        sample = odometry_to_sample(message)
        with self._lock:
            self._buffer.add_odometry(sample)

    def _on_scan(self, message: LaserScan) -> None:
        sample = scan_to_sample(message)
        with self._lock:
            self._buffer.add_scan(sample)

    def _on_imu(self, message: Imu) -> None:
        ax, ay = imu_acceleration(message)
        with self._lock:
            self._imu.append((stamp_seconds(message.header.stamp), math.hypot(ax, ay)))

    def _on_instruction_message(self, message: String) -> None:
        self._set_instruction(message.data)

    @staticmethod
    def _check_instruction(parameters: list[Parameter]) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == "instruction" and len(str(parameter.value)) > 500:
                return SetParametersResult(successful=False, reason="instruction longer than 500 characters")
        return SetParametersResult(successful=True)

    def _on_parameters_set(self, parameters: list[Parameter]) -> None:
        for parameter in parameters:
            if parameter.name == "instruction":
                self._set_instruction(parameter.value)

    def _set_instruction(self, text: str) -> None:
        """Keep the instruction; while active, judge it now (inactive: once activated)."""
        text = text.strip()
        if not text:
            return
        with self._lock:
            self._instruction = text
            self._new_instruction_at = time.monotonic()
        self.get_logger().info(f"instruction: {text!r}")
        if self._active:
            self._wake.set()

    # --- inference (worker thread) -----------------------------------------------------
    def _work(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._cycle()
            except Exception as error:  # a failed cycle must not end the worker
                self.get_logger().error(f"inference cycle failed: {type(error).__name__}: {error}")

    def _cycle(self) -> None:
        with self._lock:
            instruction, new_at = self._instruction, self._new_instruction_at
            self._new_instruction_at = None
            full = self._buffer.covered_s >= FULL_WINDOW * self._buffer.window_s
            window = self._buffer.window()
            imu = [magnitude for t, magnitude in self._imu if window.odometry and t >= window.odometry[0].t]
        if not instruction:
            return
        started = time.monotonic() if new_at is None else new_at
        if new_at is not None and self._config["tune_on_new_instruction"]:
            self._tune_and_apply(instruction, started, decision=None)
            return
        if not full:
            self.get_logger().info("waiting for a full state window", throttle_duration_sec=5.0)
            return
        features = compute_features(window, self._track)
        decision = self._decision.decide(instruction, features)
        self._publish(self._decision_publisher, {
            "instruction": instruction,
            "features": features.as_record() if isinstance(features, StateFeatures) else {"insufficient": features.reason},
            "imu_accel_mean": round(sum(imu) / len(imu), 3) if imu else None,
            "decision": decision.as_dict(),
            "latency_s": round(time.monotonic() - started, 3),
        })
        self.get_logger().info(f"decision: {decision.status}" + (f" -> {decision.action}" if decision.action else ""))
        if decision.status == DOES_NOT_ADHERE:
            self._tune_and_apply(instruction, started, decision)

    def _tune_and_apply(self, instruction: str, started: float, decision: Decision | None) -> None:
        decided = time.monotonic()
        tuning = self._tuning.tune(instruction)
        tuned = time.monotonic()
        record: dict[str, Any] = {"instruction": instruction, "trigger": "decision" if decision else "instruction",
                                  "tuning": tuning.as_dict()}
        if not tuning.update.found:
            record.update(applied=False, reason=f"no parameters in the answer: {tuning.update.problem}")
        elif self._stop.is_set():
            return  # deactivated while the model was answering: send nothing
        else:
            record.update(self._apply(tuning))
        done = time.monotonic()
        record["latency_s"] = {"decision": round(decided - started, 3) if decision else None,
                               "tuning": round(tuned - decided, 3),
                               "apply": round(done - tuned, 3), "total": round(done - started, 3)}
        self._publish(self._update_publisher, record)
        self.cycles += 1
        if record.get("applied"):
            with self._lock:
                self._buffer.clear()  # judge the new behaviour on a fresh window
        self.get_logger().info(f"update {'applied' if record.get('applied') else 'not applied'}: "
                               f"{tuning.update.changes} ({record['latency_s']['total']:.2f} s)")

    def _apply(self, tuning: Tuning) -> dict[str, Any]:
        """Send the whole validated parameter set (unnamed parameters at their defaults)."""
        current = self._call(self._get_client, GetParameters.Request(names=["v_min", "v_max"]))
        if current is None:
            return {"applied": False, "reason": f"controller /{self._config['controller']} not reachable"}
        v_min, v_max = (parameter_value_to_python(value) for value in current.values)
        order = sequential_order(v_min, v_max, tuning.params.as_dict())
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()
                                                    for name, value in order])
        response = self._call(self._set_client, request)
        if response is None:
            return {"applied": False, "reason": "set_parameters did not answer"}
        results = {name: {"value": value, "successful": result.successful, "reason": result.reason}
                   for (name, value), result in zip(order, response.results)}
        return {"applied": all(r["successful"] for r in results.values()), "results": results}

    def _call(self, client, request):
        """A service call from the worker thread (the executor delivers the response); None when
        the controller does not answer within service_timeout_s or the node is stopping."""
        deadline = time.monotonic() + float(self._config["service_timeout_s"])
        while not client.service_is_ready():
            if self._stop.wait(POLL_S) or time.monotonic() > deadline:
                return None
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        while not done.wait(POLL_S):
            if self._stop.is_set() or time.monotonic() > deadline:
                future.cancel()
                return None
        return future.result()

    def _publish(self, publisher, record: dict) -> None:
        publisher.publish(String(data=json.dumps(record)))


def _fixed(description: str) -> ParameterDescriptor:
    return ParameterDescriptor(description=description, read_only=True)


def main(args: list[str] | None = None) -> int:
    return run_node(LlmNode, args)


if __name__ == "__main__":
    import sys

    sys.exit(main())
