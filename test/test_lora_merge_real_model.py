"""Merging the shipped LoRA adapter into the bundled model (robotxr1_ros/llm/lora_merge.py), through
gguf-py and llama.cpp: the merged file answers like base + runtime adapter, is made once and
reused, and adapters that do not belong to the model are refused with the reason."""
import numpy as np
import pytest
from gguf import GGUFWriter

from robotxr1_ros.llm import lora_merge
from robotxr1_ros.llm.llama_import import import_llama_cpp
from robotxr1_ros.llm.lora_merge import merged_model_path
from robotxr1_ros.llm.model_spec import ModelSpec, shipped_adapter_path
from robotxr1_ros.llm.models import ModelLoadError, bundled_model_path

PROMPT = ("<|im_start|>system\nYou tune the MPC of a race car.<|im_end|>\n"
          "<|im_start|>user\nReverse the car now, please.<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def merge_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("merged")
        patch.setenv(lora_merge.MERGE_CACHE_ENV, str(cache))
        yield cache


def _next_token_distributions(**model) -> np.ndarray:
    llama = import_llama_cpp().Llama(n_ctx=256, n_threads=1, n_threads_batch=1, logits_all=True, verbose=False, **model)
    tokens = llama.tokenize(PROMPT.encode(), special=True)
    llama.eval(tokens)
    logits = np.array(llama.scores[:len(tokens)], dtype=np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def test_the_merged_model_answers_like_the_base_with_the_runtime_adapter(merge_cache):
    base, adapter = bundled_model_path(), shipped_adapter_path()
    merged = merged_model_path(base, adapter)
    assert merged.parent == merge_cache and merged.stat().st_size > base.stat().st_size  # adapted weights are Q8_0
    runtime = _next_token_distributions(model_path=str(base), lora_path=str(adapter))
    merged_p = _next_token_distributions(model_path=str(merged))
    base_p = _next_token_distributions(model_path=str(base))

    def distance(p, q):  # mean total variation per position
        return 0.5 * np.abs(p - q).sum(axis=1).mean()

    assert (runtime.argmax(axis=1) == merged_p.argmax(axis=1)).mean() > 0.9  # ties may flip in the system prompt
    assert distance(runtime, merged_p) < 0.08  # measured 0.04: Q8_0 rounding of the merged weights
    assert distance(runtime, base_p) > 3 * distance(runtime, merged_p)  # the fine-tune survived the merge


def test_the_merge_is_made_once_and_the_default_backend_runs_it(merge_cache):
    first = merged_model_path(bundled_model_path(), shipped_adapter_path())
    made = first.stat().st_mtime_ns
    backend = ModelSpec().create()
    assert backend.llama.model_path == str(first) and first.stat().st_mtime_ns == made
    assert backend.lora_path == shipped_adapter_path()
    assert not list(merge_cache.glob("*.partial-*"))


def _fake_adapter(path, tensors: dict, general_type: str = "adapter"):
    writer = GGUFWriter(path, "llama")
    writer.add_string("general.type", general_type)
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 32.0)
    for name, value in tensors.items():
        writer.add_tensor(name, value.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("tensors, general_type, words", [
    ({"blk.0.attn_q.weight.lora_a": np.zeros((16, 100)), "blk.0.attn_q.weight.lora_b": np.zeros((576, 16))},
     "adapter", "do not fit the weight"),
    ({"blk.99.attn_q.weight.lora_a": np.zeros((16, 576)), "blk.99.attn_q.weight.lora_b": np.zeros((576, 16))},
     "adapter", "adapted tensors are not in"),
    ({"blk.0.attn_q.weight.lora_a": np.zeros((16, 576)), "blk.0.attn_q.weight.lora_b": np.zeros((576, 16))},
     "model", "not a GGUF LoRA adapter"),
])
def test_an_adapter_for_another_model_is_refused(merge_cache, tmp_path, tensors, general_type, words):
    adapter = _fake_adapter(tmp_path / "other.lora.gguf", tensors, general_type)
    with pytest.raises(ModelLoadError, match=words):
        merged_model_path(bundled_model_path(), adapter)
    assert not list(merge_cache.glob("other*"))  # nothing half-written is left to be loaded later
