"""`robotxr1 eval decision|control|oracle`: the papers' numbers, measured in the simulator.

decision  accuracy of the decision module on the decision datasets (per instruction, per
          dataset, overall), every wrong answer logged; --suite stress: the generated stress
          suite (windows and thresholds the training never shows).
control   control adaptability score of the MPC module on the evaluation track: four cases x
          five held-out phrasings, each driven and compared with the default parameters;
          --suite open: the open-instruction benchmark (every intent's open phrasings);
          --track eval --track circuit: the same on several tracks, with a per-track table.
oracle    search the best parameters per control prompt and cache them (the ceiling that
          `eval control --baseline oracle` reports).

A model is a GGUF file (--model, default: the bundled SmolLM2-135M-Instruct) or any
OpenAI-compatible server (--endpoint URL --served-model NAME). Same model, seed and temperature 0
give the same scores.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ..errors import Robotxr1Error
from ..evaluation.control_cases import EVAL_SCENARIO, score_params, track_scenario
from ..evaluation.control_eval import (
    SUITES,
    ControlReport,
    DefaultProposer,
    ModelProposer,
    OracleProposer,
    Proposer,
    eval_prompts,
    evaluate_control,
)
from ..evaluation.decision_dataset import find_datasets, load_dataset
from ..evaluation.decision_eval import evaluate_decision, total_calls
from ..evaluation.oracle import OracleCache, SearchBudget, prompt_key, search
from ..evaluation.report import write_control_reports, write_decision_report
from ..evaluation.stress_suite import stress_datasets, stress_questions
from ..llm.answer_format import decision_answer
from ..llm.backends import Backend, ScriptedBackend
from ..llm.decision import DecisionxR1
from ..llm.module_pair import DeciderFactory
from ..llm.node_config import DEFAULTS
from ..params import MpcParams
from ..track.library import BUILTIN_TRACKS, get_track
from .model_options import add_model_arguments, answer_settings, model_spec

DECISION_BASELINES = {"always-true": True, "always-false": False}
DECISION_SUITES = ("stress",)
CONTROL_BASELINES = ("default", "oracle")
DEFAULT_CONTROL_TRACK = "eval"


def register(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="decision accuracy, control adaptability, oracle search",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    evals = parser.add_subparsers(dest="evaluation", required=True)

    decision = evals.add_parser("decision", help="decision accuracy on the decision datasets")
    add_model_arguments(decision)
    decision.add_argument("--baseline", choices=sorted(DECISION_BASELINES),
                          help="a constant verdict instead of a model (the chance floor)")
    decision.add_argument("--dataset", action="append", metavar="NAME|FILE|DIR",
                          help="dataset(s): a packaged name (e.g. oscillating), a JSON file in the reference's "
                               "format, or a folder of them; repeatable (default: all packaged datasets)")
    decision.add_argument("--suite", choices=DECISION_SUITES,
                          help="a generated suite instead of datasets: 'stress', windows and speed thresholds the "
                               "training never shows (evaluation/stress_suite.py; never train or tune on it)")
    decision.add_argument("--mini", action="store_true", help="every fifth record only")
    decision.add_argument("--workers", type=int, default=1, metavar="N",
                          help="model instances in parallel worker processes, each with --threads and "
                               "--batch-threads threads (same results for any N; on 2 cores: --workers 2 "
                               "--batch-threads 1)")
    decision.add_argument("--reasoning-chars", type=int, default=DEFAULTS.decision_reasoning_chars, metavar="N",
                          help="reasoning before the verdict, at most N characters (default "
                               f"{DEFAULTS.decision_reasoning_chars}: the verdict alone, from next-token "
                               "probabilities)")
    _add_torch_argument(decision)
    _common(decision, "out/eval/decision")
    decision.set_defaults(func=run_decision)

    control = evals.add_parser("control", help="control adaptability score on the evaluation track (or others)")
    add_model_arguments(control)
    control.add_argument("--baseline", choices=CONTROL_BASELINES,
                         help="default parameters, or the oracle's cached best parameters, instead of a model")
    control.add_argument("--track", action="append", metavar="NAME|FILE",
                         help=f"track: {', '.join(BUILTIN_TRACKS)} (circuit: ~340 m) or a .csv track file; repeatable: "
                              "one report per track in OUT/<track>/ and a per-track table in OUT (default: eval)")
    control.add_argument("--mini", action="store_true", help="one phrasing per case")
    control.add_argument("--suite", choices=SUITES, default="default",
                         help="default: the paper's score (4 cases x 5 held-out phrasings); open: the "
                              "open-instruction benchmark, every intent's open phrasings")
    control.add_argument("--oracle-cache", type=Path, help="oracle cache file (default: the packaged one)")
    control.add_argument("--no-plots", action="store_true", help="skip the trajectory plots")
    control.add_argument("--reasoning-chars", type=int, default=DEFAULTS.tuning_reasoning_chars, metavar="N",
                         help=f"reasoning before the parameters, at most N characters (default "
                              f"{DEFAULTS.tuning_reasoning_chars}; 0: the parameter dict alone)")
    _add_torch_argument(control)
    _common(control, "out/eval/control")
    control.set_defaults(func=run_control)

    oracle = evals.add_parser("oracle", help="search the best parameters per control prompt and cache them")
    oracle.add_argument("--track", action="append", help="track(s) (default: eval and circle)")
    oracle.add_argument("--random", type=int, default=SearchBudget.random, help="random-search rollouts per prompt")
    oracle.add_argument("--refine", type=int, default=SearchBudget.refine, help="refinement rollouts per prompt")
    oracle.add_argument("--seed", type=int, default=0)
    oracle.add_argument("--cache", type=Path, help="cache file (default: the packaged one)")
    oracle.add_argument("--force", action="store_true", help="search again even where a fresh entry exists")
    oracle.set_defaults(func=run_oracle)


def _common(parser: argparse.ArgumentParser, out: str) -> None:
    parser.add_argument("--out", type=Path, default=Path(out), help=f"report folder (default {out})")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _add_torch_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--torch", type=Path, metavar="ADAPTER_DIR",
                        help="a training run's adapter folder (e.g. out/train/mpc/adapter), run in torch on the "
                             "float base of --model: the model as trained, to compare with its GGUF export "
                             "(needs `make train-setup`; one process, --threads torch threads)")


def _check_choice(args: argparse.Namespace) -> None:
    if args.baseline and (args.model or args.endpoint or args.torch):
        raise Robotxr1Error("give either --baseline or a model (--model/--endpoint/--torch), not both")
    if args.torch and (args.endpoint or args.lora or args.base_only):
        raise Robotxr1Error("--torch runs a training run's adapter on the float base: not with --endpoint, "
                            "--lora or --base-only")


def _torch_backend(args: argparse.Namespace) -> Backend:
    try:
        from ..training.torch_backend import TorchBackend
    except ImportError as error:
        raise Robotxr1Error(f"--torch needs the training stack ({error}); run `make train-setup`") from None
    if not (args.torch / "adapter_config.json").exists():
        raise Robotxr1Error(f"{args.torch} is not an adapter folder (no adapter_config.json)")
    return TorchBackend(args.torch, str(args.model) if args.model else None, threads=args.threads)


def _progress(total: int, what: str) -> tqdm:
    return tqdm(total=total, desc=what, unit="call", file=sys.stderr, dynamic_ncols=True)


def run_decision(args: argparse.Namespace) -> int:
    _check_choice(args)
    judges = None
    if args.suite:
        if args.dataset:
            raise Robotxr1Error("give either --suite or --dataset, not both")
        datasets = list(stress_datasets())
        judges = stress_questions()
    else:
        paths = [path for spec in (args.dataset or [None]) for path in find_datasets(spec)]
        datasets = [load_dataset(path) for path in dict.fromkeys(paths)]
    instructions = list(judges) if judges else None
    settings = answer_settings(args, decision_reasoning_chars=args.reasoning_chars)
    decider: DecisionxR1 | DeciderFactory
    if args.baseline:
        verdict = DECISION_BASELINES[args.baseline]
        backend: Backend = ScriptedBackend([decision_answer(f"constant baseline: always {verdict}", verdict)])
        name = f"baseline {args.baseline}"
        decider = settings.decision(backend)
    elif args.torch:
        if args.workers != 1:
            raise Robotxr1Error("--torch evaluates in one process: use --workers 1")
        backend = _torch_backend(args)
        name = backend.name
        decider = settings.decision(backend)
    else:
        spec = model_spec(args)
        spec.check("decision")  # a bad model file fails here, not in a worker under the progress bar
        name = spec.describe("decision")
        decider = DeciderFactory(spec, settings)
    workers = 1 if args.baseline else args.workers
    start = time.perf_counter()
    with _progress(total_calls(datasets, args.mini, instructions), "decision") as bar:
        report = evaluate_decision(decider, datasets, name, mini=args.mini, progress=bar.update, workers=workers,
                                   instructions=instructions, judges=judges)
    report.settings = {"model": name, "grammar": not args.no_grammar, "seed": args.seed, "temperature": 0.0,
                       "max_tokens": args.max_tokens, "reasoning_chars": args.reasoning_chars,
                       "facts": args.decision_facts, "mini": args.mini,
                       "workers": workers, "threads": args.threads, "wall_s": round(time.perf_counter() - start, 1),
                       "suite": args.suite, "datasets": [str(d.path) for d in datasets]}
    files = write_decision_report(report, args.out)
    _print_summary(args, report.summary(), files,
                   lambda s: f"decision accuracy {100 * s['accuracy']:.1f} % over {s['n']} pairs "
                             f"(parse rate {100 * s['parse_rate']:.1f} %, mean latency {s['latency_s_mean']:.2f} s, "
                             f"wall {report.settings['wall_s']:.0f} s with {workers} worker(s))")
    return 0


def run_control(args: argparse.Namespace) -> int:
    _check_choice(args)
    names = list(dict.fromkeys(args.track or [DEFAULT_CONTROL_TRACK]))
    tracks = [get_track(name) for name in names]
    if len({track.name for track in tracks}) < len(tracks):
        raise Robotxr1Error(f"two of the tracks {names} have the same name: their reports would share a folder")
    prompts = eval_prompts(mini=args.mini, suite=args.suite)
    proposer: Proposer
    if args.baseline == "oracle" and args.suite != "default":
        raise Robotxr1Error("the oracle is searched for the default suite only; use --baseline default or a model")
    if args.baseline == "default":
        proposer = DefaultProposer()
    elif args.baseline == "oracle":
        proposer = OracleProposer(OracleCache.load(args.oracle_cache))
        for track in tracks:  # fail before driving anything
            for prompt in prompts:
                proposer.cache.require(track, prompt)
    else:
        if args.torch:
            backend = _torch_backend(args)
            name = backend.name
        else:
            spec = model_spec(args)
            backend, name = spec.create("tuning"), spec.describe("tuning")
        tuner = answer_settings(args, tuning_reasoning_chars=args.reasoning_chars).tuning(backend)
        proposer = ModelProposer(tuner, name)
    # One report per track; with several, each in a folder of its own beside a per-track table.
    several = len(tracks) > 1
    reports = []
    with _progress(len(prompts) * len(tracks), "control") as bar:
        for name, track in zip(names, tracks, strict=True):
            out = args.out / track.name if several else args.out
            start = time.perf_counter()
            report = evaluate_control(track, proposer, prompts, track_scenario(track),
                                      plot_dir=None if args.no_plots else out / "plots",
                                      progress=bar.update, suite=args.suite)
            report.settings = {"proposer": proposer.name,
                               "grammar": not args.no_grammar if not args.baseline else None,
                               "seed": args.seed, "temperature": 0.0, "max_tokens": args.max_tokens,
                               "mini": args.mini, "suite": args.suite, "reasoning_chars": args.reasoning_chars,
                               "param_set": None if args.baseline else args.param_set}
            if name != "eval":
                report.settings["note"] = f"track {name!r} is not the evaluation track"
            _warn_if_stale(report)
            reports.append((report, time.perf_counter() - start))
    files = write_control_reports([report for report, _ in reports], args.out)

    def headline(report: ControlReport, wall_s: float) -> str:
        s = report.summary()
        where = f"{report.track}: " if several else ""
        return (f"{where}control adaptability score {100 * s['score']:.1f} % over {s['prompts']} prompts "
                f"(clipped {100 * s['score_clipped']:.1f} %, failures {s['failures']}, "
                f"parse rate {100 * s['parse_rate']:.1f} %, wall {wall_s:.0f} s)" if args.suite == "default" else
                f"{where}open instructions: behaviour achieved in {s['achieved']} of {s['prompts']} prompts, "
                f"unchanged {s['unchanged']}, outside the ranges {s['out_of_range']} (wall {wall_s:.0f} s)")

    summary = ({report.track: report.summary() for report, _ in reports} if several
               else reports[0][0].summary())
    _print_summary(args, summary, files, lambda _: "\n".join(headline(*entry) for entry in reports))
    return 0


def _warn_if_stale(report: ControlReport) -> None:
    stale = [p.text for p in report.prompts if "oracle_default_rmse" in p.detail and p.default_rmse is not None
             and not math.isclose(p.detail["oracle_default_rmse"], p.default_rmse, rel_tol=1e-6)]
    if stale:
        report.settings["warning"] = (f"the oracle cache is stale for {len(stale)} prompt(s) (the default RMSE has "
                                      f"changed since the search): rerun `robotxr1 eval oracle`")
        print(f"warning: {report.settings['warning']}", file=sys.stderr)


def run_oracle(args: argparse.Namespace) -> int:
    budget = SearchBudget(random=args.random, refine=args.refine, seed=args.seed)
    cache = OracleCache.load(args.cache)
    if cache.entries and (cache.budget, cache.scenario) != (budget, EVAL_SCENARIO) and not args.force:
        raise Robotxr1Error(f"the cache was searched with {cache.budget} on {cache.scenario}; "
                         f"use the same budget or --force")
    cache.budget, cache.scenario = budget, EVAL_SCENARIO
    for track in (get_track(name) for name in (args.track or ["eval", "circle"])):
        # Prompts of one case share an oracle unless their reference speeds differ.
        prompts = {prompt_key(track, p): p for p in eval_prompts()}.values()
        for prompt in prompts:
            entry = cache.get(track, prompt)
            if entry is not None and not args.force \
                    and not cache.is_stale(entry, score_params(track, MpcParams(), prompt).rmse):
                continue
            with tqdm(total=budget.random + budget.refine, desc=f"{track.name} {prompt.case} "
                      f"{prompt.reference_speed:g}", unit="rollout", file=sys.stderr) as bar:
                entry = search(track, prompt, budget, EVAL_SCENARIO, progress=bar.update)
            cache.add(entry)
            cache.save(args.cache)
            print(f"{track.name:7s} {prompt.case:8s} v={prompt.reference_speed:5.2f}: RMSE {entry.default_rmse:.4f} -> "
                  f"{entry.rmse:.4f} ({100 * entry.improvement:+.1f} %) with {entry.changes()}")
    print(f"oracle cache: {cache.save(args.cache)}")
    return 0


def _print_summary(args: argparse.Namespace, summary: dict, files: dict, headline) -> None:
    if args.json:
        print(json.dumps({"summary": summary, "files": {k: str(v) for k, v in files.items()}}, indent=2))
    else:
        print(headline(summary))
        for kind, path in files.items():
            print(f"{kind}: {path}")
