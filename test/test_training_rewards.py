"""Training data and rewards without the training stack: phrasings and speeds kept apart, rewards
that rank a good answer above bad ones (with real rollouts on the training track), a teacher whose
rules are chosen by driving, SFT targets that the parser reads back as the teacher's parameters."""
import pickle
from collections import Counter

import numpy as np
import pytest

from robotxr1_ros.cases.control import (
    CONTROL_CASES,
    control_case,
    eval_phrasings,
    open_phrasings,
    parse_reference_speed,
)
from robotxr1_ros.cases.decision import label, rule_instructions
from robotxr1_ros.cases.quantities import find_speeds
from robotxr1_ros.evaluation.control_cases import ControlPrompt
from robotxr1_ros.llm.answer_format import mpc_answer
from robotxr1_ros.llm.parsing import parse_decision, parse_mpc_answer, tagged_blocks
from robotxr1_ros.llm.tuning import TUNING_REASONING_CHARS
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.library import get_track
from robotxr1_ros.training.augment import SYNONYMS, synonym
from robotxr1_ros.training.augment import restatements as restatements_of
from robotxr1_ros.training.decision_windows import question_pool, restatements
from robotxr1_ros.training.rewards import ClosedLoopReward, DecisionReward, format_reward
from robotxr1_ros.training.rollouts import DefaultRunCache, RolloutPool
from robotxr1_ros.training.sft_data import TARGET_REASONING_CHARS, answer_values, decision_examples, mpc_examples
from robotxr1_ros.training.teacher import Teacher, packaged_teacher_file
from robotxr1_ros.training.train_prompts import (
    PER_INTENT,
    PLAIN_DRIVING,
    TRAIN_TRACK,
    eval_speeds,
    near_copy,
    open_train_prompts,
    train_prompts,
)

REVERSE = ControlPrompt.of("reverse", "Back up.")


def _normalised(text):
    return " ".join(text.lower().replace(".", "").split())


def test_train_and_eval_phrasings_never_overlap():
    for name, case in CONTROL_CASES.items():
        assert not {_normalised(t) for t in case.train} & {_normalised(t) for t in case.eval}, name
    eval_texts = {_normalised(text) for _, text in eval_phrasings()}
    assert not {_normalised(p.text) for p in train_prompts()} & eval_texts


def test_training_refvel_speeds_are_many_and_not_the_evaluation_speeds():
    train_speeds = {p.reference_speed for p in train_prompts(["refvel"])}
    assert len(train_speeds) >= 12 and not train_speeds & eval_speeds()
    assert eval_speeds() == {ControlPrompt.of(c, t).reference_speed for c, t in eval_phrasings() if c == "refvel"}


def test_open_training_prompts_cover_every_intent_and_never_an_open_or_eval_phrasing():
    prompts = open_train_prompts()
    intents = {name for name, case in CONTROL_CASES.items() if case.train}
    assert {p.case for p in prompts} == intents
    assert max(Counter(p.case for p in prompts).values()) <= PER_INTENT
    held_out = {_normalised(text) for _, text in (*eval_phrasings(), *open_phrasings())}
    assert not {_normalised(p.text) for p in prompts} & held_out
    # nor near copies of an open one, which typos and synonyms could otherwise write back
    assert not [p.text for p in prompts if near_copy(p.text, [text for _, text in open_phrasings()])]
    speeds = {round(p.reference_speed, 2) for p in prompts if control_case(p.case).reference is parse_reference_speed}
    assert len(speeds) >= 20 and not speeds & eval_speeds()
    # Restated, compounded: typos, other units and manners are among them.
    texts = [p.text for p in prompts]
    assert any("km/h" in t or "kph" in t for t in texts) and any("mph" in t for t in texts)
    assert any(p.case == "speed_smooth" and ", " in p.text for p in prompts)
    assert any("cautiously" in t for t in texts) and any("bends" in t and p.case == "smooth"
                                                          for p, t in zip(prompts, texts, strict=True))
    # care without a direction is smoothness: plain driving with a word of care trains the smooth intent
    careful_plain = [p for p in prompts if p.text.lower().startswith(tuple(t.lower() for t in PLAIN_DRIVING))
                     and ("care" in p.text.lower() or "caution" in p.text.lower())]
    assert len(careful_plain) >= 5 and {p.case for p in careful_plain} == {"smooth"}
    assert open_train_prompts() == prompts  # reproducible


def test_train_intents_keeps_only_the_named_intents_and_names_an_unknown_one():
    from robotxr1_ros.cli import build_parser
    from robotxr1_ros.commands.train import _training_prompts
    from robotxr1_ros.errors import Robotxr1Error

    parse = build_parser().parse_args
    chosen = _training_prompts(parse(["train", "mpc", "--open", "--intents", "smooth,out_of_scope"]))
    assert {p.case for p in chosen} == {"smooth", "out_of_scope"}
    assert chosen == [p for p in open_train_prompts() if p.case in ("smooth", "out_of_scope")]
    with pytest.raises(Robotxr1Error, match=r"--intents: no training prompts for \['smoth'\]"):
        _training_prompts(parse(["train", "mpc", "--open", "--intents", "smoth"]))


