"""A driving case is one entry in robotxr1_ros/cases/: a toy control case and a toy decision rule,
registered for a test, reach the data command (datasets, hints, teacher), both evaluators, answers
the car's grammars admit and its parser reads back, and the SFT data; and the packaged data is
what the cases write."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import xgrammar as xgr

from robotxr1_ros.cases import registered
from robotxr1_ros.cases.behaviours import Behaviour
from robotxr1_ros.cases.control import ControlCase, eval_phrasings, scored_cases
from robotxr1_ros.cases.decision import (
    CLOSE_TO_WALL,
    DECISION_RULES,
    WORDED_LINES,
    DecisionRule,
    Hint,
    all_labels,
    decision_instructions,
    label,
    moving_forward,
)
from robotxr1_ros.cases.hints import HINTS_FILE, hints_file_text
from robotxr1_ros.cases.summary import below
from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.behaviours import behaviours
from robotxr1_ros.evaluation.control_cases import EVAL_SCENARIO, REVERSE_WINDOW, ControlPrompt
from robotxr1_ros.evaluation.control_eval import ModelProposer, case_description, eval_prompts, evaluate_control
from robotxr1_ros.evaluation.decision_dataset import MANIFEST, load_dataset
from robotxr1_ros.evaluation.decision_eval import evaluate_decision
from robotxr1_ros.llm.answer_format import decision_answer
from robotxr1_ros.llm.backends import ScriptedBackend
from robotxr1_ros.llm.decision import DecisionxR1
from robotxr1_ros.llm.features import features_from_record
from robotxr1_ros.llm.grammar import decision_grammar, mpc_grammar
from robotxr1_ros.llm.parsing import parse_decision, parse_mpc_answer
from robotxr1_ros.llm.retrieval import Bm25Retriever, load_passages
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.library import get_track
from robotxr1_ros.training.sft_data import decision_examples, decision_target, mpc_examples
from robotxr1_ros.training.teacher import Teacher, packaged_teacher_file
from robotxr1_ros.training.train_prompts import train_prompts

CRAWL = ControlCase(
    "crawl", "speed along the track minus 0.5 m/s [m/s]", lambda log, _: log.speed_along - 0.5,
    achieved=lambda outcome: 0.0 < outcome.mean_speed < 1.0, goal="crawl",
    teacher={"crawl at 0.5 m/s": lambda _: {"v_min": 0.0, "v_max": 0.5}},
    train=("Crawl along the track.",), eval=("Creep forward at a snail's pace.",), per_lap=False)
RIGHT_WALL = DecisionRule(
    "Drive close to the right wall",
    adheres=lambda w: below(w.mean_right, CLOSE_TO_WALL) and moving_forward(w),
    evidence=lambda w: f"mean d_right {w.mean_right:.2f} m",
    hint=Hint("right_wall_close", "A mean d_right below 0.4 m means the car hugs the right wall.",
              ("right", "wall", "hug")),
    restatements=("Hug the right wall.",),
    behaviour=Behaviour("close_to_right_wall", MpcParams(v_max=2.0), note="a toy behaviour"))
NEAR_RIGHT = {"time": 2.0, "data_samples": 5, "s_pos": [0.0, 1.0, 2.0, 3.0, 4.0], "d_pos": [-0.5] * 5,
              "s_speed": [2.0] * 5, "d_speed": [0.0] * 5, "d_left": [1.7] * 5, "d_right": [0.3] * 5,
              "reversing": False, "crashed": False, "facing_wall": False}
BYTES = xgr.GrammarCompiler(xgr.TokenizerInfo([bytes([b]) for b in range(256)]), max_threads=1)


def grammar_admits(gbnf: str, text: str) -> bool:
    """Whether the car's grammar admits exactly `text` (checked by xgrammar over a byte vocabulary)."""
    matcher = xgr.GrammarMatcher(BYTES.compile_grammar(gbnf, root_rule_name="root"))
    return matcher.accept_string(text) and matcher.is_completed()


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    """`robotxr1 make-datasets` with both toys registered: one command writes their data."""
    folder = tmp_path_factory.mktemp("data")
    (folder / "hints.json").write_text(HINTS_FILE.read_text())
    (folder / "teacher.json").write_text(packaged_teacher_file().read_text())
    with registered(CRAWL, RIGHT_WALL):
        assert main(["make-datasets", "--out", str(folder / "v1"), "--windows", "2", "--runs", "1",
                     "--hints", str(folder / "hints.json"), "--teacher", str(folder / "teacher.json")]) == 0
    return folder


