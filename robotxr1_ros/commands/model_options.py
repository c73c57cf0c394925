"""The model options every model-using command shares, and the ModelSpec and AnswerSettings they
describe; their defaults are the LLM node's (llm/node_config.py)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..llm.chat_templates import BUILTIN_TEMPLATES
from ..llm.model_spec import ModelSpec
from ..llm.module_pair import AnswerSettings
from ..llm.node_config import DEFAULTS
from ..params import PARAM_SETS


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, metavar="PATH",
                        help="GGUF model (default: $ROBOTXR1_MODEL, else the bundled SmolLM2-135M-Instruct)")
    parser.add_argument("--endpoint", metavar="URL",
                        help="use an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1) instead of a local GGUF")
    parser.add_argument("--served-model", default="default", metavar="NAME",
                        help="the model name the --endpoint serves (default: 'default')")
    parser.add_argument("--no-grammar", action="store_true", help="decode without the GBNF grammars")
    parser.add_argument("--param-set", choices=sorted(PARAM_SETS), default=DEFAULTS.param_set,
                        help=f"MPC parameters the model is asked about (default {DEFAULTS.param_set!r}): 'paper', the "
                             "paper's eleven; 'extended', with speed_scale and centre_blend")
    parser.add_argument("--threads", type=int, default=DEFAULTS.n_threads,
                        help=f"llama.cpp threads decoding (default {DEFAULTS.n_threads}: from the CPUs left beside "
                             "the controller's; 1 on 2 cores)")
    parser.add_argument("--batch-threads", type=int, default=DEFAULTS.n_threads_batch, metavar="N",
                        help=f"llama.cpp threads evaluating prompts (default {DEFAULTS.n_threads_batch}: the CPUs not "
                             "pinned to the controller; 2 on 2 cores)")
    parser.add_argument("--n-gpu-layers", type=int, default=DEFAULTS.n_gpu_layers, metavar="N",
                        help=f"model layers llama.cpp offloads to the GPU (default {DEFAULTS.n_gpu_layers}: all; 0: "
                             "CPU only); none where llama.cpp was built without a GPU backend")
    parser.add_argument("--no-flash-attn", dest="flash_attn", action="store_false",
                        help="llama.cpp without flash attention")
    parser.add_argument("--ctx", type=int, default=DEFAULTS.n_ctx,
                        help=f"llama.cpp context length (default {DEFAULTS.n_ctx})")
    parser.add_argument("--max-tokens", type=int, default=DEFAULTS.max_tokens,
                        help=f"generation budget per answer (default {DEFAULTS.max_tokens})")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (decoding is greedy: temperature 0)")
    parser.add_argument("--chat-template", default=DEFAULTS.chat_template or None, metavar="NAME|PATH",
                        help=f"chat template instead of the GGUF's own (a GGUF without one needs it): a built-in "
                             f"({', '.join(BUILTIN_TEMPLATES)}) or a Jinja file (default: the model's own)")
    parser.add_argument("--thinking", default=DEFAULTS.thinking, metavar="MODE",
                        help=f"a reasoning model's (<think>) thinking before its answers: 'none' (an empty thinking "
                             f"block) or 'budget N' (at most N tokens) (default {DEFAULTS.thinking!r})")
    parser.add_argument("--decision-facts", action=argparse.BooleanOptionalAction, default=DEFAULTS.decision_facts,
                        help="decision prompts with facts: the window's mean speed against the instruction's "
                             "speeds, and smooth or not in the state words (default on: the shipped decision adapter "
                             "is trained on them; --no-decision-facts for an adapter trained without)")
    adapter = parser.add_mutually_exclusive_group()
    adapter.add_argument("--lora", type=Path, metavar="PATH",
                         help="GGUF LoRA adapter for the model (from `robotxr1 export`); default: the adapter "
                              "shipped for the bundled model, if any")
    adapter.add_argument("--base-only", action="store_true", help="run the base model without any LoRA adapter")


def model_spec(args: argparse.Namespace) -> ModelSpec:
    return ModelSpec(model_path=str(args.model) if args.model else None, endpoint=args.endpoint,
                     served_model=args.served_model, n_ctx=args.ctx, n_threads=args.threads,
                     n_threads_batch=args.batch_threads, n_gpu_layers=args.n_gpu_layers,
                     flash_attn=args.flash_attn, seed=args.seed,
                     lora_path=str(args.lora) if args.lora else None, base_only=args.base_only,
                     chat_template=args.chat_template, thinking=args.thinking)


def answer_settings(args: argparse.Namespace, decision_reasoning_chars: int = DEFAULTS.decision_reasoning_chars,
                    tuning_reasoning_chars: int = DEFAULTS.tuning_reasoning_chars) -> AnswerSettings:
    """How the modules answer, from the shared options and the command's reasoning bounds."""
    return AnswerSettings(use_grammar=not args.no_grammar, max_tokens=args.max_tokens, seed=args.seed,
                          decision_reasoning_chars=decision_reasoning_chars,
                          tuning_reasoning_chars=tuning_reasoning_chars, param_set=args.param_set,
                          decision_facts=args.decision_facts)
