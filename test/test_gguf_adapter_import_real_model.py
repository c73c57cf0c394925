"""A GGUF LoRA adapter loaded into the torch model a training run starts from
(training/gguf_adapter_import.py): the shipped adapter gives llama.cpp's next-token logits, and
a random adapter exported by `robotxr1 export`'s converter comes back weight for weight."""
import numpy as np
import pytest
import torch

from robotxr1_ros.errors import Robotxr1Error
from robotxr1_ros.llm.model_spec import shipped_adapter_path
from robotxr1_ros.llm.models import default_model_path, import_llama_cpp
from robotxr1_ros.training.export import export_adapter
from robotxr1_ros.training.gguf_adapter_import import read_gguf_adapter
from robotxr1_ros.training.model_io import LoraSettings, configure_torch, float_base_dir, load_policy, load_tokenizer

PROMPTS = ["Drive backwards.", "<|im_start|>user\nStop the car now.<|im_end|>\n<|im_start|>assistant\n",
           "The MPC parameter v_max is"]
# llama.cpp runs the Q4_1 base with 8-bit activations, torch its de-quantized float32 copy: the two
# disagree by up to ~0.8 in a logit with or without the adapter (measured). Importing the adapter
# without undoing the converter's q/k row order gave 1.5-3.3.
MAX_LOGIT_GAP = 1.2


@pytest.fixture(scope="module")
def base_dir():
    configure_torch(1)
    return float_base_dir()


@pytest.fixture(scope="module")
def shipped_policy(base_dir):
    adapter = read_gguf_adapter(shipped_adapter_path(), default_model_path(), rank=16)
    return adapter, load_policy(base_dir, LoraSettings(rank=16, alpha=7), gguf_adapter=adapter).eval()


def _lora_layers(model):
    return {name: module for name, module in model.named_modules() if hasattr(module, "lora_A")}


def _llama_logits(ids: list[int], lora_path=None) -> np.ndarray:
    llama = import_llama_cpp().Llama(model_path=str(default_model_path()), lora_path=lora_path, n_ctx=256,
                                     n_threads=1, n_threads_batch=1, logits_all=True, verbose=False)
    try:
        llama.eval(ids)
        return np.array(llama.scores[len(ids) - 1])
    finally:
        llama.close()


def test_the_shipped_adapter_in_torch_gives_llama_cpps_next_token_logits(base_dir, shipped_policy):
    adapter, model = shipped_policy
    layers = _lora_layers(model)
    assert len(layers) == 30 * 7  # every linear layer of the 30 blocks, as the adapter was trained
    assert {layer.scaling["default"] for layer in layers.values()} == {adapter.alpha / 16} == {2.0}
    tokenizer = load_tokenizer(base_dir)
    for prompt in PROMPTS:
        ids = tokenizer(prompt)["input_ids"]
        with torch.no_grad():
            ours = model(torch.tensor([ids])).logits[0, -1].numpy()
            with model.disable_adapter():
                base = model(torch.tensor([ids])).logits[0, -1].numpy()
        theirs = _llama_logits(ids, str(shipped_adapter_path()))
        assert ours.argmax() == theirs.argmax(), prompt
        assert np.abs(ours - theirs).max() < MAX_LOGIT_GAP, prompt
        assert np.abs(ours - base).max() > 5 * MAX_LOGIT_GAP, prompt  # the adapter did change the logits


def test_an_exported_random_adapter_comes_back_weight_for_weight(base_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=12, target_modules="all-linear", task_type="CAUSAL_LM")
    trained = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base_dir)), config)
    with torch.no_grad():
        for layer in _lora_layers(trained).values():
            layer.lora_B["default"].weight.normal_()  # zero in a new adapter: the order of its rows would not show
    trained.save_pretrained(tmp_path / "adapter")
    exported = export_adapter(tmp_path / "adapter", base_dir, tmp_path / "random.lora.gguf", outtype="f32")

    adapter = read_gguf_adapter(exported, default_model_path(), rank=4)
    assert adapter.alpha == 12
    imported = load_policy(base_dir, LoraSettings(rank=4, alpha=8), gguf_adapter=adapter)
    ours, theirs = _lora_layers(trained), _lora_layers(imported)
    assert ours.keys() == theirs.keys() and len(ours) == 30 * 7
    for name, layer in ours.items():
        for part in ("lora_A", "lora_B"):
            assert torch.equal(getattr(layer, part)["default"].weight, getattr(theirs[name], part)["default"].weight)
        assert theirs[name].scaling["default"] == 12 / 4  # the adapter's alpha, not the run's
    with pytest.raises(Robotxr1Error, match=r"random\.lora\.gguf: the adapter's LoRA rank is 4, the run's "
                                            r"--lora-rank is 16$"):
        read_gguf_adapter(exported, default_model_path(), rank=16)