@pytest.mark.parametrize("text", ["Drive at 2.4 m/s.", "Hold 3.1 m/s and avoid jerky moves.", "Back up gently."])
def test_restatements_keep_the_speed_and_differ_from_the_phrasing(text):
    rng = np.random.default_rng(0)
    before = [s.metres_per_second for s in find_speeds(text)]
    for restated in restatements_of(text, 6, rng):
        assert restated != text
        after = [s.metres_per_second for s in find_speeds(restated)]
        # the same speed, within a whole km/h's rounding (the target is re-read from the new text)
        assert len(after) == len(before) and all(abs(a - b) <= 0.5 / 3.6 for a, b in zip(after, before, strict=True))


def test_synonym_swaps_one_word_for_another_of_its_group_keeping_the_capital():
    rng = np.random.default_rng(0)
    assert {synonym("Keep away from the walls.", rng) for _ in range(30)} \
        == {"Keep away from the barriers.", "Keep away from the boundaries."}
    assert {synonym("Go in reverse.", rng) for _ in range(30)} \
        == {"Drive in reverse.", "Go backwards.", "Go backward."}
    assert synonym("Hold 3 m/s.", rng) == "Hold 3 m/s."
    words = [word for group in SYNONYMS for word in group]
    assert len(words) == len(set(words))  # a word in two groups would swap to another meaning


def test_near_copy_catches_typos_and_other_punctuation_only():
    assert near_copy("drive thru the wall!", ["Drive through the wall."])
    assert near_copy("Back to Defaults", ["Back to defaults."])
    assert not near_copy("Punch through the barrier.", ["Drive through the wall."])
    assert not near_copy("Be careful out there.", ["Be careful."])


@pytest.fixture(scope="module")
def reverse_reward(tmp_path_factory):
    defaults = DefaultRunCache(tmp_path_factory.mktemp("defaults") / "defaults.json")
    return ClosedLoopReward(TRAIN_TRACK, REVERSE, defaults.get(TRAIN_TRACK, REVERSE, _scenario()), _scenario())


def _scenario():
    from robotxr1_ros.evaluation.control_cases import EVAL_SCENARIO

    return EVAL_SCENARIO


def test_closed_loop_reward_ranks_a_good_answer_above_bad_ones(reverse_reward):
    good = mpc_answer("reverse slowly", {"v_min": -1.4, "v_max": -0.9})
    wrong = mpc_answer("faster", {"v_max": 8.0})
    unparsable = "<reasoning>reverse</reasoning>\n<answer>new_mpc_params = {'v_max': </answer>"
    scores = {name: reverse_reward.breakdown(text, 40) for name, text in
              (("good", good), ("wrong", wrong), ("unparsable", unparsable))}
    assert scores["good"].components["improvement"] > 0.5
    assert scores["good"].total > scores["wrong"].total > scores["unparsable"].total
    assert scores["unparsable"].components["improvement"] == -4.0  # no usable parameters: a failure
    assert scores["unparsable"].info["failure"] == "no usable parameters"
    assert reverse_reward([good, unparsable], completion_lengths=[40, 40]) == \
        [scores["good"].total, scores["unparsable"].total]


@pytest.mark.parametrize("case, text, good, bad", [
    ("faster", "Go quicker.", {"speed_scale": 1.1}, {"v_max": 3.0}),
    ("slower", "Lower your speed.", {"speed_scale": 0.7}, {"speed_scale": 1.1}),
    ("stop", "Stop moving.", {"v_min": 0.0, "v_max": 0.0}, {"v_max": 1.0}),
    ("reset", "Restore the defaults.", MpcParams().as_dict(), {"qv": 1.0}),
    ("reset", "Restore the defaults.", "defaults entry", {"qv": 0.0}),
    ("out_of_scope", "Sing a song.", {}, {"v_min": -1.0, "v_max": -1.0}),
])
def test_an_open_intent_is_rewarded_by_its_achieved_check(tmp_path, case, text, good, bad):
    """Intents outside the paper's score: +1 when the drive (or, for reset and out of scope, the
    parameters from the careful set in force) does what was asked, -1 when not."""
    prompt = ControlPrompt.of(case, text)
    default = DefaultRunCache(tmp_path / "defaults.json").get(TRAIN_TRACK, prompt, _scenario())
    reward = ClosedLoopReward(TRAIN_TRACK, prompt, default, _scenario())
    answers = [mpc_answer("x", {}, from_defaults=True) if values == "defaults entry" else mpc_answer("x", values)
               for values in (good, bad)]
    right, wrong = (reward.breakdown(answer, 30) for answer in answers)
    assert right.components["improvement"] == 1.0 and not right.info["failure"]
    assert wrong.components["improvement"] in (-1.0, -4.0)
    assert right.total > wrong.total


