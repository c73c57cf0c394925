"""A recorded bag through the LLM node's loop, offline: the same Supervisor, on the bag's clock.

Odometry and LiDAR from the bag feed a Supervisor exactly as the node's subscriptions do, and
the bag time of each odometry sample is the Supervisor's `now`. With an instruction and models,
the instruction is given at the first odometry sample and every job the Supervisor hands out is
run at once (bag time stands still during a model call); the results say which decisions were
made and which updates the car would have received, when. An update is taken as applied, so the
parameters in force (the table defaults, or the caller's) follow it. Without models, the windows
the Supervisor would judge are reported with their features (and the rule-based label of an
instruction, where there is a rule).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cases.decision import DECISION_RULES, label
from ..errors import Robotxr1Error
from ..llm.answer_format import decision_answer, mpc_answer
from ..llm.backends import ScriptedBackend
from ..llm.decision import Decision
from ..llm.features import FeatureConfig, InsufficientData, StateFeatures, compute_features
from ..llm.module_pair import AnswerSettings, ModuleBackends, ModulePair
from ..llm.prompts import require_instruction
from ..llm.supervisor import JobKind, Outcome, Supervisor, SupervisorConfig, TuningEvent, UpdatePath
from ..llm.tuning import Tuning
from ..params import MpcParams, ParamSpec
from ..samples import odometry_to_sample, scan_to_sample
from ..track import Track
from .rosbag_io import TOPIC_TYPES, read_messages

Features = StateFeatures | InsufficientData
Decider = Callable[[str, Features], Decision]
Tuner = Callable[[str, MpcParams, Sequence[ParamSpec]], Tuning]


@dataclass(frozen=True)
class Models:
    """The two model calls a replay makes: a decision on features, a tuning on the params in force."""

    decide: Decider
    tune: Tuner


@dataclass(frozen=True)
class WindowResult:
    t: float  # bag time at which the window was judged (its last odometry sample)
    features: Features
    label: bool | None  # the rule-based ground truth for the instruction, where there is a rule
    decision: Decision | None

    def as_dict(self) -> dict:
        features = self.features
        return {
            "event": "decision" if self.decision is not None else "window",
            "t": round(self.t, 3),
            "features": features.as_record(),
            "label": self.label,
            "decision": None if self.decision is None else {
                key: value for key, value in self.decision.as_dict().items() if key != "completion"},
        }


def replay_bag(path: str | Path, track: Track, instruction: str | None = None, models: Models | None = None,
               config: SupervisorConfig = SupervisorConfig(), params: MpcParams = MpcParams(),
               odom_topic: str = "/odom", scan_topic: str = "/scan",
               feature_config: FeatureConfig = FeatureConfig()) -> Iterator[WindowResult | TuningEvent]:
    """Yield, in bag time, each judged window (WindowResult) and each tuning (TuningEvent, whose
    `update` is what the car would have received)."""
    if models is not None and not instruction:
        raise Robotxr1Error("replaying with a model needs an instruction")
    instruction = require_instruction(instruction) if instruction else None
    supervisor = Supervisor(config, params)
    types = {odom_topic: TOPIC_TYPES["/odom"], scan_topic: TOPIC_TYPES["/scan"]}
    for topic, _, message in read_messages(path, types, types, required=(odom_topic,)):
        if topic == scan_topic:
            supervisor.observe_scan(scan_to_sample(message))
            continue
        sample = odometry_to_sample(message)
        supervisor.observe_odometry(sample)
        now = sample.t
        if models is None:
            window = supervisor.next_window(now)
            if window is not None:
                features = compute_features(window, track, feature_config)
                yield WindowResult(now, features, _label(instruction, features), None)
            continue
        if not supervisor.instruction:
            assert instruction, "checked above: a replay with models has an instruction"
            supervisor.set_instruction(instruction, now)
        yield from _run_jobs(supervisor, models, track, feature_config, now)


def _run_jobs(supervisor: Supervisor, models: Models, track: Track, feature_config: FeatureConfig,
              now: float) -> Iterator[WindowResult | TuningEvent]:
    while (stop := supervisor.standstill(now)) is not None:  # a stop's fast path: no model asked
        yield stop
        if stop.outcome == Outcome.SEND:
            supervisor.on_standstill_applied(now)
    while (job := supervisor.next_job(now)) is not None:
        if job.kind == JobKind.DECIDE:
            assert job.window is not None, "next_job hands out a decision only with its window"
            features = compute_features(job.window, track, feature_config)
            decided = supervisor.on_decision(models.decide(job.instruction, features), now)
            yield WindowResult(now, features, _label(job.instruction, features), decided.decision)
        else:
            event = supervisor.on_tuning(models.tune(job.instruction, supervisor.tuning_base(), supervisor.specs), now)
            yield event
            if event.outcome == Outcome.SEND:
                supervisor.on_update_applied(now)


def _label(instruction: str | None, features: Features) -> bool | None:
    if instruction not in DECISION_RULES or not isinstance(features, StateFeatures):
        return None
    return label(instruction, features.as_record())


def model_modules(modules: ModulePair) -> Models:
    """The two modules (AnswerSettings.pair builds them as the car does) answer."""
    return Models(modules.decision.decide, modules.tuning.tune)


def scripted_modules(instruction: str, proposal: Mapping[str, float]) -> Models:
    """Known answers, no model: each window's decision is its rule-based label, and every tuning
    proposes `proposal`; the prompts, parsing and the Supervisor run as with a model."""
    instruction = require_instruction(instruction)
    if instruction not in DECISION_RULES:
        raise Robotxr1Error(f"the scripted backend knows the answers for {list(DECISION_RULES)} only, "
                            f"not {instruction!r}")
    current: dict[str, dict] = {}

    def answer(messages) -> str:
        adheres = label(instruction, current["record"])
        return decision_answer(f"scripted: the rule-based label of this window is {adheres}", adheres)

    modules = AnswerSettings(use_grammar=False).pair(ModuleBackends(
        ScriptedBackend(answer), ScriptedBackend([mpc_answer("scripted: the given proposal", dict(proposal))])))

    def decide(text: str, features: Features) -> Decision:
        if isinstance(features, StateFeatures):
            current["record"] = features.as_record()
        return modules.decision.decide(text, features)
    return Models(decide, modules.tuning.tune)


def summary_line(result: WindowResult | TuningEvent) -> str:
    """One human-readable line per event: a window (features in brief, label, decision) or a tuning."""
    if isinstance(result, TuningEvent):
        return tuning_line(result)
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


def tuning_line(event: TuningEvent) -> str:
    source = "tuning" if event.path == UpdatePath.MODEL else event.path
    line = f"t={event.t:7.2f} s  {source} after the {event.trigger}: "
    if event.update is None:
        return line + f"{event.outcome.replace('_', ' ')}, nothing sent ({event.reason})"
    changes = ", ".join(f"{name} {event.update.previous[name]:g} -> {value:g}"
                        for name, value in event.update.changes.items())
    return line + f"update {changes}"
