"""A GGUF base model with a GGUF LoRA adapter merged into it: one plain model file for llama.cpp.

llama.cpp applies a runtime adapter as two extra small matrix products per adapted weight; on
this 135M model with every linear layer adapted that doubled the time per token (measured with
`robotxr1 bench llm`). Merging once, W' = W + (alpha / rank) * B @ A, gives back the base's
speed. The adapted weights are stored as Q8_0: re-quantising them to the base's 4-bit type
would erase most of a small fine-tune (see training/export.py); every other tensor is copied
byte for byte. Done in numpy with gguf-py (no torch), in a few seconds, and cached by the two
files' hashes, so the car, the evaluator and the tests all run the same merged file.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..cache_dirs import cache_dir
from .models import ModelLoadError, check_gguf, check_known_hash, file_sha256

MERGE_CACHE_ENV = "ROBOTXR1_MERGE_CACHE"
ALPHA_KEY = "adapter.lora.alpha"
MERGED_TYPE_NAME = "Q8_0"
_SKIPPED_KEYS = ("GGUF.", "general.architecture")  # the reader's own header fields; the writer adds the arch


def merged_model_path(base: str | os.PathLike[str], adapter: str | os.PathLike[str]) -> Path:
    """The merged model of `base` + `adapter`, made on first use in the cache folder."""
    base, adapter = check_gguf(base), check_gguf(adapter)
    check_known_hash(adapter)
    key = f"{file_sha256(base)[:12]}-{file_sha256(adapter)[:12]}"
    target = cache_dir("merged", MERGE_CACHE_ENV) / f"{adapter.name.removesuffix('.gguf')}.merged-{key}.gguf"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        merge_lora(base, adapter, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def merge_lora(base: Path, adapter: Path, out: Path) -> None:
    """Write `base` with `adapter` merged into it to `out` (GGUF)."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
    from gguf.quants import dequantize, quantize

    model, lora = GGUFReader(base), GGUFReader(adapter)
    if _field(lora, "general.type") != "adapter" or _field(lora, "adapter.type") != "lora":
        raise ModelLoadError(f"{adapter}: not a GGUF LoRA adapter")
    architecture = _field(model, "general.architecture")
    if _field(lora, "general.architecture") != architecture:
        raise ModelLoadError(f"{adapter}: an adapter for {_field(lora, 'general.architecture')!r}, "
                             f"the model {base.name} is {architecture!r}")
    alpha = float(_field(lora, ALPHA_KEY))
    pairs = {tensor.name: tensor for tensor in lora.tensors}
    writer = GGUFWriter(out, architecture)
    for key, field in model.fields.items():
        if not key.startswith(_SKIPPED_KEYS):
            writer.add_key_value(key, field.contents(), field.types[0],
                                 sub_type=field.types[-1] if len(field.types) > 1 else None)
    merged_type = GGMLQuantizationType[MERGED_TYPE_NAME]
    adapted = 0
    for tensor in model.tensors:
        down, up = pairs.get(f"{tensor.name}.lora_a"), pairs.get(f"{tensor.name}.lora_b")
        if down is None or up is None:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
            continue
        a, b = np.asarray(down.data, dtype=np.float32), np.asarray(up.data, dtype=np.float32)
        weight = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        if b.shape[0] != weight.shape[0] or a.shape[1] != weight.shape[1] or a.shape[0] != b.shape[1]:
            raise ModelLoadError(f"{adapter}: {tensor.name} adapter shapes {b.shape} x {a.shape} do not fit "
                                 f"the weight {weight.shape} of {base.name}")
        weight += (alpha / a.shape[0]) * (b @ a)
        writer.add_tensor(tensor.name, quantize(weight, merged_type), raw_dtype=merged_type)
        adapted += 1
    if adapted * 2 != len(pairs):
        raise ModelLoadError(f"{adapter}: {len(pairs) // 2 - adapted} adapted tensors are not in {base.name}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _field(reader, key: str):
    field = reader.fields.get(key)
    return field.contents() if field is not None else None
