"""The model options every model-using command shares, and the ModelSpec they describe."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..llm.model_spec import ModelSpec
from ..llm.models import DECODE_THREADS, PROMPT_THREADS


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, metavar="PATH",
                        help="GGUF model (default: $ROBOTXR1_MODEL, else the bundled SmolLM2-135M-Instruct)")
    parser.add_argument("--endpoint", metavar="URL",
                        help="use an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1) instead of a local GGUF")
    parser.add_argument("--served-model", default="default", metavar="NAME",
                        help="the model name the --endpoint serves (default: 'default')")
    parser.add_argument("--no-grammar", action="store_true", help="decode without the GBNF grammars")
    parser.add_argument("--threads", type=int, default=DECODE_THREADS,
                        help=f"llama.cpp threads decoding (default {DECODE_THREADS})")
    parser.add_argument("--batch-threads", type=int, default=PROMPT_THREADS, metavar="N",
                        help=f"llama.cpp threads evaluating prompts (default {PROMPT_THREADS})")
    parser.add_argument("--no-flash-attn", dest="flash_attn", action="store_false",
                        help="llama.cpp without flash attention")
    parser.add_argument("--ctx", type=int, default=2048, help="llama.cpp context length (default 2048)")
    parser.add_argument("--max-tokens", type=int, default=200, help="generation budget per answer (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (decoding is greedy: temperature 0)")
    adapter = parser.add_mutually_exclusive_group()
    adapter.add_argument("--lora", type=Path, metavar="PATH",
                         help="GGUF LoRA adapter for the model (from `robotxr1 export`); default: the adapter "
                              "shipped for the bundled model, if any")
    adapter.add_argument("--base-only", action="store_true", help="run the base model without any LoRA adapter")


def model_spec(args: argparse.Namespace) -> ModelSpec:
    return ModelSpec(model_path=str(args.model) if args.model else None, endpoint=args.endpoint,
                     served_model=args.served_model, n_ctx=args.ctx, n_threads=args.threads,
                     n_threads_batch=args.batch_threads, flash_attn=args.flash_attn, seed=args.seed,
                     lora_path=str(args.lora) if args.lora else None, base_only=args.base_only)
