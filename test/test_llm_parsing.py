"""The parsers are the gate between model text and the controller: examples and properties.

The property tests run 11,500 generated strings in total (random text, adversarial parameter
dicts, verdict fragments, valid answers): none may raise, and none may let an unknown name, a
non-finite value, an out-of-range value or a set breaking the cross rules through.
"""
import math
import re
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robotxr1_ros.cases.quantities import find_speeds
from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.parsing import normalise_name, parse_decision, parse_mpc_answer
from robotxr1_ros.params import PARAM_NAMES, PARAM_SPECS, PARAM_TABLE, MpcParams, check_cross_rules

PROPERTY = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def assert_safe(update, base=MpcParams(), specs=PARAM_TABLE):
    effective = {spec.name: spec for spec in specs}
    for name, value in update.changes.items():
        spec = effective[name]
        assert math.isfinite(value) and spec.minimum <= value <= spec.maximum, (name, value)
    check_cross_rules(update.apply(base).as_dict())
    for item in update.rejected:
        assert isinstance(item.item, str) and item.reason


# --- examples -------------------------------------------------------------------------------

def test_reference_style_answer_is_accepted():
    update = parse_mpc_answer("<reasoning>Go backwards.</reasoning><answer>new_mpc_params = "
                              "{'v_min': -2.0, 'v_max': -0.5}</answer>")
    assert update.found and update.accepted == {"v_min": -2.0, "v_max": -0.5}
    assert not update.clamped and not update.rejected
    assert update.apply(MpcParams()).v_max == -0.5


def test_json_dict_with_aliases_and_numeric_strings():
    update = parse_mpc_answer('Sure! {"q_v": 15, "weight_qn": "30", "QAlpha": 8.5, "safety_margin": 0.5}')
    assert update.accepted == {"qv": 15.0, "qn": 30.0, "qalpha": 8.5, "track_safety_margin": 0.5}


def test_name_normalisation():
    assert normalise_name("q_v") == "qv"
    assert normalise_name("weight_qv") == "qv"
    assert normalise_name("qv_weight") == "qv"
    assert normalise_name("V_MAX") == "v_max"
    assert normalise_name("a-lat-max") == "alat_max"
    assert normalise_name("max") is None  # ambiguous fragment
    assert normalise_name("speed") is None


def test_out_of_range_weights_are_clamped_and_reported():
    update = parse_mpc_answer("new_mpc_params = {'qv': 150, 'track_safety_margin': -3}")
    assert update.changes == {"qv": 100.0, "track_safety_margin": 0.0}
    assert update.clamped["qv"].proposed == 150.0 and "maximum" in update.clamped["qv"].reason
    assert update.clamped["track_safety_margin"].value == 0.0
    assert "minimum" in update.clamped["track_safety_margin"].reason


def test_out_of_range_safety_limits_are_rejected_not_clamped():
    base = MpcParams(a_min=-5.0)
    update = parse_mpc_answer("new_mpc_params = {'a_min': 50, 'alat_max': -3, 'v_max': 99, 'a_max': 25, "
                              "'v_min': -7, 'qv': 150, 'speed_scale': 3}", base)
    assert update.changes == {"qv": 100.0}  # only the weight is clamped
    assert update.apply(base).a_min == -5.0  # "a_min 50" did not become a_min 0: the value in force stays
    reasons = {item.item.split(":")[0].strip("'"): item.reason for item in update.rejected}
    assert set(reasons) == {"a_min", "alat_max", "v_max", "a_max", "v_min", "speed_scale"}
    assert "above the maximum 0" in reasons["a_min"] and "keeps -5" in reasons["a_min"]
    assert all("safety limit" in reason for reason in reasons.values())
    assert {spec.name for spec in PARAM_TABLE if spec.safety_limit} == set(reasons)


def test_effective_ranges_narrow_what_is_accepted():
    narrowed = tuple(replace(spec, minimum=-1.0, maximum=5.0) if spec.name == "v_max"
                     else replace(spec, maximum=50.0) if spec.name == "qv" else spec for spec in PARAM_TABLE)
    update = parse_mpc_answer("{'v_max': 8.0, 'qv': 80, 'qn': 80}", MpcParams(v_max=4.0), narrowed)
    assert update.changes == {"qv": 50.0, "qn": 80.0}
    assert "above the maximum 5" in update.rejected[0].reason and "keeps 4" in update.rejected[0].reason
    assert parse_mpc_answer("{'v_max': 4.5}", MpcParams(v_max=4.0), narrowed).accepted == {"v_max": 4.5}


