"""`robotxr1 train sft|mpc|decision`: the SFT warm start and the two closed-loop GRPO trainings.

Needs the training stack (`make train-setup`, requirements/train.txt). CPU with one torch
thread by default (use --threads 2 only on an otherwise idle machine); --device cuda for a GPU,
`accelerate launch -m robotxr1_ros.cli train ...` for several.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import Robotxr1Error
from ..params import PARAM_SETS

DEFAULT_OUT = Path("out") / "train"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train the model: SFT warm start, closed-loop GRPO (MPC, decision)",
                                   description=__doc__)
    tasks = parser.add_subparsers(dest="task", required=True)
    sft = tasks.add_parser("sft", help="supervised warm start on the teacher's parameters and decision labels")
    _common(sft, steps=200, learning_rate=2e-4)
    sft.add_argument("--batch-size", type=int, default=4, help="examples per step (default 4)")
    sft.add_argument("--data", type=Path, metavar="JSONL",
                     help="SFT examples (default: OUT/sft_data.jsonl, built on first use)")
    sft.add_argument("--teacher", type=Path, metavar="JSON",
                     help="the teacher's chosen rules (default: the packaged choice; chosen by driving and "
                          "written there when the file is missing)")
    _instructions(sft)
    sft.add_argument("--mpc-examples", type=int, default=None, metavar="N",
                     help="MPC examples drawn from the training prompts (default: all 112; fewer, e.g. to keep "
                          "the tuning while a second stage teaches decisions)")
    sft.add_argument("--target-reasoning-chars", type=int, default=None, metavar="N",
                     help="the MPC targets' reasoning names changes in up to N characters (default: "
                          "training/sft_data.py's, more than the car keeps; the car's bound trains on what it keeps)")
    _decision_data(sft, windows=4)
    sft.add_argument("--decision-others", type=int, default=2, metavar="N",
                     help="per window, every instruction it adheres to plus N it does not (default 2)")
    mpc = tasks.add_parser("mpc", help="closed-loop GRPO on the MPC answers, rewarded by driving the training track")
    _common(mpc, steps=100, learning_rate=5e-5)
    _grpo(mpc)
    _instructions(mpc)
    decision = tasks.add_parser("decision", help="GRPO on decision windows, rewarded by the rule labels")
    _common(decision, steps=100, learning_rate=5e-5)
    _grpo(decision)
    _decision_data(decision, windows=4)
    parser.set_defaults(func=run)


def _instructions(parser: argparse.ArgumentParser) -> None:
    """Which MPC instructions and parameters a tuning model learns."""
    parser.add_argument("--param-set", choices=sorted(PARAM_SETS), default="paper",
                        help="MPC parameters the model learns to set (default 'paper': the eleven; 'extended': with "
                             "speed_scale and centre_blend); the SFT teacher is data/training/teacher[.SET].json")
    parser.add_argument("--open", action="store_true",
                        help="train every intent of the catalogue (restated and compounded: training/augment.py), "
                             "not only the paper's four cases")
    parser.add_argument("--intents", type=lambda text: text.split(","), metavar="NAME[,NAME]",
                        help="only these intents' training prompts (e.g. a GRPO run on the weak ones; default: all)")


def _training_prompts(args: argparse.Namespace):
    from ..training.train_prompts import open_train_prompts, train_prompts

    prompts = open_train_prompts(seed=args.seed) if args.open else train_prompts()
    if not args.intents:
        return prompts
    known = {prompt.case for prompt in prompts}
    if unknown := set(args.intents) - known:
        raise Robotxr1Error(f"--intents: no training prompts for {sorted(unknown)}; known: {sorted(known)}")
    return [prompt for prompt in prompts if prompt.case in args.intents]


def _common(parser: argparse.ArgumentParser, steps: int, learning_rate: float) -> None:
    parser.add_argument("--out", type=Path, help="run folder (default out/train/<task>)")
    parser.add_argument("--model", type=Path, metavar="GGUF", help="base model (default: the bundled SmolLM2-135M)")
    parser.add_argument("--init-from", type=Path, metavar="DIR|GGUF",
                        help="start from a previous run's adapter folder (e.g. out/train/sft/adapter) or a GGUF "
                             "LoRA adapter (e.g. the shipped one; its rank must be --lora-rank)")
    parser.add_argument("--steps", type=int, default=steps, help=f"optimizer steps (default {steps})")
    parser.add_argument("--lr", type=float, default=learning_rate, help=f"learning rate (default {learning_rate:g})")
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    parser.add_argument("--lora-rank", type=int, default=16, help="LoRA rank (default 16; alpha = 2 x rank)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1; 2 only when nothing else runs: oversubscription is ~30x "
                             "slower)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="default cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0, help="checkpoint period (default 5 min)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")


def _decision_data(parser: argparse.ArgumentParser, windows: int) -> None:
    parser.add_argument("--decision-windows", type=int, default=windows,
                        help=f"state windows per drive on the training track (default {windows}; 0: none)")
    parser.add_argument("--speed-variants", type=int, default=0, metavar="N",
                        help="drives of each behaviour at N random speeds besides the catalogued one (default 0)")
    parser.add_argument("--reshaped-copies", type=int, default=0, metavar="N",
                        help="per window, N copies reshaped as other stacks' windows (other sampling, held "
                             "signals, speeds up to 10 m/s, other walls; training/window_reshape.py; default 0)")
    parser.add_argument("--threshold-share", type=float, default=0.0, metavar="P",
                        help="share of the questions about a speed threshold asked at a random one off the "
                             "0.25 m/s grid (default 0)")
    parser.add_argument("--decision-facts", action="store_true",
                        help="decision prompts with facts lines (cases/facts.py); the adapter is then run with "
                             "--decision-facts")


def _grpo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group-size", type=int, default=4, help="completions per prompt (default 4)")
    parser.add_argument("--prompts-per-step", type=int, default=1, help="default 1")
    parser.add_argument("--max-new-tokens", type=int, default=200, help="default 200 (the car's budget)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    parser.add_argument("--kl-beta", type=float, default=0.0, help="KL penalty to the base model (default 0: off)")
    parser.add_argument("--workers", type=int, default=1, help="rollout worker processes (default 1; 0: inline)")
    parser.add_argument("--reasoning-chars", type=int, default=None,
                        help="bound on the reasoning in the grammar (default: the car's)")


def run(args: argparse.Namespace) -> int:
    from ..training.stack import require_training_stack

    require_training_stack()
    from ..training.model_io import LoraSettings
    from ..training.run import RunSettings

    out = args.out or DEFAULT_OUT / args.task
    settings = RunSettings(out_dir=out, model_path=str(args.model) if args.model else None,
                           init_from=str(args.init_from) if args.init_from else None, steps=args.steps,
                           learning_rate=args.lr,
                           lora=None if args.full else LoraSettings(args.lora_rank, 2 * args.lora_rank),
                           threads=args.threads, device=args.device, seed=args.seed,
                           checkpoint_minutes=args.checkpoint_minutes, resume=args.resume)
    trained = {"sft": _sft, "mpc": _mpc, "decision": _decision}[args.task](args, settings)
    print(f"trained weights: {trained}; metrics and curves in {out}")
    return 0


def _sft(args: argparse.Namespace, settings) -> Path:
    import numpy as np

    from ..training.decision_windows import training_records
    from ..training.sft import SftSettings, train_sft
    from ..training.sft_data import decision_examples, mpc_examples, read_examples, write_examples

    data = args.data or Path(settings.out_dir) / "sft_data.jsonl"
    if not data.exists():
        prompts = _training_prompts(args)
        bound = {} if args.target_reasoning_chars is None else {"reasoning_chars": args.target_reasoning_chars}
        examples = mpc_examples(_teacher(args.teacher, args.param_set, prompts), prompts, **bound)
        if args.mpc_examples is not None:
            keep = np.random.default_rng(args.seed).permutation(len(examples))[:args.mpc_examples]
            examples = [examples[i] for i in sorted(keep)]
        if args.decision_windows > 0:
            records = training_records(args.decision_windows, args.speed_variants, seed=args.seed,
                                       reshaped_copies=args.reshaped_copies)
            examples += decision_examples(records, others=args.decision_others, seed=args.seed,
                                          facts=args.decision_facts, threshold_share=args.threshold_share)
        write_examples(data, examples)
        print(f"{len(examples)} SFT examples written to {data}")
    return train_sft(settings, read_examples(data), SftSettings(batch_size=args.batch_size)).out / "adapter"


def _teacher(path: Path | None, param_set: str, prompts):
    """The teacher of `param_set` with a rule for every case of `prompts` (chosen by driving the
    training tracks for the cases the file has none for, and written back)."""
    from ..track.library import get_track
    from ..training.teacher import Teacher, packaged_teacher_file
    from ..training.train_prompts import TEACHER_TRACKS

    path = path or packaged_teacher_file(param_set)
    teacher = Teacher.load(path) if path.exists() else Teacher({}, [], param_set)
    if teacher.param_set != param_set:
        raise Robotxr1Error(f"{path} holds the teacher of the {teacher.param_set!r} parameters, not {param_set!r}")
    if {prompt.case for prompt in prompts} <= set(teacher.rules):  # nothing to drive (building a track takes s)
        return teacher
    completed = teacher.completed([get_track(name) for name in TEACHER_TRACKS], prompts)
    if completed is not teacher:
        print(f"teacher's rules {completed.rules} (chosen on {', '.join(TEACHER_TRACKS)}) written to "
              f"{completed.save(path)}")
    return completed


def _grpo_settings(args: argparse.Namespace):
    from ..training.grpo import GrpoSettings

    return GrpoSettings(group_size=args.group_size, prompts_per_step=args.prompts_per_step,
                        max_new_tokens=args.max_new_tokens, temperature=args.temperature, kl_beta=args.kl_beta,
                        workers=args.workers)


def _reasoning(args: argparse.Namespace) -> dict:
    return {} if args.reasoning_chars is None else {"reasoning_chars": args.reasoning_chars}


def _mpc(args: argparse.Namespace, settings) -> Path:
    from ..training.grpo import train_grpo
    from ..training.rollouts import DefaultRunCache, RolloutPool
    from ..training.tasks import control_summary, control_task

    defaults = DefaultRunCache(Path(settings.out_dir) / "default_runs.json")
    with RolloutPool(args.workers) as pool:
        prompts = control_task(_training_prompts(args), defaults, pool=pool, param_set=args.param_set,
                               **_reasoning(args))
    return train_grpo(settings, prompts, _grpo_settings(args), control_summary, kind="mpc").out


def _decision(args: argparse.Namespace, settings) -> Path:
    from ..training.decision_windows import training_records
    from ..training.grpo import train_grpo
    from ..training.tasks import decision_summary, decision_task

    records = training_records(args.decision_windows, args.speed_variants, seed=args.seed + 1,
                               reshaped_copies=args.reshaped_copies)
    prompts = decision_task(records, seed=args.seed, facts=args.decision_facts, threshold_share=args.threshold_share,
                            **_reasoning(args))
    return train_grpo(settings, prompts, _grpo_settings(args), decision_summary, kind="decision").out
