"""A model of another architecture than the bundled llama one: a tiny Qwen2 GGUF of random weights
(conftest.tiny_qwen2), converted by llama.cpp's convert_hf_to_gguf.py, runs through `robotxr1
ask` with its ChatML template; its answers are nonsense, but grammar-constrained and parsed."""
import json

from gguf import GGUFReader

from robotxr1_ros.cli import main
from robotxr1_ros.llm.backends import LlamaCppBackend
from robotxr1_ros.llm.chat_templates import CHATML, ChatRenderer
from robotxr1_ros.llm.prompts import mpc_messages
from robotxr1_ros.params import MpcParams


def test_the_converted_file_is_qwen2_with_smollm2s_tokenizer_and_chatml(tiny_qwen2):
    fields = GGUFReader(tiny_qwen2).fields
    assert fields["general.architecture"].contents() == "qwen2"
    assert fields["tokenizer.ggml.pre"].contents() == "smollm"
    assert fields["tokenizer.chat_template"].contents() == CHATML
    messages = mpc_messages("Drive slower")
    assert LlamaCppBackend(tiny_qwen2, n_threads=2).render(messages) == ChatRenderer(CHATML).prompt(messages)


def test_ask_runs_a_qwen2_model(tiny_qwen2, capsys):
    assert main(["ask", "--model", str(tiny_qwen2), "--base-only", "--instruction", "Drive slower", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tuning"]["update"]["found"] is True
    assert MpcParams(**result["tuning"]["params"])
    assert result["tuning"]["completion"]["completion_tokens"] > 0
