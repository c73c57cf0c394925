"""The trained adapter shipped with the bundled model, end to end through llama.cpp, the car's
modules, the MPC and the simulator: it is loaded by default, checked against its shipped hash,
and it makes the car do what the base model does not (reverse when asked to)."""
import json

import numpy as np
import pytest

from robotxr1_ros.cases.control import eval_phrasings
from robotxr1_ros.control.closed_loop import Scenario, drive_scenario
from robotxr1_ros.llm.lora_merge import merged_model_path
from robotxr1_ros.llm.model_spec import ModelSpec, shipped_adapter_path
from robotxr1_ros.llm.models import KNOWN_HASHES_FILE, ModelLoadError, default_model_path, file_sha256
from robotxr1_ros.llm.parsing import parse_mpc_answer
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.params import MpcParams
from robotxr1_ros.track.library import get_track

REVERSE = "Reverse the car"


@pytest.fixture(scope="module")
def shipped():
    path = shipped_adapter_path()
    assert path is not None, "no trained adapter is shipped for the bundled model"
    return path


def test_the_shipped_adapters_are_the_defaults_and_match_their_hashes(shipped):
    decision = shipped_adapter_path("decision")
    assert decision is not None and decision != shipped, "the decision module has no adapter of its own"
    assert ModelSpec().adapter("tuning") == ModelSpec().adapter() == str(shipped)
    assert ModelSpec().adapter("decision") == str(decision) and ModelSpec(base_only=True).adapter("decision") is None
    for adapter in (shipped, decision):
        assert json.loads(KNOWN_HASHES_FILE.read_text())[adapter.name] == file_sha256(adapter)
        assert 1e5 < adapter.stat().st_size < 2e7  # an adapter of a few MB, not a model


def test_a_corrupted_copy_of_the_shipped_adapter_is_refused(shipped, tmp_path):
    copy = tmp_path / shipped.name
    data = bytearray(shipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256 differs"):
        merged_model_path(default_model_path(), copy)


def test_trained_model_reverses_the_car_where_the_base_does_not():
    track = get_track("eval")
    speeds = {}
    for name, spec in (("trained", ModelSpec()), ("base", ModelSpec(base_only=True))):
        tuning = MPCxR1(spec.create("tuning")).tune(REVERSE)
        log = drive_scenario(track, tuning.params, Scenario(seconds=8.0, seed=0, start_s=0.0, start_speed=0.0))
        speeds[name] = (tuning.update.changes, float(np.mean(log.speed_along[len(log.t) // 2:])))
    assert speeds["trained"][1] < -0.5, speeds  # backwards along the track
    assert speeds["base"][1] > 0.0, speeds  # the untrained model only slows the car down


def test_forced_text_jumped_gives_the_answers_decoded_token_by_token():
    """Jump-forward decoding (the grammar's forced literals evaluated in batches) writes what
    greedy decoding token by token writes (the trained model is far from ties that the batched
    evaluation's rounding could tip); the same grammar as plain text knows no literals."""
    tuner = MPCxR1(ModelSpec().create("tuning"))
    grammar = tuner.grammar(tuner.specs)
    for case in ("reverse", "refvel"):
        messages = tuner.messages(next(text for name, text in eval_phrasings() if name == case))
        jumped = tuner.backend.complete(messages, grammar=grammar, max_tokens=200)
        stepped = tuner.backend.complete(messages, grammar=str(grammar), max_tokens=200)
        assert jumped.text == stepped.text and jumped.finish_reason == stepped.finish_reason == "stop"
        assert jumped.forced_tokens >= 5 and stepped.forced_tokens == 0, (case, jumped.forced_tokens)
        assert parse_mpc_answer(jumped.text, MpcParams(), tuner.specs).found, jumped.text


def test_trained_model_resets_with_the_defaults_entry():
    """"Back to the defaults" is one choice for the model (`{**defaults}`); the values are the code's."""
    careful = MpcParams().updated({"qv": 50.0, "qac": 1.0, "v_max": 2.0})
    tuning = MPCxR1(ModelSpec().create("tuning")).tune("Restore the defaults.", base=careful)
    assert tuning.update.from_defaults, tuning.completion.text
    assert tuning.params == MpcParams()
