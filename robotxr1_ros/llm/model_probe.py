"""Answer one tiny grammar-constrained prompt with a GGUF model, in a child process.

A GGUF whose tensor data is corrupt loads fine and then aborts the whole process inside
llama.cpp (SIGABRT in grammar sampling) at its first answer. Trying one answer in a child
process turns that into one clear error for the parent, which stays alive (the LLM node stays
down while the simulator and the controller go on).

Run as `python -m robotxr1_ros.llm.model_probe MODEL.gguf`; exit 0 means the model answered.
"""
from __future__ import annotations

import sys

PROBE_GRAMMAR = 'root ::= "True" | "False"'


def answer_once(path: str) -> str:
    from .models import import_llama_cpp

    llama_cpp = import_llama_cpp()
    try:
        llama = llama_cpp.Llama(model_path=path, n_ctx=128, n_threads=1, n_batch=32, verbose=False)
    except (ValueError, RuntimeError, OSError) as error:
        raise SystemExit(f"could not load the model ({error})") from None
    grammar = llama_cpp.LlamaGrammar.from_string(PROBE_GRAMMAR, verbose=False)
    reply = llama.create_completion("Is the car moving? Answer True or False: ", max_tokens=3, temperature=0.0,
                                    grammar=grammar)
    return reply["choices"][0]["text"]


if __name__ == "__main__":
    text = answer_once(sys.argv[1])
    if text not in ("True", "False"):
        raise SystemExit(f"answered {text!r} to a test prompt under a True/False grammar")
