"""On-board retrieval of decision hints and MPC memories: BM25 (bm25s) over small local files.

The corpora are a dozen short passages each, so lexical BM25 with a light suffix-stripping
stemmer ("reversing" ~ "reverse") is enough and costs microseconds; nothing leaves the car.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import bm25s

from ..errors import Robotxr1Error

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
HINTS_FILE = DATA_DIR / "decision_hints.json"
MEMORIES_FILE = DATA_DIR / "mpc_memories.json"
_SUFFIXES = ("ing", "ed", "ly", "es", "s", "e")


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


@lru_cache(maxsize=None)
def load_hints() -> tuple[Passage, ...]:
    return tuple(load_passages(HINTS_FILE, "hints"))


@lru_cache(maxsize=None)
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
    "a an and are as at be by for from has have in is it its of on or so that the this to was were will "
    "with you your please car drive driving track keep".split()
)


class Bm25Retriever:
    """Top-k passages for a query by BM25 over their text and keywords; only real matches."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = tuple(passages)
        self._index = bm25s.BM25()
        if self.passages:
            corpus = [tokenize(p.text + " " + " ".join(p.keywords)) for p in self.passages]
            self._index.index(corpus, show_progress=False)

    def search(self, query: str, k: int = 3) -> list[Passage]:
        terms = tokenize(query)
        if not self.passages or not terms or k <= 0:
            return []
        ids, scores = self._index.retrieve([terms], k=min(k, len(self.passages)), show_progress=False)
        return [self.passages[int(i)] for i, score in zip(ids[0], scores[0]) if score > 0]
