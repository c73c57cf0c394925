"""Backends (scripted, OpenAI-compatible HTTP against a loopback stub) and model-file checks."""
import struct

import pytest
from openai_stub import StubServer, chat_reply

from robotxr1_ros.llm.backends import BackendError, Completion, LlamaCppBackend, OpenAIHttpBackend, ScriptedBackend
from robotxr1_ros.llm.models import MODEL_ENV, ModelLoadError, bundled_model_path, check_gguf, default_model_path

MESSAGES = [{"role": "system", "content": "You tune an MPC."}, {"role": "user", "content": "Drive in reverse."}]


def test_completion_rates():
    completion = Completion("x", 100, 50, latency_s=2.0, cached_tokens=80)
    assert completion.tokens_per_s == 25.0
    assert completion.as_dict()["tokens_per_s"] == 25.0
    assert Completion("", 1, 0, latency_s=0.0).tokens_per_s == 0.0


def test_scripted_backend_cycles_and_records():
    backend = ScriptedBackend(["first", "second"])
    assert backend.complete(MESSAGES, grammar="root ::= \"a\"", max_tokens=7).text == "first"
    assert backend.complete(MESSAGES).text == "second"
    assert backend.complete(MESSAGES).text == "first"
    assert backend.calls[0]["grammar"] == 'root ::= "a"' and backend.calls[0]["max_tokens"] == 7
    echo = ScriptedBackend(lambda messages: messages[-1]["content"].upper())
    assert echo.complete(MESSAGES).text == "DRIVE IN REVERSE."


def test_http_backend_sends_messages_and_grammar_and_reads_usage():
    with StubServer(chat_reply("<answer>new_mpc_params = {}</answer>")) as stub:
        backend = OpenAIHttpBackend(stub.url, model="qwen", api_key="local-test-key")
        completion = backend.complete(MESSAGES, grammar='root ::= "x"', max_tokens=64, temperature=0.0, seed=3)
    request = stub.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["messages"] == MESSAGES and request["body"]["grammar"] == 'root ::= "x"'
    assert request["body"]["max_tokens"] == 64 and request["body"]["seed"] == 3 and request["body"]["model"] == "qwen"
    assert request["headers"]["Authorization"] == "Bearer local-test-key"
    assert completion.text == "<answer>new_mpc_params = {}</answer>"
    assert (completion.prompt_tokens, completion.completion_tokens, completion.cached_tokens) == (120, 30, 100)
    assert completion.latency_s > 0


def test_http_backend_grammar_field_is_configurable_and_optional():
    with StubServer(chat_reply("hi")) as stub:
        OpenAIHttpBackend(stub.url, grammar_field="guided_grammar").complete(MESSAGES, grammar="g")
        OpenAIHttpBackend(stub.url).complete(MESSAGES)
    assert stub.requests[0]["body"]["guided_grammar"] == "g" and "grammar" not in stub.requests[0]["body"]
    assert "grammar" not in stub.requests[1]["body"] and "Authorization" not in stub.requests[1]["headers"]


def test_http_backend_llama_server_cache_count():
    reply = chat_reply("hi")
    del reply["usage"]["prompt_tokens_details"]
    reply["timings"] = {"cache_n": 77}
    with StubServer(reply) as stub:
        assert OpenAIHttpBackend(stub.url).complete(MESSAGES).cached_tokens == 77


@pytest.mark.parametrize("reply, status, message", [
    ({"error": "boom"}, 500, "HTTP 500"),
    (b"not json", 200, "not JSON"),
    ({"choices": []}, 200, "no choices"),
])
def test_http_backend_errors_are_backend_errors(reply, status, message):
    with StubServer(reply, status) as stub, pytest.raises(BackendError, match=message):
        OpenAIHttpBackend(stub.url).complete(MESSAGES)


def test_http_backend_unreachable_endpoint():
    with StubServer(chat_reply("x")) as stub:
        url = stub.url
    with pytest.raises(BackendError, match="cannot reach"):
        OpenAIHttpBackend(url, timeout_s=2).complete(MESSAGES)


def test_default_model_is_the_bundled_smollm2(monkeypatch):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    path = default_model_path()
    assert path == bundled_model_path() and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert check_gguf(path) == path
    monkeypatch.setenv(MODEL_ENV, "/models/qwen2.5-3b-instruct-q4_k_m.gguf")
    assert str(default_model_path()) == "/models/qwen2.5-3b-instruct-q4_k_m.gguf"


def gguf_header(version=3):
    return b"GGUF" + struct.pack("<IQQ", version, 0, 0)


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"GGU", "too short"),
    (b"\x7fELF" + b"\0" * 40, "not a GGUF file"),
    (gguf_header(version=99), "unsupported GGUF version 99"),
])
def test_bad_model_files_fail_at_the_check(tmp_path, content, message):
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message) as error:
        check_gguf(path)
    assert str(path) in str(error.value) and isinstance(error.value, ValueError)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="a folder, not a GGUF file"):
        check_gguf(tmp_path)


def test_corrupt_gguf_is_wrapped_at_load(tmp_path):
    """Right magic and version, garbage after: llama.cpp refuses, we say which file and why."""
    path = tmp_path / "corrupt.gguf"
    path.write_bytes(gguf_header() + b"\xff" * 4096)
    with pytest.raises(ModelLoadError, match=r"llama\.cpp could not load") as error:
        LlamaCppBackend(path)
    assert str(path) in str(error.value)


def test_truncated_real_model_is_wrapped_at_load(tmp_path):
    path = tmp_path / "truncated.gguf"
    path.write_bytes(bundled_model_path().read_bytes()[:1_000_000])
    with pytest.raises(ModelLoadError, match=str(path)):
        LlamaCppBackend(path)
