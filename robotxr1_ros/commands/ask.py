"""`robotxr1 ask`: one instruction through both LLM modules, on the command line.

Prints the decision (does the car, as described by --state, do what was asked?), the validated
MPC parameter update (accepted, clamped, rejected, with reasons) and what each model
call cost.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

from ..errors import Robotxr1Error
from ..json_files import read_json
from ..llm.backends import Completion
from ..llm.decision import Decision
from ..llm.features import InsufficientData, StateFeatures, features_from_record
from ..llm.module_pair import ModuleBackends
from ..llm.prompt_fit import require_fitting_instruction
from ..llm.prompts import require_instruction
from ..llm.tuning import Tuning
from .model_options import add_model_arguments, answer_settings, model_spec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ask", help="ask the on-board LLM: decision + validated MPC parameters",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instruction", required=True, help='what the car should do, e.g. "Reverse the car"')
    parser.add_argument("--state", type=Path, metavar="FILE.json",
                        help="a state feature record (JSON); without it the decision is 'insufficient data'")
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)


def load_state(path: Path) -> StateFeatures | InsufficientData:
    record = read_json(path, "the state file")
    try:
        return features_from_record(record)
    except ValueError as error:
        raise Robotxr1Error(f"{path}: {error}") from None


def run(args: argparse.Namespace) -> int:
    instruction = require_instruction(args.instruction)  # fail before loading any model
    state = load_state(args.state) if args.state else None
    modules = answer_settings(args).pair(ModuleBackends.from_spec(model_spec(args)))
    # The model's tokenizer and context decide whether the prompts fit.
    require_fitting_instruction(instruction, modules.decision, modules.tuning)
    decision = modules.decision.decide(instruction, state)
    tuning = modules.tuning.tune(instruction)
    if args.json:
        result = {"decision": decision.as_dict(), "tuning": tuning.as_dict(), "grammar": not args.no_grammar}
        print(json.dumps(result, indent=2))
    else:
        print(report(decision, tuning))
    return 0


def report(decision: Decision, tuning: Tuning) -> str:
    update = tuning.update
    lines = [f"Instruction: {decision.instruction}",
             f"Decision: {decision.status.replace('_', ' ')}" + (f" -> {decision.action}" if decision.action else ""),
             f"  why: {' '.join(decision.explanation.split()) or '-'}"]
    lines.append("MPC update:" if update.found else f"MPC update: none ({update.problem}); defaults kept")
    lines.append(f"  accepted: {_pairs(update.accepted) or '-'}")
    lines.append("  clamped:  " + (", ".join(f"{c.name} {c.proposed:g} -> {c.value:g} ({c.reason})"
                                            for c in update.clamped.values()) or "-"))
    lines.append("  rejected: " + ("; ".join(f"{r.item} ({r.reason})" for r in update.rejected) or "-"))
    lines.append(f"  reasoning: {' '.join(tuning.reasoning.split()) or '-'}")
    lines.append(f"Parameters: {_pairs(tuning.params.as_dict())}")
    lines.append(f"Cost: decision {_cost(decision.completion)}; tuning {_cost(tuning.completion)}")
    return "\n".join(lines)


def _pairs(values: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={value:g}" for name, value in values.items())


def _cost(completion: Completion | None) -> str:
    if completion is None:
        return "model not called"
    return (f"{completion.prompt_tokens} prompt tokens ({completion.cached_tokens} cached) + "
            f"{completion.completion_tokens} generated in {completion.latency_s:.2f} s "
            f"({completion.tokens_per_s:.1f} tokens/s)")
