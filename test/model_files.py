"""Broken model files for the tests of the model checks."""
from __future__ import annotations

import shutil

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


# llama.cpp's converter recognises a tokenizer by the hash of its pre-tokenizer's output, and does
# not know SmolLM2's as a Qwen2 model's: it is told the name llama.cpp gives that pre-tokenizer.
_CONVERT_WITH_SMOLLM_PRE_TOKENIZER = (
    "import runpy, sys; from conversion.base import TextModel; "
    "TextModel.get_vocab_base_pre = lambda self, tokenizer: 'smollm'; "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def tiny_qwen2_gguf(folder, name="tiny-qwen2.gguf"):
    """A Qwen2-architecture GGUF of random weights (2 layers, hidden size 64) with SmolLM2's
    tokenizer (read from the bundled GGUF by transformers) and the built-in ChatML template,
    converted by llama.cpp's convert_hf_to_gguf.py: a model of another architecture than the
    bundled one, small enough to build in a test."""
    import os
    import subprocess
    import sys

    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from robotxr1_ros.llm.chat_templates import CHATML
    from robotxr1_ros.training.export import converter_dir

    bundled = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(bundled.parent, gguf_file=bundled.name)
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    hf_dir = folder / "tiny-qwen2-hf"
    Qwen2ForCausalLM(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    source = converter_dir()
    path = folder / name
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source / "gguf-py"), str(source)])}
    subprocess.run([sys.executable, "-c", _CONVERT_WITH_SMOLLM_PRE_TOKENIZER, str(source / "convert_hf_to_gguf.py"),
                    "--outfile", str(path), "--outtype", "f16", str(hf_dir)],
                   env=env, check=True, capture_output=True)
    return path
