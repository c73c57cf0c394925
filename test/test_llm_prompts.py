"""Prompts, grammars, retrieval and the data files behind them (no model needed)."""
import re
from dataclasses import replace

import numpy as np
import pytest

from robotxr1_ros.cases.control import CONTROL_CASES, eval_phrasings, parse_reference_speed, scored_cases
from robotxr1_ros.llm.features import StateFeatures
from robotxr1_ros.llm.grammar import decision_grammar, mpc_grammar
from robotxr1_ros.llm.prompts import (
    MAX_INSTRUCTION_CHARS,
    TEMPLATE_DIR,
    InstructionError,
    decision_messages,
    mpc_messages,
    mpc_system_prompt,
    parameter_table_text,
    require_instruction,
)
from robotxr1_ros.llm.retrieval import Bm25Retriever, Passage, load_hints, load_memories, tokenize
from robotxr1_ros.params import DEFAULT_SPECS, PARAM_NAMES, PARAM_SETS, PARAM_SPECS, PARAM_TABLE, set_specs

STATE = StateFeatures(time=2.0, data_samples=5, s_pos=(1.0, 1.5, 2.0, 2.5, 3.0), d_pos=(0.1, 0.12, 0.1, 0.08, 0.1),
                      s_speed=(-1.0, -1.1, -0.9, -1.0, -1.0), d_speed=(0.0,) * 5, d_left=(1.2,) * 5,
                      d_right=(1.4,) * 5, reversing=True, crashed=False, facing_wall=False)


def test_templates_never_retype_parameter_names():
    for path in TEMPLATE_DIR.glob("*.txt"):
        words = set(re.findall(r"[A-Za-z_]+", path.read_text()))
        assert not words & set(PARAM_NAMES), f"{path.name} names parameters; generate them from PARAM_TABLE"


@pytest.mark.parametrize("param_set", sorted(PARAM_SETS))
def test_parameter_table_text_is_generated_from_the_table(param_set):
    assert parameter_table_text() == parameter_table_text(DEFAULT_SPECS)
    specs = set_specs(param_set)
    lines = parameter_table_text(specs).splitlines()
    assert len(lines) == len(PARAM_SETS[param_set])
    for line, spec in zip(lines, specs, strict=True):
        assert line.startswith(f"- {spec.name}: {spec.meaning}")
        assert f"{spec.minimum:g} to {spec.maximum:g}, default {spec.default:g}" in line


def test_mpc_prompt_static_prefix_and_dynamic_part():
    reverse = mpc_messages("Drive in reverse.", ["A negative v_min allows reversing."])
    smooth = mpc_messages("Drive smoothly.")
    assert reverse[0] == smooth[0] == {"role": "system", "content": mpc_system_prompt()}
    assert parameter_table_text() in reverse[0]["content"] and "${" not in reverse[0]["content"]
    assert "<answer>new_mpc_params = {" in reverse[0]["content"]
    assert reverse[1]["content"].endswith("Instruction: Drive in reverse.")
    assert "- A negative v_min allows reversing." in reverse[1]["content"]
    assert smooth[1]["content"] == "Instruction: Drive smoothly."


def test_decision_prompt_carries_state_hints_and_instruction():
    messages = decision_messages("Reverse the car", STATE, ["Negative s_speed means backwards."])
    assert messages[0] == decision_messages("Stop", STATE)[0]  # static system prompt
    user = messages[1]["content"]
    assert "Hints:\n- Negative s_speed means backwards." in user and "Instruction: Reverse the car" in user
    assert "s_speed: [-1.0,-1.1,-0.9,-1.0,-1.0] m/s, mean -1.00: moving backwards" in user
    assert "d_pos: mean 0.10 m, max |d_pos| 0.12 m, 0 sign changes: on the racing line, not swinging across it" in user
    assert "max |d_left - d_right| 0.20 m: close to neither wall, on the centerline" in user
    assert "reversing: True, crashed: False" in user
    assert "over the last 2.0 s (5 samples)" in user and "${" not in user
    # The state last: what stays the same between decisions (hints, instruction) stays in the KV cache.
    assert user.index("Hints:") < user.index("Instruction: ") < user.index("s_speed:")


