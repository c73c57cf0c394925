"""The model being trained: a GGUF file made into a float torch model, with LoRA (or not).

transformers reads a GGUF file and de-quantizes it, but marks the result "quantized" and
refuses to fine-tune or save it; the model is therefore rebuilt from its config as a plain float
model carrying the de-quantized weights. That takes tens of seconds, so the float model is
saved once (safetensors + tokenizer, in a cache folder keyed by the GGUF file's sha256) and
loaded from there afterwards. The same folder is the `--base` the LoRA-to-GGUF converter needs.

Threads: torch defaults to one thread per core; on a shared machine two threads while another
process holds a core ran ~30x slower, so the thread count is always set explicitly.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from ..cache_dirs import made_cache_dir, unwritable_cache
from ..errors import Robotxr1Error
from ..llm.lora_merge import LoraAdapter
from ..llm.models import check_gguf, default_model_path, file_sha256, read_gguf
from .gguf_adapter_import import load_gguf_adapter

BASE_CACHE_ENV = "ROBOTXR1_TRAIN_CACHE"
LORA_TARGETS = "all-linear"


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 16
    alpha: float = 32
    dropout: float = 0.0


def configure_torch(threads: int) -> None:
    """Pin torch (and the BLAS libraries it may call) to `threads` threads."""
    import torch

    if threads < 1:
        raise Robotxr1Error(f"threads must be >= 1, got {threads}")
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[key] = str(threads)
    torch.set_num_threads(threads)


def float_base_dir(gguf_path: str | Path | None = None) -> Path:
    """A folder holding `gguf_path` as a float HF model and its tokenizer (made on first use)."""
    gguf_path = check_gguf(gguf_path if gguf_path is not None else default_model_path())
    target = made_cache_dir("float-base", BASE_CACHE_ENV) / f"{gguf_path.stem}-{file_sha256(gguf_path)[:16]}"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    read_gguf(gguf_path)  # a truncated or corrupt file fails here in one line, not deep inside transformers
    model, tokenizer = _float_model_from_gguf(gguf_path)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
    except OSError as error:
        raise unwritable_cache(partial, error, BASE_CACHE_ENV) from None
    shutil.rmtree(target, ignore_errors=True)  # an incomplete folder from an interrupted run
    partial.replace(target)
    return target


def _float_model_from_gguf(gguf_path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    dequantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = dequantized.config
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(dequantized.state_dict())
    return model, tokenizer


def load_tokenizer(base_dir: str | Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_policy(base_dir: str | Path, lora: LoraSettings | None = LoraSettings(), adapter_dir: str | Path | None = None,
                full_state: str | Path | None = None, dtype: str = "float32",
                gguf_adapter: LoraAdapter | None = None) -> Any:
    """The trainable model: the float base with a new LoRA adapter (default), with the adapter
    saved in `adapter_dir` (resume), with a GGUF adapter's weights (`gguf_adapter`, read by
    gguf_adapter_import.read_gguf_adapter; its alpha kept), or the whole model (`lora=None`, full
    fine-tuning; optionally its weights from a checkpoint file `full_state`)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=getattr(torch, dtype))
    if lora is None:
        if full_state is not None:
            from safetensors.torch import load_file

            model.load_state_dict(load_file(str(full_state)), strict=False)
        return model
    from peft import LoraConfig, PeftModel, get_peft_model

    if adapter_dir is not None:
        return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
    if gguf_adapter is not None:
        lora = replace(lora, alpha=gguf_adapter.alpha)
    # peft annotates lora_alpha as int but scales by alpha / r in floats; a GGUF adapter's alpha is a float.
    config = LoraConfig(r=lora.rank, lora_alpha=cast(int, lora.alpha), lora_dropout=lora.dropout,
                        target_modules=LORA_TARGETS, task_type="CAUSAL_LM")
    policy = get_peft_model(model, config)
    if gguf_adapter is not None:
        load_gguf_adapter(policy, gguf_adapter)
    return policy


def trainable_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def is_lora(model: Any) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)
