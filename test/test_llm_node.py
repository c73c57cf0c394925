"""The `robotxr1` LLM node in the loop over real rclpy + DDS: scripted backends with known answers
(the car is told to reverse and does), the inference worker never blocking the executor, updates
that send only what changes, atomically, within a car's narrowed ranges, bounded instructions, and
the real GGUF model (SmolLM2) producing a decision and an update that reaches the controller."""
from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pytest
from model_files import corrupted_copy
from node_harness import OdometrySource, Probe, get_parameters, llm_node, set_parameters, watch_llm_topics
from rclpy.exceptions import InvalidParameterValueException
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from ros_fixtures import spin_until
from std_msgs.msg import String

from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.backends import CANCELLED, Backend, Completion, ScriptedBackend
from robotxr1_ros.llm.decision import DecisionStatus
from robotxr1_ros.llm.module_pair import ModuleBackends
from robotxr1_ros.llm.node_config import DEFAULTS, LlmNodeConfig
from robotxr1_ros.nodes.llm_node import LlmNode
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode
from robotxr1_ros.nodes.sim_node import SimNode
from robotxr1_ros.params import PARAM_NAMES, PARAM_SPECS
from robotxr1_ros.samples import stamp_seconds

WAIT_S = 60.0
REVERSE = {"v_min": -2.0, "v_max": -1.0}


def scripted(decision_delay_s: float = 0.0) -> ModuleBackends:
    """Known answers: the car does not follow the instruction; reversing needs negative speeds."""
    def decide(messages) -> str:
        time.sleep(decision_delay_s)
        return decision_answer("The car drives forward; it should go backwards.", False)

    return ModuleBackends(ScriptedBackend(decide),
                          ScriptedBackend([mpc_answer("Negative speed bounds make the car reverse.", REVERSE)]))


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
    update = probe.snapshot("updates")[0]
    assert update["applied"], update
    # A human command is tuned for at once; only the two changed parameters are sent.
    assert update["trigger"] == "instruction" and update["instruction"] == "Reverse the car"
    assert update["outcome"] == "send" and update["changes"] == REVERSE
    assert update["previous"] == {name: PARAM_SPECS[name].default for name in REVERSE}
    assert get_parameters(executor, probe.node, "/mpc_controller", ["v_min", "v_max"]) == REVERSE

    assert spin_until(executor, lambda: forward_speed(probe) < -0.8, WAIT_S), "the car did not reverse"
    # The scripted model keeps saying "does not adhere" and proposing the same: nothing is re-sent.
    assert spin_until(executor, lambda: len(probe.snapshot("updates")) >= 2, WAIT_S)
    first = probe.snapshot("decisions")[0]
    assert first["decision"]["status"] == DecisionStatus.DOES_NOT_ADHERE, first
    repeated = probe.snapshot("updates")[1]
    assert repeated["trigger"] == "decision" and repeated["outcome"] == "unchanged" and not repeated["applied"]
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


class StallingDecisions(Backend):
    """A decision that takes until it is no longer wanted: returns only when `stop()` says so."""

    def __init__(self) -> None:
        self.cancelled = 0

    def complete(self, messages, *, grammar=None, max_tokens=200, temperature=0.0, seed=0, stop=None) -> Completion:
        deadline = time.monotonic() + WAIT_S
        while not (stop is not None and stop()):
            assert time.monotonic() < deadline, "the decision in progress was never cancelled"
            time.sleep(0.01)
        self.cancelled += 1
        return Completion("", 0, 0, 0.0, finish_reason=CANCELLED)


def test_a_new_instruction_cancels_the_decision_in_progress(ros_context):
    """The tuning for a new instruction does not wait for a decision on the old one: the model call
    is cancelled, published as a superseded decision without a verdict, and the tuning follows."""
    controller = MpcControllerNode(context=ros_context)
    source = OdometrySource(ros_context)
    stalling = StallingDecisions()
    llm = llm_node(ros_context, lambda: ModuleBackends(stalling, scripted().tuning), instruction="Drive forward")
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    instructions = probe.node.create_publisher(String, "/robotxr1/instruction", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, source.node, llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: getattr(llm._supervisor._job, "kind", None) == "decide", WAIT_S)
    instructions.publish(String(data="Reverse the car"))
    assert spin_until(executor, lambda: any(u["instruction"] == "Reverse the car"
                                            for u in probe.snapshot("updates")), WAIT_S)
    cancelled = [d for d in probe.snapshot("decisions") if d["instruction"] == "Drive forward"]
    assert stalling.cancelled >= 1 and cancelled
    assert all(d["superseded"] and d["status"] == "no_verdict" and d["explanation"].startswith("cancelled")
               for d in cancelled)
    executor.shutdown()


