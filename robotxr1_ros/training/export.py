"""A trained model back to GGUF, for llama.cpp on the car.

Two routes, both through llama.cpp's own converters (convert_lora_to_gguf.py,
convert_hf_to_gguf.py and their gguf-py), taken from llama-cpp-python's source distribution of
the version the project builds (`make train-setup` unpacks them into build/; nothing is copied
into the repository):

- adapter (the default): the LoRA adapter as a GGUF of a few MB, loaded next to the unchanged
  base (`Llama(model_path=base, lora_path=adapter)`, `robotxr1 ... --lora PATH`). The base stays
  the bundled Q4_1 file and the fine-tune keeps full precision.
- merged: base + adapter merged into one f16 or q8_0 model. Re-quantising that to Q4_1 would
  erase most of a small fine-tune (measured: 4-6 % of the weight deltas survived), which is why
  the converter's q8_0 is the smallest type offered here.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import Robotxr1Error, one_line
from ..json_files import read_json
from ..llm.models import check_gguf

CONVERTER_ENV = "ROBOTXR1_LLAMA_CPP_SRC"
MERGED_TYPES = ("f16", "q8_0", "f32", "bf16")
ADAPTER_TYPES = ("f16", "f32", "bf16", "q8_0")


class ExportError(Robotxr1Error):
    """The converter is missing or failed."""


def llama_cpp_version() -> str:
    from importlib.metadata import version

    return version("llama_cpp_python")


def converter_dir() -> Path:
    """llama.cpp's source folder with the converters: $ROBOTXR1_LLAMA_CPP_SRC, else build/ of the
    source tree or of the working directory (where `make train-setup` unpacks it)."""
    if os.environ.get(CONVERTER_ENV):
        candidates = [Path(os.environ[CONVERTER_ENV])]
    else:
        relative = Path("build") / f"llama_cpp_python-{llama_cpp_version()}" / "vendor" / "llama.cpp"
        candidates = [Path(__file__).resolve().parents[2] / relative, Path.cwd() / relative]
    for candidate in candidates:
        if (candidate / "convert_lora_to_gguf.py").exists() and (candidate / "gguf-py").exists():
            return candidate
    raise ExportError(f"llama.cpp's converters not found (looked in {', '.join(map(str, candidates))}); "
                      f"run `make train-setup` or set {CONVERTER_ENV}")


def _run_converter(script: str, arguments: list[str]) -> None:
    source = converter_dir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source / "gguf-py"), str(source),
                                                         os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, str(source / script), *arguments], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = ((result.stderr or result.stdout).strip().splitlines() or ["no message"])[-1]
        raise ExportError(f"{script} failed (exit {result.returncode}): {one_line(last)}")


def export_adapter(adapter_dir: str | Path, base_dir: str | Path, out_file: str | Path, outtype: str = "f16") -> Path:
    """A PEFT LoRA folder as a GGUF adapter for the base whose float folder is `base_dir`."""
    if outtype not in ADAPTER_TYPES:
        raise ExportError(f"adapter type must be one of {ADAPTER_TYPES}, got {outtype!r}")
    adapter_dir, out_file = Path(adapter_dir), Path(out_file)
    if not (adapter_dir / "adapter_config.json").exists():
        raise ExportError(f"{adapter_dir}: not a LoRA adapter folder (no adapter_config.json)")
    _check_adapter_config(adapter_dir)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    _run_converter("convert_lora_to_gguf.py", ["--base", str(base_dir), "--outfile", str(out_file),
                                                "--outtype", outtype, str(adapter_dir)])
    return check_gguf(out_file)


def export_merged(trained_dir: str | Path, base_dir: str | Path, out_file: str | Path, outtype: str = "q8_0") -> Path:
    """The base with the adapter in `trained_dir` merged (or a fully fine-tuned model folder) as one GGUF."""
    if outtype not in MERGED_TYPES:
        raise ExportError(f"merged type must be one of {MERGED_TYPES}, got {outtype!r}")
    trained_dir, out_file = Path(trained_dir), Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="robotxr1-merged-", dir=out_file.parent) as folder:
        model_dir = trained_dir
        if (trained_dir / "adapter_config.json").exists():
            _check_adapter_config(trained_dir)
            model_dir = Path(folder)
            _merge(trained_dir, Path(base_dir), model_dir)
        _run_converter("convert_hf_to_gguf.py", ["--outfile", str(out_file), "--outtype", outtype, str(model_dir)])
    return check_gguf(out_file)


def _check_adapter_config(adapter_dir: Path) -> None:
    """A damaged adapter_config.json fails here in one line, not in the converter or peft."""
    path = adapter_dir / "adapter_config.json"
    if not isinstance(read_json(path, "the adapter's configuration"), dict):
        raise ExportError(f"{path}: the adapter's configuration is not a JSON object")


def _merge(adapter_dir: Path, base_dir: Path, target: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from .model_io import load_tokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(base_dir)), str(adapter_dir))
    model.merge_and_unload().save_pretrained(target)
    load_tokenizer(base_dir).save_pretrained(target)
