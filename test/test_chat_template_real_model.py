"""A GGUF without a chat template (the bundled model with `tokenizer.chat_template` removed) through
llama.cpp: refused with a clear error, then run with the built-in ChatML template, which renders
SmolLM2's prompts exactly as its own template does; and a thinking budget with a template that
opens a <think> block, on the same weights."""
import json

import pytest
from model_files import copy_without_chat_template

from robotxr1_ros.cli import main
from robotxr1_ros.llm.backends import LlamaCppBackend
from robotxr1_ros.llm.chat_templates import CHATML
from robotxr1_ros.llm.grammar import mpc_grammar
from robotxr1_ros.llm.models import ModelLoadError
from robotxr1_ros.llm.parsing import parse_mpc_answer
from robotxr1_ros.llm.prompts import mpc_messages

REVERSE = "Drive in reverse."
THINKING_TEMPLATE = CHATML.replace("'<|im_start|>assistant\\n'", "'<|im_start|>assistant\\n<think>\\n'")


@pytest.fixture(scope="module")
def no_template(tmp_path_factory):
    return copy_without_chat_template(tmp_path_factory.mktemp("gguf"))


def test_a_model_without_a_template_is_refused_with_the_option_to_give_one(no_template, capsys):
    with pytest.raises(ModelLoadError, match="no chat template; give one \\(--chat-template / chat_template:="):
        LlamaCppBackend(no_template, n_threads=1)
    assert main(["ask", "--model", str(no_template), "--base-only", "--instruction", REVERSE]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--chat-template" in error and "chatml" in error, error


def test_chatml_renders_as_the_models_own_template_and_the_model_answers(no_template, capsys):
    own = LlamaCppBackend(n_threads=1).render(mpc_messages(REVERSE))
    assert LlamaCppBackend(no_template, n_threads=1, chat_template=CHATML).render(mpc_messages(REVERSE)) == own
    assert main(["ask", "--model", str(no_template), "--base-only", "--chat-template", "chatml",
                 "--instruction", REVERSE, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tuning"]["update"]["found"] is True


def test_a_thinking_budget_thinks_at_most_that_long_then_answers_under_the_grammar(no_template):
    backend = LlamaCppBackend(no_template, n_threads=1, chat_template=THINKING_TEMPLATE, thinking="budget 6")
    assert backend.render(mpc_messages(REVERSE)).endswith("<|im_start|>assistant\n<think>\n")
    grammar = mpc_grammar(reasoning_chars=0)
    completion = backend.complete(mpc_messages(REVERSE), grammar=grammar, max_tokens=200)
    assert parse_mpc_answer(completion.text).found, completion.text
    assert "<think>" not in completion.text and "</think>" not in completion.text
    # The thinking (at most 6 tokens) counts beside the answer's tokens.
    answer_tokens = len(backend.tokenize(completion.text))
    assert answer_tokens < completion.completion_tokens <= answer_tokens + 6 + 2, completion
    # Without a budget the thinking block is written empty: the answer starts at once.
    silent = LlamaCppBackend(no_template, n_threads=1, chat_template=THINKING_TEMPLATE)
    assert silent.render(mpc_messages(REVERSE)).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
