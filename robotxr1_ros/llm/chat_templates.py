"""The chat template a local model's prompts are rendered with, and whether a reasoning model
thinks before its answer (ROS-free).

A GGUF file normally carries its template (`tokenizer.chat_template`); a base model or a hand-made
conversion may not, and then `chat_template` names a built-in template or a Jinja file (given, it
is used instead of the file's own).

Reasoning models (the DeepSeek-R1-distilled Qwen family, Qwen3) write `<think>...</think>` before
their answer. The car's answers are grammar-constrained from their first token, so a model that
would think first is either given an empty thinking block in its assistant turn (`none`, the
default: what Qwen3's own template writes for enable_thinking=false, and the answer starts at
once, so the decision period holds), or allowed at most N free tokens of thinking, closed by us
if the model has not, before the constrained answer (`budget N`). Models without `<think>` in
their template are rendered unchanged either way.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import Robotxr1Error

# ChatML (Qwen, SmolLM2): each turn is <|im_start|>role\ncontent<|im_end|>\n; the generation prompt
# opens the assistant's turn. One line: the renderer trims newlines after block tags.
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          "{% endif %}")
BUILTIN_TEMPLATES = {"chatml": CHATML}

THINK_OPEN = "<think>\n"
THINK_CLOSE = "\n</think>\n\n"
# Not "off": YAML (ROS parameter files and -p overrides) reads an unquoted off as false.
THINKING_OFF = "none"
BUDGET = "budget"


def resolve_chat_template(value: str | None) -> str | None:
    """The Jinja text of `value`: a built-in template's name or a Jinja file's path; None or empty:
    the model's own."""
    if not value:
        return None
    if value in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[value]
    path = Path(value)
    if not path.is_file():
        raise Robotxr1Error(f"chat template {value!r} is neither a built-in template "
                            f"({', '.join(BUILTIN_TEMPLATES)}) nor a Jinja file")
    text = path.read_text(encoding="utf-8")
    if "messages" not in text:
        raise Robotxr1Error(f"{path}: not a chat template (it never reads `messages`)")
    return text


def thinking_budget(value: str) -> int:
    """Free thinking tokens of `value` ("none": 0, "budget N": N >= 1)."""
    words = value.split()
    if words == [THINKING_OFF]:
        return 0
    if len(words) == 2 and words[0] == BUDGET and words[1].isdigit() and int(words[1]) > 0:
        return int(words[1])
    raise Robotxr1Error(f"thinking must be {THINKING_OFF!r} or '{BUDGET} N' (N >= 1 tokens), got {value!r}")


def thinks(template: str) -> bool:
    """Whether the template is a reasoning model's (it writes or strips <think> blocks)."""
    return "<think>" in template


class ChatRenderer:
    """Messages to the prompt text a local model sees: the template with its generation prompt,
    then, for a reasoning model, the start of the assistant turn that `thinking` asks for."""

    def __init__(self, template: str, *, bos_token: str = "", eos_token: str = "",
                 thinking: str = THINKING_OFF) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.template = template
        self.eos_token = eos_token
        # Typed loosely: llama-cpp-python types each message as a TypedDict per role; ours are plain
        # role/content mappings, which is what its formatter reads.
        self._formatter: Any = Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token)
        budget = thinking_budget(thinking)
        self.budget = budget if thinks(template) else 0  # free thinking tokens before the answer (0: none)

    def prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The prompt up to where the answer starts; a reasoning model's thinking block is opened
        there for a budget, else written empty (whichever part the template has not written)."""
        text: str = self._formatter(messages=[dict(m) for m in messages]).prompt
        if not thinks(self.template):
            return text
        opened = text if text.endswith(THINK_OPEN) else text + THINK_OPEN
        return opened if self.budget else opened + THINK_CLOSE

    def answer_prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The prompt with any thinking block written empty (answers read from one forward pass)."""
        text = self.prompt(messages)
        return text + THINK_CLOSE if self.budget else text
