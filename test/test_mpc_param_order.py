"""The MPC reads its parameters in PARAM_TABLE's order, whatever that order is: the kernels'
indices, the packed vector and the numba kernels cached for an earlier order."""
from __future__ import annotations

import os
import subprocess
import sys

from robotxr1_ros.control import mpc_qp
from robotxr1_ros.params import PARAM_NAMES

# Run first in a fresh interpreter: PARAM_TABLE rotated by one place, so every parameter moves.
ROTATE_TABLE = """
import robotxr1_ros.params as params
params.PARAM_TABLE = params.PARAM_TABLE[1:] + params.PARAM_TABLE[:1]
params.PARAM_SPECS = {spec.name: spec for spec in params.PARAM_TABLE}
params.PARAM_NAMES = tuple(params.PARAM_SPECS)
"""
# Every parameter with its own value (the same in any table order), so a swap of two changes the result.
DISTINCT_PARAMS = """
from robotxr1_ros.params import PARAM_TABLE, MpcParams
params = MpcParams(**{spec.name: spec.minimum + (i + 1) / 100 * (spec.maximum - spec.minimum)
                      for i, spec in enumerate(sorted(PARAM_TABLE, key=lambda spec: spec.name))})
"""
# Three solves (a cold one, then warm ones) of the whole controller, plan included.
SOLVES = DISTINCT_PARAMS + """
from robotxr1_ros.control.mpc import FrenetMPC
from robotxr1_ros.track.library import get_track

track = get_track("circle")
controller = FrenetMPC(track, params=params)
x, y = track.raceline.position(1.0)
yaw = float(track.raceline.heading(1.0))
for offset in (0.1, 0.15, 0.2):
    command = controller.solve(float(x), float(y) + offset, yaw, 1.0, 0.05)
    print(command.speed, command.steering_angle, command.status, command.predicted_s.tolist(),
          command.predicted_n.tolist())
"""
# One compiled kernel that reads every parameter: the nonlinear cost of a fixed plan.
PLAN_COST = DISTINCT_PARAMS + """
import numpy as np
from robotxr1_ros.control import mpc_qp

table = np.ones((100, mpc_qp.TAB_COLUMNS))
plan = np.zeros((5, 3))
plan[:, 0] = np.arange(5) * 0.1
plan[:, 1] = 0.8
plan[:, 2] = 0.1
inputs = np.tile([2.0, 0.2], 4)
print(mpc_qp.plan_cost(table, 2.0, 0.02, plan, inputs, 1.0, 0.0, mpc_qp.param_vector(params), 0.05, 0.33, 0.4,
                       3.2, 10.0, 20.0, 30.0))
"""


def python(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_each_kernel_index_is_the_parameters_place_in_the_table():
    indices = {name[2:].lower(): value for name, value in vars(mpc_qp).items() if name.startswith("P_")}
    # speed_scale is no kernel's: it shapes the speed profile in the table (control/reference_profile.py).
    assert indices == {name: i for i, name in enumerate(PARAM_NAMES) if name != "speed_scale"}
    namespace: dict = {}
    exec(DISTINCT_PARAMS, namespace)
    params = namespace["params"]
    vector = mpc_qp.param_vector(params)
    assert vector.shape == (len(PARAM_NAMES),) and len(set(vector)) == len(PARAM_NAMES)
    assert {name: vector[index] for name, index in indices.items()} == \
        {name: value for name, value in params.as_dict().items() if name in indices}


def test_the_controller_solves_the_same_whatever_the_table_order():
    # Uncompiled kernels: a solve is quick, and no cached kernel can hide an index mismatch.
    in_order = python(SOLVES, NUMBA_DISABLE_JIT="1")
    assert in_order.count("\n") == 3 and "fallback" not in in_order
    assert python(ROTATE_TABLE + SOLVES, NUMBA_DISABLE_JIT="1") == in_order


def test_kernels_cached_for_another_table_order_are_compiled_afresh(tmp_path):
    # numba's cache does not see a change of params.py: the rotated run would load the kernel
    # compiled with the first run's indices if mpc_qp did not drop it.
    cache = str(tmp_path)
    in_order = python(PLAN_COST, NUMBA_CACHE_DIR=cache)
    assert python(ROTATE_TABLE + PLAN_COST, NUMBA_CACHE_DIR=cache) == in_order
