"""Instruction-aware facts in the decision prompt (cases/facts.py, behind the `facts` setting) and
the decision rules of the open intents (slower than, reversing at a speed, smooth): their labels,
their facts line for several units, the open intents' words only with facts, and the prompt
without facts byte-identical to the one the earlier decision adapters were trained on."""
import hashlib
import json

from robotxr1_ros.cases.decision import DECISION_RULES, decision_instructions, label, rule_instructions
from robotxr1_ros.cases.facts import speed_facts
from robotxr1_ros.cases.hints import HINTS_FILE, hints_file_text
from robotxr1_ros.cases.summary import WindowSummary
from robotxr1_ros.cli import build_parser
from robotxr1_ros.commands.model_options import answer_settings
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.decision import DecisionxR1, decision_prompt
from robotxr1_ros.llm.features import features_from_record
from robotxr1_ros.llm.module_pair import AnswerSettings
from robotxr1_ros.llm.node_config import LlmNodeConfig
from robotxr1_ros.training.sft_data import decision_examples

FAST = {"time": 2.5, "data_samples": 6, "s_pos": [0, 1, 2, 3, 4, 5], "d_pos": [0.1, -0.2, 0.3, -0.1, 0.05, 0.2],
        "s_speed": [6.0, 6.1, 5.9, 6.05, 6.0, 6.07], "d_speed": [0.1, -0.1, 0.2, 0.0, 0.1, -0.05],
        "d_left": [0.9, 1.0, 0.8, 1.1, 1.0, 0.9], "d_right": [1.1, 1.0, 1.2, 0.9, 1.0, 1.1],
        "reversing": False, "crashed": False, "facing_wall": False}

# The prompts of the code before the facts existed (computed by it for FAST, sha256 of the JSON of the messages).
BEFORE = {
    "Drive faster than 3 m/s": "04d780f68d76657c7b0fbe99c5f387537d6bb3820bc671768f65141fcafc0a2c",
    "Drive slower than 10 km/h": "198b2101e365ad1d075ca80cc90905815ab1d611e814e62e0c2661ef0a99aab2",
    "Drive on the centerline": "329aeaeee109a48b5a458f79befd08cc3e925aaaba7d374e99478b98c48e920c",
    "Reverse at three metres per second": "8393e952861e2ec41eedadc54bf0a0b6395f81a24cbd2acbec998d190e6c4ae0",
}
BEFORE_USER = (
    "Hints:\n- To judge a speed request, compare the mean s_speed with the requested speed in m/s.\n- Oscillating "
    "means d_pos changes sign more than once and reaches at least 0.3 m in magnitude.\n- A wall closer than 0.4 m "
    "(d_left or d_right) is close to the car.\n\nInstruction: Drive faster than 3 m/s\n\nCar state over the last "
    "2.5 s (6 samples):\ns_speed: [6.0,6.1,5.9,6.0,6.0,6.1] m/s, mean 6.02: moving forward\nd_pos: mean 0.06 m, max "
    "|d_pos| 0.30 m, 4 sign changes: on the racing line, swinging across it\nd_speed: mean |d_speed| 0.09 m/s\n"
    "walls: mean d_left 0.95 m, mean d_right 1.05 m, max |d_left - d_right| 0.40 m: close to neither wall, not on "
    "the centerline\nreversing: False, crashed: False, facing_wall: False\nInstruction, again: Drive faster than "
    "3 m/s\nIs the car doing it?")


def _record(speeds, d_left=(1.0,) * 5, d_right=(1.0,) * 5, d_speed=(0.0,) * 5):
    n = len(speeds)
    return {"time": 2.0, "data_samples": n, "s_pos": [float(i) for i in range(n)], "d_pos": [0.0] * n,
            "s_speed": list(speeds), "d_speed": list(d_speed), "d_left": list(d_left), "d_right": list(d_right),
            "reversing": sum(speeds) / n < -0.1, "crashed": False, "facing_wall": False}


def _sha(messages):
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


def test_the_default_prompt_is_byte_identical_to_before():
    state = features_from_record(FAST)
    assert decision_prompt("Drive faster than 3 m/s", state)[1]["content"] == BEFORE_USER
    for instruction, digest in BEFORE.items():
        assert _sha(decision_prompt(instruction, state)) == digest, instruction
        assert _sha(decision_prompt(instruction, state, facts=False)) == digest, instruction
    # A decider built by hand asks without facts; the car's settings ask with them, as the shipped
    # decision adapter was trained (the node, the CLI and the YAML say so alike).
    assert not DecisionxR1(ScriptedBackend([])).facts
    assert AnswerSettings().decision_facts and LlmNodeConfig().decision_facts
    assert build_parser().parse_args(["eval", "decision"]).decision_facts
    assert not build_parser().parse_args(["eval", "decision", "--no-decision-facts"]).decision_facts


def _state_lines(instruction, record=FAST):
    """The lines of the state text after its five own, with facts."""
    user = decision_prompt(instruction, features_from_record(record), facts=True)[1]["content"]
    state = user.split("samples):\n", 1)[1].split("\nInstruction, again:", 1)[0]
    return state.split("\n")[5:]


