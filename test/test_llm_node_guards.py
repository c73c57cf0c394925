"""The LLM node's doors over real rclpy + DDS: an instruction too long for the model or invisible
is refused with the reason (status topic, parameter result) instead of failing at every model
call; one LLM node supervises a controller (a second of the same name yields and names the holder,
and may take over once the holder's claim lapses); `-p lora_path:=` on the command line runs the
base model alone; a refused undeclared parameter is named."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from node_harness import Probe, get_parameters, set_parameters
from rclpy.exceptions import ParameterNotDeclaredException
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_fixtures import spin_until
from std_msgs.msg import String

from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.decision import DecisionxR1
from robotxr1_ros.llm.module_pair import ModuleBackends
from robotxr1_ros.llm.prompt_fit import PROMPT_MARGIN_TOKENS, prompt_sizes
from robotxr1_ros.llm.supervision_claim import LeaseState
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.nodes.llm_node import LlmNode
from robotxr1_ros.nodes.mpc_controller_node import MpcControllerNode

WAIT_S = 30.0
LEASE_S = 1.0  # claim wait 0.5 s: short tests
TOO_LONG = "go " * 100
STATUS_QOS = QoSProfile(depth=50, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def scripted(n_ctx: int | None = None) -> ModuleBackends:
    return ModuleBackends(ScriptedBackend([decision_answer("scripted", True)], n_ctx=n_ctx),
                          ScriptedBackend([mpc_answer("scripted", {"qv": 5.0})], n_ctx=n_ctx))


def llm_node(context, backends, **parameters) -> LlmNode:
    values = {"period_s": 1.0, "window_s": 1.0, "claim_lease_s": LEASE_S, **parameters}
    return LlmNode(backends=backends, context=context,
                   parameter_overrides=[Parameter(name, value=value) for name, value in values.items()])


def watch_status(probe: Probe) -> None:
    probe.watch("llm_status", String, "/robotxr1/status", lambda m: json.loads(m.data), STATUS_QOS)


def events(probe: Probe, event: str) -> list[dict]:
    return [status for status in probe.snapshot("llm_status") if status["event"] == event]


def lifecycle_state(node: LlmNode) -> str:
    return node._state_machine.current_state[1]


def test_instructions_too_long_for_the_model_or_invisible_are_refused_with_the_reason(ros_context):
    """The context is measured as the scripted backends measure it (words): "Reverse the car" fits
    with 40 to spare, 100 more words do not; the node's modules are built as configure builds them."""
    unbounded = scripted(n_ctx=10**6)
    sizes = prompt_sizes("Reverse the car", DecisionxR1(unbounded.decision, max_tokens=200),
                         MPCxR1(unbounded.tuning, max_tokens=200))
    n_ctx = max(size.prompt_tokens + size.answer_tokens for size in sizes) + PROMPT_MARGIN_TOKENS + 40
    llm = llm_node(ros_context, lambda: scripted(n_ctx), service_timeout_s=0.2)
    probe = Probe(ros_context)
    watch_status(probe)
    instructions = probe.node.create_publisher(String, "/robotxr1/instruction", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (llm, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: instructions.get_subscription_count() > 0, WAIT_S)
    instructions.publish(String(data="Reverse the car"))
    assert spin_until(executor, lambda: llm.instruction == "Reverse the car", WAIT_S)

    for text, reason in ((TOO_LONG, "too long for the model: the tuning prompt it makes has"),
                         ("\u200b", "holds only invisible or control characters (U+200B)"),
                         ("\u202e\u200b \ufe0f", "(U+200B, U+202E, U+FE0F)")):
        instructions.publish(String(data=text))
        assert spin_until(executor, lambda reason=reason: any(
            reason in refusal["reason"] for refusal in events(probe, "instruction_refused")), WAIT_S), text
        assert llm.instruction == "Reverse the car"  # the one in force stays

    (result,) = set_parameters(executor, probe.node, "/robotxr1", {"instruction": TOO_LONG})
    assert not result.successful and "too long for the model" in result.reason, result.reason
    (result,) = set_parameters(executor, probe.node, "/robotxr1", {"instruction": "\u200bStop\u202e"})
    assert result.successful
    assert spin_until(executor, lambda: llm.instruction == "Stop", WAIT_S)
    executor.shutdown()


def test_one_llm_node_supervises_a_controller_and_another_may_take_over_after_its_lease(ros_context):
    """Two nodes named /robotxr1 in one namespace: the second (autostart) hears the first's claim
    while claiming, yields and names it. The first then dies (its heartbeats stop): the second's
    activation is refused while the claim is live, succeeds once it has lapsed, and its update
    reaches the controller."""
    controller = MpcControllerNode(context=ros_context)
    first = llm_node(ros_context, scripted)
    probe = Probe(ros_context)
    watch_status(probe)
    updates = []
    probe.node.create_subscription(String, "/robotxr1/update", lambda m: updates.append(json.loads(m.data)), 10)
    instructions = probe.node.create_publisher(String, "/robotxr1/instruction", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, first, probe.node):
        executor.add_node(node)
    assert spin_until(executor, lambda: first._lease.state == LeaseState.HOLDING, WAIT_S)

    second = llm_node(ros_context, scripted)
    assert second.get_fully_qualified_name() == first.get_fully_qualified_name() == "/robotxr1"
    executor.add_node(second)
    assert spin_until(executor, lambda: lifecycle_state(second) == "inactive" and events(probe, "refused"), WAIT_S)
    (refusal,) = events(probe, "refused")
    assert refusal["holder"]["id"] == first._lease.claim.id and refusal["holder"]["holding"]
    assert "/robotxr1 (pid" in refusal["message"] and "supervises it" in refusal["message"]
    assert "this node's very name" in refusal["message"]
    assert lifecycle_state(first) == "active" and first._lease.state == LeaseState.HOLDING

    executor.remove_node(first)  # killed: no more heartbeats, no release
    assert second.trigger_activate() == TransitionCallbackReturn.FAILURE  # its claim is still live
    spin_until(executor, lambda: False, LEASE_S)
    assert second.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert spin_until(executor, lambda: second._lease.state == LeaseState.HOLDING, WAIT_S)
    instructions.publish(String(data="Reverse the car"))
    assert spin_until(executor, lambda: updates, WAIT_S)
    assert updates[0]["applied"] and updates[0]["changes"] == {"qv": 5.0}, updates
    assert get_parameters(executor, probe.node, "/mpc_controller", ["qv"]) == {"qv": 5.0}
    executor.shutdown()


def test_undeclared_parameters_are_named_when_refused(ros_context):
    controller = MpcControllerNode(context=ros_context)
    llm = llm_node(ros_context, scripted, autostart=False)
    probe = Probe(ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (controller, llm, probe.node):
        executor.add_node(node)
    for target in ("/mpc_controller", "/robotxr1"):  # what `ros2 param set <target> qv_typo 1.0` gets
        (result,) = set_parameters(executor, probe.node, target, {"qv_typo": 1.0})
        assert not result.successful and "undeclared parameter(s): ['qv_typo']" in result.reason, result.reason
    with pytest.raises(ParameterNotDeclaredException, match=r"\['typo', 'other'\]"):
        controller.set_parameters_atomically([Parameter("qv", value=5.0), Parameter("typo", value=1.0),
                                              Parameter("other", value=2.0)])
    executor.shutdown()


def test_an_empty_lora_path_on_the_command_line_runs_the_base_model_alone(ros_context):
    """`-p lora_path:=` (what the shell makes of `lora_path:=""`) used to end in rcl's "Couldn't
    parse parameter override rule" traceback before the node existed."""
    environment = {**os.environ, "ROS_DOMAIN_ID": str(ros_context.get_domain_id()), "PYTHONUNBUFFERED": "1"}
    llm = subprocess.Popen([sys.executable, "-m", "robotxr1_ros.nodes.llm_node", "--ros-args", "-p", "lora_path:=",
                            "-p", "n_threads:=1"], env=environment, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(llm.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + WAIT_S
    while not any("claiming" in line for line in lines) and llm.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # configured (the model loaded) and activated
    llm.terminate()
    llm.wait(WAIT_S)
    reader.join(WAIT_S)
    output = "".join(lines)
    assert llm.returncode == 0 and "Traceback" not in output, output
    (loaded,) = [line for line in lines if " loaded in " in line]
    assert ".gguf loaded" in loaded and ".lora." not in loaded, loaded  # the base model, no adapter
