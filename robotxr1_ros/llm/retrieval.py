"""On-board retrieval of decision hints and MPC memories: BM25 over small local files.

The corpora are a dozen short passages each, so lexical BM25 with a light suffix-stripping
stemmer ("reversing" ~ "reverse") is enough and costs microseconds; nothing leaves the car.
Scored here in a few lines of numpy (Lucene's BM25, float32, as the bm25s package the hints were
first retrieved and the adapters trained with scores it): importing bm25s cost every process that
asks the model ~0.5 s of CPU.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import Robotxr1Error

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
HINTS_FILE = DATA_DIR / "decision_hints.json"
MEMORIES_FILE = DATA_DIR / "mpc_memories.json"
_SUFFIXES = ("ing", "ed", "ly", "es", "s", "e")
K1, B = 1.5, 0.75  # BM25's term-frequency saturation and length normalisation (the usual values)
RETRIEVAL_K = 3  # passages retrieved per prompt: hints for a decision, memories for a tuning


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    keywords: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # MPC parameter names the passage talks about


def load_passages(path: Path, key: str) -> list[Passage]:
    """Passages under `key` in a JSON file; a malformed file raises ValueError naming it."""
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))[key]
        return [Passage(e["id"], e["text"], tuple(e.get("keywords", ())), tuple(e.get("params", ())))
                for e in entries]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise Robotxr1Error(f"{path}: cannot read passages under {key!r} ({error})") from None


@cache
def load_hints() -> tuple[Passage, ...]:
    return tuple(load_passages(HINTS_FILE, "hints"))


@cache
def load_memories() -> tuple[Passage, ...]:
    return tuple(load_passages(MEMORIES_FILE, "memories"))


def stem(word: str) -> str:
    """Crude English suffix stripping; only has to make query and passage words meet."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    return [stem(word) for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in _STOPWORDS]


_STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of",
     "on", "or", "so", "that", "the", "this", "to", "was", "were", "will", "with", "you", "your", "please", "car",
     "drive", "driving", "track", "keep"]
)


class Bm25Retriever:
    """Top-k passages for a query by BM25 over their text and keywords; only real matches."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = tuple(passages)
        documents = [tokenize(p.text + " " + " ".join(p.keywords)) for p in self.passages]
        lengths = np.array([len(words) for words in documents], dtype=float)
        average = float(lengths.mean()) if len(documents) else 1.0
        counts: dict[str, dict[int, int]] = {}  # word -> {passage index: times the word occurs in it}
        for index, words in enumerate(documents):
            for word, times in Counter(words).items():
                counts.setdefault(word, {})[index] = times
        # Per term: the passages holding it and its score in each (idf x saturated term frequency).
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for word, per_passage in counts.items():
            found = np.fromiter(per_passage, dtype=np.intp)
            frequency = np.fromiter(per_passage.values(), dtype=np.float32)
            idf = np.float32(np.log(1.0 + (len(documents) - len(found) + 0.5) / (len(found) + 0.5)))
            norm = K1 * ((1.0 - B) + B * lengths[found] / average)
            self._postings[word] = found, idf * (frequency / (norm.astype(np.float32) + frequency))

    def scores(self, query: str) -> np.ndarray:
        """Each passage's BM25 score for the query (a repeated query word counts again)."""
        total = np.zeros(len(self.passages), dtype=np.float32)
        for word in tokenize(query):
            if word in self._postings:
                found, score = self._postings[word]
                total[found] += score
        return total

    def search(self, query: str, k: int = 3) -> list[Passage]:
        if not self.passages or k <= 0:
            return []
        scores = self.scores(query)
        k = min(k, len(self.passages))
        # Partition, then sort the k best ascending and reverse: equal scores come out in the order
        # bm25s gave them, so the prompts (and what the adapters learnt) stay as they were.
        top = np.argpartition(scores, -k)[-k:]
        best = top[np.argsort(scores[top])[::-1]]
        return [self.passages[int(i)] for i in best if scores[i] > 0]


@cache
def hint_retriever() -> Bm25Retriever:
    """The packaged decision hints, indexed once per process."""
    return Bm25Retriever(load_hints())


@cache
def memory_retriever() -> Bm25Retriever:
    """The packaged MPC memories, indexed once per process."""
    return Bm25Retriever(load_memories())
