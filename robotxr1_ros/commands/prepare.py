"""`robotxr1 prepare`: make, once, the files a first start would otherwise make on the spot.

- The bundled model with each shipped adapter merged into it (a few seconds each), in the cache
  the car, the evaluator and the tests load from (llm/lora_merge.py).
- The simulator's, the track lookups' and the MPC's numba kernels, compiled into their cache
  (about 10 s of CPU).
- With --training, the float copy of the base model that training starts from (training/model_io.py,
  about 20 s).

Without it each of these is made by whichever process needs it first, and by several at once
when they start together (a launch, a test run). `make setup` runs it; nothing here needs
llama.cpp. Run it again after changing the model or the adapters.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prepare", help="merge the shipped adapters and compile the kernels ahead of use",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--training", action="store_true",
                        help="also make the float base model training starts from (needs `make train-setup`)")
    parser.set_defaults(func=run)


def merge_shipped_adapters() -> str:
    """The merged model of every adapter the default model spec loads."""
    from ..llm.lora_merge import merged_model_path
    from ..llm.model_spec import MODULES, ModelSpec
    from ..llm.models import default_model_path

    spec = ModelSpec()
    adapters = sorted({adapter for adapter in map(spec.adapter, MODULES) if adapter})
    merged = [merged_model_path(default_model_path(), adapter).name for adapter in adapters]
    return ", ".join(merged) or "no shipped adapter for this model"


def compile_kernels() -> str:
    """Run every numba kernel once with the argument types the car and the evaluator use."""
    from ..control.closed_loop import Scenario, drive_scenario
    from ..params import MpcParams
    from ..sim.simulator import Simulator
    from ..sim.vehicle import VehicleParams, VehicleState, simulate_commands
    from ..track.library import get_track

    track = get_track("eval")
    drive_scenario(track, MpcParams(), Scenario(seconds=0.5))  # MPC and simulator, without a log
    sim = Simulator(track)  # with a log
    sim.step(0.0, 1.0, 0.05)
    sim.scan()
    sim.imu()
    simulate_commands(VehicleState(), VehicleParams(), np.zeros(2), np.ones(2), sim.dt)
    return "simulator, track lookups, MPC"


def make_float_base() -> str:
    from ..training.stack import require_training_stack

    require_training_stack()
    from ..training.model_io import float_base_dir

    return str(float_base_dir())


def run(args: argparse.Namespace) -> int:
    steps: list[tuple[str, Callable[[], str]]] = [("merged models", merge_shipped_adapters),
                                                  ("numba kernels", compile_kernels)]
    if args.training:
        steps.append(("float base for training", make_float_base))
    for name, step in steps:
        start = time.monotonic()
        made = step()
        print(f"prepare: {name}: {made} ({time.monotonic() - start:.1f} s)", flush=True)
    return 0