def test_nan_inf_strings_and_unknown_names_are_rejected_with_reasons():
    update = parse_mpc_answer("new_mpc_params = {'qv': nan, 'qn': 1e999, 'qalpha': 'fast', 'turbo': 3, "
                              "'qac': True, 'v_max': [1, 2], 'a_max': 5}")
    assert update.changes == {"a_max": 5.0}
    reasons = " | ".join(item.reason for item in update.rejected)
    assert len(update.rejected) == 6
    assert "not a number" in reasons and "not a finite number" in reasons and "unknown parameter" in reasons


def test_duplicates_agreeing_are_kept_and_conflicting_are_rejected():
    assert parse_mpc_answer("{'qv': 12, 'q_v': 12.0}").accepted == {"qv": 12.0}
    update = parse_mpc_answer("{'qv': 12, 'qv': 30, 'qn': 5}")
    assert update.changes == {"qn": 5.0}
    assert len(update.rejected) == 2 and all("different values" in r.reason for r in update.rejected)


def test_a_set_breaking_the_speed_order_is_refused_whole():
    """v_max < v_min in force: which of the two the model got wrong is not guessed."""
    update = parse_mpc_answer("new_mpc_params = {'v_max': -0.5, 'qv': 20}")
    assert update.found and update.changes == {}
    assert re.search(r"inconsistent parameter set: v_max=-0.5 must be >= v_min=1", update.rejected[-1].reason)
    inverted = parse_mpc_answer("new_mpc_params = {'v_min': 3.0, 'v_max': 2.0, 'qv': 20}")
    assert inverted.changes == {} and re.search(r"v_max=2(\.0)? must be >= v_min=3", inverted.rejected[-1].reason)


def test_speed_order_is_checked_against_the_given_base():
    base = MpcParams(v_min=-1.0, v_max=-0.5)
    assert parse_mpc_answer("{'v_min': 2.0}", base).changes == {}
    assert parse_mpc_answer("{'v_min': 2.0, 'v_max': 3.0}", base).apply(base) == MpcParams(v_min=2.0, v_max=3.0)
    assert parse_mpc_answer("{'v_max': -0.5}", MpcParams(v_min=-2.0)).accepted == {"v_max": -0.5}


def test_answer_block_wins_over_examples_elsewhere():
    text = ("<reasoning>The format is new_mpc_params = {'qv': 1} but I choose otherwise.</reasoning>"
            "<answer>new_mpc_params = {'qv': 42}</answer> and later {'qn': 3}")
    assert parse_mpc_answer(text).changes == {"qv": 42.0}


def test_last_assignment_wins_without_answer_block():
    text = "first new_mpc_params = {'qv': 1} then corrected: new_mpc_params = {'qv': 2}"
    assert parse_mpc_answer(text).changes == {"qv": 2.0}


def test_truncated_and_missing_dicts_are_not_found():
    cut = parse_mpc_answer("<answer>new_mpc_params = {'v_min': -2.0, 'v_m")
    assert not cut.found and "not closed" in cut.problem and cut.changes == {}
    none = parse_mpc_answer("I would lower the speed a bit.")
    assert not none.found and none.problem and none.apply(MpcParams()) == MpcParams()


def test_empty_dict_means_keep_defaults():
    update = parse_mpc_answer("<answer>new_mpc_params = {}</answer>")
    assert update.found and update.changes == {}


def test_comments_units_nested_json_and_newlines():
    assert parse_mpc_answer("new_mpc_params = {\n 'v_max': 3.5 m/s  # slower\n 'qv': 20\n}").changes == \
        {"v_max": 3.5, "qv": 20.0}
    assert parse_mpc_answer('{"new_mpc_params": {"qv": 20}}').changes == {"qv": 20.0}


def test_as_dict_is_json_ready():
    import json

    update = parse_mpc_answer("{'qv': 500, 'x': 1, 'v_max': 99}")
    decoded = json.loads(json.dumps(update.as_dict()))
    assert decoded["clamped"]["qv"]["value"] == 100.0 and decoded["rejected"][0]["item"].startswith("'x'")
    assert decoded["rejected"][1]["item"].startswith("'v_max'") and decoded["accepted"] == {}