def test_the_facts_place_the_mean_speed_against_the_speed_named_in_any_unit():
    assert _state_lines("Drive faster than 3 m/s") == ["asked 3 m/s: mean s_speed 6.02 is above it"]
    assert _state_lines("Drive slower than 10 km/h") == ["asked 2.78 m/s: mean s_speed 6.02 is above it"]
    assert _state_lines("Keep it under three metres per second") == ["asked 3 m/s: mean s_speed 6.02 is above it"]
    assert _state_lines("Drive faster than 20 mph") == ["asked 8.94 m/s: mean s_speed 6.02 is below it"]
    assert _state_lines("Drive on the centerline") == []  # no speed named: no line (the words say the window)
    assert _state_lines("Go 2 km/h faster") == []  # a change names no target
    assert _state_lines("Hold 5-7 m/s") == ["asked 5 m/s: mean s_speed 6.02 is above it",
                                            "asked 7 m/s: mean s_speed 6.02 is below it"]
    backwards = _record([-1.1, -1.0, -1.2, -1.0, -1.1])
    assert _state_lines("Reverse at 1 m/s", backwards) == \
        ["asked 1 m/s: mean s_speed -1.08 is below it, backwards within 0.3 of it"]
    assert _state_lines("Reverse at 2.5 m/s", backwards)[0].endswith("backwards not within 0.3 of it")


def test_the_prompt_with_facts_says_smooth_or_not_only_of_a_car_moving_forward():
    def speed_line(record, facts):
        user = decision_prompt("Drive smoothly", features_from_record(record), facts=facts)[1]["content"]
        return user.split("samples):\n", 1)[1].split("\n", 1)[0]

    steady = _record([2.0, 2.1, 2.2, 2.1, 2.0])  # 0.4 m/s^2 at most
    jerky = _record([2.0, 3.0, 2.0, 3.0, 2.0])  # 2 m/s^2
    assert speed_line(steady, facts=True).endswith(": moving forward, smooth")
    assert speed_line(jerky, facts=True).endswith(": moving forward, not smooth")
    assert speed_line(jerky, facts=False).endswith(": moving forward")  # as the earlier adapters read it
    assert speed_line(_record([-1.0] * 5), facts=True).endswith(": moving backwards")
    assert label("Drive smoothly", steady) and not label("Drive smoothly", jerky)
    swerving = _record([2.0] * 5, d_speed=[0.5, -0.5, 0.5, -0.5, 0.5])
    assert not label("Drive smoothly", swerving) and not label("Drive smoothly", _record([0.0] * 5))


def test_a_speed_equal_to_the_one_asked_is_neither_above_nor_below():
    assert speed_facts("Drive faster than 3 m/s", WindowSummary({"s_speed": [2.9, 3.1]})) == \
        ["asked 3 m/s: mean s_speed 3.00 is equal to it"]


def test_the_open_intents_rules_label_slower_than_and_reversing_at_a_speed():
    slower = DECISION_RULES["Go slower than 3 m/s"].adheres
    assert [slower(WindowSummary({"s_speed": [v] * 3})) for v in (2.0, 3.0, 6.0, -2.0)] == [True, False, False, True]
    variants = {variant.text: variant.adheres for variant in DECISION_RULES["Go slower than 3 m/s"].variants}
    assert variants["Go slower than 1.5 m/s"](WindowSummary({"s_speed": [1.4] * 3}))
    assert not variants["Go slower than 1.5 m/s"](WindowSummary({"s_speed": [1.6] * 3}))
    reverse = DECISION_RULES["Reverse at 1 m/s"].adheres
    cases = {-1.0: True, -1.3: True, -0.7: True, -1.35: False, -0.5: False, 1.0: False, 0.0: False}
    for speed, expected in cases.items():
        assert reverse(WindowSummary({"s_speed": [speed] * 3})) is expected, speed
    variants = {variant.text: variant.adheres for variant in DECISION_RULES["Reverse at 1 m/s"].variants}
    assert variants["Reverse at 2 m/s"](WindowSummary({"s_speed": [-2.1] * 3}))
    assert not variants["Reverse at 2 m/s"](WindowSummary({"s_speed": [-1.0] * 3}))
    # "Stop" has its rule already: "Don't move".
    assert label("Don't move", _record([0.02, -0.01, 0.0, 0.01, 0.0]))


def test_the_open_intents_rules_are_trained_but_not_scored_and_change_no_default_prompt():
    assert {"Go slower than 3 m/s", "Reverse at 1 m/s", "Drive smoothly"} <= set(rule_instructions())
    assert len(decision_instructions()) == 8 and set(decision_instructions()) < set(rule_instructions())
    for instruction in set(rule_instructions()) - set(decision_instructions()):
        rule = DECISION_RULES[instruction]
        assert rule.hint is None and rule.behaviour is None, instruction  # words: with facts only (above)
    assert hints_file_text(HINTS_FILE.read_text(encoding="utf-8")) == HINTS_FILE.read_text(encoding="utf-8")
    examples = [e for seed in range(6) for e in decision_examples([_record([2.0] * 5)], others=9, seed=seed)]
    assert {e.meta["rule"] for e in examples} == set(rule_instructions())


def test_the_facts_setting_reaches_the_prompt_from_every_door():
    state = features_from_record(FAST)
    with_facts = decision_prompt("Drive faster than 3 m/s", state, facts=True)
    assert DecisionxR1(ScriptedBackend([]), facts=True).messages("Drive faster than 3 m/s", state) == with_facts
    assert AnswerSettings(decision_facts=True).decision(ScriptedBackend([])).facts
    assert AnswerSettings.of_node(LlmNodeConfig(decision_facts=True)).decision_facts
    args = build_parser("ask").parse_args(["ask", "--instruction", "Drive forward", "--decision-facts"])
    assert answer_settings(args).decision_facts
    record = {**_record([2.0] * 5), "behaviour": "forward"}
    shown = [e.messages[1]["content"] for e in decision_examples([record], others=9, facts=True)]
    assert all(": moving forward, smooth\n" in text for text in shown)
    assert any("\nasked 3 m/s: mean s_speed 2.00 is below it\n" in text for text in shown)
