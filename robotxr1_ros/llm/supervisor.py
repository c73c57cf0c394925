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
    and at once after set_instruction, then at every turn of the loop, whatever is out:
    event = supervisor.standstill(now)        # None: no stop to send
            if event.update: send it, then on_standstill_applied(now) or on_standstill_failed(reason, now)

The rules, and why:
- A new instruction is a human command: it is tuned for at once, without a decision first.
- A stop (llm/stop_intent.py: "Stop the car", "Halt!", "Don't move", ...) never waits for the
  model: `standstill` hands out the standstill set (v_min = v_max = 0) at once, even while a model
  call or a model update is out, and the update for the replaced instruction is not sent
  (`update_current`). A stop is never tuned by the model (it answered "Stop the car" with v_max
  1.0); its decisions judge the "Don't move" rule, the one the decision module knows, on a window
  that starts `stop_settle_s` after the update, when the car has braked; a "does not adhere" sends
  the standstill set again. The next instruction's tuning starts from the speeds the stop replaced
  (`tuning_base`), so "Drive forward" after "Stop" drives even if the model names no speed.
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
from enum import StrEnum
from typing import Any

from ..errors import Robotxr1Error
from ..params import PARAM_TABLE, MpcParams, ParamError, ParamSpec, check_cross_rules
from ..samples import OdomSample, ScanSample, StateWindow
from .decision import Decision, DecisionStatus
from .prompts import require_instruction
from .state_buffer import DEFAULT_MAX_SAMPLES, DEFAULT_WINDOW_S, StateBuffer
from .stop_intent import STANDSTILL, STOP_RULE, stop_phrase
from .tuning import Tuning


class JobKind(StrEnum):
    DECIDE = "decide"
    TUNE = "tune"


class Trigger(StrEnum):
    """Why a job was made."""

    INSTRUCTION = "instruction"  # a new instruction
    DECISION = "decision"  # a "does not adhere" verdict
    PERIOD = "period"  # the decision period passed


class Outcome(StrEnum):
    """What became of a tuning."""

    SEND = "send"  # an update with the changed parameters is to be sent
    UNCHANGED = "unchanged"  # the proposal equals the parameters in force: nothing to send
    NO_PARAMETERS = "no_parameters"  # the answer held no parameter dict
    REFUSED = "refused"  # nothing valid left: a range or a cross rule was broken
    SUPERSEDED = "superseded"  # a new instruction arrived while the model was answering


class UpdatePath(StrEnum):
    """Which path made an update (TuningEvent.path)."""

    MODEL = "model"  # the MPC module's answer
    FAST_PATH_STOP = "fast path: stop"  # a stop instruction: the standstill set, no model asked


@dataclass(frozen=True)
class SupervisorConfig:
    window_s: float = DEFAULT_WINDOW_S  # state window length (s of sample time)
    min_coverage: float = 0.9  # fraction of window_s a window must cover to be judged
    decision_period_s: float = 2.0  # at most one decision per period
    max_backoff_s: float = 60.0  # the longest wait before a decision after repeated failures
    max_samples: int = DEFAULT_MAX_SAMPLES  # bound of the state buffer, per stream
    # After a standstill update, the car's time to brake before the window that confirms the stop
    # starts (the eval track's top speed, ~7 m/s, stands within 0.8 s in the simulator).
    stop_settle_s: float = 1.5

    def __post_init__(self) -> None:
        if not (self.decision_period_s > 0.0 and 0.0 < self.min_coverage <= 1.0
                and self.max_backoff_s >= self.decision_period_s and self.stop_settle_s >= 0.0):
            raise Robotxr1Error(f"need decision_period_s > 0, 0 < min_coverage <= 1, max_backoff_s >= "
                                f"decision_period_s and stop_settle_s >= 0, got {self}")


