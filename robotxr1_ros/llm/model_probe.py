"""Answer one tiny grammar-constrained prompt with a GGUF model, in a child process.

A GGUF whose tensor data is corrupt loads fine and then aborts the whole process inside
llama.cpp (SIGABRT in grammar sampling) at its first answer. Trying one answer in a child
process turns that into one clear error for the parent, which stays alive (the LLM node stays
down while the simulator and the controller go on).

Run as `python -m robotxr1_ros.llm.model_probe MODEL.gguf [N_GPU_LAYERS]` (default -1: all layers
on the GPU, where llama.cpp has one); exit 0 means the model answered.
"""
from __future__ import annotations

import sys

from .llama_resources import ALL_LAYERS, gpu_layers

PROBE_GRAMMAR = 'root ::= "True" | "False"'


def answer_once(path: str, n_gpu_layers: int = ALL_LAYERS) -> str:
    from .llama_import import import_llama_cpp

    llama_cpp = import_llama_cpp()
    try:
        llama = llama_cpp.Llama(model_path=path, n_ctx=128, n_threads=1, n_batch=32,
                                n_gpu_layers=gpu_layers(n_gpu_layers), verbose=False)
    except (ValueError, RuntimeError, OSError) as error:
        raise SystemExit(f"could not load the model ({error})") from None
    grammar = llama_cpp.LlamaGrammar.from_string(PROBE_GRAMMAR, verbose=False)
    reply = llama.create_completion("Is the car moving? Answer True or False: ", max_tokens=3, temperature=0.0,
                                    grammar=grammar)
    return reply["choices"][0]["text"]


if __name__ == "__main__":
    text = answer_once(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else ALL_LAYERS)
    if text not in ("True", "False"):
        raise SystemExit(f"answered {text!r} to a test prompt under a True/False grammar")
