"""Which model answers, in one value: the one factory of backends for `ask`, `eval`, `replay`,
`bench`, the LLM node and training.

A local GGUF file runs in-process through llama.cpp; an endpoint is any OpenAI-compatible server
(llama-server, vLLM) serving `served_model`. The seed reaches llama.cpp's sampler, so two runs
of the same spec answer alike.

A LoRA adapter (GGUF, `robotxr1 export`) is loaded on top of the base model. The bundled base
comes with the project's trained adapters when they are shipped: data/adapters/<base>.lora.gguf
for every module, and <base>.<module>.lora.gguf where one module has its own (the decision
module: training the verdict further cost the tuning answers control score, so each module runs
the adapter that is best at it; the two backends of the car hold one KV cache each anyway).
`base_only` runs the base without any. An adapter belongs to one base: it is only taken by
default for the bundled model, never for a model given by path or $ROBOTXR1_MODEL; one given
by path serves both modules.

`chat_template` (a built-in name or a Jinja file) renders a local model's prompts instead of its
GGUF's own template (which a base model or a bare conversion lacks); `thinking` ("none" or
"budget N") is how a reasoning model thinks before its answers (chat_templates.py). An endpoint
renders and thinks as its server does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import Robotxr1Error
from .backends import Backend, LlamaCppBackend, OpenAIHttpBackend
from .chat_templates import THINKING_OFF, resolve_chat_template, thinking_budget
from .llama_resources import ALL_LAYERS, AUTO, LlamaResources
from .lora_merge import merged_model_path
from .models import MODEL_ENV, N_CTX, bundled_model_path, default_model_path, verify_model

ADAPTER_DIR = Path(__file__).resolve().parent.parent / "data" / "adapters"
MODULES = ("decision", "tuning")


def shipped_adapter_path(module: str | None = None) -> Path | None:
    """The trained adapter shipped for the bundled model and `module` (its own, else the common
    one), if there is one."""
    if module is not None and module not in MODULES:
        raise Robotxr1Error(f"unknown module {module!r}; modules: {', '.join(MODULES)}")
    stem = bundled_model_path().stem
    names = ([f"{stem}.{module}.lora.gguf"] if module else []) + [f"{stem}.lora.gguf"]
    return next((ADAPTER_DIR / name for name in names if (ADAPTER_DIR / name).exists()), None)


@dataclass(frozen=True)
class ModelSpec:
    model_path: str | None = None  # GGUF; None: $ROBOTXR1_MODEL, else the bundled model
    endpoint: str | None = None  # e.g. http://127.0.0.1:8080/v1 instead of a local file
    served_model: str = "default"  # the model name an endpoint serves
    n_ctx: int = N_CTX
    n_threads: int | None = AUTO  # llama.cpp threads decoding (0 or None: from the CPUs, llama_resources.py)
    n_threads_batch: int | None = AUTO  # llama.cpp threads evaluating prompts (0 or None: from the CPUs)
    n_gpu_layers: int = ALL_LAYERS  # layers llama.cpp offloads to a GPU (-1: all; none without a GPU backend)
    flash_attn: bool = True  # llama.cpp's flash attention (faster prompt evaluation)
    seed: int = 0
    lora_path: str | None = None  # GGUF LoRA adapter for the model (None: the shipped one, if any)
    base_only: bool = False  # run the base model without any adapter
    chat_template: str | None = None  # built-in name or Jinja file instead of the GGUF's template (None: the model's)
    thinking: str = THINKING_OFF  # a reasoning model's thinking: "none" (an empty block) or "budget N" tokens

    def __post_init__(self) -> None:
        if self.endpoint and self.model_path:
            raise Robotxr1Error("give either a GGUF model path or an endpoint (with its served model name), not both")
        if self.lora_path and (self.endpoint or self.base_only):
            raise Robotxr1Error("a LoRA adapter is loaded into a local GGUF model: not with an endpoint or base_only")
        if (self.n_threads or 0) < 0 or (self.n_threads_batch or 0) < 0 or self.n_ctx < 64:
            raise Robotxr1Error(f"need n_threads >= 0, n_threads_batch >= 0 (0: from the CPUs) and n_ctx >= 64, got "
                                f"{self.n_threads}, {self.n_threads_batch} and {self.n_ctx}")
        if self.n_gpu_layers < ALL_LAYERS:
            raise Robotxr1Error(f"need n_gpu_layers >= 0, or -1 for all layers, got {self.n_gpu_layers}")
        if self.chat_template and self.endpoint:
            raise Robotxr1Error("a chat template renders a local GGUF model's prompts: not with an endpoint")
        resolve_chat_template(self.chat_template)
        thinking_budget(self.thinking)

    def create(self, module: str | None = None) -> Backend:
        """A new backend with its own KV cache (GGUF weights are memory-mapped and shared), for
        `module` ("decision" or "tuning"; None: the common adapter)."""
        if self.endpoint:
            return OpenAIHttpBackend(self.endpoint, model=self.served_model)
        return LlamaCppBackend(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                               n_threads_batch=self.n_threads_batch, seed=self.seed,
                               lora_path=self.adapter(module), flash_attn=self.flash_attn,
                               n_gpu_layers=self.n_gpu_layers, chat_template=resolve_chat_template(self.chat_template),
                               thinking=self.thinking)

    def llama_resources(self) -> LlamaResources:
        """The threads and GPU layers a local model runs with, the automatic ones resolved (for logs
        and reports; `create` resolves them alike)."""
        return LlamaResources.resolve(self.n_threads, self.n_threads_batch, self.n_gpu_layers)

    def check(self, module: str | None = None) -> None:
        """Check here and now the file `create(module)` will load (the model, or the model with
        its adapter merged): a command fails on a bad file before it starts its workers or its
        progress display. The merged file and the verdict are cached, so `create` finds them."""
        if not self.endpoint:
            model = Path(self.model_path) if self.model_path else default_model_path()
            adapter = self.adapter(module)
            verify_model(merged_model_path(model, adapter) if adapter else model, self.n_gpu_layers)

    def adapter(self, module: str | None = None) -> str | None:
        """The adapter that will be loaded: the given one, else the one shipped for the bundled
        model and `module`."""
        if self.lora_path or self.base_only or self.endpoint:
            return self.lora_path
        if self.model_path is None and not os.environ.get(MODEL_ENV):
            shipped = shipped_adapter_path(module)
            return str(shipped) if shipped else None
        return None

    def describe(self, module: str | None = None) -> str:
        """A short name for logs and reports."""
        if self.endpoint:
            return f"{self.served_model} @ {self.endpoint}"
        name = Path(self.model_path).name if self.model_path else default_model_path().name
        adapters = dict.fromkeys(self.adapter(each) for each in ((module,) if module else MODULES))
        named = [Path(adapter).name for adapter in adapters if adapter]
        return " + ".join([name, *named]) if named else name
