"""Model file checks: a corrupt GGUF gives one clear error, never a crashed process."""
from __future__ import annotations

import shutil

import pytest
from model_files import corrupted_copy

from robotxr1_ros.cli import main
from robotxr1_ros.llm import llama_import, models
from robotxr1_ros.llm.model_spec import ModelSpec
from robotxr1_ros.llm.models import ModelLoadError, default_model_path, verify_model


def test_the_bundled_model_verifies():
    assert verify_model(default_model_path()) == default_model_path()


def test_corrupt_tensor_data_is_one_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match=r"crashed \(signal 6\).*tensor data is corrupt"):
        ModelSpec(model_path=str(corrupted_copy(tmp_path))).create()


def test_ask_exits_with_the_error_instead_of_aborting(tmp_path, capsys):
    assert main(["ask", "--instruction", "Reverse the car", "--model", str(corrupted_copy(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "robotxr1 ask: error:" in err and "tensor data is corrupt" in err


def test_a_changed_copy_of_a_shipped_model_fails_its_hash(tmp_path):
    (tmp_path / "shipped").mkdir()
    path = corrupted_copy(tmp_path / "shipped", name=default_model_path().name, fill=b"\x00")
    with pytest.raises(ModelLoadError, match="sha256 differs from the shipped"):
        verify_model(path)


def test_a_verified_model_is_not_probed_again_in_another_process(tmp_path, monkeypatch):
    """The probe's verdict is kept per file content and llama.cpp version: a copy of verified bytes
    (another path, so this process has not seen it) starts no probe; a corrupt file leaves no mark."""
    monkeypatch.setenv(models.VERIFIED_CACHE_ENV, str(tmp_path / "verified"))
    first, second = tmp_path / "first.gguf", tmp_path / "second.gguf"
    shutil.copyfile(default_model_path(), first)
    verify_model(first)
    assert [marker.name.split("-")[0] for marker in (tmp_path / "verified").iterdir()] == [models.file_sha256(first)]
    shutil.copyfile(default_model_path(), second)

    def no_probe(*args, **kwargs):
        raise AssertionError(f"probed again: {args}")

    monkeypatch.setattr(models.subprocess, "run", no_probe)
    assert verify_model(second) == second
    with pytest.raises(AssertionError, match="probed again"):
        verify_model(corrupted_copy(tmp_path))
    assert len(list((tmp_path / "verified").iterdir())) == 1


def test_llama_cpp_log_lets_only_errors_through(capfd):
    """llama.cpp's warnings (its KV-cache bookkeeping) stay off the user's terminal; errors do not."""
    log = llama_import._log_errors_only(llama_import.import_llama_cpp())
    log(2, b"decode: removing memory module entries for seq_id = 0\n", None)
    log(3, b"llama_model_load: error loading model: ", None)
    log(5, b"tensor data is not within the file bounds\n", None)
    log(2, b"warning again\n", None)
    log(5, b" continued\n", None)
    expected = "llama_model_load: error loading model: tensor data is not within the file bounds\n"
    assert capfd.readouterr().err == expected
