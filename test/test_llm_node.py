"""The `robotxr1` LLM node in the loop over real rclpy + DDS: scripted backends with known answers
(the car is told to reverse and does), the inference worker never blocking the executor, and the
real GGUF model (SmolLM2) producing a decision and an update that reaches the controller."""
from __future__ import annotations

import json
import time

import numpy as np
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from std_msgs.msg import String

from node_harness import OdometrySource, Probe, get_parameters
from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.decision import DOES_NOT_ADHERE
from robotxr1_ros.samples import stamp_seconds
from robotxr1_ros.nodes.llm_node import LlmNode, ModuleBackends
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.nodes.sim_node import SimNode
from robotxr1_ros.params import PARAM_NAMES
from ros_fixtures import spin_until

WAIT_S = 60.0
REVERSE = {"v_min": -2.0, "v_max": -1.0}


def scripted(decision_delay_s: float = 0.0) -> ModuleBackends:
    """Known answers: the car does not follow the instruction; reversing needs negative speeds."""
    def decide(messages) -> str:
        time.sleep(decision_delay_s)
        return decision_answer("The car drives forward; it should go backwards.", False)

    return ModuleBackends(ScriptedBackend(decide),
                          ScriptedBackend([mpc_answer("Negative speed bounds make the car reverse.", REVERSE)]))


def llm_node(context, backends=None, **parameters) -> LlmNode:
    values = {"period_s": 1.0, "window_s": 1.0, **parameters}
    return LlmNode(backends=backends, context=context,
                   parameter_overrides=[Parameter(name, value=value) for name, value in values.items()])


def watch_llm_topics(probe: Probe) -> None:
    probe.watch("decisions", String, "/robotxr1/decision", lambda m: json.loads(m.data))
    probe.watch("updates", String, "/robotxr1/update", lambda m: json.loads(m.data))


def forward_speed(probe: Probe) -> float:
    odometry = probe.latest("odometry")
    return np.nan if odometry is None else odometry.twist.twist.linear.x


def test_scripted_reverse_instruction_makes_the_simulated_car_reverse(ros_context):
    sim_time = [Parameter("use_sim_time", value=True)]
    sim = SimNode(context=ros_context, parameter_overrides=[
        Parameter("real_time_factor", value=3.0), Parameter("publish_clock", value=True)])
    controller = MpcControllerNode(context=ros_context, parameter_overrides=sim_time)
    llm = llm_node(ros_context, lambda: scripted(), use_sim_time=True)
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    instructions = probe.node.create_publisher(String, "/robotxr1/instruction", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (sim, controller, llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: forward_speed(probe) > 2.0, WAIT_S)
    assert probe.snapshot("decisions") == []  # no instruction yet: nothing to judge

    assert spin_until(executor, lambda: instructions.get_subscription_count() > 0, WAIT_S)
    instructions.publish(String(data="Reverse the car"))
    assert spin_until(executor, lambda: probe.latest("updates") is not None, WAIT_S)
    update = probe.latest("updates")
    assert update["applied"], update
    assert update["trigger"] == "decision" and update["instruction"] == "Reverse the car"
    assert probe.snapshot("decisions")[0]["decision"]["status"] == DOES_NOT_ADHERE
    assert all(result["successful"] for result in update["results"].values())
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_min", "v_max"]) == REVERSE

    assert spin_until(executor, lambda: forward_speed(probe) < -0.8, WAIT_S), "the car did not reverse"
    print(f"scripted instruction -> applied update: {update['latency_s']}")
    executor.shutdown()


def test_inference_runs_off_the_executor_thread(ros_context):
    """A 1.5 s decision does not hold up the controller spinning on the same single thread."""
    controller = MpcControllerNode(context=ros_context)
    source = OdometrySource(ros_context)
    llm = llm_node(ros_context, lambda: scripted(decision_delay_s=1.5), instruction="Reverse the car")
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, source.node, llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: len(probe.snapshot("updates")) >= 2, WAIT_S)
    stamps = np.array([stamp_seconds(d.header.stamp) for d in probe.snapshot("drives")])
    assert np.diff(stamps).max() < 0.5  # 40 Hz commands went on through every 1.5 s decision
    decisions = probe.snapshot("decisions")
    assert decisions and all(d["latency_s"] >= 1.5 for d in decisions)
    executor.shutdown()


def test_lifecycle_without_autostart_waits_for_configure_and_activate(ros_context):
    llm = llm_node(ros_context, lambda: scripted(), autostart=False)
    controller = MpcControllerNode(context=ros_context)
    source = OdometrySource(ros_context)
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, source.node, llm, probe.node):
        executor.add_node(node)
    llm.set_parameters([Parameter("instruction", value="Reverse the car")])
    spin_until(executor, lambda: False, 2.0)
    assert probe.snapshot("decisions") == []  # unconfigured: kept the instruction, judged nothing
    llm.trigger_configure()
    llm.trigger_activate()
    assert spin_until(executor, lambda: probe.latest("updates") is not None, WAIT_S)
    assert probe.latest("updates")["applied"]
    llm.trigger_deactivate()
    llm.trigger_cleanup()
    executor.shutdown()


def test_real_gguf_model_decides_and_its_validated_update_reaches_the_controller(ros_context):
    controller = MpcControllerNode(context=ros_context)
    source = OdometrySource(ros_context)
    llm = llm_node(ros_context, period_s=2.0, instruction="Reverse the car", tune_on_new_instruction=True,
                   n_threads=1, max_tokens=120)  # one thread: robust on a shared, busy machine
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, source.node, llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: probe.latest("updates") is not None and probe.snapshot("decisions"),
                      3 * WAIT_S)
    update = probe.latest("updates")
    assert update["trigger"] == "instruction"
    assert update["tuning"]["completion"]["completion_tokens"] > 0
    assert update["tuning"]["update"]["found"], update["tuning"]
    assert update["applied"], update
    controller_params = get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))
    assert controller_params == update["tuning"]["params"]
    decision = probe.snapshot("decisions")[0]["decision"]
    assert decision["completion"]["completion_tokens"] > 0 and decision["status"] in (
        "adheres", "does_not_adhere", "no_verdict")
    print(f"real model: instruction -> applied update {update['latency_s']}, "
          f"decision {probe.snapshot('decisions')[0]['latency_s']} s")
    executor.shutdown()
