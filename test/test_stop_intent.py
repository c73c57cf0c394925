"""Which instructions take the stop's fast path (ROS-free): plain stops do, negations, conditions,
ceasing a behaviour and stops followed by something else do not; and the standstill set is the
behaviour catalog's "stopped", which the controller accepts and which caps every command at zero."""
from __future__ import annotations

import pytest

from robotxr1_ros.cases.control import CONTROL_CASES
from robotxr1_ros.cases.decision import DECISION_RULES
from robotxr1_ros.control.param_limits import ParamLimits
from robotxr1_ros.control.safety_filter import SafetyFilter
from robotxr1_ros.llm.stop_intent import STANDSTILL, STOP_RULE, is_stop, stop_phrase
from robotxr1_ros.params import MpcParams

STOPS = {  # instruction -> the stop phrase recognised
    "Stop": "stop",
    "Stop the car": "stop",
    "STOP!!!": "stop",
    "stop stop stop": "stop",
    "Stop! Stop!": "stop",
    "Please stop the vehicle now.": "stop",
    "Can you stop?": "stop",
    "Stop it right now": "stop",
    "Emergency stop!": "emergency stop",
    "E-stop": "e stop",
    "Halt!": "halt",
    "Halt and do not drive.": "halt",
    "Freeze!": "freeze",
    "Stand still.": "stand still",
    "Hold still, please": "hold still",
    "Stay where you are.": "stay where you are",
    "Stay put": "stay put",
    "Hold your position": "hold your position",
    "Don't move": "don't move",
    "dont move!": "don't move",
    "Don\u2019t move": "don't move",  # typographic apostrophe
    "Do not drive": "do not drive",
    "Stop moving": "stop moving",
    "Stop driving immediately": "stop driving",
    "Brake to a stop": "brake to a stop",
    "Please come to a complete stop": "come to a complete stop",
    "Slow down to a standstill": "slow down to a standstill",
    "Come to a halt here": "come to a halt",
    "Park the car and wait.": "park",
    "Stop the car and wait for further instructions": "stop",
    "Stop oscillating and stand still": "stand still",  # ceasing a behaviour may come with a stop
    "Stop. Now!": "stop",
    "\U0001f6d1 Stop the car \U0001f6d1": "stop",
}
NOT_STOPS = (
    "Don't stop",
    "Do not stop the car",
    "Never stop",
    "Keep moving, don't stop",
    "Drive non-stop",
    "No stopping on the racing line",
    "Stop oscillating",  # cease a behaviour: "stop <verb>ing" is not standing still ...
    "Stop reversing",
    "Stop swerving so much",
    "Stop hugging the wall",
    "Stop driving so fast",  # ... nor is "stop driving" with more to say
    "Stop going backwards",
    "Stop at the finish line",  # a condition or a place: the model reads it
    "Stop if you see a wall",
    "Drive until I say stop",
    "Stop, then reverse",  # a stop followed by something else
    "Stop and reverse",
    "Stop reversing and drive forward",
    "Halt the oscillation",
    "Slow down",
    "Brake harder in the corners",
    "Why did you stop?",
    "Don't move so much",
    "Don't freeze in the corners",
    "Park on the left side of the track",
    "Wait",
    "Now.",
    "Drive forward",
)


@pytest.mark.parametrize(("instruction", "phrase"), STOPS.items())
def test_plain_stops_take_the_fast_path(instruction, phrase):
    assert stop_phrase(instruction) == phrase and is_stop(instruction)


@pytest.mark.parametrize("instruction", NOT_STOPS)
def test_negations_conditions_and_ceasing_a_behaviour_go_to_the_model(instruction):
    assert stop_phrase(instruction) == "" and not is_stop(instruction)


def test_the_catalogs_stop_is_a_stop_and_no_other_case_is():
    stop_rule = DECISION_RULES[STOP_RULE]
    assert all(is_stop(text) for text in (STOP_RULE, *stop_rule.restatements))
    others = [text for instruction, rule in DECISION_RULES.items() if instruction != STOP_RULE
              for text in (instruction, *rule.restatements, *(variant.text for variant in rule.variants))]
    others += [text for name, case in CONTROL_CASES.items() if name != "stop" for text in (*case.train, *case.eval)]
    assert len(others) > 50 and not [text for text in others if is_stop(text)]


def test_the_standstill_set_is_the_stopped_behaviour_and_the_controller_accepts_it():
    stopped = DECISION_RULES[STOP_RULE].behaviour
    assert STANDSTILL == {"v_min": 0.0, "v_max": 0.0}
    assert stopped is not None and stopped.params == MpcParams().updated(STANDSTILL)
    limits = ParamLimits.create()
    for start in (MpcParams(), MpcParams(v_min=-2.0, v_max=-1.0), MpcParams(v_min=4.0, v_max=15.0, a_min=-1.0)):
        held = limits.update(start, STANDSTILL)  # any set in force: the cross rules and the brake floor pass
        assert held.a_min == start.a_min <= limits.brake_floor
        safety = SafetyFilter(0.025)
        assert safety.apply(7.0, 0.0, held).speed == 0.0  # whatever the MPC says, the command is zero at once
        assert safety.apply(-3.0, 0.0, held).speed == 0.0
