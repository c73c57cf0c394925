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
