"""The loop policy of the LLM (ROS-free, no sleeps: time is an argument)."""
from __future__ import annotations

import re
import threading
from itertools import pairwise

import pytest

from robotxr1_ros.control.param_limits import narrowed_specs
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.llm.answer_format import mpc_answer
from robotxr1_ros.llm.backends import Completion, ScriptedBackend
from robotxr1_ros.llm.decision import Decision, DecisionStatus
from robotxr1_ros.llm.module_pair import AnswerSettings
from robotxr1_ros.llm.prompts import InstructionError
from robotxr1_ros.llm.stop_intent import STANDSTILL, STOP_RULE
from robotxr1_ros.llm.supervisor import JobKind, Outcome, Supervisor, SupervisorConfig, Trigger, UpdatePath
from robotxr1_ros.llm.tuning import MPCxR1, tuning_from_text
from robotxr1_ros.params import PARAM_SPECS, PARAM_TABLE, MpcParams
from robotxr1_ros.samples import OdomSample

INSTRUCTION = "Reverse the car"
REVERSE = {"v_min": -2.0, "v_max": -0.5}
CONFIG = SupervisorConfig(window_s=1.0, min_coverage=0.9, decision_period_s=1.0, max_backoff_s=8.0)
RATE_HZ = 20


def feed(supervisor: Supervisor, start: float, end: float) -> None:
    """Odometry at RATE_HZ over [start, end]."""
    for k in range(round((end - start) * RATE_HZ) + 1):
        t = start + k / RATE_HZ
        supervisor.observe_odometry(OdomSample(t, t, 0.0, 0.0, 1.0, 0.0, 0.0))


def verdict(status: str) -> Decision:
    return Decision(INSTRUCTION, status, "scripted")


def proposal(supervisor: Supervisor, values: dict, instruction: str = INSTRUCTION):
    """A tuning as MPCxR1 returns it, parsed against the parameters in force."""
    text = mpc_answer("scripted", values)
    return tuning_from_text(instruction, Completion(text, 1, 1, 0.0), supervisor.params, supervisor.specs)


def tune_and_apply(supervisor: Supervisor, values: dict, now: float):
    job = supervisor.next_job(now)
    assert job is not None and job.kind == JobKind.TUNE, job
    event = supervisor.on_tuning(proposal(supervisor, values, job.instruction), now)
    if event.update is not None:
        supervisor.on_update_applied(now)
    return event


def next_decision(supervisor: Supervisor, start: float, end: float, step: float = 0.05):
    """Feed odometry step by step from `start`; return the time and the job of the first decision."""
    t = start
    while t <= end + 1e-9:
        feed(supervisor, t, t)
        job = supervisor.next_job(t)
        if job is not None:
            assert job.kind == JobKind.DECIDE
            return t, job
        t = round(t + step, 6)
    raise AssertionError(f"no decision between {start} and {end}")


def test_a_new_instruction_is_tuned_for_at_once_without_a_window():
    supervisor = Supervisor(CONFIG)
    assert supervisor.next_job(0.0) is None  # no instruction: nothing to judge
    feed(supervisor, 0.0, 0.2)
    supervisor.set_instruction("  Reverse\tthe car\n", 0.2)
    job = supervisor.next_job(0.2)
    assert (job.kind, job.trigger, job.instruction) == (JobKind.TUNE, Trigger.INSTRUCTION, INSTRUCTION)
    assert supervisor.busy and supervisor.next_job(0.2) is None  # one job at a time
    event = supervisor.on_tuning(proposal(supervisor, REVERSE), 0.3)
    assert event.outcome == Outcome.SEND and event.update.changes == REVERSE
    assert event.update.trigger == Trigger.INSTRUCTION


def test_an_update_carries_only_the_changed_parameters_against_those_in_force():
    supervisor = Supervisor(CONFIG)
    supervisor.observe_params(MpcParams(qv=50.0))  # an operator's `ros2 param set`
    supervisor.set_instruction("Keep away from the walls", 0.0)
    event = tune_and_apply(supervisor, {"track_safety_margin": 0.6, "qv": 50.0, "qn": 20.0}, 0.0)
    assert event.update.changes == {"track_safety_margin": 0.6}  # qv and qn are already in force
    assert event.update.previous == {"track_safety_margin": PARAM_SPECS["track_safety_margin"].default}
    assert supervisor.params == MpcParams(qv=50.0, track_safety_margin=0.6)