@pytest.mark.parametrize("changes, words", [
    ({"s_speed": (0.05, -0.05, 0.0, 0.02, 0.0), "d_speed": (0.05,) * 5}, "standing still"),
    ({"s_speed": (0.05,) * 5, "d_speed": (0.3,) * 5}, "barely moving"),
    ({"d_pos": (0.4, -0.3, 0.2, -0.1, 0.1)}, "4 sign changes: on the racing line, swinging across it"),
    ({"d_pos": (0.29, -0.2, 0.2, -0.1, 0.1)}, "not swinging across it"),  # crossings, but never 0.3 m out
    ({"d_pos": (0.35,) * 5}, "0 sign changes: off the racing line"),
    ({"d_left": (0.3,) * 5, "d_right": (2.0,) * 5}, "close to the left wall, not on the centerline"),
    ({"d_left": (0.3,) * 5, "d_right": (0.35,) * 5},
     "close to the left wall, close to the right wall, on the centerline"),
])
def test_decision_state_says_what_its_numbers_mean_in_the_hints_words(changes, words):
    user = decision_messages("Oscillate!", replace(STATE, **changes))[1]["content"]
    assert words in user


def test_empty_instructions_are_refused():
    with pytest.raises(InstructionError, match="empty"):
        mpc_messages("   \n")
    with pytest.raises(ValueError):
        decision_messages("", STATE)


def test_instructions_lose_control_characters_and_are_bounded():
    assert require_instruction("Drive\x00 on the\r\ncenter\x1b[31mline\x7f ") == "Drive on the center [31mline"
    assert require_instruction("\x08\t" + "a" * MAX_INSTRUCTION_CHARS) == "a" * MAX_INSTRUCTION_CHARS
    with pytest.raises(InstructionError, match="at most 500"):
        require_instruction("a" * (MAX_INSTRUCTION_CHARS + 1))
    with pytest.raises(InstructionError, match="empty"):
        require_instruction("\x00\x01\x1f")
    with pytest.raises(InstructionError):
        mpc_messages("x " * 20_000)


@pytest.mark.parametrize("given, used", [
    ("Re\u200bverse\u202e the\u2028car\ufeff", "Reverse the car"),  # zero-width space, RTL override, separator, BOM
    ("Go \U0001F697\ufe0f fast\u00ad", "Go \U0001F697 fast"),  # variation selector, soft hyphen
    ("\U000F0001Stop\u2060\u3164", "Stop"),  # private use, word joiner, Hangul filler
    ("Caf\u00e9 e\u0301", "Caf\u00e9 e\u0301"),  # accents, composed or combining, stay
])
def test_instructions_lose_invisible_characters(given, used):
    assert require_instruction(given) == used


@pytest.mark.parametrize("invisible", ["\u200b", "\u202e", "\u200b\u200d\ufeff\u2060 \ufe0f", "\u2800\u3164"])
def test_an_instruction_of_invisible_characters_only_is_refused_naming_them(invisible):
    with pytest.raises(InstructionError, match=r"empty: it holds only invisible or control characters \(U\+"):
        require_instruction(invisible)


def test_the_mpc_prompt_shows_the_effective_ranges():
    narrowed = tuple(replace(spec, minimum=-1.0, maximum=5.0) if spec.name == "v_max" else spec for spec in PARAM_TABLE)
    system = mpc_messages("Slow down", specs=narrowed)[0]["content"]
    assert parameter_table_text(narrowed) in system and ", -1 to 5, default" in system
    assert system != mpc_system_prompt()


def _rules(grammar):
    rules = {}
    for line in grammar.strip().splitlines():
        name, _, body = line.partition(" ::= ")
        rules[name] = body
    return rules


@pytest.mark.parametrize("grammar", [mpc_grammar(), decision_grammar()])
def test_grammars_define_every_rule_they_use(grammar):
    rules = _rules(grammar)
    assert "root" in rules
    for body in rules.values():
        bare = re.sub(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]', " ", body)  # drop literals and classes
        for name in re.findall(r"[A-Za-z][A-Za-z0-9-]*", bare):
            assert name in rules, f"rule {name} is used but not defined"


@pytest.mark.parametrize("param_set", sorted(PARAM_SETS))
def test_mpc_grammar_is_generated_from_the_table(param_set):
    assert mpc_grammar() == mpc_grammar(DEFAULT_SPECS)
    names = PARAM_SETS[param_set]
    rules = _rules(mpc_grammar(set_specs(param_set)))
    pairs = {body.split('"')[1]: body for name, body in rules.items() if name.startswith("pair-")}
    assert list(pairs) == [f"'{name}'" for name in names]
    assert '"-"?' in pairs["'v_max'"] and '"-"?' in pairs["'v_min'"]  # ranges span zero
    assert '"-"' not in pairs["'qv'"]  # never negative
    assert '"-" [' in pairs["'a_min'"]  # never positive
    assert "[0-9]{1,3}" in pairs["'qv'"] and "[0-9]{1,2}" in pairs["'v_max'"]
    # Each rest-i only offers names after i: a name can appear at most once, in table order.
    assert rules["rest-0"].count("pair-") == len(names) - 1 and "pair-0 " not in rules["rest-0"]
    assert f"rest-{len(names) - 1}" not in rules and f"rest-{len(names) - 2}" in rules  # the last name ends it


