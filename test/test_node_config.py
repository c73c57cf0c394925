"""One source of the on-board defaults: config/robotxr1.yaml restates the nodes' own defaults
(LlmNodeConfig for the LLM node; SafetyConfig, MpcConfig and PARAM_TABLE for the controller), and
the model-using commands default to the LLM node's settings."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from robotxr1_ros.cli import build_parser
from robotxr1_ros.commands.model_options import answer_settings, model_spec
from robotxr1_ros.control.controller import SafetyConfig
from robotxr1_ros.control.mpc import MpcConfig
from robotxr1_ros.llm.module_pair import AnswerSettings
from robotxr1_ros.llm.node_config import DEFAULTS, LlmNodeConfig
from robotxr1_ros.nodes.bringup import LLM_ARGUMENTS, config_section, default_config_file
from robotxr1_ros.params import PARAM_SPECS

LIMITS_PREFIX = "limits."


def section(node: str) -> dict:
    config = yaml.safe_load(Path(default_config_file()).read_text())
    return dict(config[config_section(node)]["ros__parameters"])


def typed(values: dict) -> dict:
    """Values with their types: rclpy refuses an int for a double parameter (and 2 == 2.0)."""
    return {name: (type(value).__name__, value) for name, value in values.items()}


def test_the_llm_node_section_restates_llm_node_config():
    settings = section("robotxr1")
    assert set(settings) <= {setting.name for setting in dataclasses.fields(LlmNodeConfig)}
    assert typed(settings) == typed({name: getattr(DEFAULTS, name) for name in settings})


def test_the_controller_section_restates_the_controllers_defaults():
    settings = section("mpc_controller")
    safety_names = {setting.name for setting in dataclasses.fields(SafetyConfig)}
    safety = {name: settings.pop(name) for name in safety_names & set(settings)}
    assert typed(safety) == typed({name: getattr(SafetyConfig(), name) for name in safety})
    assert typed({"rate": settings.pop("control_rate_hz")}) == typed({"rate": MpcConfig().control_rate_hz})
    params = {name: settings.pop(name) for name in set(PARAM_SPECS) & set(settings)}
    assert typed(params) == typed({name: PARAM_SPECS[name].default for name in params})
    for key in [key for key in settings if key.startswith(LIMITS_PREFIX)]:
        low, high = settings.pop(key)
        spec = PARAM_SPECS[key.removeprefix(LIMITS_PREFIX)]
        assert spec.minimum <= low <= high <= spec.maximum, key
    # What is left: the controller drives on the track, and from the odometry, the LLM node watches.
    assert settings == {"track": DEFAULTS.track, "odom_topic": DEFAULTS.odom_topic}


def test_the_model_options_default_to_the_llm_nodes_settings():
    args = build_parser("ask").parse_args(["ask", "--instruction", "Drive forward"])
    assert model_spec(args) == DEFAULTS.model_spec()
    assert answer_settings(args) == AnswerSettings.of_node(DEFAULTS)


def test_the_commands_reasoning_window_and_worker_defaults_are_the_llm_nodes():
    decision, control = (build_parser("eval").parse_args(["eval", kind]) for kind in ("decision", "control"))
    assert (decision.reasoning_chars, control.reasoning_chars) == (DEFAULTS.decision_reasoning_chars,
                                                                   DEFAULTS.tuning_reasoning_chars)
    llm = build_parser("bench").parse_args(["bench", "llm"])
    assert answer_settings(llm, llm.decision_reasoning_chars, llm.tuning_reasoning_chars) == AnswerSettings.of_node(
        DEFAULTS)
    ros = build_parser("bench").parse_args(["bench", "ros"])
    assert (ros.threads, ros.batch_threads, ros.worker_nice) == (DEFAULTS.n_threads, DEFAULTS.n_threads_batch,
                                                                 DEFAULTS.worker_nice)
    assert build_parser("replay").parse_args(["replay", "bag"]).window == DEFAULTS.window_s
    assert build_parser("demo").parse_args(["demo"]).lora == DEFAULTS.lora_path


def test_the_launch_arguments_default_to_the_llm_nodes_settings():
    # bringup.py stays light (launch files import it), so it restates these.
    defaults = {argument.name: argument.default for argument in LLM_ARGUMENTS}
    for name in ("model_path", "lora_path", "chat_template", "thinking"):
        assert defaults[name] == getattr(DEFAULTS, name), name