def test_an_identical_proposal_is_not_sent_again():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction(INSTRUCTION, 0.0)
    assert tune_and_apply(supervisor, REVERSE, 0.0).outcome == Outcome.SEND
    sent = 1
    t = 0.0
    for _ in range(4):  # the model keeps saying "does not adhere" and proposing the same
        t, _ = next_decision(supervisor, t, t + 20.0)
        supervisor.on_decision(verdict(DecisionStatus.DOES_NOT_ADHERE), t)
        event = tune_and_apply(supervisor, REVERSE, t)
        assert event.outcome == Outcome.UNCHANGED and event.update is None
        sent += event.update is not None
    assert sent == 1 and supervisor.params == MpcParams(**REVERSE)


def test_after_an_update_the_next_decision_waits_for_a_window_that_starts_after_it():
    supervisor = Supervisor(SupervisorConfig(window_s=1.0, min_coverage=0.9, decision_period_s=0.5))
    feed(supervisor, 0.0, 2.0)
    supervisor.set_instruction(INSTRUCTION, 2.0)
    tune_and_apply(supervisor, REVERSE, 2.0)
    assert supervisor.buffer.covered_s == 0.0
    t, job = next_decision(supervisor, 2.05, 6.0)
    assert t == pytest.approx(2.05 + 0.9)  # not at 2.5, when the period is over: the window was too short
    assert job.window.odometry[0].t > 2.0


def test_decisions_come_at_most_once_per_period_and_only_a_miss_leads_to_a_tuning():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction(INSTRUCTION, 0.0)
    assert tune_and_apply(supervisor, {}, 0.0).outcome == Outcome.UNCHANGED  # nothing proposed: nothing sent
    feed(supervisor, 0.0, 0.85)
    assert supervisor.next_job(1.0) is None  # the window covers 0.85 s < 0.9 s
    feed(supervisor, 0.9, 1.0)
    job = supervisor.next_job(1.0)
    assert job.kind == JobKind.DECIDE and job.trigger == "period"
    event = supervisor.on_decision(verdict(DecisionStatus.ADHERES), 1.0)
    assert (event.window_start, event.window_end) == (0.0, 1.0)
    feed(supervisor, 1.05, 1.95)
    assert supervisor.next_job(1.95) is None  # within the period
    assert supervisor.next_job(2.0).kind == JobKind.DECIDE
    supervisor.on_decision(verdict(DecisionStatus.NO_VERDICT), 2.0)
    feed(supervisor, 2.05, 3.0)
    assert supervisor.next_job(3.0).kind == JobKind.DECIDE  # no verdict: no tuning
    supervisor.on_decision(verdict(DecisionStatus.DOES_NOT_ADHERE), 3.0)
    job = supervisor.next_job(3.0)
    assert job.kind == JobKind.TUNE and job.trigger == Trigger.DECISION


def test_repeated_misses_back_off_until_adherence_or_a_new_instruction():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction(INSTRUCTION, 0.0)
    tune_and_apply(supervisor, REVERSE, 0.0)
    decided, t = [], 0.0
    for k in range(6):
        t, _ = next_decision(supervisor, t, t + 30.0)
        decided.append(t)
        supervisor.on_decision(verdict(DecisionStatus.DOES_NOT_ADHERE), t)
        assert tune_and_apply(supervisor, {"qv": 20.0 + k}, t).outcome == Outcome.SEND
    waits = [round(b - a, 2) for a, b in pairwise(decided)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]  # period, doubled per further miss, capped at max_backoff_s

    t, _ = next_decision(supervisor, t, t + 30.0)
    supervisor.on_decision(verdict(DecisionStatus.ADHERES), t)  # adherence resets the back-off
    t2, _ = next_decision(supervisor, t, t + 30.0)
    assert t2 == pytest.approx(t + 1.0)
    supervisor.on_decision(verdict(DecisionStatus.DOES_NOT_ADHERE), t2)
    tune_and_apply(supervisor, {"qv": 50.0}, t2)
    t3, _ = next_decision(supervisor, t2, t2 + 30.0)
    supervisor.on_decision(verdict(DecisionStatus.DOES_NOT_ADHERE), t3)
    supervisor.set_instruction("Drive forward", t3)  # a new instruction resets it too
    job = supervisor.next_job(t3)
    assert job.kind == JobKind.TUNE and job.trigger == Trigger.INSTRUCTION
    supervisor.on_tuning(proposal(supervisor, {"qv": 60.0}, job.instruction), t3)
    supervisor.on_update_applied(t3)
    t4, _ = next_decision(supervisor, t3, t3 + 30.0)
    assert t4 == pytest.approx(t3 + 1.0)


