"""A recorded bag through the LLM node's state and decision pipeline, offline.

Odometry and LiDAR from the bag fill the same StateBuffer the node keeps; every `period_s` of bag
time the window becomes Frenet features and, given a decider, a decision. Windows start once a
full window of odometry is in the buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import Robotxr1Error
from .rosbag_io import read_messages
from ..evaluation.labels import DECISION_RULES, label
from ..llm.answer_format import decision_answer
from ..llm.backends import Backend, ScriptedBackend
from ..llm.decision import Decision, DecisionxR1
from ..llm.features import FeatureConfig, InsufficientData, StateFeatures, compute_features
from ..samples import odometry_to_sample, scan_to_sample
from ..llm.state_buffer import DEFAULT_WINDOW_S, StateBuffer
from ..track import Track

Features = StateFeatures | InsufficientData
Decider = Callable[[Features], Decision]


@dataclass(frozen=True)
class WindowResult:
    t: float  # bag time at the end of the window (s)
    features: Features
    label: bool | None  # the rule-based ground truth for the instruction, where there is a rule
    decision: Decision | None

    def as_dict(self) -> dict:
        features = self.features
        return {
            "t": round(self.t, 3),
            "features": features.as_record() if isinstance(features, StateFeatures) else {"insufficient": features.reason},
            "label": self.label,
            "decision": None if self.decision is None else {
                key: value for key, value in self.decision.as_dict().items() if key != "completion"},
        }


def replay_bag(path: str | Path, track: Track, instruction: str | None = None, decide: Decider | None = None,
               window_s: float = DEFAULT_WINDOW_S, period_s: float = 1.0, odom_topic: str = "/odom",
               scan_topic: str = "/scan", config: FeatureConfig = FeatureConfig()) -> Iterator[WindowResult]:
    if not period_s > 0.0:
        raise Robotxr1Error(f"period must be positive, got {period_s} s")
    buffer = StateBuffer(window_s)
    first = None
    next_window = None
    for topic, _, message in read_messages(path, (odom_topic, scan_topic)):
        if topic == scan_topic:
            buffer.add_scan(scan_to_sample(message))
            continue
        sample = odometry_to_sample(message)
        buffer.add_odometry(sample)
        if first is None:
            first = sample.t
            next_window = first + window_s
        if sample.t + 1e-6 >= next_window:
            next_window += period_s
            features = compute_features(buffer.window(), track, config)
            yield WindowResult(sample.t, features, _label(instruction, features),
                               decide(features) if decide is not None else None)


def _label(instruction: str | None, features: Features) -> bool | None:
    if instruction not in DECISION_RULES or not isinstance(features, StateFeatures):
        return None
    return label(instruction, features.as_record())


def model_decider(instruction: str, backend: Backend, **options) -> Decider:
    decision_module = DecisionxR1(backend, **options)
    return lambda features: decision_module.decide(instruction, features)


def scripted_decider(instruction: str) -> Decider:
    """The scripted backend with a known answer: it answers each window's rule-based label, so the
    pipeline (prompt, parsing, decision) runs without a model."""
    if instruction not in DECISION_RULES:
        raise Robotxr1Error(f"the scripted backend knows the answers for {list(DECISION_RULES)} only, "
                         f"not {instruction!r}")
    current: dict[str, dict] = {}

    def answer(messages) -> str:
        adheres = label(instruction, current["record"])
        return decision_answer(f"scripted: the rule-based label of this window is {adheres}", adheres)

    decision_module = DecisionxR1(ScriptedBackend(answer), use_grammar=False)

    def decide(features: Features) -> Decision:
        if isinstance(features, StateFeatures):
            current["record"] = features.as_record()
        return decision_module.decide(instruction, features)
    return decide


def summary_line(result: WindowResult) -> str:
    """One human-readable line per window: features in brief, label and decision."""
    features = result.features
    if isinstance(features, InsufficientData):
        text = f"insufficient data: {features.reason}"
    else:
        mean = lambda values: sum(values) / len(values)  # noqa: E731
        text = (f"s_speed {mean(features.s_speed):+.2f} m/s  d {mean(features.d_pos):+.2f} m "
                f"(max |d| {max(abs(v) for v in features.d_pos):.2f})  d_speed {mean(features.d_speed):+.2f}  "
                f"walls L {mean(features.d_left):.2f} R {mean(features.d_right):.2f} m  "
                f"reversing={features.reversing} crashed={features.crashed} facing_wall={features.facing_wall}")
    line = f"t={result.t:7.2f} s  {text}"
    if result.label is not None:
        line += f"  | label {'adheres' if result.label else 'does not adhere'}"
    if result.decision is not None:
        decision = result.decision
        line += f"  | decision {decision.status}" + (f" -> {decision.action}" if decision.action else "")
        if decision.completion is not None:
            line += f" ({decision.completion.latency_s:.2f} s)"
    return line