def test_rewards_pickle_and_score_alike_in_a_worker(reverse_reward):
    text = mpc_answer("reverse", {"v_min": -1.4, "v_max": -0.9})
    assert pickle.loads(pickle.dumps(reverse_reward)) == reverse_reward
    with RolloutPool(1) as pool:
        remote = pool.map(reverse_reward.breakdown, [text])[0]
    assert remote.total == pytest.approx(reverse_reward.breakdown(text).total)


def test_length_penalty_prefers_the_shorter_of_two_equal_answers(reverse_reward):
    text = mpc_answer("reverse", {"v_min": -1.4, "v_max": -0.9})
    assert reverse_reward.breakdown(text, 60).total > reverse_reward.breakdown(text, 190).total


def test_decision_reward_checks_the_verdict_and_the_format():
    reward = DecisionReward(label=False)
    right = "<reasoning>mean s_speed 2.0 m/s</reasoning>\n<answer>False</answer>"
    wrong = "<reasoning>mean s_speed 2.0 m/s</reasoning>\n<answer>True</answer>"
    assert reward([right, wrong, "False"]) == [1.5, 0.5, 1.0]


def test_the_teacher_keeps_the_rule_that_drives_best_on_the_training_track():
    prompts = [ControlPrompt.of("reverse", "Back up."), ControlPrompt.of("refvel", "Drive at 1.4 m/s.")]
    teacher = Teacher.choose([get_track(TRAIN_TRACK)], prompts)
    assert set(teacher.rules) == {"reverse", "refvel"}
    for case in teacher.rules:
        mine = [s for s in teacher.scores if s.case == case]
        assert len(mine) == len(control_case(case).teacher)
        chosen = next(s for s in mine if s.rule == teacher.rules[case])
        assert chosen.failures == 0 and chosen.mean_improvement == max(s.mean_improvement for s in mine)
    assert teacher.answer(prompts[1])["v_max"] == 1.4  # a speed rule copies the requested speed
    assert teacher.answer(prompts[0])["v_max"] < 0  # reversing: a negative speed ceiling


def test_sft_mpc_targets_are_grammar_shaped_and_parse_back_to_the_packaged_teachers_rules():
    teacher = Teacher.load(packaged_teacher_file())
    assert set(teacher.rules) == {"center", "refvel", "reverse", "smooth"}
    for example in mpc_examples(teacher):
        assert format_reward(example.answer) == 1.0
        assert parse_mpc_answer(example.answer).changes == answer_values(teacher.answer(_prompt(example)))
        reasoning = tagged_blocks(example.answer, "reasoning")[0]
        assert 0 < len(reasoning) <= TARGET_REASONING_CHARS and "<" not in reasoning


def test_sft_targets_can_keep_the_reasoning_within_the_cars_bound():
    """`train sft --target-reasoning-chars 50`: the reasoning the car's grammar keeps, whole; the
    answers are the same."""
    teacher = Teacher.load(packaged_teacher_file())
    long, short = mpc_examples(teacher), mpc_examples(teacher, reasoning_chars=TUNING_REASONING_CHARS)
    assert [parse_mpc_answer(a.answer).changes for a in long] == [parse_mpc_answer(b.answer).changes for b in short]
    reasoning = [tagged_blocks(example.answer, "reasoning")[0] for example in short]
    assert all(0 < len(text) <= TUNING_REASONING_CHARS for text in reasoning)
    assert any(len(tagged_blocks(example.answer, "reasoning")[0]) > TUNING_REASONING_CHARS for example in long)


def test_sft_reset_targets_are_the_defaults_entry_and_parse_back_to_the_defaults():
    """Every parameter at its default is written `{**defaults}`, with the goal as its reasoning."""
    teacher = Teacher.load(packaged_teacher_file("extended"))
    prompts = [prompt for case in ("reset", "walls") for prompt in open_train_prompts() if prompt.case == case][::4]
    examples = mpc_examples(teacher, prompts, reasoning_chars=TUNING_REASONING_CHARS)
    resets = [example for example in examples if example.meta["case"] == "reset"]
    assert resets and len(resets) < len(examples)
    for example in examples:
        careful = MpcParams().updated({"qv": 50.0, "v_max": 2.0})
        update = parse_mpc_answer(example.answer, careful)
        assert update.from_defaults == (example.meta["case"] == "reset")
    assert resets[0].answer == ("<reasoning>To reset every parameter to its default.</reasoning>\n"
                                "<answer>new_mpc_params = {**defaults}</answer>")
    assert parse_mpc_answer(resets[0].answer, careful).apply(careful) == MpcParams()


