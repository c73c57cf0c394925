"""A GGUF base model with a GGUF LoRA adapter merged into it: one plain model file for llama.cpp.

llama.cpp applies a runtime adapter as two extra small matrix products per adapted weight; on
this 135M model with every linear layer adapted that doubled the time per token (measured with
`robotxr1 bench llm`). Merging once, W' = W + (alpha / rank) * B @ A, gives back the base's
speed. The adapted weights are stored as Q8_0: re-quantising them to the base's 4-bit type
would erase most of a small fine-tune (see training/export.py); every other tensor is copied
byte for byte. Done in numpy with gguf-py (no torch), in a few seconds, and cached by the two
files' hashes, so the car, the evaluator and the tests all run the same merged file.

The adapter is checked whole before the base is read (it is the file a user exports and copies
around): a damaged file is one ModelLoadError naming it, never a numpy warning or a merged model
that llama.cpp would only reject when the probe runs it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache_dirs import cache_dir, made_cache_dir, unwritable_cache
from .models import ModelLoadError, check_gguf, check_known_hash, file_sha256, read_gguf

MERGE_CACHE_ENV = "ROBOTXR1_MERGE_CACHE"
ALPHA_KEY = "adapter.lora.alpha"
MERGED_TYPE_NAME = "Q8_0"
_SKIPPED_KEYS = ("GGUF.", "general.architecture")  # the reader's own header fields; the writer adds the arch


@dataclass(frozen=True)
class LoraAdapter:
    """A GGUF LoRA adapter's contents: its tensors (`<weight name>.lora_a` of shape (rank, in),
    `.lora_b` of shape (out, rank), numpy's order) as finite float32 values."""

    path: Path
    architecture: str | None
    alpha: float
    tensors: dict[str, np.ndarray]


def read_lora_adapter(adapter: str | os.PathLike[str]) -> LoraAdapter:
    """The adapter file checked whole: a damaged file is one ModelLoadError naming it."""
    adapter = Path(adapter)
    lora = read_gguf(adapter)
    if _field(lora, "general.type") != "adapter" or _field(lora, "adapter.type") != "lora":
        raise ModelLoadError(f"{adapter}: not a GGUF LoRA adapter")
    alpha = _field(lora, ALPHA_KEY)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise ModelLoadError(f"{adapter}: {ALPHA_KEY} is {alpha!r}, not a finite number")
    tensors = {tensor.name: _float_values(tensor, adapter) for tensor in lora.tensors}
    return LoraAdapter(adapter, _field(lora, "general.architecture"), float(alpha), tensors)


def merged_model_path(base: str | os.PathLike[str], adapter: str | os.PathLike[str]) -> Path:
    """The merged model of `base` + `adapter`, made on first use in the cache folder."""
    base, adapter = check_gguf(base), check_gguf(adapter)
    check_known_hash(base)  # a damaged bundled model is named as such, not as a crash of the merged file
    check_known_hash(adapter)
    key = f"{file_sha256(base)[:12]}-{file_sha256(adapter)[:12]}"
    target = cache_dir("merged", MERGE_CACHE_ENV) / f"{adapter.name.removesuffix('.gguf')}.merged-{key}.gguf"
    if target.exists():
        return target
    made_cache_dir("merged", MERGE_CACHE_ENV)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        merge_lora(base, adapter, partial)  # both files are read by then: an OSError is the cache's
        partial.replace(target)
    except OSError as error:
        raise unwritable_cache(target, error, MERGE_CACHE_ENV) from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def merge_lora(base: Path, adapter: Path, out: Path) -> None:
    """Write `base` with `adapter` merged into it to `out` (GGUF)."""
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize

    lora = read_lora_adapter(adapter)
    alpha, pairs = lora.alpha, lora.tensors
    model = read_gguf(base)
    architecture = _field(model, "general.architecture")
    if lora.architecture != architecture:
        raise ModelLoadError(f"{adapter}: an adapter for {lora.architecture!r}, "
                             f"the model {base.name} is {architecture!r}")
    writer = GGUFWriter(out, architecture)
    for key, field in model.fields.items():
        if not key.startswith(_SKIPPED_KEYS):
            writer.add_key_value(key, field.contents(), field.types[0],
                                 sub_type=field.types[-1] if len(field.types) > 1 else None)
    merged_type = GGMLQuantizationType[MERGED_TYPE_NAME]
    adapted = 0
    for tensor in model.tensors:
        a, b = pairs.get(f"{tensor.name}.lora_a"), pairs.get(f"{tensor.name}.lora_b")
        if a is None or b is None:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
            continue
        weight = _float_values(tensor, base)
        if b.shape[0] != weight.shape[0] or a.shape[1] != weight.shape[1] or a.shape[0] != b.shape[1]:
            raise ModelLoadError(f"{adapter}: {tensor.name} adapter shapes {b.shape} x {a.shape} do not fit "
                                 f"the weight {weight.shape} of {base.name}")
        try:
            with np.errstate(over="raise", invalid="raise"):
                weight += (alpha / a.shape[0]) * (b @ a)
                merged = quantize(weight, merged_type)
        except FloatingPointError:
            raise ModelLoadError(f"{adapter}: {tensor.name} merged with its adapter is out of the range of "
                                 f"{MERGED_TYPE_NAME} (implausible adapter values: corrupt tensor data?)") from None
        writer.add_tensor(tensor.name, merged, raw_dtype=merged_type)
        adapted += 1
    if adapted * 2 != len(pairs):
        raise ModelLoadError(f"{adapter}: {len(pairs) // 2 - adapted} adapted tensors are not in {base.name}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _float_values(tensor, path: Path) -> np.ndarray:
    """The tensor's values as float32, which must all be finite: bytes overwritten in a file's
    tensor data decode to NaN or infinity (0xffff is a NaN in float16 and in a block's scale)."""
    from gguf.quants import dequantize

    try:
        with np.errstate(all="ignore"):  # what a corrupt block decodes to is reported below
            values = np.array(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)  # a copy
    except NotImplementedError:
        raise ModelLoadError(f"{path}: tensor {tensor.name} is of type {tensor.tensor_type.name}, "
                             f"which cannot be merged") from None
    if not np.isfinite(values).all():
        raise ModelLoadError(f"{path}: tensor {tensor.name} holds NaN or infinite values (corrupt tensor data)")
    return values


def _field(reader, key: str):
    field = reader.fields.get(key)
    return field.contents() if field is not None else None