def test_a_new_instruction_supersedes_the_answer_in_progress():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction(INSTRUCTION, 0.0)
    job = supervisor.next_job(0.0)
    assert not supervisor.superseded(job)
    supervisor.set_instruction("Drive forward", 0.5)
    assert supervisor.superseded(job)  # the node stops the model's answer here
    event = supervisor.on_tuning(proposal(supervisor, REVERSE, job.instruction), 1.0)
    assert event.outcome == Outcome.SUPERSEDED and event.update is None
    job = supervisor.next_job(1.0)
    assert (job.kind, job.instruction, job.trigger) == (JobKind.TUNE, "Drive forward", Trigger.INSTRUCTION)


def test_refused_and_empty_proposals_send_nothing():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction("Drive slowly", 0.0)
    job = supervisor.next_job(0.0)
    tuning = proposal(supervisor, {"v_max": 2.0}, job.instruction)  # valid against the parameters in force ...
    supervisor.observe_params(MpcParams(v_min=3.0, v_max=12.0))  # ... until an operator raised v_min
    event = supervisor.on_tuning(tuning, 0.1)
    assert event.outcome == Outcome.REFUSED and event.update is None
    assert re.search(r"v_max=2(\.0)? must be >= v_min=3", event.reason)
    outcomes = []
    for now, answer in ((0.2, "I would rather not say."), (0.3, mpc_answer("x", {"v_min": 3.5, "v_max": 2.0}))):
        supervisor.set_instruction("Drive slowly", now)
        supervisor.next_job(now)
        tuning = tuning_from_text("Drive slowly", Completion(answer, 1, 1, 0.0), supervisor.params)
        event = supervisor.on_tuning(tuning, now)
        assert event.update is None and event.reason
        outcomes.append(event.outcome)
    assert outcomes == [Outcome.NO_PARAMETERS, Outcome.REFUSED]
    assert "inconsistent parameter set" in event.reason  # refused whole
    assert not supervisor.busy and supervisor.params == MpcParams(v_min=3.0, v_max=12.0)


def test_a_failed_update_or_job_is_retried_after_a_period():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction(INSTRUCTION, 0.0)
    supervisor.next_job(0.0)
    supervisor.on_job_failed(0.0)  # e.g. the model server is down
    assert supervisor.next_job(0.5) is None
    job = supervisor.next_job(1.0)
    assert job.kind == JobKind.TUNE and job.trigger == Trigger.INSTRUCTION
    event = supervisor.on_tuning(proposal(supervisor, REVERSE), 1.0)
    result = supervisor.on_update_failed("the controller refused the update: v_max out of range", 1.1)
    assert not result.applied and result.update is event.update and supervisor.params == MpcParams()
    with pytest.raises(Robotxr1Error):
        supervisor.on_update_applied(1.2)  # nothing is out
    supervisor.set_instruction(INSTRUCTION, 2.0)
    supervisor.next_job(2.0)
    supervisor.on_tuning(proposal(supervisor, REVERSE), 2.0)
    supervisor.on_job_failed(2.1)  # sending raised: the update's fate is unknown
    assert not supervisor.busy and supervisor.params == MpcParams()


def test_instructions_are_cleaned_and_bounded():
    supervisor = Supervisor(CONFIG)
    assert supervisor.set_instruction("Reverse\x00 the\x1b car\u0085", 0.0) == INSTRUCTION
    for bad in ("", " \n\t", "x" * 501):
        with pytest.raises(InstructionError):
            supervisor.set_instruction(bad, 1.0)
    assert supervisor.instruction == INSTRUCTION
    assert supervisor.set_instruction("x" * 500, 1.0) == "x" * 500