def test_phrasings_of_the_control_cases():
    phrasings = {name: CONTROL_CASES[name] for name in scored_cases()}
    assert tuple(phrasings) == ("center", "refvel", "reverse", "smooth")
    assert len(eval_phrasings()) == 20
    seen = set()
    for name, case in phrasings.items():
        assert len(case.eval) == 5 and len(case.train) >= 5
        assert not set(case.train) & set(case.eval), name
        for text in case.train + case.eval:
            assert text.strip() and text not in seen
            seen.add(text)
    for text in phrasings["refvel"].train + phrasings["refvel"].eval:
        speed = parse_reference_speed(text)
        assert PARAM_SPECS["v_min"].minimum <= speed <= PARAM_SPECS["v_max"].maximum
    assert {parse_reference_speed(t) for t in phrasings["refvel"].eval}.isdisjoint(
        parse_reference_speed(t) for t in phrasings["refvel"].train)


def test_memories_only_name_real_parameters():
    memories = load_memories()
    assert len({m.id for m in memories}) == len(memories) >= 8
    for memory in memories:
        assert set(memory.params) <= set(PARAM_NAMES), memory.id
        for name in memory.params:
            assert re.search(rf"\b{name}\b", memory.text), (memory.id, name)
        named = {w for w in re.findall(r"\b[a-z]+(?:_[a-z]+)+\b|\bq[a-z]+\b", memory.text)}
        assert named <= set(PARAM_NAMES), (memory.id, named - set(PARAM_NAMES))
        assert named == set(memory.params), memory.id


def test_hints_are_unique_and_short():
    hints = load_hints()
    assert len({h.id for h in hints}) == len(hints) >= 8
    assert all(len(h.text) < 200 for h in hints)


def test_retrieval_finds_the_matching_memory_and_hint():
    memories, hints = Bm25Retriever(load_memories()), Bm25Retriever(load_hints())
    assert memories.search("Reverse the car", 3)[0].id == "reverse"
    assert hints.search("Reverse the car", 3)[0].id == "backwards"
    assert "walls" in [m.id for m in memories.search("Keep the car in the middle of the track.", 3)]
    assert "reference_speed" in [m.id for m in memories.search("Hold a constant speed of 3.2 meters per second.", 3)]
    assert "lateral_acceleration" in [m.id for m in memories.search("Keep the lateral acceleration low.", 3)]
    assert memories.search("xylophone", 3) == [] and memories.search("", 3) == []
    assert len(memories.search("reverse smooth speed walls", 2)) == 2
    assert Bm25Retriever([]).search("anything") == []


def test_bm25_scores_by_hand_and_the_order_of_equal_scores():
    """Lucene's BM25 (k1 1.5, b 0.75). "reverse reverse wall" vs "wall", average length 2:
    reverse: idf ln 2, tf 2 / (2 + 1.5 (0.25 + 0.75 * 3 / 2)) -> 0.3412; wall: idf ln 1.2 in both,
    -> 0.0595 in the first, 0.0941 in the second. A query word said twice counts twice."""
    two = Bm25Retriever([Passage("a", "reverse reverse wall"), Passage("b", "wall")])
    assert np.allclose(two.scores("reverse wall"), [0.34124 + 0.05953, 0.09410], atol=1e-5)
    assert np.allclose(two.scores("wall wall"), [2 * 0.05953, 2 * 0.09410], atol=1e-5)
    # Equal scores come out in the order the bm25s package gave them (the adapters were trained so).
    hints = Bm25Retriever(load_hints())
    assert [h.id for h in hints.search("anywhere magnitude.", 3)] == ["lateral_speed_high", "oscillating", "stopped"]
    assert [h.id for h in hints.search("(below forces at m", 5)] == ["stopped", "forward", "off_raceline",
                                                                     "speed_request", "wall_close"]


def test_tokenizer_lets_word_forms_meet():
    assert tokenize("Reversing") == tokenize("reverse") == tokenize("reversed")
    assert tokenize("the walls") == tokenize("wall")
