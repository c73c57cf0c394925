"""Node `robotxr1`: the on-board LLM that watches the car and retunes the MPC controller.

The thin ROS adapter of robotxr1_ros.llm.supervisor.Supervisor, which owns the loop policy (when
to decide, when to tune, what changed, back-off). A managed (lifecycle) node: `configure` loads
the model (two llama.cpp backends on the same memory-mapped GGUF, one KV cache per prompt family)
and the retrievers, `activate` starts the inference worker. With `autostart` (the default) it
configures and activates itself, so it also runs without a lifecycle manager.

Subscriptions only feed the Supervisor's state buffer, so they never wait for the model. The
worker thread asks the Supervisor for the next job and runs it: a decision on the state window,
or a tuning (at once for a new instruction from /robotxr1/instruction or parameter `instruction`,
else after a "does not adhere"). A new instruction cancels the model call in progress (llama.cpp
checks between the operations of a prompt's evaluation and before each generated token), so its
tuning does not wait for a stale answer. Before a tuning it reads the parameters in force and the
effective ranges from the controller (`get_parameters`, `describe_parameters`), so the prompt, the
grammar and the parser use the car's narrowed ranges, and what an operator set by hand stays
unless the model names it. The changed parameters go in ONE request to
<controller>/set_parameters_atomically: applied whole or not at all. Decisions and tuning rounds
are published as JSON on /robotxr1/decision and /robotxr1/update.

A stop ("Stop the car", "Halt!", llm/stop_intent.py) never waits for the model: the callback that
receives it sends the standstill set (v_min = v_max = 0) in the same atomic request, without
waiting for the answer (the executor delivers it), while the worker may still be inside a model
call; the update for the instruction it replaced is no longer sent. Its record on /robotxr1/update
has the path "fast path: stop".
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn

from nav_msgs.msg import Odometry
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, SetParametersResult
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParametersAtomically
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecyclePublisher, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.timer import Timer
from sensor_msgs.msg import Imu, LaserScan
from std_msgs.msg import String

from ..control.param_limits import narrowed_specs
from ..errors import Robotxr1Error
from ..llm.decision import DecisionxR1
from ..llm.features import compute_features
from ..llm.module_pair import AnswerSettings, ModuleBackends
from ..llm.node_config import DEFAULTS, LlmNodeConfig
from ..llm.prompt_fit import require_fitting_instruction
from ..llm.prompts import InstructionError, require_instruction
from ..llm.stop_intent import is_stop
from ..llm.supervision_claim import Claim, LeaseEvent, SupervisionLease
from ..llm.supervisor import ControllerUpdate, Job, JobKind, Supervisor, TuningEvent
from ..llm.tuning import MPCxR1
from ..params import PARAM_NAMES, PARAM_TABLE, MpcParams, ParamError, ParamSpec
from ..rate_limit import RateLimiter, cdr_header_stamp
from ..samples import odometry_to_sample, scan_to_sample, stamp_seconds
from ..track.library import get_track
from .conversions import imu_acceleration
from .parameter_services import PARAMETER_QOS
from .priority import lower_thread_priority
from .spin import node_main
from .undeclared_parameters import NamesUndeclaredParameters

IMU_HISTORY = 200  # IMU samples kept for the acceleration summary of a decision
SENSOR_QUEUE = 10
TICK_S = 0.05  # how often the worker asks the Supervisor for a job, and checks for a stop
GIL_SWITCH_INTERVAL_S = 0.0005  # bench ros: instruction -> update p50 2.10 -> 1.80 s against the default 5 ms
LOG_THROTTLE_S = 10.0  # a job failing again and again (no controller) is logged this often
# The status events stay for a late `ros2 topic echo` (the last few); claims are heartbeats.
STATUS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
CLAIM_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class LlmNode(NamesUndeclaredParameters, LifecycleNode):
    def __init__(self, backends: Callable[[], ModuleBackends] | None = None, **kwargs) -> None:
        """`backends` replaces the llama.cpp backends (tests, other model servers)."""
        super().__init__("robotxr1", **kwargs)
        self._make_backends = backends
        # Before any parameter is declared: a refused value raises, and the context still
        # destroys the node, which stops the (not yet started) worker.
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._claim_publisher: Publisher | None = None  # created by configure
        self._claim_timer: Timer | None = None
        # One read-only parameter per setting (llm/node_config.py has their defaults and meanings).
        values = {}
        for setting in dataclasses.fields(LlmNodeConfig):
            descriptor = _fixed(setting.metadata["description"], setting.metadata["bounds"])
            default = getattr(DEFAULTS, setting.name)
            values[setting.name] = self.declare_parameter(setting.name, default, descriptor).value
        self._config = LlmNodeConfig(**values)
        self.declare_parameter("instruction", "", ParameterDescriptor(
            description="what the car should do; setting it starts a tuning"))
        self.add_on_set_parameters_callback(self._check_instruction)
        self.add_post_set_parameters_callback(self._on_parameters_set)
        self._status_publisher = self.create_publisher(String, "~/status", STATUS_QOS)

        self._lock = threading.Lock()  # guards the Supervisor, the lease and the IMU history
        self._lease = SupervisionLease(self.get_fully_qualified_name(), self._config.claim_lease_s)
        try:
            self._supervisor = Supervisor(self._config.supervisor_config())
        except Robotxr1Error as error:
            raise Robotxr1Error(f"robotxr1: {error}") from None
        self._active = False
        self._imu: deque[tuple[float, float]] = deque(maxlen=IMU_HISTORY)
        self._inputs: list = []  # created by configure
        self._controller_clients: dict[str, Any] = {}
        self._standstill_sent: tuple[Any, float] | None = None  # the stop's request out, and when it was sent
        self._decision_publisher: LifecyclePublisher | None = None
        self._update_publisher: LifecyclePublisher | None = None
        self._decision: DecisionxR1 | None = None
        self._tuning: MPCxR1 | None = None
        self._configure_failure: Exception | None = None  # why the last configure failed
        self._autostarting = self._config.autostart
        if self._autostarting:
            configured = self.trigger_configure()
            self._autostarting = False
            if configured != TransitionCallbackReturn.SUCCESS:
                failure = self._configure_failure
                if isinstance(failure, Robotxr1Error):
                    raise Robotxr1Error(f"robotxr1: configure: {failure}") from None
                raise RuntimeError("robotxr1: configure failed") from failure  # a bug: its traceback
            self.trigger_activate()

    @property
    def instruction(self) -> str:
        """The instruction in force (cleaned), empty before the first."""
        with self._lock:
            return self._supervisor.instruction

    # --- lifecycle -----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        config = self._config
        try:
            self._track = get_track(config.track)
            backends = self._make_backends() if self._make_backends else self._llama_backends()
        except Exception as error:
            # Reported once: an autostart raises it from the constructor (run_node prints it), a
            # transition asked for logs it here. A bad file or setting is one line; a bug keeps its
            # traceback (rclpy would drop the exception without a word).
            self._configure_failure = error
            bug = not isinstance(error, Robotxr1Error)
            if not self._autostarting:
                self.get_logger().error("configure failed:\n" + "".join(traceback.format_exception(error))
                                        if bug else f"configure: {error}")
            if bug:
                raise
            return TransitionCallbackReturn.FAILURE
        modules = AnswerSettings.of_node(config).pair(backends)
        self._decision, self._tuning = modules.decision, modules.tuning
        controller = config.controller
        self._controller_clients = {  # relative names: the controller in this node's namespace
            "get": self.create_client(GetParameters, f"{controller}/get_parameters", qos_profile=PARAMETER_QOS),
            "describe": self.create_client(DescribeParameters, f"{controller}/describe_parameters",
                                           qos_profile=PARAMETER_QOS),
            "set": self.create_client(SetParametersAtomically, f"{controller}/set_parameters_atomically",
                                      qos_profile=PARAMETER_QOS),
        }
        self._decision_publisher = self.create_lifecycle_publisher(String, "~/decision", 10)
        self._update_publisher = self.create_lifecycle_publisher(String, "~/update", 10)
        rate = config.input_rate_hz
        self._inputs = [
            self._thinned_subscription(Odometry, config.odom_topic, self._on_odometry, rate),
            self._thinned_subscription(LaserScan, config.scan_topic, self._on_scan, rate),
            self._thinned_subscription(Imu, config.imu_topic, self._on_imu, rate),
            self.create_subscription(String, "~/instruction", self._on_instruction_message, 10),
        ]
        # Heard from configure on, so a holder is known before this node is activated by hand.
        claims = f"{controller}/supervisor"
        self._inputs.append(self.create_subscription(String, claims, self._on_claim, CLAIM_QOS))
        self._claim_publisher = self.create_publisher(String, claims, CLAIM_QOS)
        self._claim_timer = self.create_timer(self._lease.heartbeat_s, self._keep_claim,
                                              clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(f"configured: track {self._track.name!r}, decisions at most every {config.period_s} s "
                               f"on {config.window_s} s windows, controller /{controller}")
        return super().on_configure(state)

    def _llama_backends(self) -> ModuleBackends:
        spec = self._config.model_spec()
        start = time.perf_counter()
        # The same base weights (mmap), one KV cache each, each module with its adapter.
        backends = ModuleBackends.from_spec(spec)
        self.get_logger().info(f"model {spec.describe()} loaded in {time.perf_counter() - start:.2f} s; llama.cpp: "
                               f"{spec.llama_resources().describe()}")
        return backends

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        now = time.monotonic()
        with self._lock:
            holder = self._lease.blocker(now)
            if holder is None:
                self._lease.start(now, time.time())
        if holder is not None:
            self._refuse_supervision(holder, now)
            return TransitionCallbackReturn.FAILURE
        self._report("info", "claiming", f"claiming {self._controller_name()} for {self._lease.claim_wait_s:g} s "
                     "before supervising it")
        if self._worker is not None:
            self._worker.join()  # the previous activation's last model call (not from a shutdown)
        self._stop.clear()
        self._wake.clear()
        self._worker = threading.Thread(target=self._work, name="robotxr1_inference", daemon=True)
        self._worker.start()
        self._active = True
        if self.get_parameter("instruction").value:
            self._set_instruction(self.get_parameter("instruction").value)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        self._release_claim()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._halt()
        self._release_claim()
        self._release()
        return super().on_shutdown(state)

    def _release(self) -> None:
        """Undo configure: inputs, clients, publishers and the model go."""
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        for client in self._controller_clients.values():
            self.destroy_client(client)
        for publisher in (self._decision_publisher, self._update_publisher):
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
        if self._claim_timer is not None:
            self.destroy_timer(self._claim_timer)
        if self._claim_publisher is not None:
            self.destroy_publisher(self._claim_publisher)
        self._claim_publisher = self._claim_timer = None
        self._inputs = []
        self._controller_clients = {}
        self._decision_publisher = self._update_publisher = None
        self._decision = self._tuning = None

    def _halt(self) -> None:
        """Stop deciding. A model call in progress ends at its next stop check (llama.cpp: within
        milliseconds; a backend that cannot stop finishes its answer): the worker drops its result
        and exits, so nobody waits for it here (waiting could deadlock a shutdown that holds the
        context while the worker asks the context whether it is still ok)."""
        self._active = False
        self._stop.set()
        self._wake.set()

    def destroy_node(self) -> None:
        """Stop the worker, wait for its last model call, then release the model: a daemon worker
        still inside llama.cpp when the interpreter exits crashes the process (SIGSEGV)."""
        self._halt()
        self._release_claim()  # a node stopped by a signal is not deactivated first
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self._decision = self._tuning = None
        super().destroy_node()

    # --- inputs (executor threads: cheap, never wait for the model) ------------------------
    def _thinned_subscription(self, message_type, topic: str, callback, rate_hz: float):
        """A subscription that takes messages serialized and deserializes at most `rate_hz` of
        them per second of their header stamps (rate_limit: the rest would cost CPU that inference
        needs); messages in an encapsulation whose stamp it cannot read go by arrival time."""
        limiter = RateLimiter(rate_hz)

        def take(data: bytes) -> None:
            stamp = cdr_header_stamp(data)
            if limiter.admit(time.monotonic() if stamp is None else stamp):
                callback(deserialize_message(data, message_type))

        return self.create_subscription(message_type, topic, take, SENSOR_QUEUE, raw=True)

    def _on_odometry(self, message: Odometry) -> None:
        sample = odometry_to_sample(message)
        with self._lock:
            self._supervisor.observe_odometry(sample)

    def _on_scan(self, message: LaserScan) -> None:
        sample = scan_to_sample(message)
        with self._lock:
            self._supervisor.observe_scan(sample)

    def _on_imu(self, message: Imu) -> None:
        ax, ay = imu_acceleration(message)
        with self._lock:
            self._imu.append((stamp_seconds(message.header.stamp), math.hypot(ax, ay)))

    def _on_instruction_message(self, message: String) -> None:
        self._set_instruction(message.data)

    def _check_instruction(self, parameters: list[Parameter]) -> SetParametersResult:
        """Refuse an unusable instruction at the door (empty means: no new instruction)."""
        for parameter in parameters:
            if parameter.name == "instruction" and str(parameter.value).strip():
                try:
                    self._admit(parameter.value)
                except InstructionError as error:
                    self._refuse_instruction(error)
                    return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _admit(self, text: str) -> str:
        """The instruction cleaned, if the modules can work with it: InstructionError if it is empty,
        invisible, too long, or (once the model is loaded) makes a prompt that does not fit the
        model's context with the answer."""
        decision, tuning = self._decision, self._tuning
        if decision is None or tuning is None or is_stop(text):  # a stop: judged as "Don't move", never tuned
            return require_instruction(text)
        with self._lock:
            specs = self._supervisor.specs  # the controller's ranges as last read: the tuning prompt shows them
        return require_fitting_instruction(text, decision, tuning, specs)

    def _refuse_instruction(self, error: InstructionError) -> None:
        self._report("error", "instruction_refused", f"instruction refused, the one in force stays: {error}",
                      reason=str(error))

    def _on_parameters_set(self, parameters: list[Parameter]) -> None:
        for parameter in parameters:
            if parameter.name == "instruction" and str(parameter.value).strip():
                self._set_instruction(parameter.value)

    def _set_instruction(self, text: str) -> None:
        """A new instruction, tuned for at once (while inactive: once activated). An unusable one
        (empty, invisible, too long for the model) is refused here and the one in force stays."""
        try:
            text = self._admit(text)
            with self._lock:
                text = self._supervisor.set_instruction(text, time.monotonic())
        except InstructionError as error:
            self._refuse_instruction(error)
            return
        if self._active:
            self._keep_stop()  # before anything else: a stop never waits
        self._report("info", "instruction", f"instruction: {text!r}", instruction=text)
        if self._active:
            self._wake.set()

    # --- one supervisor per controller (executor thread; supervision_claim has the rules) ----
    def _on_claim(self, message: String) -> None:
        try:
            claim = Claim.from_json(message.data)
        except ValueError as error:
            self.get_logger().warning(f"ignored a message on the claim topic: {error}",
                                      throttle_duration_sec=LOG_THROTTLE_S)
            return
        with self._lock:
            self._lease.observe(claim, time.monotonic())

    def _keep_claim(self) -> None:
        """Renew this node's claim, and act on what changed: holding, yielding to an older claim
        (deactivate), or claiming afresh after the node's own heartbeats stalled."""
        now = time.monotonic()
        with self._lock:
            event = self._lease.tick(now, time.time())
            blocker = self._lease.blocker(now) if event == LeaseEvent.YIELDS else None
            heartbeat = self._lease.heartbeat(now) if event != LeaseEvent.YIELDS else None
        if heartbeat is not None and self._claim_publisher is not None:
            self._claim_publisher.publish(String(data=heartbeat.as_json()))
        if event is None:
            return
        controller = self._controller_name()
        if event == LeaseEvent.HOLDS:
            self._report("info", "supervising", f"supervising {controller}")
            self._wake.set()
        elif event == LeaseEvent.LAPSED:
            self._report("warning", "claiming", f"this node's claim on {controller} was not renewed within "
                         f"{self._lease.lease_s:g} s (a stall): no updates until it holds the controller again")
        elif event == LeaseEvent.YIELDS:
            assert blocker is not None, "the lease yields only to a live older claim"
            self._refuse_supervision(blocker, now)
            self.trigger_deactivate()

    def _refuse_supervision(self, holder: Claim, now: float) -> None:
        """Say which node holds the controller, and when its claim would lapse if it stopped."""
        with self._lock:
            silent_s = self._lease.silence_s(holder, now)
        same_name = ""
        if holder.node == self.get_fully_qualified_name():
            same_name = (f" It has this node's very name: `ros2 lifecycle` and `ros2 param` on {holder.node} reach "
                         "either node; give each LLM node its own name or namespace.")
        self._report("error", "refused",
                     f"not supervising {self._controller_name()}: {holder.describe()} "
                     f"{'supervises' if holder.holding else 'claimed'} it (last heard {silent_s:.1f} s ago; its "
                     f"claim lapses {self._lease.lease_s:g} s after its last heartbeat, and this node may then be "
                     f"activated).{same_name}", holder=dataclasses.asdict(holder))

    def _release_claim(self) -> None:
        if self._claim_publisher is None or not self.context.ok():  # nothing claimed, or nobody to tell
            return
        with self._lock:
            released = self._lease.release()
        if released is not None:
            self._claim_publisher.publish(String(data=released.as_json()))
            self._report("info", "released", f"released {self._controller_name()}")

    def _controller_name(self) -> str:
        """The controller's fully qualified name (the parameter may be relative to the namespace)."""
        return self.resolve_topic_name(self._config.controller)

    def _report(self, level: str, event: str, message: str, **details: Any) -> None:
        """Log `message` and publish it on ~/status as {"event", "message", ...details}."""
        logger = self.get_logger()  # one call site per severity: rclpy refuses to change it at a call site
        if level == "error":
            logger.error(message)
        elif level == "warning":
            logger.warning(message)
        else:
            logger.info(message)
        self._status_publisher.publish(String(data=json.dumps({"event": event, "message": message, **details})))

    # --- inference (worker thread) -----------------------------------------------------
    def _work(self) -> None:
        # Before the first model call, so llama.cpp's compute threads inherit it.
        lower_thread_priority(self._config.worker_nice)
        # The worker needs the GIL back between two tokens and for llama.cpp's abort checks; with
        # Python's default switch interval the executor thread could keep it for up to 5 ms each time.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        while not self._stop.is_set():
            self._wake.wait(TICK_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            self._keep_stop()
            with self._lock:  # only the node holding the controller runs the model
                now = time.monotonic()
                job = self._supervisor.next_job(now) if self._lease.may_write(now) else None
            if job is None:
                continue
            try:
                if job.kind == JobKind.DECIDE:
                    self._decide(job)
                else:
                    self._tune(job)
            except Exception as error:  # a failed job must not end the worker
                self.get_logger().error(f"{job.kind} failed: {type(error).__name__}: {error}",
                                        throttle_duration_sec=LOG_THROTTLE_S)
                with self._lock:
                    if self._supervisor.busy:
                        self._supervisor.on_job_failed(time.monotonic())

    def _abandon(self) -> bool:
        """Deactivated while the model was answering: report the job dropped, publish nothing."""
        if self._stop.is_set():
            with self._lock:
                self._supervisor.on_job_failed(time.monotonic())
            return True
        return False

    def _unwanted(self, job: Job) -> bool:
        """The answer to `job` is no longer needed: the node is stopping or the instruction changed
        (a new instruction is then tuned for at once instead of after this answer)."""
        with self._lock:
            return self._stop.is_set() or self._supervisor.superseded(job)

    def _decide(self, job: Job) -> None:
        decider = self._decision
        assert job.window is not None and decider is not None, "a decision job, on a configured node"
        features = compute_features(job.window, self._track)
        decision = decider.decide(job.instruction, features, stop=lambda: self._unwanted(job))
        if self._abandon():
            return
        with self._lock:
            event = self._supervisor.on_decision(decision, time.monotonic())
            imu = [magnitude for t, magnitude in self._imu if t >= event.window_start]
        self._publish(self._decision_publisher, {
            **event.as_dict(),
            "features": features.as_record(),
            "imu_accel_mean": round(sum(imu) / len(imu), 3) if imu else None,
            "decision": decision.as_dict(),
            "latency_s": round(event.t - job.t, 3),
        })
        self.get_logger().info(f"decision: {decision.status}" + (f" -> {decision.action}" if decision.action else ""))

    def _tune(self, job: Job) -> None:
        tuner = self._tuning
        assert tuner is not None, "jobs run on a configured node"
        in_force = self._read_controller()
        if isinstance(in_force, str):
            raise Robotxr1Error(in_force)
        params, specs = in_force
        with self._lock:
            self._supervisor.observe_params(params, specs)
            params = self._supervisor.tuning_base()  # the speeds a stop replaced, restored
        try:  # checked at the door with the ranges known then; the car's may be narrower, and longer
            require_fitting_instruction(job.instruction, None, tuner, specs)
        except InstructionError as error:
            with self._lock:
                self._supervisor.drop_instruction(time.monotonic())
            self._report("error", "instruction_refused", f"instruction dropped, waiting for a new one: {error}",
                         reason=str(error))
            return
        read = time.monotonic()
        tuning = tuner.tune(job.instruction, params, specs, stop=lambda: self._unwanted(job))
        if self._abandon():
            return
        with self._lock:
            event = self._supervisor.on_tuning(tuning, time.monotonic())
        record = {**event.as_dict(with_completion=True), "applied": False}
        if event.update is not None:
            record.update(self._apply(event.update))
        done = time.monotonic()
        record["latency_s"] = {"read": round(read - job.t, 3), "tuning": round(event.t - read, 3),
                               "apply": round(done - event.t, 3), "total": round(done - job.t, 3)}
        self._publish(self._update_publisher, record)
        self.get_logger().info(f"tuning ({event.trigger}): {event.outcome}"
                               + (f", applied {record['applied']}: {record['changes']}" if event.update else
                                  f" ({event.reason})"))

    def _read_controller(self) -> tuple[MpcParams, tuple[ParamSpec, ...]] | str:
        """The parameters in force and the effective ranges of the controller, or why not."""
        names = list(PARAM_NAMES)
        values = self._call(self._controller_clients["get"], GetParameters.Request(names=names))
        described = self._call(self._controller_clients["describe"], DescribeParameters.Request(names=names))
        if values is None or described is None:
            return f"controller /{self._config.controller} not reachable"
        limits = {descriptor.name: (descriptor.floating_point_range[0].from_value,
                                    descriptor.floating_point_range[0].to_value)
                  for descriptor in described.descriptors if descriptor.floating_point_range}
        try:
            # As the controller reports them (any parameter type): MpcParams checks them.
            reported: dict[str, Any] = {name: parameter_value_to_python(value)
                                        for name, value in zip(names, values.values, strict=True)}
            params = MpcParams(**reported)
            specs = narrowed_specs(limits)
        except (ParamError, TypeError) as error:
            return f"controller /{self._config.controller} reports unusable parameters: {error}"
        return params, tuple(specs[spec.name] for spec in PARAM_TABLE)

    def _apply(self, update: ControllerUpdate) -> dict[str, Any]:
        """Send the changed parameters in one atomic request and report the result to the Supervisor."""
        refusal = ""

        def may_send() -> bool:  # checked where the request is sent: a stop decided since goes after it
            nonlocal refusal
            if not self._lease.may_write(time.monotonic()):
                refusal = f"this node no longer holds {self._controller_name()}: not sent"
            elif not self._supervisor.update_current():
                refusal = "a new instruction arrived before it was sent: not sent"
            return not refusal

        response = self._call(self._controller_clients["set"], _atomic_request(update), may_send)
        if refusal:
            reason = refusal
        elif response is None:
            reason = "set_parameters_atomically did not answer"
        elif not response.result.successful:
            reason = f"the controller refused the update: {response.result.reason}"
        else:
            reason = ""
        with self._lock:
            if reason:
                result = self._supervisor.on_update_failed(reason, time.monotonic())
            else:
                result = self._supervisor.on_update_applied(time.monotonic())
        return result.as_dict()

    def _call(self, client, request, may_send: Callable[[], bool] | None = None):
        """A service call from the worker thread (the executor delivers the response); None when
        the controller does not answer within service_timeout_s, the node is stopping, or
        `may_send` (asked under the lock, as the request is sent) says no."""
        deadline = time.monotonic() + self._config.service_timeout_s
        while not client.service_is_ready():
            if self._stop.wait(TICK_S) or time.monotonic() > deadline:
                return None
        done = threading.Event()
        with self._lock:
            if may_send is not None and not may_send():
                return None
            future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        while not done.wait(TICK_S):
            if self._stop.is_set() or time.monotonic() > deadline:
                future.cancel()
                return None
        return future.result()

    def _publish(self, publisher, record: dict) -> None:
        publisher.publish(String(data=json.dumps(record)))

    # --- the fast path of a stop (any thread; the answer comes on the executor) -----------------
    def _keep_stop(self) -> None:
        """Send the standstill update of a stop if one is due, without waiting for the answer; give
        up one that has had no answer for service_timeout_s (the Supervisor sends it again)."""
        client = self._controller_clients.get("set")
        if client is None:
            return
        future = None
        with self._lock:
            now = time.monotonic()
            if self._standstill_sent is not None:
                pending, sent = self._standstill_sent
                if now - sent > self._config.service_timeout_s:
                    pending.cancel()  # its done callback reports it
                return
            event = self._supervisor.standstill(now) if self._lease.may_write(now) else None
            if event is None:
                return
            if event.update is not None and client.service_is_ready():
                # Under the lock: after any model update sent before it, so the stop is applied last.
                future = client.call_async(_atomic_request(event.update))
                self._standstill_sent = (future, now)
        record = {**event.as_dict(), "applied": False}
        if event.update is None:  # refused: the car's ranges exclude a standstill
            self._publish_stop(record, f"fast path: stop refused ({event.reason})")
        elif future is None:
            with self._lock:
                result = self._supervisor.on_standstill_failed(
                    f"controller /{self._config.controller} not reachable", time.monotonic())
            self._publish_stop({**record, **result.as_dict()}, f"fast path: stop not sent ({result.reason})")
        else:
            future.add_done_callback(lambda done: self._standstill_answered(event, record, done, now))

    def _standstill_answered(self, event: TuningEvent, record: dict[str, Any], future, sent: float) -> None:
        if future.cancelled():
            reason = f"set_parameters_atomically did not answer within {self._config.service_timeout_s} s"
        elif not future.result().result.successful:
            reason = f"the controller refused the update: {future.result().result.reason}"
        else:
            reason = ""
        with self._lock:
            now = time.monotonic()
            self._standstill_sent = None
            result = (self._supervisor.on_standstill_failed(reason, now) if reason
                      else self._supervisor.on_standstill_applied(now))
        record = {**record, **result.as_dict(),
                  "latency_s": {"apply": round(now - sent, 3), "total": round(now - event.t, 3)}}
        self._publish_stop(record, f"fast path: stop ({event.reason}), applied {result.applied}"
                           + (f" ({reason})" if reason else f": {dict(event.update.changes) if event.update else {}}"))
        if self._active:
            self._keep_stop()  # a stop that came while this one was out: not after the worker's model call
        self._wake.set()

    def _publish_stop(self, record: dict[str, Any], message: str) -> None:
        if self._update_publisher is not None:
            self._publish(self._update_publisher, record)
        if record.get("applied"):
            self.get_logger().info(message)
        else:
            self.get_logger().error(message)


def _atomic_request(update: ControllerUpdate) -> SetParametersAtomically.Request:
    return SetParametersAtomically.Request(parameters=[
        Parameter(name, value=float(value)).to_parameter_msg() for name, value in update.changes.items()])


def _fixed(description: str, bounds: tuple[float, float] | None = None) -> ParameterDescriptor:
    ranges = [FloatingPointRange(from_value=bounds[0], to_value=bounds[1], step=0.0)] if bounds else []
    return ParameterDescriptor(description=description, read_only=True, floating_point_range=ranges)


def main(args: list[str] | None = None) -> NoReturn:
    node_main(LlmNode, args)


if __name__ == "__main__":
    main()
