"""What every training run shares: settings, device and threads, model and optimizer, resume,
periodic checkpoints, metrics, the progress bar and the final adapter.

Devices: CPU by default (threads set explicitly, see model_io.configure_torch); `device="cuda"`
or `"auto"` uses a GPU through accelerate, and `accelerate launch robotxr1 train ...` spreads a
run over several GPUs (each process trains on its own prompts; accelerate averages gradients).
"""
from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import Robotxr1Error
from ..llm.models import default_model_path
from .checkpoints import latest_checkpoint, restore_training_state, save_checkpoint
from .curves import plot_curves
from .gguf_adapter_import import is_gguf_adapter, read_gguf_adapter
from .metrics_log import MetricsLog
from .model_io import LoraSettings, configure_torch, float_base_dir, load_policy, load_tokenizer, trainable_parameters

DEVICES = ("cpu", "cuda", "auto")
FINAL_ADAPTER = "adapter"
FINAL_FULL = "model"


@dataclass(frozen=True)
class RunSettings:
    out_dir: Path
    model_path: str | None = None  # GGUF to start from (default: the bundled model)
    init_from: str | None = None  # a previous run's adapter folder, a GGUF LoRA adapter or a full model folder
    steps: int = 100
    learning_rate: float = 1e-4
    lora: LoraSettings | None = field(default_factory=LoraSettings)  # None: full fine-tuning
    threads: int = 1
    device: str = "cpu"
    seed: int = 0
    checkpoint_minutes: float = 5.0
    resume: bool = False
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise Robotxr1Error(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.steps < 1:
            raise Robotxr1Error(f"steps must be >= 1, got {self.steps}")


class TrainingRun:
    """Set up from settings; call `record(step, row)` after every step and `finish()` at the end."""

    def __init__(self, settings: RunSettings, kind: str, extra_settings: Mapping[str, Any] | None = None) -> None:
        from accelerate import Accelerator

        configure_torch(settings.threads)
        torch.manual_seed(settings.seed)
        self.settings, self.kind = settings, kind
        self.out = Path(settings.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.accelerator = Accelerator(cpu=settings.device == "cpu")
        checkpoint = latest_checkpoint(self.checkpoint_dir) if settings.resume else None
        if settings.resume and checkpoint is None:
            print(f"no checkpoint in {self.checkpoint_dir}: starting from step 0")
        init = checkpoint.adapter_dir if checkpoint and checkpoint.adapter_dir else settings.init_from
        gguf_adapter = None
        if init is not None and is_gguf_adapter(init):  # read before the float base is built: a bad file fails at once
            if settings.lora is None:
                raise Robotxr1Error(f"{init}: a GGUF LoRA adapter starts a LoRA run, not full fine-tuning (--full)")
            gguf_adapter = read_gguf_adapter(init, settings.model_path or default_model_path(), settings.lora.rank)
            init = None
        self.base_dir = float_base_dir(settings.model_path)
        self.tokenizer = load_tokenizer(self.base_dir)
        full_state = checkpoint.full_weights if checkpoint else None
        base = Path(init) if settings.lora is None and init and not full_state else self.base_dir
        model = load_policy(base, settings.lora, adapter_dir=init if settings.lora else None, full_state=full_state,
                            gguf_adapter=gguf_adapter)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
        if checkpoint is not None:
            restore_training_state(checkpoint, optimizer)
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        self.start_step = checkpoint.step if checkpoint else 0
        self.metrics = MetricsLog(self.out, resume_step=self.start_step if checkpoint else None)
        self.settings_record = {"kind": kind, **_plain(asdict(settings)), **_plain(dict(extra_settings or {})),
                                "base_dir": str(self.base_dir), "trainable_parameters": trainable_parameters(model)}
        (self.out / "settings.json").write_text(json.dumps(self.settings_record, indent=1) + "\n", encoding="utf-8")
        self._last_checkpoint = time.monotonic()
        self._progress = _progress_bar(settings.steps, self.start_step, kind)

    @property
    def checkpoint_dir(self) -> Path:
        return self.out / "checkpoints"

    @property
    def policy(self) -> Any:
        """The model without accelerate's wrappers (for generate and saving)."""
        return self.accelerator.unwrap_model(self.model)

    def items_for_step(self, count: int, step: int, per_step: int, units: Sequence[Any] | None = None) -> list[int]:
        """This process's `per_step` items of `step`: with several processes (accelerate launch)
        each takes its own share of one seeded order, so no two train on the same item."""
        processes, index = self.accelerator.num_processes, self.accelerator.process_index
        return seeded_order(count, step, per_step * processes, self.settings.seed, units)[index::processes]

    def steps(self) -> range:
        return range(self.start_step + 1, self.settings.steps + 1)

    def optimizer_step(self, loss: torch.Tensor | None = None) -> float:
        """Backward `loss` (if given: else the gradients are already accumulated), clip, step;
        returns the gradient norm before clipping."""
        if loss is not None:
            self.accelerator.backward(loss)
        norm = self.accelerator.clip_grad_norm_(self.model.parameters(), self.settings.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def record(self, step: int, row: Mapping[str, Any]) -> None:
        if self.accelerator.is_main_process:
            self.metrics.write({"step": step, **row})
            self._progress.set_postfix({key: f"{value:.3g}" for key, value in row.items()
                                        if key in ("loss", "reward", "improvement", "accuracy")}, refresh=False)
            self._progress.update(1)
        if time.monotonic() - self._last_checkpoint >= 60.0 * self.settings.checkpoint_minutes:
            self.checkpoint(step)

    def checkpoint(self, step: int) -> Path | None:
        self._last_checkpoint = time.monotonic()
        if not self.accelerator.is_main_process:
            return None
        return save_checkpoint(self.checkpoint_dir, step, self.policy, self.optimizer, {"kind": self.kind})

    def finish(self, step: int) -> Path:
        """The last checkpoint, the trained weights in `out/adapter` (or `out/model`) and the curves."""
        self._progress.close()
        self.checkpoint(step)
        target = self.out / (FINAL_ADAPTER if self.settings.lora else FINAL_FULL)
        if self.accelerator.is_main_process:
            self.policy.save_pretrained(target)
            if self.settings.lora is None:
                self.tokenizer.save_pretrained(target)
            plot_curves(self.out)
        return target


def seeded_order(count: int, step: int, per_step: int, seed: int, units: Sequence[Any] | None = None) -> list[int]:
    """Indices of the items of `step` (1-based): a seeded permutation per epoch, so a resumed run
    continues with the same order. With `units` (a key per item), the units are permuted and
    their items kept together, so a step sees items that share a prompt prefix side by side.

    >>> seeded_order(5, 1, 2, 0) + seeded_order(5, 2, 2, 0) + seeded_order(5, 3, 2, 0)[:1] == \\
    ...     [int(i) for i in np.random.default_rng([0, 0]).permutation(5)]
    True
    >>> sorted(seeded_order(4, 1, 2, 0, units=["a", "b", "a", "b"])) in ([0, 2], [1, 3])
    True
    """
    key = tuple(units) if units is not None else None
    picked = []
    for position in range((step - 1) * per_step, step * per_step):
        epoch, index = divmod(position, count)
        picked.append(_epoch_order(count, seed, epoch, key)[index])
    return picked


@functools.lru_cache(maxsize=4)
def _epoch_order(count: int, seed: int, epoch: int, units: tuple[Any, ...] | None) -> list[int]:
    rng = np.random.default_rng([seed, epoch])
    if units is None:
        return [int(i) for i in rng.permutation(count)]
    groups: dict[Any, list[int]] = {}
    for item, unit in enumerate(units):
        groups.setdefault(unit, []).append(item)
    keys = list(groups)
    return [item for k in rng.permutation(len(keys)) for item in groups[keys[int(k)]]]


def _progress_bar(total: int, start: int, kind: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=start, desc=f"train {kind}", unit="step", dynamic_ncols=True)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))