def test_the_node_reads_at_most_input_rate_hz_of_a_faster_sensor_stream(ros_context):
    """50 Hz odometry, input_rate_hz 5: the 1 s window holds ~5 samples, not ~50 (the rest are
    never deserialized); a rate outside 1-1000 Hz is refused when the node starts."""
    source = OdometrySource(ros_context)
    llm = llm_node(ros_context, lambda: scripted(), input_rate_hz=5.0)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (source.node, llm):
        executor.add_node(node)
    spin_until(executor, lambda: False, 2.5)
    with llm._lock:
        held = len(llm._supervisor.buffer)
    assert 3 <= held <= 7, held
    for rate in (0.0, 5000.0):
        with pytest.raises(InvalidParameterValueException, match="input_rate_hz"):
            llm_node(ros_context, lambda: scripted(), input_rate_hz=rate)
    executor.shutdown()


def test_the_node_declares_every_setting_of_llm_node_config_read_only_with_its_default(ros_context):
    llm = LlmNode(backends=scripted, context=ros_context)
    for setting in dataclasses.fields(LlmNodeConfig):
        descriptor = llm.describe_parameter(setting.name)
        assert llm.get_parameter(setting.name).value == getattr(DEFAULTS, setting.name), setting.name
        assert descriptor.read_only and descriptor.description == setting.metadata["description"]
        bounds = [(r.from_value, r.to_value) for r in descriptor.floating_point_range]
        assert bounds == ([setting.metadata["bounds"]] if setting.metadata["bounds"] else [])
    rclpys_own = set(Node("bare", context=ros_context)._parameters)  # use_sim_time and the like
    assert set(llm._parameters) - rclpys_own == {setting.name for setting in dataclasses.fields(LlmNodeConfig)} | {
        "instruction"}


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


def test_a_corrupt_model_keeps_the_llm_node_down_while_the_controller_drives(ros_context, tmp_path):
    """A GGUF whose tensor data aborts llama.cpp: configure fails with the reason, the node lives on
    unconfigured, and the controller keeps commanding the car."""
    llm = llm_node(ros_context, autostart=False, model_path=str(corrupted_copy(tmp_path)), lora_path="")
    controller = MpcControllerNode(context=ros_context)
    source = OdometrySource(ros_context)
    probe = Probe(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, source.node, llm, probe.node):
        executor.add_node(node)
    assert llm.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert llm._state_machine.current_state[1] == "unconfigured"
    drives_before = len(probe.snapshot("drives"))
    assert spin_until(executor, lambda: len(probe.snapshot("drives")) > drives_before + 20, WAIT_S)
    assert probe.latest("drives").drive.speed > 0.0
    executor.shutdown()


# What the scripted MPC module answers to each instruction of the narrowed-car test.
NARROWED_ANSWERS = {
    "Keep away from the walls": {"track_safety_margin": 0.6},
    # v_max 8 is outside the car's [-1, 5]: a safety limit, rejected (5 stays); qn 80 is clamped to 50.
    "Drive fast": {"v_max": 8.0, "qn": 80.0, "qalpha": 9.0},
    "Hold a speed window": {"v_min": 3.0, "v_max": 2.0, "qac": 0.5},  # v_max < v_min: refused whole
}


def narrowed_answers() -> ModuleBackends:
    def tune(messages) -> str:
        instruction = messages[-1]["content"].rsplit("Instruction: ", 1)[1]
        return mpc_answer("scripted", NARROWED_ANSWERS[instruction])

    return ModuleBackends(ScriptedBackend([decision_answer("scripted", True)]), ScriptedBackend(tune))


