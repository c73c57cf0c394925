"""Model files made for the tests: broken copies of the bundled model, and tiny models of other
architectures built through llama.cpp's converter."""
from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from robotxr1_ros.llm.models import default_model_path


def corrupted_copy(folder, name="corrupt.gguf", fill=b"\xff"):
    """The bundled model with a third of its tensor data overwritten: it still loads, and its
    first grammar-constrained answer aborts llama.cpp (SIGABRT) in the process that runs it."""
    path = folder / name
    shutil.copyfile(default_model_path(), path)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 3)
        handle.write(fill * (size // 3))
    return path


def copy_without_chat_template(folder, name="no_template.gguf"):
    """The bundled model without its `tokenizer.chat_template` key, as a base model or a bare
    conversion comes (gguf-py rewrites the file: metadata, tensor table and data)."""
    from gguf import GGUFReader, GGUFWriter
    from gguf.scripts.gguf_new_metadata import copy_with_new_metadata

    path = folder / name
    reader = GGUFReader(default_model_path())
    architecture = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(path, architecture, endianess=reader.endianess)
    copy_with_new_metadata(reader, writer, {}, ["tokenizer.chat_template"])
    return path


# llama.cpp's converter recognises a tokenizer by the hash of its pre-tokenizer's output, and
# transformers gives the tokenizer of some architectures (qwen2) their own pre-tokenizer, whose
# output on SmolLM2's vocabulary no known model has: the converter is told the name llama.cpp
# gives SmolLM2's pre-tokenizer, which the GGUF then runs with.
_CONVERT_WITH_SMOLLM_PRE_TOKENIZER = (
    "import runpy, sys; from conversion.base import TextModel; "
    "TextModel.get_vocab_base_pre = lambda self, tokenizer: 'smollm'; "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder `name` that `build(folder)` filled once for the whole test run: the pytest-xdist
    workers share it (the first builds it under a lock, the others wait and take it), so tests of
    one model that land on both workers do not build, train and export it twice."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder, done = root / name, root / f"{name}.done"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


# The architectures the end-to-end harness (test_tiny_architectures_real_model.py) takes a tiny
# model of through every model path: transformers model types, which are also the GGUF
# `general.architecture` llama.cpp's converter writes. Adding an architecture is one entry here.
TINY_ARCHITECTURES = ("qwen2", "llama")
TINY_SIZES = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True)


@dataclass(frozen=True)
class TinyModel:
    """A tiny model of `architecture` (tiny_gguf) in `folder`."""

    architecture: str
    folder: Path

    @property
    def gguf(self) -> Path:
        return self.folder / f"tiny-{self.architecture}.gguf"


def chatml_tokenizer_dir(folder):
    """SmolLM2's tokenizer (read from the bundled GGUF by transformers, which takes seconds: done
    once and shared) with the built-in ChatML template, saved as a Hugging Face tokenizer folder."""
    from transformers import AutoTokenizer

    from robotxr1_ros.llm.chat_templates import CHATML

    bundled = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(bundled.parent, gguf_file=bundled.name)
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    return folder


def tiny_gguf(model: TinyModel, tokenizer_dir) -> Path:
    """`model.gguf`: its architecture (a transformers model type) with random weights (2 layers,
    hidden size 64) and the tokenizer of `tokenizer_dir` (chatml_tokenizer_dir), converted by
    llama.cpp's convert_hf_to_gguf.py: a model small enough to build, train and export in a test."""
    import subprocess
    import sys

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from robotxr1_ros.training.export import converter_dir

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    config = AutoConfig.for_model(model.architecture, vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                  eos_token_id=tokenizer.eos_token_id, **TINY_SIZES)
    hf_dir = model.folder / "hf"
    AutoModelForCausalLM.from_config(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    source = converter_dir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source / "gguf-py"), str(source)])}
    subprocess.run([sys.executable, "-c", _CONVERT_WITH_SMOLLM_PRE_TOKENIZER, str(source / "convert_hf_to_gguf.py"),
                    "--outfile", str(model.gguf), "--outtype", "f16", str(hf_dir)],
                   env=env, check=True, capture_output=True)
    return model.gguf
