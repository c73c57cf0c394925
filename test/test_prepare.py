"""`robotxr1 prepare` makes what the car and the tests would otherwise make on first use: the merged
models the model spec loads, and every cached numba kernel of the package compiled."""
from __future__ import annotations

import subprocess
import sys

import pytest

from robotxr1_ros.cli import main
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.llm.lora_merge import merged_model_path
from robotxr1_ros.llm.model_spec import MODULES, ModelSpec
from robotxr1_ros.llm.models import default_model_path

PREPARE_KERNELS = "from robotxr1_ros.commands.prepare import compile_kernels; compile_kernels()"
# What the car, the simulator node and the evaluator run, on another track and other parameters than
# compile_kernels uses, with every numba compilation recorded (loads from the cache are not).
CAR_WORKLOAD = """
from numba.core import event

class Compiled(event.Listener):
    names = []
    def on_start(self, ev):
        self.names.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass

event.register("numba:compile", Compiled())
import numpy as np
from robotxr1_ros.control.closed_loop import Scenario, drive_scenario
from robotxr1_ros.params import MpcParams
from robotxr1_ros.sim.simulator import Simulator
from robotxr1_ros.sim.vehicle import VehicleParams, VehicleState, simulate_commands
from robotxr1_ros.track.library import get_track

track = get_track("circle")
drive_scenario(track, MpcParams(v_max=3.0), Scenario(seconds=0.3, start_speed=1.0))
for record in (False, True):
    sim = Simulator(track, record=record)
    sim.step(0.1, 2.0, 0.1)
    sim.scan(), sim.imu(), sim.odometry()
simulate_commands(VehicleState(speed=1.0), VehicleParams(), np.full(3, 0.1), np.full(3, 2.0), 0.02)
print(sorted(set(Compiled.names)))
"""


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_after_prepare_a_new_process_compiles_no_kernel():
    python(PREPARE_KERNELS)  # as setup does (here it compiles only kernels edited since then)
    assert python(CAR_WORKLOAD) == "[]"


def test_prepare_makes_the_merged_models_the_model_spec_loads(capsys):
    assert main(["prepare"]) == 0
    printed = capsys.readouterr().out
    adapters = {ModelSpec().adapter(module) for module in MODULES} - {None}
    assert adapters, "the bundled model ships trained adapters"
    for adapter in adapters:
        merged = merged_model_path(default_model_path(), adapter)
        assert merged.is_file() and merged.name in printed, printed
    assert "numba kernels" in printed and "float base" not in printed


def test_prepare_for_training_says_how_to_install_the_training_stack(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    from robotxr1_ros.commands.prepare import make_float_base

    with pytest.raises(Robotxr1Error, match=r"training stack is not installed \(no torch\); run `make train-setup`"):
        make_float_base()
