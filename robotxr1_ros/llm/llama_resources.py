"""How much of the machine llama.cpp takes: its decoding and prompt threads, counted from the CPUs
this process may use around those the control process is pinned to, and the model layers it
offloads to a GPU.

Threads (`default_threads`). Decoding produces one token at a time: its threads meet at a barrier
several times per token, so one thread that waits for its CPU stalls the others; on the 2-core
machine two decoding threads were half as fast per token as one (34 vs 72 tokens/s). A prompt is
evaluated in batches, which keep every thread busy: two threads were faster than one there, even
though one of them shares the controller's CPU (the controller's real-time thread preempts it).
So decoding gets the CPUs left once control and the rest of the car have theirs, prompts get
every CPU not pinned to control:

- reserved: the control process's CPUs (unpinned, it still takes about one CPU wherever it runs),
  plus one CPU for everything else (DDS, the executors, the sensor drivers);
- decode = the usable CPUs minus the reserved ones, at least 1 and at most MAX_DECODE_THREADS
  (decoding streams the weights from memory: past a few threads the memory bandwidth, not the
  cores, bounds it);
- prompt = the usable CPUs not pinned to control, or every usable CPU when fewer than 2 are left.

| usable CPUs | control | decode | prompt |
|---|---|---|---|
| 2 | pinned to 1 (the default) | 1 | 2 |
| 2 | not pinned | 1 | 2 |
| 4 | pinned to 1 | 2 | 3 |
| 4 | not pinned | 2 | 4 |
| 6 | pinned to 1 | 4 | 5 |
| 8 | pinned to 1 | 4 | 7 |
| 12 | pinned to 1 | 4 | 11 |

GPU (`gpu_layers`). A llama.cpp built with a GPU backend (CUDA on a Jetson Orin) runs the offloaded
layers there; one built without ignores the request. The layers asked for are reported as 0 then,
so logs and benchmarks say where the model really runs.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..cpus import control_cpus, usable_cpus

AUTO = 0  # n_threads / n_threads_batch: from the machine (default_threads)
ALL_LAYERS = -1  # n_gpu_layers: every layer on the GPU (llama.cpp's -ngl -1)
MAX_DECODE_THREADS = 4
MIN_PROMPT_CPUS = 2  # fewer CPUs left beside control: prompts use the control CPU too


def default_threads(cpus: Collection[int], control: Collection[int] | None) -> tuple[int, int]:
    """(decode, prompt) llama.cpp threads for a process that may use `cpus` while the control
    process is pinned to `control` (None: not pinned); the rule is the module's docstring.

    >>> default_threads({0, 1}, {1})
    (1, 2)
    >>> default_threads(range(8), {7})
    (4, 7)
    """
    usable = set(cpus)
    pinned = usable & set(control) if control is not None else set()
    reserved = max(1, len(pinned)) + 1
    decode = min(MAX_DECODE_THREADS, max(1, len(usable) - reserved))
    free = usable - pinned
    prompt = len(free) if len(free) >= MIN_PROMPT_CPUS else max(1, len(usable))
    return decode, prompt


def machine_threads() -> tuple[int, int]:
    """default_threads for this process: its CPUs, and $ROBOTXR1_CONTROL_CPUS read as the controller
    reads it (a bad value raises the controller's error)."""
    cpus = usable_cpus()
    return default_threads(cpus, control_cpus(allowed=cpus))


def llama_threads(n_threads: int | None = AUTO, n_threads_batch: int | None = AUTO) -> tuple[int, int]:
    """(decode, prompt) threads: each as given, or from the machine when 0 or None."""
    if n_threads and n_threads_batch:
        return n_threads, n_threads_batch
    decode, prompt = machine_threads()
    return n_threads or decode, n_threads_batch or prompt


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU (it has a GPU backend)."""
    from .llama_import import import_llama_cpp

    return bool(import_llama_cpp().llama_supports_gpu_offload())


def gpu_layers(requested: int = ALL_LAYERS) -> int:
    """The layers llama.cpp offloads: `requested` (-1: all) with a GPU backend, else 0."""
    return requested if gpu_offload_supported() else 0


@dataclass(frozen=True)
class LlamaResources:
    """What a model loaded by llama.cpp runs on, every automatic choice made."""

    n_threads: int  # decoding
    n_threads_batch: int  # evaluating prompts
    n_gpu_layers: int  # offloaded to the GPU (-1: all)
    gpu_offload: bool  # this llama.cpp build can offload to a GPU

    @classmethod
    def resolve(cls, n_threads: int | None = AUTO, n_threads_batch: int | None = AUTO,
                n_gpu_layers: int = ALL_LAYERS) -> LlamaResources:
        return cls(*llama_threads(n_threads, n_threads_batch), gpu_layers(n_gpu_layers), gpu_offload_supported())

    def describe(self) -> str:
        layers = "all" if self.n_gpu_layers == ALL_LAYERS else str(self.n_gpu_layers)
        where = f"{layers} layers on the GPU" if self.gpu_offload else "CPU only (llama.cpp has no GPU backend)"
        return f"{self.n_threads} decode / {self.n_threads_batch} prompt threads, {where}"
