"""Which model answers, in one value: the one factory of backends for `ask`, `eval`, `replay`,
`bench`, the LLM node and training.

A local GGUF file runs in-process through llama.cpp; an endpoint is any OpenAI-compatible server
(llama-server, vLLM) serving `served_model`. The seed reaches llama.cpp's sampler, so two runs
of the same spec answer alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import Robotxr1Error
from .backends import Backend, LlamaCppBackend, OpenAIHttpBackend


@dataclass(frozen=True)
class ModelSpec:
    model_path: str | None = None  # GGUF; None: $ROBOTXR1_MODEL, else the bundled model
    endpoint: str | None = None  # e.g. http://127.0.0.1:8080/v1 instead of a local file
    served_model: str = "default"  # the model name an endpoint serves
    n_ctx: int = 2048
    n_threads: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.endpoint and self.model_path:
            raise Robotxr1Error("give either a GGUF model path or an endpoint (with its served model name), not both")
        if self.n_threads < 1 or self.n_ctx < 64:
            raise Robotxr1Error(f"need n_threads >= 1 and n_ctx >= 64, got {self.n_threads} and {self.n_ctx}")

    def create(self) -> Backend:
        """A new backend with its own KV cache (GGUF weights are memory-mapped and shared)."""
        if self.endpoint:
            return OpenAIHttpBackend(self.endpoint, model=self.served_model)
        return LlamaCppBackend(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads, seed=self.seed)

    def describe(self) -> str:
        """A short name for logs and reports."""
        if self.endpoint:
            return f"{self.served_model} @ {self.endpoint}"
        return Path(self.model_path).name if self.model_path else "bundled model"
