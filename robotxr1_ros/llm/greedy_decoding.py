"""Greedy, grammar-checked decoding on a llama.cpp context, with the time of each phase.

llama-cpp-python's create_completion runs a sampler chain per token that applies the grammar to
all ~49 k vocabulary entries, and detokenizes and scans for stop strings in Python: on the
bundled model that made answers ~5x slower per token than llama.cpp decodes. Greedy decoding
needs neither: take the most likely token, ask the grammar about that one token only, and apply
the grammar to the whole vocabulary only when it refuses (what llama.cpp's own common sampler
does). The result is the token greedy sampling under the grammar would pick.

Text the grammar forces (jump_forward: the rest of a tag or a parameter name once begun, the
closing of the answer) is not decoded token by token: its tokens are checked against the grammar
and evaluated in one batch with the token before them (at the start, with the prompt), so they
cost no forward pass of their own, and the literal that ends an answer is not evaluated at all.

`raw_decode_s` times llama.cpp alone doing an answer's work (its uncached prompt, then as many
tokens one by one as the answer sampled): the limit the pipeline is measured against (bench llm).

The same context also gives the next-token log-probabilities of a prompt in one forward pass
(`next_token_logprobs`): a verdict read from P(True) vs P(False) needs no sampling at all.
"""
from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

CANCELLED = "cancelled"  # the finish reason of an answer that stop() ended


@dataclass(frozen=True)
class Decoded:
    tokens: list[int]
    cached_tokens: int  # prompt tokens taken from the KV cache
    prompt_eval_s: float  # evaluating the prompt tokens that were not cached
    decode_s: float  # generating (forward passes of the generated tokens)
    grammar_s: float  # of decode_s: checking tokens against the grammar
    finish_reason: str  # "stop", "length" or CANCELLED
    forced_tokens: int = 0  # of the tokens, how many the grammar forced (not decoded one by one)


class GrammarChecker:
    """A compiled GBNF grammar as a llama.cpp sampler, used to check and to mask tokens."""

    def __init__(self, llama_cpp: Any, vocab: Any, grammar: str, n_vocab: int) -> None:
        self._lib = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not self._sampler:
            raise ValueError("llama.cpp cannot parse the grammar")
        record = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
        if record.itemsize != ctypes.sizeof(llama_cpp.llama_token_data):
            raise RuntimeError("llama_token_data layout differs from the one this module assumes")
        self._all = np.zeros(n_vocab, dtype=record)
        self._all["id"] = np.arange(n_vocab)
        self._one = np.zeros(1, dtype=record)
        self._all_array = self._token_array(self._all)
        self._one_array = self._token_array(self._one)

    def _token_array(self, records: np.ndarray) -> Any:
        pointer = records.ctypes.data_as(ctypes.POINTER(self._lib.llama_token_data))
        return self._lib.llama_token_data_array(data=pointer, size=len(records), selected=-1, sorted=False)

    def reset(self) -> None:
        self._lib.llama_sampler_reset(self._sampler)

    def allows(self, token: int) -> bool:
        self._one["id"][0], self._one["logit"][0] = token, 0.0
        self._one_array.size, self._one_array.selected = 1, -1
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return bool(np.isfinite(self._one["logit"][0]))

    def best_allowed(self, logits: np.ndarray) -> int:
        """The most likely token the grammar admits (masks the whole vocabulary)."""
        self._all["id"] = np.arange(len(self._all))
        self._all["logit"] = logits
        self._all_array.size, self._all_array.selected = len(self._all), -1
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._all_array))
        return int(self._all["id"][int(np.argmax(self._all["logit"]))])

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None

    def __del__(self) -> None:
        self.close()


def reuse_prefix(llama: Any, tokens: Sequence[int]) -> int:
    """Leading prompt tokens whose KV entries can stay (at least one token is evaluated, so that
    there are fresh logits)."""
    cached = llama.input_ids[: llama.n_tokens]
    common = 0
    for old, new in zip(cached.tolist(), tokens, strict=False):
        if old != new:
            break
        common += 1
    return min(common, len(tokens) - 1)


