"""llama.cpp's share of the machine: threads from the CPUs around the controller's, GPU layers
where llama.cpp can offload, and both reaching llama_cpp.Llama from the commands and the node's
settings (llama.cpp itself is replaced by a recorder here: no model is loaded)."""
from __future__ import annotations

import pytest

from robotxr1_ros.cli import build_parser
from robotxr1_ros.commands.model_options import model_spec
from robotxr1_ros.cpus import CONTROL_CPUS_ENV
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.llm import llama_resources, model_probe, models
from robotxr1_ros.llm.llama_import import import_llama_cpp
from robotxr1_ros.llm.llama_resources import (
    ALL_LAYERS,
    LlamaResources,
    default_threads,
    llama_threads,
    machine_threads,
)
from robotxr1_ros.llm.model_spec import ModelSpec
from robotxr1_ros.llm.models import bundled_model_path
from robotxr1_ros.llm.node_config import DEFAULTS, LlmNodeConfig

llama_cpp = import_llama_cpp()


@pytest.mark.parametrize("count, pinned, expected", [
    # usable CPUs, the control process pinned to the last one (the default) or not pinned ("all")
    (2, True, (1, 2)), (2, False, (1, 2)),  # measured here: 1 decoding, 2 prompt threads
    (4, True, (2, 3)), (4, False, (2, 4)),
    (6, True, (4, 5)), (6, False, (4, 6)),
    (8, True, (4, 7)), (8, False, (4, 8)),
    (12, True, (4, 11)), (12, False, (4, 12)),
])
def test_default_threads_table(count, pinned, expected):
    cpus = set(range(count))
    assert default_threads(cpus, {count - 1} if pinned else None) == expected


@pytest.mark.parametrize("cpus, control, expected", [
    ({0}, {0}, (1, 1)),  # one CPU, shared with control
    ({0, 1}, {0, 1}, (1, 2)),  # control pinned to every CPU: prompts share them all
    (set(range(8)), {6, 7}, (4, 6)),  # two control CPUs are kept out of both
    (set(range(6)), {4, 5}, (3, 4)),
    ({0, 1, 2, 3}, {9}, (2, 4)),  # control elsewhere takes none of these CPUs
    ({2, 5, 7, 11}, {11}, (2, 3)),  # CPU numbers need not be contiguous
])
def test_default_threads_edges(cpus, control, expected):
    assert default_threads(cpus, control) == expected


def test_machine_threads_read_the_affinity_and_the_control_setting(monkeypatch):
    monkeypatch.setattr(llama_resources, "usable_cpus", lambda: set(range(8)))
    for setting, expected in (("", (4, 7)), ("all", (4, 8)), ("0,1", (4, 6)), ("-1", (4, 7))):
        monkeypatch.setenv(CONTROL_CPUS_ENV, setting)
        assert machine_threads() == expected, setting
    monkeypatch.setenv(CONTROL_CPUS_ENV, "fast")
    with pytest.raises(Robotxr1Error, match=f"{CONTROL_CPUS_ENV}='fast'"):
        machine_threads()


def test_zero_or_none_is_the_machines_choice_and_a_number_is_kept(monkeypatch):
    monkeypatch.setattr(llama_resources, "machine_threads", lambda: (3, 5))
    assert llama_threads() == llama_threads(0, None) == (3, 5)
    assert llama_threads(2, 0) == (2, 5) and llama_threads(None, 1) == (3, 1) and llama_threads(6, 7) == (6, 7)
    monkeypatch.setattr(llama_resources, "machine_threads", lambda: pytest.fail("both were given"))
    assert llama_threads(1, 1) == (1, 1)


@pytest.mark.parametrize("supported", [True, False])
def test_gpu_layers_default_to_all_with_a_gpu_backend_and_none_without(monkeypatch, supported):
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: supported)
    resources = DEFAULTS.model_spec().llama_resources()
    assert (resources.n_gpu_layers, resources.gpu_offload) == ((ALL_LAYERS, True) if supported else (0, False))
    assert LlamaResources.resolve(n_gpu_layers=12).n_gpu_layers == (12 if supported else 0)
    assert LlamaResources.resolve(n_gpu_layers=0).n_gpu_layers == 0
    assert ("all layers on the GPU" if supported else "CPU only") in resources.describe()


def test_the_defaults_are_automatic_everywhere():
    args = build_parser("ask").parse_args(["ask", "--instruction", "Drive forward"])
    assert (args.threads, args.batch_threads, args.n_gpu_layers) == (0, 0, ALL_LAYERS)
    assert (DEFAULTS.n_threads, DEFAULTS.n_threads_batch, DEFAULTS.n_gpu_layers) == (0, 0, ALL_LAYERS)
    spec = ModelSpec()
    assert (spec.n_threads, spec.n_threads_batch, spec.n_gpu_layers) == (0, 0, ALL_LAYERS)


@pytest.mark.parametrize("settings", [{"n_gpu_layers": -2}, {"n_threads": -1}, {"n_threads_batch": -3}])
def test_negative_settings_are_refused(settings):
    with pytest.raises(Robotxr1Error, match="need n_"):
        ModelSpec(**settings)


class Loaded(Exception):
    """Raised by the recording Llama: what it was asked to load, and no model loaded."""


@pytest.fixture
def recorded(monkeypatch):
    """Every llama_cpp.Llama call's keyword arguments and every verify_model call's GPU layers; a
    GPU backend claimed, so the layers asked for pass unchanged."""
    calls: dict[str, list] = {"llama": [], "verify": []}

    def llama(**kwargs):
        calls["llama"].append(kwargs)
        raise Loaded

    def verify(path, n_gpu_layers=ALL_LAYERS):
        calls["verify"].append(n_gpu_layers)
        return path

    monkeypatch.setattr(llama_cpp, "Llama", llama)
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    monkeypatch.setattr(models, "verify_model", verify)
    return calls


def test_the_command_options_reach_llama(recorded):
    args = build_parser("ask").parse_args(["ask", "--instruction", "Drive forward", "--base-only", "--threads", "3",
                                           "--batch-threads", "5", "--n-gpu-layers", "7"])
    with pytest.raises(Loaded):
        model_spec(args).create()
    (call,) = recorded["llama"]
    assert (call["n_threads"], call["n_threads_batch"], call["n_gpu_layers"]) == (3, 5, 7)
    assert recorded["verify"] == [7]


def test_the_node_settings_reach_llama_and_automatic_threads_are_resolved(recorded, monkeypatch):
    monkeypatch.setattr(llama_resources, "machine_threads", lambda: (2, 6))
    spec = LlmNodeConfig(lora_path="", n_gpu_layers=20).model_spec()
    with pytest.raises(Loaded):
        spec.create()
    (call,) = recorded["llama"]
    assert (call["n_threads"], call["n_threads_batch"], call["n_gpu_layers"]) == (2, 6, 20)
    assert spec.llama_resources() == LlamaResources(2, 6, 20, True)


def test_without_a_gpu_backend_llama_is_asked_for_no_gpu_layers(recorded, monkeypatch):
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: False)
    with pytest.raises(Loaded):
        ModelSpec(base_only=True, n_threads=1, n_threads_batch=1).create()
    assert recorded["llama"][0]["n_gpu_layers"] == 0


def test_the_probe_offloads_as_asked(recorded):
    with pytest.raises(Loaded):
        model_probe.answer_once(str(bundled_model_path()), 9)
    with pytest.raises(Loaded):
        model_probe.answer_once(str(bundled_model_path()))
    assert [call["n_gpu_layers"] for call in recorded["llama"]] == [9, ALL_LAYERS]
