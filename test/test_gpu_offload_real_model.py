"""GPU layers and automatic threads with the real bundled model, on this CPU-only llama.cpp build:
`--n-gpu-layers 0` runs and is reported, and -1 (all layers, the default) loads and answers too,
llama.cpp itself ignoring it without a GPU backend."""
from __future__ import annotations

import json
import subprocess
import sys

from robotxr1_ros.cli import main
from robotxr1_ros.llm.llama_import import import_llama_cpp
from robotxr1_ros.llm.llama_resources import ALL_LAYERS, machine_threads
from robotxr1_ros.llm.models import bundled_model_path

llama_cpp = import_llama_cpp()
PROMPT = "The capital of France is"


def test_this_build_has_no_gpu_backend():
    """The premise of the tests below (a GPU build would run them on the GPU)."""
    assert not llama_cpp.llama_supports_gpu_offload()


def test_bench_llm_runs_on_the_cpu_and_reports_it(capsys):
    assert main(["bench", "llm", "--module", "tuning", "--limit", "1", "--n-gpu-layers", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    decode, prompt = machine_threads()
    assert (result["threads"], result["batch_threads"]) == (decode, prompt)
    assert (result["n_gpu_layers"], result["gpu_offload"]) == (0, False)
    assert result["tuning"]["warm"]["ok_rate"] == 1.0


def test_llama_cpp_ignores_all_gpu_layers_without_a_gpu_backend():
    """Asked directly (not through robotxr1, which asks for none here): the same greedy text."""
    texts = []
    for layers in (ALL_LAYERS, 0):
        llama = llama_cpp.Llama(model_path=str(bundled_model_path()), n_ctx=128, n_threads=1,
                                n_gpu_layers=layers, verbose=False)
        texts.append(llama.create_completion(PROMPT, max_tokens=8, temperature=0.0)["choices"][0]["text"])
        llama.close()
    assert texts[0] == texts[1] and texts[0].strip()


def test_the_probe_answers_with_all_gpu_layers_asked():
    probe = subprocess.run([sys.executable, "-m", "robotxr1_ros.llm.model_probe", str(bundled_model_path()),
                            str(ALL_LAYERS)], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
