"""The LoRA adapter option of ModelSpec and the shared model options (--lora / --base-only)."""
import argparse

import pytest

from robotxr1_ros.commands.model_options import add_model_arguments, model_spec
from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.llm import model_spec as model_spec_module
from robotxr1_ros.llm.model_spec import ModelSpec


def _parse(*argv):
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    return parser.parse_args(list(argv))


def test_lora_option_reaches_the_spec_and_its_description(tmp_path):
    spec = model_spec(_parse("--lora", str(tmp_path / "a.lora.gguf")))
    assert spec.lora_path == str(tmp_path / "a.lora.gguf") and spec.adapter() == spec.lora_path
    assert spec.describe() == "SmolLM2-135M-Instruct.Q4_1.gguf + a.lora.gguf"


def test_lora_and_base_only_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        _parse("--lora", "a.gguf", "--base-only")
    assert "not allowed with" in capsys.readouterr().err
    with pytest.raises(Robotxr1Error, match="LoRA adapter"):
        ModelSpec(lora_path="a.gguf", base_only=True)
    with pytest.raises(Robotxr1Error, match="LoRA adapter"):
        ModelSpec(lora_path="a.gguf", endpoint="http://127.0.0.1:1/v1")


def test_a_shipped_adapter_is_the_default_only_for_the_bundled_model(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.lora.gguf"
    monkeypatch.setattr(model_spec_module, "shipped_adapter_path", lambda module=None: shipped)
    monkeypatch.delenv("ROBOTXR1_MODEL", raising=False)
    assert ModelSpec().adapter() == str(shipped)
    assert ModelSpec(base_only=True).adapter() is None
    assert ModelSpec(model_path=str(tmp_path / "other.gguf")).adapter() is None
    monkeypatch.setenv("ROBOTXR1_MODEL", str(tmp_path / "other.gguf"))
    assert ModelSpec().adapter() is None



def test_a_module_takes_its_own_shipped_adapter_else_the_common_one(tmp_path, monkeypatch):
    monkeypatch.setattr(model_spec_module, "ADAPTER_DIR", tmp_path)
    monkeypatch.delenv("ROBOTXR1_MODEL", raising=False)
    assert model_spec_module.shipped_adapter_path("decision") is None  # nothing shipped
    common = tmp_path / "SmolLM2-135M-Instruct.Q4_1.lora.gguf"
    common.write_bytes(b"common")
    assert ModelSpec().adapter("decision") == ModelSpec().adapter("tuning") == ModelSpec().adapter() == str(common)
    assert ModelSpec().describe() == "SmolLM2-135M-Instruct.Q4_1.gguf + SmolLM2-135M-Instruct.Q4_1.lora.gguf"
    decision = tmp_path / "SmolLM2-135M-Instruct.Q4_1.decision.lora.gguf"
    decision.write_bytes(b"decision")
    assert ModelSpec().adapter("decision") == str(decision) and ModelSpec().adapter("tuning") == str(common)
    assert ModelSpec().describe("decision") == "SmolLM2-135M-Instruct.Q4_1.gguf + " + decision.name
    assert ModelSpec().describe() == f"SmolLM2-135M-Instruct.Q4_1.gguf + {decision.name} + {common.name}"
    given = str(tmp_path / "mine.lora.gguf")  # an adapter given by path serves both modules
    assert ModelSpec(lora_path=given).adapter("decision") == ModelSpec(lora_path=given).adapter("tuning") == given
    assert ModelSpec(base_only=True).adapter("decision") is None
    with pytest.raises(Robotxr1Error, match="unknown module 'steering'"):
        model_spec_module.shipped_adapter_path("steering")
