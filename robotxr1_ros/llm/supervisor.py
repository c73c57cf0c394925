"""The loop policy of the on-board LLM: when to judge the car, when to retune it, what to send.

Plain Python, no ROS, no threads, no clocks: the caller passes `now` (any clock that only moves
forward: the LLM node uses a monotonic clock, `robotxr1 replay` the bag's time) and runs the model
calls itself, so the node (inference on a worker thread) and replay (synchronous) share one
policy. A caller loops:

    job = supervisor.next_job(now)            # None: nothing to do yet
    DECIDE: supervisor.on_decision(DecisionxR1.decide(job.instruction, features(job.window)), now)
    TUNE:   event = supervisor.on_tuning(MPCxR1.tune(job.instruction, supervisor.params, supervisor.specs), now)
            if event.update: send it, then on_update_applied(now) or on_update_failed(reason, now)
    a model call that raised, or was abandoned: on_job_failed(now)

The rules, and why:
- A new instruction is a human command: it is tuned for at once, without a decision first.
- A decision needs a window covering `min_coverage` of `window_s`, at most every
  `decision_period_s`; only a "does not adhere" verdict leads to a tuning.
- An update carries only the parameters whose proposed value differs from the one in force, so
  what an operator set by hand (or the car's YAML) stays unless the model names it; a proposal
  equal to the parameters in force is not sent at all.
- After an update the state buffer starts over: the next decision judges the new behaviour only.
- Each further "does not adhere" after a tuning doubles the wait before the next decision (up to
  `max_backoff_s`): a model that keeps failing must not keep the car's computer busy. Adherence
  or a new instruction resets it.
Not thread-safe: the node calls it under its own lock.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Robotxr1Error
from ..params import PARAM_TABLE, MpcParams, ParamError, ParamSpec, check_cross_rules
from ..samples import OdomSample, ScanSample, StateWindow
from .decision import ADHERES, DOES_NOT_ADHERE, Decision
from .prompts import require_instruction
from .state_buffer import DEFAULT_MAX_SAMPLES, DEFAULT_WINDOW_S, StateBuffer
from .tuning import Tuning

DECIDE, TUNE = "decide", "tune"
BY_INSTRUCTION, BY_DECISION, BY_PERIOD = "instruction", "decision", "period"  # why a job was made
# What became of a tuning:
SEND = "send"  # an update with the changed parameters is to be sent
UNCHANGED = "unchanged"  # the proposal equals the parameters in force: nothing to send
NO_PARAMETERS = "no_parameters"  # the answer held no parameter dict
REFUSED = "refused"  # nothing valid left: a range or a cross rule was broken
SUPERSEDED = "superseded"  # a new instruction arrived while the model was answering


@dataclass(frozen=True)
class SupervisorConfig:
    window_s: float = DEFAULT_WINDOW_S  # state window length (s of sample time)
    min_coverage: float = 0.9  # fraction of window_s a window must cover to be judged
    decision_period_s: float = 2.0  # at most one decision per period
    max_backoff_s: float = 60.0  # the longest wait before a decision after repeated failures
    max_samples: int = DEFAULT_MAX_SAMPLES  # bound of the state buffer, per stream

    def __post_init__(self) -> None:
        if not (self.decision_period_s > 0.0 and 0.0 < self.min_coverage <= 1.0
                and self.max_backoff_s >= self.decision_period_s):
            raise Robotxr1Error(f"need decision_period_s > 0, 0 < min_coverage <= 1 and max_backoff_s >= "
                                f"decision_period_s, got {self}")


@dataclass(frozen=True)
class Job:
    """A model call to make now."""

    kind: str  # DECIDE or TUNE
    instruction: str
    trigger: str  # BY_PERIOD (a decision), BY_INSTRUCTION or BY_DECISION (a tuning)
    t: float  # when the job was handed out
    window: StateWindow | None = None  # DECIDE: the state to judge
    instruction_id: int = 0  # which instruction it serves: results for an older one are dropped


@dataclass(frozen=True)
class DecisionEvent:
    t: float
    decision: Decision
    window_start: float  # sample time of the window's first and last odometry
    window_end: float
    superseded: bool = False  # judged an instruction that has since been replaced

    def as_dict(self) -> dict[str, Any]:
        decision = {key: value for key, value in self.decision.as_dict().items() if key != "completion"}
        return {"t": round(self.t, 3), "window": [round(self.window_start, 3), round(self.window_end, 3)],
                "superseded": self.superseded, **decision}


@dataclass(frozen=True)
class ControllerUpdate:
    """What the controller is sent: only the parameters that change, applied together."""

    t: float
    instruction: str
    trigger: str
    changes: Mapping[str, float]
    previous: Mapping[str, float]  # the values in force of the changed parameters

    def as_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 3), "instruction": self.instruction, "trigger": self.trigger,
                "changes": dict(self.changes), "previous": dict(self.previous)}


@dataclass(frozen=True)
class TuningEvent:
    t: float
    instruction: str
    trigger: str
    outcome: str  # SEND, UNCHANGED, NO_PARAMETERS, REFUSED or SUPERSEDED
    reason: str
    tuning: Tuning
    update: ControllerUpdate | None = None  # set when outcome is SEND

    def as_dict(self, with_completion: bool = False) -> dict[str, Any]:
        tuning = self.tuning.as_dict()
        if not with_completion:
            del tuning["completion"]
        return {"event": "tuning", "t": round(self.t, 3), "instruction": self.instruction, "trigger": self.trigger,
                "outcome": self.outcome, "reason": self.reason, "tuning": tuning,
                "update": None if self.update is None else self.update.as_dict()}


@dataclass(frozen=True)
class UpdateResult:
    t: float
    update: ControllerUpdate
    applied: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**self.update.as_dict(), "applied_at": round(self.t, 3), "applied": self.applied,
                "reason": self.reason}


class Supervisor:
    def __init__(self, config: SupervisorConfig = SupervisorConfig(), params: MpcParams = MpcParams(),
                 specs: Sequence[ParamSpec] = PARAM_TABLE) -> None:
        """`params` and `specs`: what the controller has in force and accepts, until observed."""
        self.config = config
        self.params = params
        self.specs = tuple(specs)
        self.buffer = StateBuffer(config.window_s, config.max_samples)
        self.instruction = ""
        self._instruction_id = 0
        self._tune_trigger: str | None = None  # a tuning is due, and why
        self._job: Job | None = None  # handed out, result not yet reported
        self._update: ControllerUpdate | None = None  # sent, result not yet reported
        self._next_decision_at = float("-inf")
        self._not_before = float("-inf")  # after a failed job
        self._misses = 0  # "does not adhere" verdicts since the last adherence or new instruction

    # --- inputs -----------------------------------------------------------------------------
    def observe_odometry(self, sample: OdomSample) -> None:
        self.buffer.add_odometry(sample)

    def observe_scan(self, sample: ScanSample) -> None:
        self.buffer.add_scan(sample)

    def observe_params(self, params: MpcParams, specs: Sequence[ParamSpec] | None = None) -> None:
        """The parameters in force (and the effective ranges) as read from the controller: an
        operator's `ros2 param set` and the car's YAML are the base of the next tuning."""
        self.params = params
        if specs is not None:
            self.specs = tuple(specs)

    def set_instruction(self, text: str, now: float) -> str:
        """Take a new instruction (cleaned and bounded; InstructionError if unusable) and tune
        for it at once. Returns the instruction as it will be used."""
        self.instruction = require_instruction(text)
        self._instruction_id += 1
        self._tune_trigger = BY_INSTRUCTION
        self._misses = 0
        self._not_before = now
        return self.instruction

    def superseded(self, job: Job) -> bool:
        """`job` was asked for an instruction that has since been replaced."""
        return job.instruction_id != self._instruction_id

    # --- what to do now ---------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A model call or an update is out and its result not yet reported."""
        return self._job is not None or self._update is not None

    def next_job(self, now: float) -> Job | None:
        if self.busy or not self.instruction or now < self._not_before:
            return None
        if self._tune_trigger is not None:
            job = Job(TUNE, self.instruction, self._tune_trigger, now, instruction_id=self._instruction_id)
            self._tune_trigger = None
        else:
            window = self.next_window(now)
            if window is None:
                return None
            job = Job(DECIDE, self.instruction, BY_PERIOD, now, window, self._instruction_id)
        self._job = job
        return job

    def next_window(self, now: float) -> StateWindow | None:
        """The window to judge now, or None: a decision is due at most every period and needs a
        window covering enough time. Taking it starts the next period. (`next_job` uses it;
        replay without a model uses it alone to report the windows that would be judged.)"""
        config = self.config
        if now < self._next_decision_at or self.buffer.covered_s < config.min_coverage * config.window_s:
            return None
        self._next_decision_at = now + config.decision_period_s
        return self.buffer.window()

    # --- results ----------------------------------------------------------------------------
    def on_decision(self, decision: Decision, now: float) -> DecisionEvent:
        job = self._finish(DECIDE)
        superseded = self.superseded(job)
        if not superseded:
            if decision.status == ADHERES:
                self._misses = 0
            elif decision.status == DOES_NOT_ADHERE:
                self._misses += 1
                self._tune_trigger = BY_DECISION
        odometry = job.window.odometry
        return DecisionEvent(now, decision, odometry[0].t, odometry[-1].t, superseded)

    def on_tuning(self, tuning: Tuning, now: float) -> TuningEvent:
        """Compare the validated proposal with the parameters in force: the event's `update`
        (outcome SEND) holds only what changes; anything else ends the round here."""
        job = self._finish(TUNE)
        event = self._judge_tuning(job, tuning, now)
        if event.update is None:
            self._end_round(now)
        else:
            self._update = event.update
        return event

    def on_update_applied(self, now: float) -> UpdateResult:
        update = self._take_update()
        self.params = self.params.updated(update.changes)
        self.buffer.clear()  # judge the new behaviour on a window that starts after the update
        self._end_round(now)
        return UpdateResult(now, update, True)

    def on_update_failed(self, reason: str, now: float) -> UpdateResult:
        """The controller refused the update (applied whole or not at all, so nothing changed)."""
        update = self._take_update()
        self._end_round(now)
        return UpdateResult(now, update, False, reason)

    def drop_instruction(self, now: float) -> None:
        """The tuning job out cannot be made after all (its prompt does not fit the model with the
        controller's ranges, which the caller read only now): its instruction is dropped, and
        nothing is judged or tuned until the next one."""
        job = self._finish(TUNE)
        if not self.superseded(job):
            self.instruction = ""
            self._tune_trigger = None
        self._end_round(now)

    def on_job_failed(self, now: float) -> None:
        """A model call or the sending of an update raised, or a result was dropped: try again
        after a period (a tuning for the same instruction stays due). An update whose fate is
        unknown counts as not applied: the parameters in force are read again before a tuning."""
        if self._update is not None:
            self._update = None
            self._end_round(now)
            return
        job = self._finish(None)
        if job.kind == TUNE and job.instruction_id == self._instruction_id and self._tune_trigger is None:
            self._tune_trigger = job.trigger
        self._not_before = now + self.config.decision_period_s

    # --- internals --------------------------------------------------------------------------
    def _judge_tuning(self, job: Job, tuning: Tuning, now: float) -> TuningEvent:
        def event(outcome: str, reason: str, update: ControllerUpdate | None = None) -> TuningEvent:
            return TuningEvent(now, job.instruction, job.trigger, outcome, reason, tuning, update)

        if self.superseded(job):
            return event(SUPERSEDED, "a new instruction arrived while the model was answering")
        if not tuning.update.found:
            return event(NO_PARAMETERS, tuning.update.problem)
        in_force = self.params.as_dict()
        changes = {name: value for name, value in tuning.update.changes.items() if value != in_force[name]}
        if not changes:
            if tuning.update.rejected:  # nothing left after the parser's gate
                return event(REFUSED, "; ".join(item.reason for item in tuning.update.rejected))
            return event(UNCHANGED, "the proposal equals the parameters in force")
        try:
            effective = {spec.name: spec for spec in self.specs}
            for name, value in changes.items():
                effective[name].check(value)
            check_cross_rules({**in_force, **changes})
        except ParamError as error:
            return event(REFUSED, str(error))
        previous = {name: in_force[name] for name in changes}
        return event(SEND, "", ControllerUpdate(now, job.instruction, job.trigger, changes, previous))

    def _end_round(self, now: float) -> None:
        """A tuning round is over: the next decision waits a period, doubled for every further
        "does not adhere" in a row."""
        wait = self.config.decision_period_s * 2.0 ** max(0, self._misses - 1)
        self._next_decision_at = now + min(self.config.max_backoff_s, wait)

    def _finish(self, kind: str | None) -> Job:
        job = self._job
        if job is None or (kind is not None and job.kind != kind):
            raise Robotxr1Error(f"supervisor: a {kind or 'job'} result was reported, but the job out is {job}")
        self._job = None
        return job

    def _take_update(self) -> ControllerUpdate:
        update = self._update
        if update is None:
            raise Robotxr1Error("supervisor: an update result was reported, but no update was sent")
        self._update = None
        return update