def test_decision_verdicts():
    assert parse_decision(decision_answer("Mean s_speed is negative.", True)).adheres is True
    assert parse_decision("<answer>False</answer>").adheres is False
    verdict = parse_decision("<reasoning>The car stands still.</reasoning>\n<answer> false. </answer>")
    assert verdict.adheres is False and verdict.explanation == "The car stands still."
    assert parse_decision("The car is reversing, so the verdict: TRUE").adheres is True
    assert parse_decision("Change behavior: Reverse the car").adheres is False
    assert parse_decision("Continue behavior").adheres is True
    assert parse_decision("The car adheres: no").adheres is False


def test_ambiguous_or_missing_verdicts_are_none():
    assert parse_decision("crashed: False, reversing: True").adheres is None
    assert parse_decision("<answer>True or False</answer>").adheres is None
    empty = parse_decision("")
    assert empty.adheres is None and empty.problem


# --- properties -----------------------------------------------------------------------------

NAME_TEXTS = st.one_of(
    st.sampled_from(PARAM_NAMES),
    st.sampled_from(["q_v", "weight_qv", "QN", "q-alpha", "vmax", "V_MIN", "alat max", "safety_margin",
                     "turbo", "max", "", "v", "new_mpc_params", "qv qn", "q\u00e4c", "'qv'", '"qn"', "`v_max`"]),
    st.text(max_size=12),
)
VALUE_TEXTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e4, max_value=1e4).map(lambda v: f"{v:.3f}"),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "-1e999", "True", "None", "'3.5'", '"abc"', "[1, 2]",
                     "{}", "", "--1", "1.2.3", "0x10", "1_000", "3.5 m/s", "2 # c", "'nan'", "1e-400", "+.5", "-.0"]),
    st.text(max_size=8),
)
SEPARATORS = st.sampled_from([": ", ":", " = ", "=", " ", " :: "])
JOINERS = st.sampled_from([", ", ",", "\n", "; ", " "])


@st.composite
def adversarial_answers(draw):
    items = draw(st.lists(st.tuples(NAME_TEXTS, SEPARATORS, VALUE_TEXTS), max_size=14))
    if items and draw(st.booleans()):
        items.append(draw(st.sampled_from(items)))  # a duplicate name
    quote = draw(st.sampled_from(["'", '"', ""]))
    body = draw(JOINERS).join(f"{quote}{name}{quote}{sep}{value}" for name, sep, value in items)
    opening = draw(st.sampled_from(["new_mpc_params = {", "{", '{"new_mpc_params": {', "new_mpc_params={{",
                                    "NEW_MPC_PARAMS: {"]))
    closing = draw(st.sampled_from(["}", "}}", "", "}</answer>", "} }"]))
    prefix = draw(st.sampled_from(["", "<reasoning>", "<reasoning>why</reasoning>", "<answer>", "junk {",
                                   "<answer>x</answer>"])) + draw(st.text(max_size=20))
    suffix = draw(st.sampled_from(["", "</answer>", "{'qv': 1e9}", "<answer>new_mpc_params = {'qv': -5}</answer>"]))
    return prefix + opening + body + closing + suffix


SPEED_BASES = st.tuples(st.floats(-2.0, 4.0), st.floats(-1.0, 15.0)).filter(lambda pair: pair[1] >= pair[0]).map(
    lambda pair: MpcParams(v_min=pair[0], v_max=pair[1]))


@settings(max_examples=3000, **PROPERTY)
@given(st.text(max_size=300))
def test_random_text_never_breaks_the_parsers(text):
    assert_safe(parse_mpc_answer(text))
    assert parse_decision(text).adheres in (True, False, None)


@settings(max_examples=2000, **PROPERTY)
@given(adversarial_answers(), SPEED_BASES)
def test_adversarial_dicts_never_yield_unsafe_parameters(text, base):
    assert_safe(parse_mpc_answer(text, base), base)


@st.composite
def narrowed_tables(draw):
    """The table with every range narrowed at random, as a car's config may."""
    specs = []
    for spec in PARAM_TABLE:
        low = draw(st.floats(spec.minimum, spec.maximum))
        specs.append(replace(spec, minimum=low, maximum=draw(st.floats(low, spec.maximum))))
    return tuple(specs)