def test_every_intents_goal_fits_the_cars_reasoning_bound():
    """`--target-reasoning-chars 0` trains on the goal alone: it must fit whole in what the car's
    grammar keeps, or the car would cut what the model learnt to say."""
    teacher = Teacher.load(packaged_teacher_file("extended"))
    prompts = open_train_prompts()
    assert {prompt.case for prompt in prompts} == set(teacher.rules)
    for example in mpc_examples(teacher, prompts, reasoning_chars=0):
        reasoning = tagged_blocks(example.answer, "reasoning")[0]
        assert reasoning.startswith("To ") and len(reasoning) <= TUNING_REASONING_CHARS, reasoning


def _prompt(example):
    return ControlPrompt.of(example.meta["case"], example.meta["instruction"])


RECORD = {"time": 2.0, "data_samples": 5, "s_pos": [0.0, 1.0, 2.0, 3.0, 4.0], "d_pos": [0.0] * 5,
          "s_speed": [2.0] * 5, "d_speed": [0.0] * 5, "d_left": [1.0] * 5, "d_right": [1.0] * 5,
          "reversing": False, "crashed": False, "facing_wall": False}


def test_sft_decision_targets_carry_the_label_of_the_question_asked():
    examples = [e for seed in range(10) for e in decision_examples([RECORD], others=7, seed=seed)]
    assert {e.meta["rule"] for e in examples} == set(rule_instructions())  # every rule, each once per window
    assert len({e.meta["instruction"] for e in examples}) > len(rule_instructions())  # in several phrasings
    for example in examples:
        question = next(q for q in question_pool(example.meta["rule"]) if q.text == example.meta["instruction"])
        assert parse_decision(example.answer).adheres is example.meta["label"] is question.label(RECORD)
        assert format_reward(example.answer) == 1.0
    # A threshold the training asks about besides 3 m/s is judged at that threshold (the car does 2.0).
    pool = {question.text: question for question in question_pool("Drive faster than 3 m/s")}
    assert pool["Drive faster than 1.5 m/s"].label(RECORD) and not pool["Drive faster than 2.5 m/s"].label(RECORD)


def test_decision_sampling_keeps_every_adhered_rule_and_draws_the_rest():
    # A rule whose variants disagree about RECORD ("Go slower than 1.5 m/s" at 2 m/s): met or not by the question drawn.
    steady = {i for i in rule_instructions() if len({q.label(RECORD) for q in question_pool(i)}) == 1}
    adhered = {i for i in steady if label(i, RECORD)}
    for seed in range(5):
        examples = decision_examples([RECORD], others=2, seed=seed)
        assert {e.meta["rule"] for e in examples if e.meta["label"]} & steady == adhered
        assert sum(not e.meta["label"] for e in examples) == 2


def test_decision_restatements_are_no_evaluation_phrasing_and_name_known_rules():
    evaluation = {_normalised(text) for _, text in eval_phrasings()}
    assert set(restatements()) == set(rule_instructions())
    for rule, texts in restatements().items():
        assert texts and not {_normalised(text) for text in texts} & evaluation, rule
        assert rule not in texts


def test_sft_epoch_order_keeps_units_together_and_spreads_the_other_examples():
    from robotxr1_ros.training.run import seeded_order
    from robotxr1_ros.training.sft import example_unit
    from robotxr1_ros.training.sft_data import DECISION, MPC, SftExample

    examples = [SftExample(MPC, [], "", {}) for _ in range(6)] + \
        [SftExample(DECISION, [], "", {"unit": f"Stop. #{u}"}) for u in (0, 0, 0, 1, 1, 1)]
    units = [example_unit(i, e) for i, e in enumerate(examples)]
    assert len(set(units)) == 8  # six MPC examples on their own, two units
    order = [i for step in range(1, 7) for i in seeded_order(len(examples), step, 2, 3, units)]
    assert sorted(order) == list(range(12))
    for window in ({6, 7, 8}, {9, 10, 11}):
        positions = sorted(order.index(i) for i in window)
        assert positions[-1] - positions[0] == 2  # consecutive


def test_decision_grpo_task_rewards_each_question_against_its_own_label():
    from robotxr1_ros.training.tasks import decision_task

    prompts = decision_task([RECORD], others=7, seed=3)
    assert len(prompts) == len(rule_instructions())
    for prompt in prompts:
        assert prompt.messages[1]["content"].split("Instruction: ")[1].startswith(prompt.meta["instruction"])
        true, false = prompt.reward(["<answer>True</answer>", "<answer>False</answer>"])
        assert (true > false) is prompt.reward.label
    pickle.loads(pickle.dumps(prompts[0].reward))  # rollouts and rewards cross process boundaries