def evaluate_prompt(llama_cpp: Any, llama: Any, tokens: Sequence[int], stop: Callable[[], bool] | None = None
                    ) -> tuple[int, float, bool]:
    """Evaluate `tokens` after the longest cached prefix; (cached tokens, seconds, completed).
    With `stop`, llama.cpp asks it between the operations of its compute graph and abandons the
    evaluation when it says True (completed False): an answer no longer wanted ends within
    milliseconds, not after the whole prompt. llama.cpp then drops the KV entries of the abandoned
    batch, so the cache holds the prefix only, as Llama.n_tokens says."""
    keep = reuse_prefix(llama, tokens)
    llama.n_tokens = keep  # Llama.eval drops the KV entries from here on
    start = time.perf_counter()
    if stop is None:
        llama.eval(list(tokens[keep:]))
        return keep, time.perf_counter() - start, True
    if stop():
        return keep, 0.0, False
    with abort_when(llama_cpp, llama, stop) as aborted:
        try:
            llama.eval(list(tokens[keep:]))
        except RuntimeError:  # llama-cpp-python's report of llama_decode's "aborted" (2), among others
            if not aborted:
                raise
    return keep, time.perf_counter() - start, not aborted


@contextmanager
def abort_when(llama_cpp: Any, llama: Any, stop: Callable[[], bool]) -> Iterator[list[bool]]:
    """While inside: llama.cpp's abort callback asks `stop()`; the yielded list is non-empty once
    it said True. (A Python callback: ~500 calls per prompt, a few ms in all, measured.)"""
    aborted: list[bool] = []

    @llama_cpp.ggml_abort_callback
    def callback(_data: Any) -> bool:
        if not aborted and stop():
            aborted.append(True)
        return bool(aborted)

    llama_cpp.llama_set_abort_callback(llama.ctx, callback, None)
    try:
        yield aborted
    finally:
        llama_cpp.llama_set_abort_callback(llama.ctx, llama_cpp.ggml_abort_callback(), None)  # a NULL callback


def last_logits(llama_cpp: Any, llama: Any) -> np.ndarray:
    pointer = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
    return np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),))


def next_token_logprobs(llama_cpp: Any, llama: Any, tokens: Sequence[int], stop: Callable[[], bool] | None = None
                        ) -> tuple[np.ndarray | None, int, float]:
    """Log-probabilities of the token after `tokens` (None if `stop()` ended the evaluation),
    cached prefix length, seconds spent."""
    cached, seconds, completed = evaluate_prompt(llama_cpp, llama, tokens, stop)
    if not completed:
        return None, cached, seconds
    logits = last_logits(llama_cpp, llama).astype(np.float64)
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum()), cached, seconds


def greedy_decode(llama_cpp: Any, llama: Any, tokens: Sequence[int], max_tokens: int,
                  grammar: GrammarChecker | None, is_end: Any, stop: Callable[[], bool] | None = None,
                  forced: Callable[[str], tuple[str, bool]] | None = None) -> Decoded:
    """Most likely continuation of `tokens` under `grammar`, until an end token, max_tokens, or
    `stop()` (asked before every token, and during the prompt) says the answer is no longer
    wanted. `forced(text)`: the text the grammar forces after the answer so far, and whether it
    ends the answer. Forced text costs no forward pass of its own: it is evaluated in one batch
    with the token before it (the text forced at the start, with the prompt)."""
    if grammar is not None:
        grammar.reset()
    jump = _ForcedRuns(llama, grammar, forced)
    generated, final = jump.after(b"", max_tokens)
    cached, prompt_eval_s, completed = evaluate_prompt(llama_cpp, llama, [*tokens, *generated], stop)
    if not completed:
        return Decoded([], cached, prompt_eval_s, 0.0, 0.0, CANCELLED)
    text = llama.detokenize(generated)
    start = time.perf_counter()
    finish = "stop" if final else "length"
    while not final and len(generated) < max_tokens:
        if stop is not None and stop():
            finish = CANCELLED
            break
        logits = last_logits(llama_cpp, llama)
        token = int(np.argmax(logits))
        if grammar is not None:
            checked = time.perf_counter()
            if not grammar.allows(token):
                token = grammar.best_allowed(logits)
            jump.grammar_s += time.perf_counter() - checked
        if is_end(token):
            finish = "stop"
            break
        if grammar is not None:
            grammar.accept(token)
        generated.append(token)
        text += llama.detokenize([token])
        run, final = jump.after(text, max_tokens - len(generated))
        generated += run
        text += llama.detokenize(run)
        if final:
            finish = "stop"  # nothing but the end of the answer can follow: not evaluated
        elif len(generated) < max_tokens:
            llama.eval([token, *run])
    return Decoded(generated, cached, prompt_eval_s, time.perf_counter() - start, jump.grammar_s, finish, jump.count)


