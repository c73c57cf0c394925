"""Language-model backends behind one small interface: llama.cpp (GGUF, on board, the default),
an OpenAI-compatible HTTP endpoint (llama-server, vLLM or a cloud model, for baselines), and a
scripted backend for tests.

A call takes chat messages and returns the text plus what it cost (tokens, latency, cached
prompt tokens). Backends do not interpret the text: parsing and validation are the callers' job.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import Robotxr1Error
from .chat_templates import BUILTIN_TEMPLATES, THINK_CLOSE, THINKING_OFF, ChatRenderer
from .grammar import GrammarError, choice_grammar
from .greedy_decoding import CANCELLED, GrammarChecker, greedy_decode, next_token_logprobs, raw_decode_s
from .jump_forward import forced_continuation
from .llama_import import import_llama_cpp
from .llama_resources import ALL_LAYERS, AUTO
from .lora_merge import merged_model_path
from .models import N_CTX, ModelLoadError, default_model_path, load_llama

Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}
# Asked during the prompt and between generated tokens: True ends the answer ("cancelled").
StopCheck = Callable[[], bool]


class BackendError(Robotxr1Error):
    """A backend that cannot answer (server unreachable, malformed reply, prompt too long)."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float  # wall time of the whole call, prompt evaluation included
    cached_tokens: int = 0  # prompt tokens served from the KV cache instead of being evaluated
    finish_reason: str = "stop"  # "stop" (model ended), "length" (max_tokens reached) or "cancelled" (stop())
    # Where the time went, when the backend knows (None: it does not): evaluating the uncached
    # prompt tokens, generating, and of that the grammar checks.
    prompt_eval_s: float | None = None
    decode_s: float | None = None
    grammar_s: float | None = None
    option_logprobs: Mapping[str, float] | None = None  # `choose`: log-probability of each option
    forced_tokens: int = 0  # generated tokens the grammar forced (jump_forward: evaluated in batches)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0

    @property
    def sampled_tokens(self) -> int:
        """Generated tokens the model chose one by one (not forced; none for a `choose`, whose
        option is read from the prompt's next-token probabilities)."""
        return 0 if self.option_logprobs is not None else self.completion_tokens - self.forced_tokens

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Generation speed without the prompt evaluation."""
        return self.completion_tokens / self.decode_s if self.decode_s else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_s": round(self.tokens_per_s, 2)}


class Backend(ABC):
    name: str = "backend"
    n_ctx: int | None = None  # the context window in tokens, where the backend knows it

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        """How many tokens the prompt of `messages` takes, where the backend can tell (None: it
        cannot, e.g. a remote endpoint, which checks the length itself)."""
        return None

    @abstractmethod
    def complete(self, messages: Sequence[Message], *, grammar: str | None = None, max_tokens: int = 200,
                 temperature: float = 0.0, seed: int = 0, stop: StopCheck | None = None) -> Completion:
        """Answer the conversation; `grammar` (GBNF) constrains the answer when the backend can.
        `stop` lets the caller end an answer it no longer needs (an instruction replaced while the
        model answers); backends that cannot stop mid-answer ignore it."""

    def choose(self, messages: Sequence[Message], prefix: str, options: Sequence[str], suffix: str = "",
               stop: StopCheck | None = None) -> Completion:
        """Which of `options` the answer `prefix` + option + `suffix` takes (e.g. a True/False
        verdict). Here: a completion constrained to exactly those answers; the llama.cpp backend
        instead reads the next-token probabilities after `prefix` in one forward pass. `stop` as
        in `complete` (a cancelled choice has finish_reason "cancelled" and no option)."""
        grammar = choice_grammar(prefix, options, suffix)
        longest = max(len(prefix + option + suffix) for option in options)
        return self.complete(messages, grammar=grammar, max_tokens=longest, stop=stop)

    def raw_decode_s(self, completion: Completion) -> float | None:
        """Seconds the model alone takes, on the same context, for the work of `completion`, this
        backend's last answer (`bench llm`'s limit); None where the backend cannot tell."""
        return None

    def reset_cache(self) -> None:  # noqa: B027  deliberately not abstract: most backends keep no cache
        """Forget cached prompt state (for cold-start measurements); a no-op where there is none."""


@dataclass
class ScriptedBackend(Backend):
    """Replays canned answers (a list, cycled, or a function of the messages) and records calls."""

    answers: Sequence[str] | Callable[[Sequence[Message]], str]
    calls: list[dict[str, Any]] = field(default_factory=list)
    name: str = "scripted"
    n_ctx: int | None = None  # set: prompts are measured in words against it, as a model's in tokens

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def complete(self, messages: Sequence[Message], *, grammar: str | None = None, max_tokens: int = 200,
                 temperature: float = 0.0, seed: int = 0, stop: StopCheck | None = None) -> Completion:
        prompt_words = self.count_tokens(messages)
        if self.n_ctx is not None and prompt_words + max_tokens > self.n_ctx:
            raise BackendError(context_overflow(prompt_words, max_tokens, self.n_ctx))
        self.calls.append({"messages": [dict(m) for m in messages], "grammar": grammar,
                           "max_tokens": max_tokens, "temperature": temperature, "seed": seed})
        if callable(self.answers):
            text = self.answers(messages)
        else:
            text = self.answers[(len(self.calls) - 1) % len(self.answers)]
        return Completion(text, prompt_words, len(text.split()), latency_s=0.0)


class LlamaCppBackend(Backend):
    """A GGUF model in-process through llama-cpp-python.

    Prompts are rendered with the model's own chat template and tokenized here, so the static
    system prompt tokenizes identically on every call and llama.cpp keeps it in the KV cache
    (the longest common token prefix with the previous call is not evaluated again). One backend
    holds one cache: give each prompt family (decision, MPC) its own backend to keep both
    prefixes warm; the weights are memory-mapped, so a second backend costs only its KV cache.
    `chat_template` (Jinja text) is used instead of the model's own (which a GGUF may lack);
    `thinking` is how a reasoning model thinks before its answers (chat_templates.py).
    """

    name = "llama.cpp"
    n_ctx: int  # the loaded model's context window

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = N_CTX, n_threads: int | None = AUTO,
                 n_threads_batch: int | None = AUTO, n_batch: int = 512, seed: int = 0,
                 chat_template: str | None = None, lora_path: str | Path | None = None,
                 flash_attn: bool = True, n_gpu_layers: int = ALL_LAYERS, thinking: str = THINKING_OFF) -> None:
        llama_cpp = import_llama_cpp()
        self._llama_cpp = llama_cpp
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.lora_path = Path(lora_path) if lora_path is not None else None  # a GGUF LoRA adapter of this base
        # The adapter is merged into the weights once (cached), not applied at run time: same answers, half the time.
        weights = merged_model_path(self.model_path, self.lora_path) if self.lora_path else self.model_path
        self.llama = load_llama(weights, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads_batch,
                                n_batch=n_batch, seed=seed, flash_attn=flash_attn, n_gpu_layers=n_gpu_layers)
        self.n_ctx = self.llama.n_ctx()
        template = chat_template or self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelLoadError(f"{self.model_path}: the model has no chat template; give one (--chat-template / "
                                 f"chat_template:=, a built-in name: {', '.join(BUILTIN_TEMPLATES)}, or a Jinja "
                                 f"file)")
        model = self.llama._model
        self._renderer = ChatRenderer(template, eos_token=_token_text(model, model.token_eos()),
                                      bos_token=_token_text(model, model.token_bos()), thinking=thinking)
        self._grammars: dict[str, Any] = {}
        self._checkers: dict[str, GrammarChecker] = {}

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text exactly as the model sees it (chat template + generation prompt, and a
        reasoning model's thinking block opened or written empty)."""
        return self._renderer.prompt(messages)

    def tokenize(self, text: str) -> list[int]:
        # The chat template writes any special tokens itself, so none are added here.
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.tokenize(self.render(messages)))

    def check_grammar(self, grammar: str) -> Any:
        """Compile `grammar` with llama.cpp; raise GrammarError if llama.cpp rejects it.

        llama-cpp-python would otherwise hand an unparsable grammar to llama.cpp, which then
        samples unconstrained text without telling anyone.
        """
        if grammar not in self._grammars:
            llama_cpp = self._llama_cpp
            try:
                self._checkers[grammar] = GrammarChecker(llama_cpp, self.llama._model.vocab, grammar,
                                                         self.llama.n_vocab())
            except ValueError:
                first_line = grammar.splitlines()[0] if grammar.strip() else ""
                raise GrammarError(f"llama.cpp cannot parse the grammar (first line: {first_line!r})") from None
            self._grammars[grammar] = llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
        return self._grammars[grammar]

    def cached_prefix(self, tokens: Sequence[int]) -> int:
        """Prompt tokens llama.cpp will take from the KV cache (mirrors Llama.generate's reuse)."""
        common = 0
        for cached, new in zip(self.llama._input_ids.tolist(), tokens, strict=False):
            if cached != new:
                break
            common += 1
        # A fully cached prompt still re-evaluates its last token to get fresh logits.
        return common - 1 if common == len(tokens) else common

    def complete(self, messages: Sequence[Message], *, grammar: str | None = None, max_tokens: int = 200,
                 temperature: float = 0.0, seed: int = 0, stop: StopCheck | None = None) -> Completion:
        compiled = self.check_grammar(grammar) if grammar is not None else None
        prompt = self.render(messages)
        if self._renderer.budget:
            return self._think_then_answer(prompt, grammar, max_tokens, stop)
        tokens = self.tokenize(prompt)
        if len(tokens) + max_tokens > self.n_ctx:
            raise BackendError(context_overflow(len(tokens), max_tokens, self.n_ctx))
        if temperature == 0.0:
            return self._greedy(tokens, grammar, max_tokens, stop)
        cached = max(0, self.cached_prefix(tokens))
        start = time.perf_counter()
        result = self.llama.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=temperature,
                                              seed=seed, grammar=compiled, stop=[self._renderer.eos_token])
        latency = time.perf_counter() - start
        assert not isinstance(result, Iterator), "stream=False: one response, not a stream of chunks"
        choice, usage = result["choices"][0], result["usage"]
        return Completion(choice["text"], usage["prompt_tokens"], usage["completion_tokens"], latency,
                          cached_tokens=cached, finish_reason=choice.get("finish_reason") or "stop")

    def _greedy(self, tokens: list[int], grammar: str | None, max_tokens: int, stop: StopCheck | None) -> Completion:
        """Temperature 0: our own greedy loop (greedy_decoding), the same tokens at a fraction of
        create_completion's cost per token; the text the grammar forces is not decoded token by
        token (jump_forward)."""
        start = time.perf_counter()
        checker = self._checkers[grammar] if grammar is not None else None
        decoded = greedy_decode(self._llama_cpp, self.llama, tokens, max_tokens, checker, self._is_end, stop,
                                forced=None if grammar is None else partial(forced_continuation, grammar))
        text = self.llama.detokenize(decoded.tokens).decode("utf-8", errors="replace")
        return Completion(text, len(tokens), len(decoded.tokens), time.perf_counter() - start,
                          cached_tokens=decoded.cached_tokens, finish_reason=decoded.finish_reason,
                          prompt_eval_s=decoded.prompt_eval_s, decode_s=decoded.decode_s, grammar_s=decoded.grammar_s,
                          forced_tokens=decoded.forced_tokens)

    def _think_then_answer(self, prompt: str, grammar: str | None, max_tokens: int,
                           stop: StopCheck | None) -> Completion:
        """A reasoning model's turn with a thinking budget: at most `budget` free greedy tokens of
        thinking, closed here if the model has not closed it, then the (grammar-constrained)
        answer after it; the answer's text is returned, the thinking counts in tokens and time. Both
        are decoded greedily, whatever the temperature."""
        start = time.perf_counter()
        tokens = self.tokenize(prompt)
        budget = self._renderer.budget
        if len(tokens) + budget + max_tokens > self.n_ctx:
            raise BackendError(context_overflow(len(tokens), budget + max_tokens, self.n_ctx))
        close = self.tokenize(THINK_CLOSE.strip())
        ends_thinking = self._is_end if len(close) != 1 else (lambda token: token == close[0] or self._is_end(token))
        thought = greedy_decode(self._llama_cpp, self.llama, tokens, budget, None, ends_thinking, stop)
        if thought.finish_reason == CANCELLED:
            return Completion("", len(tokens), len(thought.tokens), time.perf_counter() - start,
                              cached_tokens=thought.cached_tokens, finish_reason=CANCELLED)
        text = self.llama.detokenize(thought.tokens).decode("utf-8", errors="replace").split(THINK_CLOSE.strip())[0]
        answer = self._greedy(self.tokenize(prompt + text.rstrip("\n") + THINK_CLOSE), grammar, max_tokens, stop)
        return replace(answer, prompt_tokens=len(tokens), latency_s=time.perf_counter() - start,
                       completion_tokens=len(thought.tokens) + answer.completion_tokens,
                       cached_tokens=thought.cached_tokens)

    def _is_end(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self.llama._model.vocab, token))

    def choose(self, messages: Sequence[Message], prefix: str, options: Sequence[str], suffix: str = "",
               stop: StopCheck | None = None) -> Completion:
        """One forward pass over the prompt + `prefix`; the option whose first token is the most
        likely next token wins. Options must differ in their first token."""
        start = time.perf_counter()
        head = self._renderer.answer_prompt(messages) + prefix
        tokens, firsts = option_first_tokens(self.tokenize, head, options)
        if len(tokens) + 1 > self.n_ctx:
            raise BackendError(f"prompt of {len(tokens)} tokens exceeds the context of {self.n_ctx} tokens")
        logprobs, cached, prompt_eval_s = next_token_logprobs(self._llama_cpp, self.llama, tokens, stop)
        if logprobs is None:
            return Completion("", len(tokens), 0, time.perf_counter() - start, cached_tokens=cached,
                              finish_reason=CANCELLED, prompt_eval_s=prompt_eval_s, decode_s=0.0, grammar_s=0.0)
        scores = {option: float(logprobs[token]) for option, token in firsts.items()}
        best = max(scores, key=lambda option: scores[option])
        return Completion(prefix + best + suffix, len(tokens), 1, time.perf_counter() - start, cached_tokens=cached,
                          prompt_eval_s=prompt_eval_s, decode_s=0.0, grammar_s=0.0, option_logprobs=scores)

    def raw_decode_s(self, completion: Completion) -> float:
        """Seconds llama.cpp alone takes for the work of `completion`, this backend's last answer:
        its prompt's uncached tokens, then its sampled tokens one by one (greedy_decoding). The
        prompt is read back from the context, which holds it first."""
        prompt = self.llama.input_ids[:completion.prompt_tokens].tolist()
        return raw_decode_s(self._llama_cpp, self.llama, prompt, completion.cached_tokens, completion.sampled_tokens)

    def reset_cache(self) -> None:
        self.llama.reset()


