"""The literals the grammars force (jump_forward): never text a valid answer does not continue
with, and the runs that save decoding where the format fixes them."""
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from robotxr1_ros.llm.answer_format import decision_answer, mpc_answer
from robotxr1_ros.llm.grammar import decision_grammar, mpc_grammar
from robotxr1_ros.llm.jump_forward import Grammar, forced_continuation
from robotxr1_ros.params import PARAM_TABLE

REASONING = st.text(st.characters(blacklist_characters="<", blacklist_categories=("Cs",)), min_size=1, max_size=60)


def assert_consistent(grammar, answer):
    """At every point of a valid answer, the forced text is how the answer goes on."""
    for end in range(len(answer)):
        forced, final = forced_continuation(grammar, answer[:end])
        assert answer[end:].startswith(forced), (answer[:end], forced)
        assert not final or answer[:end] + forced == answer, (answer[:end], forced)


@settings(max_examples=60, deadline=None)
@given(reasoning=REASONING, picked=st.lists(st.sampled_from(PARAM_TABLE), unique=True, max_size=5),
       space=st.sampled_from([" ", ""]), from_defaults=st.booleans(), data=st.data())
def test_mpc_forced_text_never_contradicts_a_valid_answer(reasoning, picked, space, from_defaults, data):
    specs = sorted(picked, key=PARAM_TABLE.index)  # the grammar wants table order
    values = {spec.name: data.draw(st.floats(spec.minimum, spec.maximum).map(lambda v: round(v, 2)))
              for spec in specs}
    answer = mpc_answer(reasoning, values, from_defaults).replace(", '", f",{space}'")  # optional space
    assert_consistent(mpc_grammar(reasoning_chars=60), answer)
    assert_consistent(mpc_grammar(reasoning_chars=0), answer[answer.index("<answer>"):])


@settings(max_examples=40, deadline=None)
@given(reasoning=REASONING, adheres=st.booleans())
def test_decision_forced_text_never_contradicts_a_valid_answer(reasoning, adheres):
    answer = decision_answer(reasoning, adheres)
    assert_consistent(decision_grammar(reasoning_chars=200), answer)
    assert_consistent(decision_grammar(reasoning_chars=0), answer[answer.index("<answer>"):])


def test_the_format_fixes_tags_keys_and_the_closing():
    mpc = mpc_grammar(reasoning_chars=60)
    opened = "<reasoning>Slow down.</reasoning>\n<answer>new_mpc_params = {"
    assert forced_continuation(mpc, "") == ("", False)  # "<" may open either block
    assert forced_continuation(mpc, "<r") == ("easoning>", False)
    assert forced_continuation(mpc, "<reasoning>Slow down.</") == ("reasoning>\n<answer>new_mpc_params = {", False)
    assert forced_continuation(mpc, "<reasoning>Slow down.</reasoning>\n<ans") == ("wer>new_mpc_params = {", False)
    assert forced_continuation(mpc, opened + "'track_") == ("safety_margin':", False)
    assert forced_continuation(mpc, opened + "'v_max': 2.0, 'qal") == ("pha':", False)
    assert forced_continuation(mpc, opened + "'a_") == ("", False)  # a_min or a_max
    assert forced_continuation(mpc, opened + "'v_max': 2.0}") == ("</answer>", True)
    assert forced_continuation(mpc, opened + "*") == ("*defaults", False)  # then "}" or more pairs
    assert forced_continuation(mpc, opened + "**defaults, 'v_m") == ("", False)  # v_min or v_max
    assert forced_continuation(mpc, opened + "**defaults, 'qal") == ("pha':", False)
    assert forced_continuation(mpc_grammar(reasoning_chars=0), "") == ("<answer>new_mpc_params = {", False)
    decision = decision_grammar(reasoning_chars=0)
    assert forced_continuation(decision, "") == ("<answer>", False)
    assert forced_continuation(decision, "<answer>F") == ("alse</answer>", True)
    assert forced_continuation(decision_grammar(reasoning_chars=200), "<reasoning>Still.</") == \
        ("reasoning>\n<answer>", False)


def test_text_inside_the_reasoning_is_never_forced():
    mpc = mpc_grammar(reasoning_chars=60)
    for inside in ("'track_", "{'v_max': 2.0}", "new_mpc_params = {'qal"):
        assert forced_continuation(mpc, "<reasoning>" + inside) == ("", False)


def test_a_grammar_stays_the_gbnf_text_and_pickles_with_its_literals():
    grammar = mpc_grammar()
    assert isinstance(grammar, str) and grammar == str(grammar) and grammar.startswith("root ::=")
    copy = pickle.loads(pickle.dumps(grammar))
    assert isinstance(copy, Grammar) and copy.forced == grammar.forced
    assert forced_continuation(str(grammar), "<r") == ("", False)  # plain text: nothing known
