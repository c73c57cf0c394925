"""Chat templates for models without one, and a reasoning model's thinking before its answers:
the rendering (llama-cpp-python's Jinja renderer, no model), the names and files accepted, and
how the options reach ModelSpec."""
import pytest

from robotxr1_ros.cli import build_parser
from robotxr1_ros.commands.model_options import model_spec
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.llm.chat_templates import CHATML, THINKING_OFF, ChatRenderer, resolve_chat_template, thinking_budget
from robotxr1_ros.llm.model_spec import ModelSpec
from robotxr1_ros.llm.node_config import LlmNodeConfig

MESSAGES = [{"role": "system", "content": "You tune an MPC."}, {"role": "user", "content": "Drive faster"}]
# The DeepSeek-R1-distilled Qwen models' template, in short: it opens the thinking block itself.
R1_LIKE = ("{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] }}{% endfor %}"
           "{% if add_generation_prompt %}{{ '<|Assistant|><think>\\n' }}{% endif %}")
# A template that strips thinking from history but leaves the assistant turn for the model to open.
QWEN3_LIKE = CHATML.replace("{% endfor %}", "{% endfor %}{# <think> blocks of past turns are dropped #}")


def test_chatml_renders_each_turn_and_opens_the_assistants():
    prompt = ChatRenderer(resolve_chat_template("chatml")).prompt(MESSAGES)
    assert prompt == ("<|im_start|>system\nYou tune an MPC.<|im_end|>\n<|im_start|>user\nDrive faster<|im_end|>\n"
                      "<|im_start|>assistant\n")


def test_a_jinja_file_is_read_and_other_values_are_refused(tmp_path):
    path = tmp_path / "template.jinja"
    path.write_text(R1_LIKE)
    assert resolve_chat_template(str(path)) == R1_LIKE
    assert resolve_chat_template("") is None and resolve_chat_template(None) is None
    with pytest.raises(Robotxr1Error, match=r"neither a built-in template .*chatml.* nor a Jinja file"):
        resolve_chat_template("llama9")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(Robotxr1Error, match="not a chat template"):
        resolve_chat_template(str(tmp_path / "notes.txt"))


def test_thinking_values():
    assert thinking_budget(THINKING_OFF) == 0
    assert thinking_budget("budget 64") == 64
    for bad in ("off", "budget", "budget 0", "budget -3", "64", "on"):
        with pytest.raises(Robotxr1Error, match="thinking must be"):
            thinking_budget(bad)


def test_a_model_that_does_not_think_renders_alike_either_way():
    assert ChatRenderer(CHATML, thinking="budget 32").prompt(MESSAGES) == ChatRenderer(CHATML).prompt(MESSAGES)
    assert ChatRenderer(CHATML, thinking="budget 32").budget == 0


def test_no_thinking_writes_an_empty_thinking_block_once():
    opened_by_template = ChatRenderer(R1_LIKE).prompt(MESSAGES)
    assert opened_by_template.endswith("<|Assistant|><think>\n\n</think>\n\n")
    assert opened_by_template.count("<think>") == 1
    opened_here = ChatRenderer(QWEN3_LIKE).prompt(MESSAGES)
    assert opened_here.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_a_budget_leaves_the_thinking_block_open_and_one_pass_answers_close_it():
    renderer = ChatRenderer(R1_LIKE, thinking="budget 16")
    assert renderer.budget == 16
    assert renderer.prompt(MESSAGES).endswith("<|Assistant|><think>\n")
    assert renderer.answer_prompt(MESSAGES) == ChatRenderer(R1_LIKE).prompt(MESSAGES)


def test_the_options_and_the_node_parameters_reach_the_model_spec(tmp_path):
    args = build_parser("ask").parse_args(["ask", "--instruction", "Drive", "--chat-template", "chatml",
                                           "--thinking", "budget 8"])
    assert model_spec(args) == ModelSpec(chat_template="chatml", thinking="budget 8")
    config = LlmNodeConfig(chat_template="chatml", thinking="budget 8")
    assert config.model_spec() == model_spec(args)
    with pytest.raises(Robotxr1Error, match="neither a built-in"):
        LlmNodeConfig(chat_template=str(tmp_path / "missing.jinja")).model_spec()
    with pytest.raises(Robotxr1Error, match="not with an endpoint"):
        ModelSpec(endpoint="http://127.0.0.1:8080/v1", chat_template="chatml")
    with pytest.raises(Robotxr1Error, match="thinking must be"):
        ModelSpec(thinking="always")