class OpenAIHttpBackend(Backend):
    """Any OpenAI-compatible /chat/completions endpoint.

    The grammar travels in a request field whose name depends on the server: "grammar" for
    llama-server (the default); vLLM has used "guided_grammar". A server that ignores the field
    answers unconstrained, which the parsers catch.
    """

    name = "openai-http"

    def __init__(self, base_url: str, *, model: str = "default", api_key: str | None = None,
                 timeout_s: float = 120.0, grammar_field: str = "grammar") -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.grammar_field = grammar_field

    def complete(self, messages: Sequence[Message], *, grammar: str | None = None, max_tokens: int = 200,
                 temperature: float = 0.0, seed: int = 0, stop: StopCheck | None = None) -> Completion:
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages],
                                "max_tokens": max_tokens, "temperature": temperature, "seed": seed}
        if grammar is not None:
            body[self.grammar_field] = grammar
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers)
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            raise BackendError(f"{self.url}: HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise BackendError(f"{self.url}: cannot reach the endpoint ({error})") from None
        except json.JSONDecodeError:
            raise BackendError(f"{self.url}: the reply is not JSON") from None
        latency = time.perf_counter() - start
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] or ""
            usage = reply.get("usage") or {}
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.url}: the reply has no choices[0].message.content") from None
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") or (reply.get("timings") or {}).get("cache_n") or 0
        return Completion(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                          latency, cached_tokens=int(cached), finish_reason=choice.get("finish_reason") or "stop")


def context_overflow(prompt_tokens: int, max_tokens: int, n_ctx: int) -> str:
    return (f"prompt of {prompt_tokens} tokens + max_tokens {max_tokens} exceeds the context of {n_ctx} tokens; "
            "raise n_ctx")


def option_first_tokens(tokenize: Callable[[str], list[int]], head: str,
                        options: Sequence[str]) -> tuple[list[int], dict[str, int]]:
    """The tokens of `head`, and the token each option starts with after it (`Backend.choose`:
    options must begin a new token and differ in it)."""
    tokens = tokenize(head)
    firsts = {}
    for option in options:
        full = tokenize(head + option)
        if full[:len(tokens)] != tokens or len(full) == len(tokens):
            raise BackendError(f"option {option!r} does not start a new token after {head[-20:]!r}")
        firsts[option] = full[len(tokens)]
    if len(set(firsts.values())) != len(firsts):
        raise BackendError(f"options {list(options)} share their first token; choose needs distinct ones")
    return tokens, firsts


def _token_text(model: Any, token: int) -> str:
    return model.token_get_text(token) if token != -1 else ""