def test_bad_configuration_is_refused():
    with pytest.raises(Robotxr1Error):
        SupervisorConfig(decision_period_s=0.0)
    with pytest.raises(Robotxr1Error):
        SupervisorConfig(decision_period_s=10.0, max_backoff_s=5.0)


def test_an_instruction_dropped_at_its_tuning_leaves_the_supervisor_idle_until_the_next():
    """The node drops an instruction whose tuning prompt does not fit once the controller's ranges
    are read: no tuning is retried and nothing is judged until a new instruction arrives."""
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction(INSTRUCTION, 0.0)
    assert supervisor.next_job(0.0).kind == JobKind.TUNE
    supervisor.drop_instruction(0.1)
    assert supervisor.instruction == "" and not supervisor.busy
    feed(supervisor, 0.0, 5.0)
    assert supervisor.next_job(5.0) is None
    supervisor.set_instruction("Drive forward", 5.0)
    assert supervisor.next_job(5.0).instruction == "Drive forward"


# --- a stop's fast path ------------------------------------------------------------------------

def slow_tuner(release: threading.Event) -> MPCxR1:
    """MPCxR1 on a scripted model whose answer takes until `release` is set (a model call of 1-2 s
    on the car; here as long as the test needs, and it cannot be cancelled)."""
    def answer(messages) -> str:
        assert release.wait(30.0), "the test never released the model"
        return mpc_answer("scripted", {"v_max": 1.0})  # what a model once answered to "Stop the car"

    return AnswerSettings().tuning(ScriptedBackend(answer))


def test_a_stop_goes_out_at_once_while_a_slow_model_call_is_in_progress():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction("Drive forward", 0.0)
    job = supervisor.next_job(0.0)
    release, answers = threading.Event(), []
    tuner = slow_tuner(release)
    worker = threading.Thread(target=lambda: answers.append(tuner.tune(job.instruction, supervisor.params)))
    worker.start()  # as the node's inference worker does
    try:
        supervisor.set_instruction("Stop the car!", 0.1)
        event = supervisor.standstill(0.1)
        assert worker.is_alive() and not answers  # the model is still answering: the stop did not wait for it
        assert (event.path, event.outcome, event.trigger, event.tuning) == (
            UpdatePath.FAST_PATH_STOP, Outcome.SEND, Trigger.INSTRUCTION, None)
        assert event.update.changes == STANDSTILL and event.update.previous == {"v_min": 1.0, "v_max": 12.0}
        assert "'stop'" in event.reason and event.as_dict()["path"] == "fast path: stop"
        assert supervisor.standstill(0.1) is None  # one out at a time
        assert supervisor.next_job(0.1) is None
        supervisor.on_standstill_applied(0.12)
        assert supervisor.params == MpcParams(v_min=0.0, v_max=0.0)
    finally:
        release.set()
        worker.join()
    late = supervisor.on_tuning(answers[0], 1.5)  # the model's answer for the replaced instruction
    assert late.outcome == Outcome.SUPERSEDED and late.update is None
    assert supervisor.params == MpcParams(v_min=0.0, v_max=0.0)


def test_a_model_update_not_yet_sent_when_a_stop_arrives_is_not_sent():
    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction("Drive forward", 0.0)
    job = supervisor.next_job(0.0)
    event = supervisor.on_tuning(proposal(supervisor, {"v_max": 3.0}, job.instruction), 0.5)
    assert event.outcome == Outcome.SEND and supervisor.update_current()
    supervisor.set_instruction("Halt", 0.6)  # before the node sent the update
    assert not supervisor.update_current()
    stop = supervisor.standstill(0.6)
    assert stop.outcome == Outcome.SEND
    supervisor.on_update_failed("a new instruction arrived before it was sent: not sent", 0.6)
    supervisor.on_standstill_applied(0.62)
    assert supervisor.params == MpcParams(v_min=0.0, v_max=0.0)