def test_one_command_writes_the_toy_cases_data(toy_data):
    manifest = (toy_data / "v1" / MANIFEST).read_text()
    assert "close_to_right_wall" in manifest and '"Drive close to the right wall"' in manifest
    assert load_dataset(toy_data / "v1" / "close_to_right_wall.json").records
    before, after = (json.loads(path.read_text())["hints"] for path in (HINTS_FILE, toy_data / "hints.json"))
    assert after == [*before, {"id": "right_wall_close", "text": RIGHT_WALL.hint.text,
                               "keywords": list(RIGHT_WALL.hint.keywords)}]  # the hints there keep their place
    teacher = Teacher.load(toy_data / "teacher.json")
    assert teacher.rules == {**Teacher.load(packaged_teacher_file()).rules, "crawl": "crawl at 0.5 m/s"}


def test_a_toy_control_case_reaches_the_evaluator_the_grammar_and_the_sft_data(toy_data):
    with registered(CRAWL):
        assert "crawl" in scored_cases() and ("crawl", CRAWL.eval[0]) in eval_phrasings()
        prompt = next(p for p in eval_prompts() if p.case == "crawl")
        assert [p.text for p in train_prompts() if p.case == "crawl"] == list(CRAWL.train)
        (example,) = mpc_examples(Teacher.load(toy_data / "teacher.json"), [ControlPrompt.of("crawl", CRAWL.train[0])])
        assert example.answer.startswith("<reasoning>To crawl: v_max down to 0.5")
        assert grammar_admits(mpc_grammar(), example.answer)
        assert parse_mpc_answer(example.answer).changes == {"v_min": 0.0, "v_max": 0.5}

        proposer = ModelProposer(MPCxR1(ScriptedBackend([example.answer])), "scripted")
        scenario = replace(EVAL_SCENARIO, seconds=REVERSE_WINDOW + 0.1)  # the toy is measured over a window
        (result,) = evaluate_control(get_track("eval"), proposer, [prompt], scenario).prompts
        assert result.case == "crawl" and not result.failure and result.achieved
        assert result.improvement > 0.5 and result.changes == {"v_min": 0.0, "v_max": 0.5}
        assert case_description("crawl") == CRAWL.what
    assert "crawl" not in scored_cases()


def test_a_toy_decision_rule_reaches_the_labels_the_evaluator_the_hints_and_the_sft_data(toy_data):
    state = features_from_record(NEAR_RIGHT)
    with registered(RIGHT_WALL):
        assert decision_instructions()[-1] == RIGHT_WALL.instruction
        assert all_labels(NEAR_RIGHT)[RIGHT_WALL.instruction] and not label("Drive close to the left wall", NEAR_RIGHT)
        assert "close_to_right_wall" in behaviours()

        # The evaluator asks it of every record, against its label.
        dataset = load_dataset(toy_data / "v1" / "close_to_right_wall.json")
        report = evaluate_decision(DecisionxR1(ScriptedBackend([decision_answer("", True)])), [dataset], "true")
        asked = [call for call in report.calls if call.instruction == RIGHT_WALL.instruction]
        assert len(asked) == len(dataset.records) and len(report.calls) == 9 * len(dataset.records)
        assert [call.expected for call in asked] == [label(RIGHT_WALL.instruction, r) for r in dataset.records]

        # The written hints file carries its hint, and the prompt retrieves it.
        hints = Bm25Retriever(load_passages(toy_data / "hints.json", "hints"))
        user = DecisionxR1(ScriptedBackend([""]), hints=hints).messages("Hug the right wall.", state)[1]["content"]
        assert f"- {RIGHT_WALL.hint.text}" in user

        # SFT: asked as itself and as its restatement, with answers the car's grammars admit.
        examples = [e for seed in range(6) for e in decision_examples([NEAR_RIGHT], others=0, seed=seed)]
        mine = [e for e in examples if e.meta["rule"] == RIGHT_WALL.instruction]
        assert {e.meta["instruction"] for e in mine} == {RIGHT_WALL.instruction, "Hug the right wall."}
        assert all(e.meta["label"] and grammar_admits(decision_grammar(0), e.answer) for e in mine)
        reasoned = decision_target(RIGHT_WALL.instruction, NEAR_RIGHT, True, reasoning_chars=80)
        assert reasoned.startswith("<reasoning>Mean d_right 0.30 m, so the car does what is asked.")
        assert grammar_admits(decision_grammar(80), reasoned) and parse_decision(reasoned).adheres
    assert RIGHT_WALL.instruction not in decision_instructions() and "close_to_right_wall" not in behaviours()


def test_a_case_is_registered_once():
    with registered(CRAWL), pytest.raises(ValueError, match="already registered"), registered(CRAWL):
        pass
    assert "crawl" not in scored_cases()


def test_the_packaged_hints_file_is_what_the_cases_write():
    assert hints_file_text(HINTS_FILE.read_text()) == HINTS_FILE.read_text()


def test_every_rule_with_words_has_its_place_in_the_state_text():
    placed = [instruction for instructions, _ in WORDED_LINES.values() for instruction in instructions]
    assert sorted(placed) == sorted(name for name, rule in DECISION_RULES.items() if rule.words)