def test_updates_are_atomic_changed_only_and_inside_the_cars_narrowed_ranges(ros_context):
    controller = MpcControllerNode(context=ros_context, parameter_overrides=[
        Parameter("limits.v_max", value=[-1.0, 5.0]), Parameter("limits.qn", value=[0.0, 50.0])])
    llm = llm_node(ros_context, narrowed_answers)  # no odometry: only instructions start tunings
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    instructions = probe.node.create_publisher(String, "/robotxr1/instruction", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, llm, probe.node):
        executor.add_node(node)

    def params() -> dict:
        return get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))

    def instruct(text: str) -> dict:
        count = len(probe.snapshot("updates"))
        instructions.publish(String(data=text))
        assert spin_until(executor, lambda: len(probe.snapshot("updates")) > count, WAIT_S), text
        return probe.latest("updates")

    (operator,) = set_parameters(executor, probe.node, "/mpc_controller", {"qv": 50.0})  # `ros2 param set`
    assert operator.successful
    assert spin_until(executor, lambda: instructions.get_subscription_count() > 0, WAIT_S)
    before = params()
    assert before["v_max"] == 5.0 and before["qv"] == 50.0  # the car's default is clamped into its range

    update = instruct("Keep away from the walls")
    assert update["applied"] and update["changes"] == {"track_safety_margin": 0.6}
    assert params() == {**before, "track_safety_margin": 0.6}  # the operator's qv=50 survives

    update = instruct("Drive fast")
    assert update["applied"] and update["changes"] == {"qn": 50.0, "qalpha": 9.0}
    proposal = update["tuning"]["update"]
    assert proposal["clamped"]["qn"]["value"] == 50.0
    assert [item["reason"] for item in proposal["rejected"]] == [
        "8 is above the maximum 5; a safety limit is not clamped, v_max keeps 5"]
    after_fast = params()
    assert after_fast == {**before, "track_safety_margin": 0.6, "qn": 50.0, "qalpha": 9.0}

    update = instruct("Hold a speed window")
    assert update["outcome"] == "refused" and not update["applied"]
    assert re.search(r"v_max=2(\.0)? must be >= v_min=3", update["reason"])
    assert params() == after_fast  # nothing changed on the controller
    executor.shutdown()


def test_instructions_are_bounded_and_cleaned_on_the_topic_and_the_parameter(ros_context):
    llm = llm_node(ros_context, lambda: scripted(), service_timeout_s=0.2)
    probe = Probe(ros_context)
    instructions = probe.node.create_publisher(String, "/robotxr1/instruction", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: instructions.get_subscription_count() > 0, WAIT_S)
    instructions.publish(String(data="Reverse\x07 the\x1b car\r\n"))
    assert spin_until(executor, lambda: llm.instruction == "Reverse the car", WAIT_S)
    instructions.publish(String(data="go " * 7000))  # 21,000 characters: refused, the instruction in force stays
    spin_until(executor, lambda: False, 1.0)
    assert llm.instruction == "Reverse the car"
    instructions.publish(String(data="Drive forward"))
    assert spin_until(executor, lambda: llm.instruction == "Drive forward", WAIT_S)

    (result,) = set_parameters(executor, probe.node, "/robotxr1", {"instruction": "y" * 501})
    assert not result.successful and "at most 500" in result.reason
    (result,) = set_parameters(executor, probe.node, "/robotxr1", {"instruction": "Don't\x07 move\t"})
    assert result.successful
    assert spin_until(executor, lambda: llm.instruction == "Don't move", WAIT_S)
    executor.shutdown()


def test_real_gguf_model_decides_and_its_validated_update_reaches_the_controller(ros_context):
    controller = MpcControllerNode(context=ros_context)
    source = OdometrySource(ros_context)
    # One thread: robust on a shared, busy machine.
    llm = llm_node(ros_context, period_s=2.0, instruction="Reverse the car", n_threads=1, max_tokens=120)
    probe = Probe(ros_context)
    watch_llm_topics(probe)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, source.node, llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: probe.snapshot("updates") and probe.snapshot("decisions"), 3 * WAIT_S)
    update = probe.snapshot("updates")[0]
    assert update["trigger"] == "instruction"
    assert update["tuning"]["completion"]["completion_tokens"] > 0
    assert update["tuning"]["update"]["found"], update["tuning"]
    controller_params = get_parameters(executor, probe.node, "/mpc_controller", list(PARAM_NAMES))
    assert controller_params == update["tuning"]["params"]  # the validated proposal is in force
    if update["outcome"] == "send":
        assert update["applied"] and set(update["changes"]) <= set(update["tuning"]["update"]["accepted"]) | set(
            update["tuning"]["update"]["clamped"])
    else:
        assert update["outcome"] in ("unchanged", "refused") and not update["applied"], update
    decision = probe.snapshot("decisions")[0]["decision"]
    assert decision["completion"]["completion_tokens"] > 0 and decision["status"] in (
        "adheres", "does_not_adhere", "no_verdict")
    print(f"real model: instruction -> applied update {update['latency_s']}, "
          f"decision {probe.snapshot('decisions')[0]['latency_s']} s")
    executor.shutdown()