def test_a_stop_is_never_tuned_and_is_confirmed_by_the_dont_move_rule_after_the_car_braked():
    supervisor = Supervisor(CONFIG)  # stop_settle_s 1.5 s, windows of 1 s covering 0.9 s
    feed(supervisor, 0.0, 1.0)
    supervisor.set_instruction("Emergency stop", 1.0)
    supervisor.standstill(1.0)
    supervisor.on_standstill_applied(1.0)
    t, job = next_decision(supervisor, 1.0, 10.0)
    braked = 1.0 + 1.5  # a window that starts once the car has braked, and covers 0.9 s
    assert job.instruction == STOP_RULE and job.window.odometry[0].t >= braked
    assert braked + 0.9 <= t <= braked + 0.9 + 0.05 + 1e-9  # odometry every 0.05 s
    supervisor.on_decision(Decision(STOP_RULE, DecisionStatus.DOES_NOT_ADHERE, "scripted"), t)
    assert supervisor.next_job(t) is None  # never the model's to tune ...
    again = supervisor.standstill(t)  # ... the standstill set again
    assert again.trigger == Trigger.DECISION and again.update.changes == STANDSTILL and again.tuning is None
    supervisor.on_standstill_applied(t)
    _, job = next_decision(supervisor, t, t + 10.0)
    assert job.instruction == STOP_RULE and job.window.odometry[0].t >= t + 1.5


def test_after_a_stop_the_next_instruction_starts_from_the_speeds_it_replaced():
    supervisor = Supervisor(CONFIG)
    supervisor.observe_params(MpcParams(v_max=5.0))
    supervisor.set_instruction("Stop", 0.0)
    supervisor.standstill(0.0)
    supervisor.on_standstill_applied(0.0)
    supervisor.set_instruction("Halt!", 0.5)  # a second stop keeps what the first replaced
    supervisor.standstill(0.5)
    supervisor.on_standstill_applied(0.5)
    supervisor.set_instruction("Drive forward", 1.0)
    job = supervisor.next_job(1.0)
    assert job.kind == JobKind.TUNE and supervisor.tuning_base() == MpcParams(v_max=5.0)
    tuning = tuning_from_text(job.instruction, Completion(mpc_answer("x", {"qv": 20.0}), 1, 1, 0.0),
                              supervisor.tuning_base(), supervisor.specs)
    event = supervisor.on_tuning(tuning, 1.0)  # the model named no speed: the car still drives again
    assert event.update.changes == {"qv": 20.0, "v_min": 1.0, "v_max": 5.0}
    supervisor.on_update_applied(1.1)
    assert supervisor.params == MpcParams(v_max=5.0, qv=20.0) == supervisor.tuning_base()

    supervisor.set_instruction("Freeze", 2.0)
    supervisor.standstill(2.0)
    supervisor.on_standstill_applied(2.0)
    supervisor.observe_params(MpcParams(v_min=0.0, v_max=3.0, qv=20.0))  # an operator set v_max meanwhile
    assert supervisor.tuning_base() == MpcParams(v_min=1.0, v_max=3.0, qv=20.0)  # it stays


def test_a_stop_the_cars_ranges_exclude_is_refused_and_a_failed_one_is_sent_again():
    narrowed = narrowed_specs({"v_max": [0.5, 8.0]})
    supervisor = Supervisor(CONFIG, MpcParams(v_max=8.0), [narrowed[spec.name] for spec in PARAM_TABLE])
    supervisor.set_instruction("Stop the car", 0.0)
    event = supervisor.standstill(0.0)
    assert event.outcome == Outcome.REFUSED and event.update is None and "v_max=0.0 is outside" in event.reason
    assert supervisor.standstill(0.0) is None

    supervisor = Supervisor(CONFIG)
    supervisor.set_instruction("Stop the car", 0.0)
    sent = supervisor.standstill(0.0)
    result = supervisor.on_standstill_failed("set_parameters_atomically did not answer within 5.0 s", 5.0)
    assert not result.applied and result.update is sent.update and supervisor.params == MpcParams()
    assert supervisor.standstill(5.5) is None  # after a period
    assert supervisor.standstill(6.0).update.changes == STANDSTILL
    with pytest.raises(Robotxr1Error):
        supervisor.on_update_applied(6.0)  # the standstill is not a model update