class _ForcedRuns:
    """The tokens the grammar forces after the answer so far (jump_forward), checked against it
    and accepted into it; counts them and the time the checks take."""

    def __init__(self, llama: Any, grammar: GrammarChecker | None,
                 forced: Callable[[str], tuple[str, bool]] | None) -> None:
        self.llama, self.grammar, self.forced = llama, grammar, forced
        self.count = 0
        self.grammar_s = 0.0

    def after(self, text: bytes, limit: int) -> tuple[list[int], bool]:
        """(forced tokens, at most `limit`, whether they end the answer)."""
        if self.grammar is None or self.forced is None:
            return [], False
        checked = time.perf_counter()
        run: list[int] = []
        final = False
        while len(run) < limit and not final:
            literal, ends = self.forced((text + self.llama.detokenize(run)).decode("utf-8", errors="replace"))
            known = _plain_tokens(self.llama, literal) if literal else []
            # A literal's last token could merge with the text after it (" {" + "'" is the one
            # token " {'"); forcing it would split what the model writes as one, so it decodes it.
            more = _grammar_run(self.grammar, known if ends else known[:-1], limit - len(run))
            if not more:
                break
            run += more
            final = ends and len(more) == len(known)  # the whole closing literal: the answer is done
        self.count += len(run)
        self.grammar_s += time.perf_counter() - checked
        return run, final


def raw_decode_s(llama_cpp: Any, llama: Any, tokens: Sequence[int], cached: int, sampled: int) -> float:
    """Seconds llama.cpp alone takes for an answer's work on the same context: `tokens` after the
    first `cached` (still in the KV cache) in batches of n_batch, then `sampled` tokens one by one,
    each picked by llama.cpp's greedy sampler and fed back; no grammar, no Python beyond a call per
    token. Leaves the KV cache holding `tokens`, as Llama.n_tokens then says."""
    memory = llama_cpp.llama_get_memory(llama.ctx)
    llama_cpp.llama_memory_seq_rm(memory, -1, cached, -1)
    sampler = llama_cpp.llama_sampler_init_greedy()
    one = (llama_cpp.llama_token * 1)()
    batches = [tokens[at:at + llama.n_batch] for at in range(cached, len(tokens), llama.n_batch)]
    try:
        start = time.perf_counter()
        for batch in batches:
            _decode(llama_cpp, llama, (llama_cpp.llama_token * len(batch))(*batch), len(batch))
        for _ in range(sampled):
            one[0] = llama_cpp.llama_sampler_sample(sampler, llama.ctx, -1)
            _decode(llama_cpp, llama, one, 1)
        seconds = time.perf_counter() - start
    finally:
        llama_cpp.llama_sampler_free(sampler)
    llama_cpp.llama_memory_seq_rm(memory, -1, len(tokens), -1)
    llama.n_tokens = len(tokens)
    return seconds


def _decode(llama_cpp: Any, llama: Any, tokens: Any, count: int) -> None:
    status = llama_cpp.llama_decode(llama.ctx, llama_cpp.llama_batch_get_one(tokens, count))
    if status != 0:
        raise RuntimeError(f"llama_decode returned {status}")


def _plain_tokens(llama: Any, text: str) -> list[int]:
    return llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)


def _grammar_run(grammar: GrammarChecker, tokens: Sequence[int], limit: int) -> list[int]:
    """The leading `tokens` (at most `limit`) the grammar admits, accepted into it."""
    run = []
    for token in tokens[:limit]:
        if not grammar.allows(token):
            break
        grammar.accept(token)
        run.append(token)
    return run
