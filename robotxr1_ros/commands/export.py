"""`robotxr1 export`: a trained model (a `robotxr1 train` run) back to GGUF for llama.cpp.

Default: the LoRA adapter as a GGUF of a few MB, for the unchanged base
(`robotxr1 ask --lora FILE ...`). `--merged` writes base + adapter as one q8_0 (or f16) model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import Robotxr1Error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a trained adapter (or a merged model) to GGUF",
                                   description=__doc__)
    parser.add_argument("trained", type=Path, metavar="DIR",
                        help="a run folder (out/train/mpc) or its adapter folder (out/train/mpc/adapter)")
    parser.add_argument("--out", type=Path, required=True, metavar="GGUF", help="file to write")
    parser.add_argument("--model", type=Path, metavar="GGUF", help="the base the run trained (default: bundled)")
    parser.add_argument("--merged", action="store_true", help="merge into the base and write one model")
    parser.add_argument("--type", dest="outtype", default=None,
                        help="tensor type: adapter f16 (default) | f32 | bf16 | q8_0; "
                             "merged q8_0 (default) | f16 | ...")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.stack import require_training_stack

    require_training_stack()
    from ..training.export import export_adapter, export_merged
    from ..training.model_io import float_base_dir

    trained = args.trained
    for candidate in (trained / "adapter", trained / "model"):
        if candidate.is_dir():
            trained = candidate
            break
    if not trained.is_dir():
        raise Robotxr1Error(f"{args.trained}: no trained model folder")
    base = float_base_dir(args.model)
    if args.merged:
        written = export_merged(trained, base, args.out, args.outtype or "q8_0")
    else:
        written = export_adapter(trained, base, args.out, args.outtype or "f16")
    print(f"{written} ({written.stat().st_size / 1e6:.1f} MB)")
    return 0