@settings(max_examples=1000, **PROPERTY)
@given(adversarial_answers(), narrowed_tables())
def test_adversarial_dicts_stay_inside_narrowed_ranges(text, specs):
    assert_safe(parse_mpc_answer(text, MpcParams(), specs), MpcParams(), specs)


VERDICT_PIECES = st.sampled_from(["<answer>", "</answer>", "<reasoning>", "</reasoning>", "True", "false", "yes",
                                  "no", "verdict:", "Continue behavior", "Change behaviour:", "adheres =", " ",
                                  "\n", "answer is", "TRUE", "maybe"])


@settings(max_examples=1500, **PROPERTY)
@given(st.lists(st.one_of(VERDICT_PIECES, st.text(max_size=10)), max_size=30))
def test_verdict_fragments_never_break_the_decision_parser(pieces):
    verdict = parse_decision("".join(pieces))
    assert verdict.adheres in (True, False, None)
    assert isinstance(verdict.explanation, str) and (verdict.adheres is not None or verdict.problem)


@st.composite
def valid_updates(draw):
    names = draw(st.lists(st.sampled_from(PARAM_NAMES), unique=True, max_size=len(PARAM_NAMES)))
    values = {name: draw(st.floats(PARAM_SPECS[name].minimum, PARAM_SPECS[name].maximum)) for name in names}
    base = MpcParams()
    lower, upper = values.get("v_min", base.v_min), values.get("v_max", base.v_max)
    if upper < lower:
        values.pop("v_max", None)
        values.pop("v_min", None)
    return values


@settings(max_examples=1500, **PROPERTY)
@given(valid_updates(), st.text(alphabet=st.characters(blacklist_characters="<>{}"), max_size=60))
def test_valid_answers_round_trip_exactly(values, reasoning):
    update = parse_mpc_answer(mpc_answer(reasoning, values))
    assert update.found and update.accepted == values
    assert not update.clamped and not update.rejected


def test_a_dict_beginning_with_defaults_sets_every_parameter_to_its_default_first():
    careful = MpcParams().updated({"qv": 50.0, "v_max": 2.0, "qac": 1.0})
    reset = parse_mpc_answer("<answer>new_mpc_params = {**defaults}</answer>", careful)
    assert reset.from_defaults and not reset.rejected
    assert reset.apply(careful) == MpcParams()
    then_slow = parse_mpc_answer("<answer>new_mpc_params = {**defaults, 'v_max': 3.0}</answer>", careful)
    assert then_slow.apply(careful) == MpcParams().updated({"v_max": 3.0})
    assert parse_mpc_answer("{** Defaults}", careful).apply(careful) == MpcParams()  # no assignment, any case


def test_defaults_are_brought_into_a_cars_narrowed_range_with_the_reason():
    specs = [replace(spec, maximum=8.0) if spec.name == "v_max" else spec for spec in PARAM_TABLE]
    update = parse_mpc_answer("{**defaults}", MpcParams().updated({"v_max": 2.0}), specs)
    assert update.clamped["v_max"].value == 8.0
    assert update.clamped["v_max"].reason == "the default 12 is outside this car's range"


def test_defaults_anywhere_but_first_are_refused_and_a_refused_pair_after_them_keeps_the_default():
    careful = MpcParams().updated({"qv": 50.0, "a_min": -5.0})
    late = parse_mpc_answer("{'qv': 3.0, **defaults}", careful)
    assert late.changes == {"qv": 3.0}
    assert late.rejected[0].reason == "**defaults must come first in the dict"
    refused = parse_mpc_answer("{**defaults, 'a_min': 50}", careful)
    assert refused.apply(careful) == MpcParams()
    assert refused.rejected[0].reason == ("50 is above the maximum 0; a safety limit is not clamped, "
                                          "a_min keeps its default")


def test_a_speed_copied_into_a_parameter_after_defaults_leaves_the_default():
    careful = MpcParams().updated({"qddelta": 5.0})
    update = parse_mpc_answer("{**defaults, 'qddelta': 3.25, 'v_max': 3.25}", careful, PARAM_TABLE,
                              find_speeds("Drive at 3.25 m/s"))
    (refused,) = update.rejected
    assert refused.reason == "3.25 is the instruction's speed (3.25 m/s), not a qddelta value; qddelta keeps 0.1"
    assert update.apply(careful) == MpcParams().updated({"v_max": 3.25})
