"""Stopping the car over real rclpy + DDS: "Stop the car" reaches the controller as the standstill
set while the model is busy with something else (fast path, no model asked), the simulated car
stands, and the decision module then confirms it against the "Don't move" rule; and the
controller's ~/stop service holds zero speed until ~/resume, whatever else arrives."""
from __future__ import annotations

import json
import threading
import time

import pytest
from node_harness import Probe, call, controller_loop, get_parameters, set_parameters
from rcl_interfaces.msg import ParameterEvent
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import qos_profile_parameter_events
from ros_fixtures import spin_until
from std_msgs.msg import String
from std_srvs.srv import Trigger

from robotxr1_ros.control.faults import Fault
from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.module_pair import ModuleBackends
from robotxr1_ros.llm.stop_intent import STANDSTILL, STOP_RULE
from robotxr1_ros.llm.supervisor import UpdatePath
from robotxr1_ros.nodes.llm_node import LlmNode
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.nodes.sim_node import SimNode

WAIT_S = 30.0
MODEL_BUSY_S = 3.0  # a tuning that takes this long and cannot be cancelled
STANDING_SPEED = 0.05  # m/s


class BusyModel:
    """Scripted answers: a tuning that takes MODEL_BUSY_S whatever happens meanwhile, and decisions
    that say "adheres" exactly when they were asked about the "Don't move" rule."""

    def __init__(self) -> None:
        self.tuning_started = threading.Event()
        self.tunings_done: list[float] = []  # when each tuning answered (monotonic)

    def tune(self, messages) -> str:
        self.tuning_started.set()
        time.sleep(MODEL_BUSY_S)
        self.tunings_done.append(time.monotonic())
        return mpc_answer("scripted", {"v_max": 5.0})

    @staticmethod
    def decide(messages) -> str:
        return decision_answer("scripted", f"Instruction: {STOP_RULE}\n" in messages[-1]["content"])

    def backends(self) -> ModuleBackends:
        return ModuleBackends(ScriptedBackend(self.decide), ScriptedBackend(self.tune))


def test_stop_the_car_reaches_the_controller_while_the_model_is_busy_and_the_car_stands(ros_context):
    sim_time = [Parameter("use_sim_time", value=True)]
    sim = SimNode(context=ros_context, parameter_overrides=[
        Parameter("real_time_factor", value=2.0), Parameter("publish_clock", value=True)])
    controller = MpcControllerNode(context=ros_context, parameter_overrides=sim_time)
    model = BusyModel()
    llm = LlmNode(backends=model.backends, context=ros_context, parameter_overrides=[
        Parameter("period_s", value=1.0), Parameter("window_s", value=1.0)])
    probe = Probe(ros_context)
    probe.watch("updates", String, "/robotxr1/update", lambda m: json.loads(m.data))
    probe.watch("decisions", String, "/robotxr1/decision", lambda m: json.loads(m.data))
    standstill_at: list[float] = []

    def on_parameter_event(event: ParameterEvent) -> None:
        values = {p.name: parameter_value_to_python(p.value) for p in event.changed_parameters}
        if event.node == "/mpc_controller" and values == STANDSTILL:
            standstill_at.append(time.monotonic())
    probe.node.create_subscription(ParameterEvent, "/parameter_events", on_parameter_event,
                                   qos_profile_parameter_events)
    instructions = probe.node.create_publisher(String, "/robotxr1/instruction", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (sim, controller, llm, probe.node):
        executor.add_node(node)

    def speed() -> float:
        odometry = probe.latest("odometry")
        return float("nan") if odometry is None else odometry.twist.twist.linear.x

    assert spin_until(executor, lambda: speed() > 3.0 and instructions.get_subscription_count() > 0, WAIT_S)
    instructions.publish(String(data="Drive forward"))
    assert spin_until(executor, model.tuning_started.is_set, WAIT_S)  # the model is busy for MODEL_BUSY_S
    sent = time.monotonic()
    instructions.publish(String(data="Stop the car"))
    assert spin_until(executor, lambda: standstill_at, WAIT_S)
    latency = standstill_at[0] - sent
    assert not model.tunings_done  # it did not wait for the model
    assert spin_until(executor, lambda: abs(speed()) < STANDING_SPEED, WAIT_S), "the car did not stop"
    stood = time.monotonic()
    assert probe.latest("drives").drive.speed == 0.0

    # The model's answer for "Drive forward" comes too late to undo the stop; the decision module
    # then confirms the stop, judged by the "Don't move" rule.
    assert spin_until(executor, lambda: any(d["instruction"] == STOP_RULE for d in probe.snapshot("decisions")),
                      WAIT_S)
    (stop,) = [u for u in probe.snapshot("updates") if u["path"] == UpdatePath.FAST_PATH_STOP]
    assert stop["applied"] and stop["changes"] == STANDSTILL and stop["tuning"] is None
    assert (stop["instruction"], stop["trigger"]) == ("Stop the car", "instruction")
    tuned = [u["outcome"] for u in probe.snapshot("updates") if u["path"] == UpdatePath.MODEL]
    assert model.tunings_done and tuned == ["superseded"]
    confirmed = next(d for d in probe.snapshot("decisions") if d["instruction"] == STOP_RULE)
    assert confirmed["status"] == "adheres" and not confirmed["superseded"]
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_min", "v_max"]) == STANDSTILL
    assert abs(speed()) < STANDING_SPEED
    print(f"instruction -> standstill parameters {latency:.3f} s (stop's own latency "
          f"{stop['latency_s']}), car standing {stood - sent:.2f} s after the instruction")
    executor.shutdown()


@pytest.fixture
def loop(ros_context):
    controller, probe, _source, executor = controller_loop(ros_context)
    yield controller, probe, executor
    executor.shutdown()


def test_the_stop_service_holds_zero_speed_until_resumed(loop):
    _, probe, executor = loop
    stop = probe.node.create_client(Trigger, "/mpc_controller/stop")
    resume = probe.node.create_client(Trigger, "/mpc_controller/resume")
    assert spin_until(executor, lambda: stop.service_is_ready() and resume.service_is_ready(), WAIT_S)
    assert spin_until(executor, lambda: (probe.latest("drives") is not None
                                         and probe.latest("drives").drive.speed > 0.0), WAIT_S)
    stopped = call(executor, stop.call_async(Trigger.Request()))
    assert stopped.success and "zero speed until /mpc_controller/resume" in stopped.message
    probe.clear("drives")
    (raised,) = set_parameters(executor, probe.node, "/mpc_controller", {"v_min": 2.0})  # accepted, drives nothing
    assert raised.successful
    spin_until(executor, lambda: False, 0.5)
    drives = probe.snapshot("drives")
    assert len(drives) > 10 and all(d.drive.speed == 0.0 for d in drives)
    assert spin_until(executor, lambda: (probe.latest("statuses") or {}).get("held"), WAIT_S)
    status = probe.latest("statuses")
    assert status["fault"] == Fault.HELD and "stopped by /mpc_controller/stop" in status["stop_reason"]
    assert status["params"]["v_min"] == 2.0

    resumed = call(executor, resume.call_async(Trigger.Request()))
    assert resumed.success and resumed.message.startswith("resumed")
    assert spin_until(executor, lambda: probe.latest("drives").drive.speed > 0.0, WAIT_S)
    again = call(executor, resume.call_async(Trigger.Request()))
    assert not again.success and "nothing to resume" in again.message