@dataclass(frozen=True)
class Job:
    """A model call to make now."""

    kind: JobKind
    instruction: str
    trigger: Trigger  # PERIOD (a decision), INSTRUCTION or DECISION (a tuning)
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
    trigger: Trigger
    changes: Mapping[str, float]
    previous: Mapping[str, float]  # the values in force of the changed parameters

    def as_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 3), "instruction": self.instruction, "trigger": self.trigger,
                "changes": dict(self.changes), "previous": dict(self.previous)}


@dataclass(frozen=True)
class TuningEvent:
    t: float
    instruction: str
    trigger: Trigger
    outcome: Outcome
    reason: str
    tuning: Tuning | None  # None on the fast path: no model was asked
    update: ControllerUpdate | None = None  # set when outcome is SEND
    path: UpdatePath = UpdatePath.MODEL

    def as_dict(self, with_completion: bool = False) -> dict[str, Any]:
        tuning = None if self.tuning is None else self.tuning.as_dict()
        if tuning is not None and not with_completion:
            del tuning["completion"]
        return {"event": "tuning", "path": self.path, "t": round(self.t, 3), "instruction": self.instruction,
                "trigger": self.trigger, "outcome": self.outcome, "reason": self.reason, "tuning": tuning,
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
        self.stop_phrase = ""  # the instruction in force is a stop ("" if not): stop_intent.stop_phrase
        self._instruction_id = 0
        self._tune_trigger: Trigger | None = None  # a tuning is due, and why
        self._job: Job | None = None  # handed out, result not yet reported
        self._update: ControllerUpdate | None = None  # sent, result not yet reported
        self._update_for = 0  # the instruction the update out serves
        self._standstill_due: Trigger | None = None  # a standstill update is due, and why
        self._standstill: ControllerUpdate | None = None  # sent, result not yet reported
        self._standstill_not_before = float("-inf")  # after a failed one
        self._replaced: dict[str, float] = {}  # what a standstill replaced, restored by the next tuning
        self._clear_at: float | None = None  # when a stopping car has braked: the window starts afresh
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
        self.stop_phrase = stop_phrase(self.instruction)
        self._instruction_id += 1
        self._tune_trigger = None if self.stop_phrase else Trigger.INSTRUCTION
        self._standstill_due = Trigger.INSTRUCTION if self.stop_phrase else None
        self._standstill_not_before = now
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
        """The model call to make now, or None. A stop's standstill update goes first."""
        stop_pending = self._standstill_due is not None or self._standstill is not None
        if self.busy or stop_pending or not self.instruction or now < self._not_before:
            return None
        if self._tune_trigger is not None:
            job = Job(JobKind.TUNE, self.instruction, self._tune_trigger, now, instruction_id=self._instruction_id)
            self._tune_trigger = None
        else:
            window = self.next_window(now)
            if window is None:
                return None
            judged = STOP_RULE if self.stop_phrase else self.instruction  # a stop is judged by its rule
            job = Job(JobKind.DECIDE, judged, Trigger.PERIOD, now, window, self._instruction_id)
        self._job = job
        return job

    def next_window(self, now: float) -> StateWindow | None:
        """The window to judge now, or None: a decision is due at most every period and needs a
        window covering enough time. Taking it starts the next period. (`next_job` uses it;
        replay without a model uses it alone to report the windows that would be judged.)"""
        config = self.config
        if self._clear_at is not None:  # a stopping car: judge only what follows its braking
            if now < self._clear_at:
                return None
            self.buffer.clear()
            self._clear_at = None
        if now < self._next_decision_at or self.buffer.covered_s < config.min_coverage * config.window_s:
            return None
        self._next_decision_at = now + config.decision_period_s
        return self.buffer.window()

    # --- results ----------------------------------------------------------------------------
    def on_decision(self, decision: Decision, now: float) -> DecisionEvent:
        job = self._finish(JobKind.DECIDE)
        assert job.window is not None, "next_job hands out a decision only with its window"
        superseded = self.superseded(job)
        if not superseded:
            if decision.status == DecisionStatus.ADHERES:
                self._misses = 0
            elif decision.status == DecisionStatus.DOES_NOT_ADHERE:
                self._misses += 1
                if self.stop_phrase:  # not the model's to tune: the standstill set again
                    self._standstill_due = Trigger.DECISION
                else:
                    self._tune_trigger = Trigger.DECISION
        odometry = job.window.odometry
        return DecisionEvent(now, decision, odometry[0].t, odometry[-1].t, superseded)

    def on_tuning(self, tuning: Tuning, now: float) -> TuningEvent:
        """Compare the validated proposal with the parameters in force: the event's `update`
        (outcome SEND) holds only what changes; anything else ends the round here."""
        job = self._finish(JobKind.TUNE)
        event = self._judge_tuning(job, tuning, now)
        if event.update is None:
            self._end_round(now)
        else:
            self._update = event.update
            self._update_for = job.instruction_id
        return event

    def update_current(self) -> bool:
        """The update out still serves the instruction in force. Check it right before sending, in
        the same critical section as the send: an update for a replaced instruction is not sent (a
        stop sent since would be undone), report it with on_update_failed."""
        return self._update is not None and self._update_for == self._instruction_id

    def tuning_base(self) -> MpcParams:
        """The parameters a tuning starts from: those in force, with the speeds a fast-path stop set
        to standstill restored (unless changed since): a stop holds the car, it does not retune it."""
        try:
            return self.params.updated(self._restored())
        except ParamError:  # changed since into something the old speeds do not fit
            return self.params

    def on_update_applied(self, now: float) -> UpdateResult:
        update = self._take_update()
        self.params = self.params.updated(update.changes)
        self._replaced = {}  # the tuning started from them (tuning_base)
        self.buffer.clear()  # judge the new behaviour on a window that starts after the update
        self._end_round(now)
        return UpdateResult(now, update, True)

    def on_update_failed(self, reason: str, now: float) -> UpdateResult:
        """The controller refused the update (applied whole or not at all, so nothing changed)."""
        update = self._take_update()
        self._end_round(now)
        return UpdateResult(now, update, False, reason)

    # --- the fast path of a stop -------------------------------------------------------------
    def standstill(self, now: float) -> TuningEvent | None:
        """The standstill update of a stop, made without the model, or None (none due, or one is
        out). Outcome SEND: send `update` (one atomic set, as a model's), then report it with
        on_standstill_applied or on_standstill_failed. REFUSED: the car's ranges exclude standing
        still; the controller's own stop (hold) still can."""
        if self._standstill_due is None or self._standstill is not None or now < self._standstill_not_before:
            return None
        trigger, self._standstill_due = self._standstill_due, None
        in_force = self.params.as_dict()
        try:
            self._check(STANDSTILL)
        except ParamError as error:
            return TuningEvent(now, self.instruction, trigger, Outcome.REFUSED,
                               f"the car's ranges exclude a standstill: {error}", None, path=UpdatePath.FAST_PATH_STOP)
        # Sent whole even where in force already: the values known here may be stale.
        update = ControllerUpdate(now, self.instruction, trigger, dict(STANDSTILL),
                                  {name: in_force[name] for name in STANDSTILL})
        self._standstill = update
        return TuningEvent(now, self.instruction, trigger, Outcome.SEND, f"stop intent {self.stop_phrase!r}", None,
                           update, UpdatePath.FAST_PATH_STOP)

    def on_standstill_applied(self, now: float) -> UpdateResult:
        update = self._take_standstill()
        if not self._replaced:  # a second stop keeps what the first replaced
            self._replaced = {name: value for name, value in update.previous.items() if value != STANDSTILL[name]}
        self.params = self.params.updated(update.changes)
        self.buffer.clear()
        self._clear_at = now + self.config.stop_settle_s
        self._end_round(now)
        return UpdateResult(now, update, True)

    def on_standstill_failed(self, reason: str, now: float) -> UpdateResult:
        """Not applied (refused, or no answer): while the instruction in force is a stop, it is sent
        again after a period."""
        update = self._take_standstill()
        if self.stop_phrase and self._standstill_due is None:
            self._standstill_due = update.trigger
            self._standstill_not_before = now + self.config.decision_period_s
        return UpdateResult(now, update, False, reason)

    def drop_instruction(self, now: float) -> None:
        """The tuning job out cannot be made after all (its prompt does not fit the model with the
        controller's ranges, which the caller read only now): its instruction is dropped, and
        nothing is judged or tuned until the next one."""
        job = self._finish(JobKind.TUNE)
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
        if job.kind == JobKind.TUNE and job.instruction_id == self._instruction_id and self._tune_trigger is None:
            self._tune_trigger = job.trigger
        self._not_before = now + self.config.decision_period_s

    # --- internals --------------------------------------------------------------------------
    def _judge_tuning(self, job: Job, tuning: Tuning, now: float) -> TuningEvent:
        def event(outcome: Outcome, reason: str, update: ControllerUpdate | None = None) -> TuningEvent:
            return TuningEvent(now, job.instruction, job.trigger, outcome, reason, tuning, update)

        if self.superseded(job):
            return event(Outcome.SUPERSEDED, "a new instruction arrived while the model was answering")
        if not tuning.update.found:
            return event(Outcome.NO_PARAMETERS, tuning.update.problem)
        in_force = self.params.as_dict()
        proposed = {**self._restored(), **tuning.update.changes}
        changes = {name: value for name, value in proposed.items() if value != in_force[name]}
        if not changes:
            if tuning.update.rejected:  # nothing left after the parser's gate
                return event(Outcome.REFUSED, "; ".join(item.reason for item in tuning.update.rejected))
            return event(Outcome.UNCHANGED, "the proposal equals the parameters in force")
        try:
            self._check(changes)
        except ParamError as error:
            return event(Outcome.REFUSED, str(error))
        previous = {name: in_force[name] for name in changes}
        return event(Outcome.SEND, "", ControllerUpdate(now, job.instruction, job.trigger, changes, previous))

    def _check(self, changes: Mapping[str, float]) -> None:
        """Raise ParamError unless `changes` lie in the effective ranges and, with the parameters in
        force, pass the cross rules: what the controller will check of the update."""
        effective = {spec.name: spec for spec in self.specs}
        for name, value in changes.items():
            effective[name].check(value)
        check_cross_rules({**self.params.as_dict(), **changes})

    def _end_round(self, now: float) -> None:
        """A tuning round is over: the next decision waits a period, doubled for every further
        "does not adhere" in a row."""
        wait = self.config.decision_period_s * 2.0 ** max(0, self._misses - 1)
        self._next_decision_at = now + min(self.config.max_backoff_s, wait)

    def _finish(self, kind: JobKind | None) -> Job:
        job = self._job
        if job is None or (kind is not None and job.kind != kind):
            raise Robotxr1Error(f"supervisor: a {kind or 'job'} result was reported, but the job out is {job}")
        self._job = None
        return job

    def _restored(self) -> dict[str, float]:
        """The values a standstill replaced, for the parameters still at standstill."""
        in_force = self.params.as_dict()
        return {name: value for name, value in self._replaced.items() if in_force[name] == STANDSTILL[name]}

    def _take_standstill(self) -> ControllerUpdate:
        update = self._standstill
        if update is None:
            raise Robotxr1Error("supervisor: a standstill result was reported, but none was sent")
        self._standstill = None
        return update

    def _take_update(self) -> ControllerUpdate:
        update = self._update
        if update is None:
            raise Robotxr1Error("supervisor: an update result was reported, but no update was sent")
        self._update = None
        return update
