"""Every setting of the on-board LLM node with its default, in one place (ROS-free).

The node declares one read-only ROS parameter per field of LlmNodeConfig (its default, its
description and, where given, its range), the model-using commands take their defaults from
DEFAULTS, and test/test_node_config.py checks config/robotxr1.yaml's node section against it.
A default that the library layer also uses (threads, context, window, periods, retrieval,
reasoning bounds) is that layer's constant, so the node and `ask`/`eval`/`replay`/`bench` cannot
drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from ..params import DEFAULT_PARAM_SET, PARAM_SETS
from .chat_templates import THINKING_OFF
from .decision import DECISION_REASONING_CHARS
from .llama_resources import ALL_LAYERS, AUTO
from .model_spec import ModelSpec
from .models import N_CTX
from .retrieval import RETRIEVAL_K
from .state_buffer import DEFAULT_WINDOW_S
from .supervisor import SupervisorConfig
from .tuning import MAX_TOKENS, TUNING_REASONING_CHARS

DEFAULT_ADAPTER = "default"  # lora_path value: whatever adapter ModelSpec takes by default
Value = TypeVar("Value")


def _setting(default: Value, description: str, bounds: tuple[float, float] | None = None) -> Value:
    """A field with what its ROS parameter says of it, and the [low, high] it accepts (if bounded)."""
    return field(default=default, metadata={"description": description, "bounds": bounds})


@dataclass(frozen=True)
class LlmNodeConfig:
    model_path: str = _setting("", "GGUF model; empty: $ROBOTXR1_MODEL or the bundled SmolLM2")
    lora_path: str = _setting(DEFAULT_ADAPTER, f"GGUF LoRA adapter; {DEFAULT_ADAPTER!r}: the trained adapter "
                                               "shipped for the bundled model (if any); empty: the base model alone")
    n_threads: int = _setting(AUTO, f"llama.cpp threads decoding answers; {AUTO}: from the CPUs left beside the "
                                    "controller's")
    n_threads_batch: int = _setting(AUTO, f"llama.cpp threads evaluating prompts; {AUTO}: the CPUs not pinned to "
                                          "the controller")
    n_gpu_layers: int = _setting(ALL_LAYERS, f"model layers llama.cpp offloads to the GPU ({ALL_LAYERS}: all; 0: "
                                             "CPU only); none where llama.cpp was built without a GPU backend")
    flash_attn: bool = _setting(True, "llama.cpp flash attention (faster prompts)")
    chat_template: str = _setting("", "chat template instead of the GGUF's own (a GGUF without one needs it): a "
                                      "built-in name (chatml) or a Jinja file; empty: the model's own")
    thinking: str = _setting(THINKING_OFF, f"a reasoning model's thinking before its answers: {THINKING_OFF!r} (an "
                                           "empty <think> block) or 'budget N' (at most N tokens)")
    n_ctx: int = _setting(N_CTX, "llama.cpp context length (tokens)")
    max_tokens: int = _setting(MAX_TOKENS, "generation budget per answer (tokens)")
    use_grammar: bool = _setting(True, "constrain answers with the GBNF grammars")
    param_set: str = _setting(DEFAULT_PARAM_SET, f"MPC parameters the model is asked about: {' or '.join(PARAM_SETS)} "
                                                 "(the set its adapter was trained on)")
    retrieval_k: int = _setting(RETRIEVAL_K, "hints / memories retrieved per prompt")
    decision_reasoning_chars: int = _setting(DECISION_REASONING_CHARS, "reasoning before a verdict, at most "
                                             "(characters; 0: the verdict alone, from next-token probabilities)")
    tuning_reasoning_chars: int = _setting(TUNING_REASONING_CHARS, "reasoning before the parameters, at most "
                                           "(characters; 0: the parameter dict alone)")
    decision_facts: bool = _setting(True, "the decision prompt places the window's mean speed against the "
                                          "instruction's speeds and says smooth or not (the shipped decision "
                                          "adapter is trained on it)")
    period_s: float = _setting(SupervisorConfig.decision_period_s, "at most one decision per period [s]")
    max_backoff_s: float = _setting(SupervisorConfig.max_backoff_s, "longest wait before a decision while the car "
                                    "keeps not adhering after updates [s]")
    window_s: float = _setting(DEFAULT_WINDOW_S, "state window length [s]")
    # Inference yields the cores to the controller and the executors.
    worker_nice: int = _setting(10, "nice value of the inference worker and llama.cpp's threads: control comes first")
    track: str = _setting("eval", "built-in track name or track CSV (racing line)")
    controller: str = _setting("mpc_controller", "node whose MPC parameters are tuned")
    # A claim on the controller lapses this long after its last heartbeat.
    claim_lease_s: float = _setting(2.0, "one LLM node supervises a controller: its claim lapses this long after "
                                    "its last heartbeat, and another node may then take over [s]", (0.1, 60.0))
    service_timeout_s: float = _setting(5.0, "wait for the controller [s]")
    odom_topic: str = _setting("odom", "nav_msgs/Odometry input")
    scan_topic: str = _setting("scan", "sensor_msgs/LaserScan input")
    imu_topic: str = _setting("imu", "sensor_msgs/Imu input (optional)")
    # ~30 sensor messages per window and topic, of which ~8 are used (FeatureConfig.n_samples).
    input_rate_hz: float = _setting(10.0, "odometry, scans and IMU messages read per second and topic (faster "
                                    "input is thinned)", (1.0, 1000.0))
    autostart: bool = _setting(True, "configure and activate on start, without a lifecycle manager")

    def model_spec(self) -> ModelSpec:
        """The model the node loads: its adapter is the shipped one for DEFAULT_ADAPTER, none when empty."""
        adapter = self.lora_path
        return ModelSpec(model_path=self.model_path or None, n_ctx=self.n_ctx, n_threads=self.n_threads,
                         n_threads_batch=self.n_threads_batch, n_gpu_layers=self.n_gpu_layers,
                         flash_attn=self.flash_attn, base_only=not adapter,
                         chat_template=self.chat_template or None, thinking=self.thinking,
                         lora_path=None if adapter in ("", DEFAULT_ADAPTER) else adapter)

    def supervisor_config(self) -> SupervisorConfig:
        return SupervisorConfig(window_s=self.window_s, decision_period_s=self.period_s,
                                max_backoff_s=self.max_backoff_s)


DEFAULTS = LlmNodeConfig()
