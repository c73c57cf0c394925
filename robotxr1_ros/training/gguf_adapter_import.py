"""A GGUF LoRA adapter (what `robotxr1 export` writes and the package ships) loaded into the
torch model's PEFT LoRA layers, so a run can continue training from it (`--init-from X.gguf`).

llama.cpp's convert_lora_to_gguf.py writes each adapted weight as `<gguf weight name>.lora_a`
(rank, in) and `.lora_b` (out, rank) in numpy's order, which is PEFT's lora_A / lora_B layout,
and the adapter's alpha as `adapter.lora.alpha`: llama.cpp scales by alpha / rank as PEFT does.
Two things differ. The names: the GGUF's are mapped back through gguf-py's table of the
architecture's tensor names. And for a Llama model the converter reorders the rows of the query
and key projections (and so of their lora_b) into llama.cpp's rotary layout, which is undone here.

The file is read and checked (type, alpha, architecture, rank) before the float base is built,
so a damaged file or a wrong `--lora-rank` is one line naming them, not a failure minutes later.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Robotxr1Error
from ..llm.lora_merge import LoraAdapter, read_lora_adapter
from ..llm.models import ModelLoadError, read_gguf

GGUF_SUFFIX = ".gguf"
ADAPTER_NAME = "default"  # PEFT's name of the one adapter get_peft_model makes
# Architectures whose converted q/k rows the converter permutes for llama.cpp's rotary embedding
# (LlamaModel.undo_permute), and those it copies as they are; others are refused, not guessed.
ROPE_PERMUTED = {"llama": True, "qwen2": False}
_SUFFIXES = (".lora_a", ".lora_b")


def is_gguf_adapter(path: str | os.PathLike[str] | None) -> bool:
    """Whether `--init-from` names a GGUF adapter file (else a PEFT adapter folder)."""
    return path is not None and str(path).endswith(GGUF_SUFFIX)


def read_gguf_adapter(path: str | os.PathLike[str], base_model: str | os.PathLike[str], rank: int) -> LoraAdapter:
    """The adapter file, checked against the base GGUF it will be trained on and the run's rank."""
    adapter = read_lora_adapter(path)
    path = adapter.path
    base_architecture = read_gguf(base_model).fields["general.architecture"].contents()
    if adapter.architecture != base_architecture:
        raise ModelLoadError(f"{path}: an adapter for {adapter.architecture!r}, "
                             f"the model {Path(base_model).name} is {base_architecture!r}")
    if adapter.architecture not in ROPE_PERMUTED:
        raise ModelLoadError(f"{path}: importing a GGUF adapter of architecture {adapter.architecture!r} is not "
                             f"supported (supported: {', '.join(sorted(ROPE_PERMUTED))})")
    names = _weight_names(adapter)
    if not names:
        raise ModelLoadError(f"{path}: the adapter holds no LoRA tensors")
    if 2 * len(names) != len(adapter.tensors):
        raise ModelLoadError(f"{path}: {len(adapter.tensors) - 2 * len(names)} lora_b tensors without their lora_a")
    ranks = set()
    for name in names:
        a, b = adapter.tensors.get(name + ".lora_a"), adapter.tensors.get(name + ".lora_b")
        if a is None or b is None or a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise ModelLoadError(f"{path}: {name} has no pair of LoRA matrices (rank x in, out x rank)")
        ranks.add(a.shape[0])
    if len(ranks) != 1:
        raise ModelLoadError(f"{path}: LoRA ranks {sorted(ranks)} (one rank for every weight is needed)")
    (found,) = ranks
    if found != rank:
        raise Robotxr1Error(f"{path}: the adapter's LoRA rank is {found}, the run's --lora-rank is {rank}")
    return adapter


def load_gguf_adapter(model: Any, adapter: LoraAdapter) -> int:
    """Copy the adapter into the PEFT `model`'s LoRA layers (made with the adapter's rank and
    alpha); returns how many layers it set. Layers the adapter lacks keep lora_B = 0 (no effect)."""
    import gguf
    import torch

    config = model.get_base_model().config
    if adapter.architecture is None:  # read_gguf_adapter refuses such a file; a LoraAdapter may be made otherwise
        raise Robotxr1Error("the GGUF adapter names no architecture")
    arch_name = adapter.architecture
    architecture = {name: arch for arch, name in gguf.MODEL_ARCH_NAMES.items()}[arch_name]
    names = gguf.get_tensor_name_map(architecture, config.num_hidden_layers)
    heads = {"attn_q": config.num_attention_heads, "attn_k": config.num_key_value_heads}
    loaded = set()
    for module_name, module in model.get_base_model().named_modules():
        if not hasattr(module, "lora_A") or ADAPTER_NAME not in module.lora_A:
            continue
        weight = names.get_name(module_name + ".weight", try_suffixes=(".weight",))
        if weight is None or weight + ".lora_a" not in adapter.tensors:
            continue
        a, b = adapter.tensors[weight + ".lora_a"], adapter.tensors[weight + ".lora_b"]
        if ROPE_PERMUTED[arch_name] and weight.split(".")[-2] in heads:
            b = _unpermute_rows(b, heads[weight.split(".")[-2]])
        lora_a, lora_b = module.lora_A[ADAPTER_NAME].weight, module.lora_B[ADAPTER_NAME].weight
        if a.shape != tuple(lora_a.shape) or b.shape != tuple(lora_b.shape):
            raise ModelLoadError(f"{adapter.path}: {weight} adapter shapes {b.shape} x {a.shape} do not fit "
                                 f"{module_name}'s {tuple(lora_b.shape)} x {tuple(lora_a.shape)}")
        with torch.no_grad():
            lora_a.copy_(torch.from_numpy(a))
            lora_b.copy_(torch.from_numpy(b))
        loaded.add(weight)
    unused = sorted(set(_weight_names(adapter)) - loaded)
    if unused:
        raise ModelLoadError(f"{adapter.path}: {len(unused)} adapted weights are not LoRA layers of the model "
                             f"(e.g. {unused[0]})")
    return len(loaded)


def _weight_names(adapter: LoraAdapter) -> list[str]:
    """The adapted weights' GGUF names; a tensor that is not a LoRA matrix is named as damage."""
    names = []
    for tensor in adapter.tensors:
        if not tensor.endswith(_SUFFIXES):
            raise ModelLoadError(f"{adapter.path}: tensor {tensor} is not a LoRA matrix (.lora_a / .lora_b)")
        if tensor.endswith(".lora_a"):
            names.append(tensor.removesuffix(".lora_a"))
    return names


def _unpermute_rows(b: np.ndarray, heads: int) -> np.ndarray:
    """The inverse of the converter's LlamaModel.permute on rows (head, half, pair) -> (head, pair, half)."""
    return b.reshape(heads, b.shape[0] // heads // 2, 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)
