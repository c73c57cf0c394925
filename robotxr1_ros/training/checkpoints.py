"""Checkpoints of a training run, and resuming from the latest one.

A checkpoint folder `step-NNNNNN` holds the trainable weights (a PEFT adapter folder, or the
whole model's safetensors for full fine-tuning), the optimizer state and `state.json` (step,
RNG states, run settings). It is written under a temporary name and renamed, so a run killed
while saving leaves the previous checkpoint intact; only the newest `keep` are kept.
"""
from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .model_io import is_lora

PREFIX = "step-"
ADAPTER = "adapter"
FULL_WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int
    state: dict[str, Any]

    @property
    def adapter_dir(self) -> Path | None:
        return self.path / ADAPTER if (self.path / ADAPTER).exists() else None

    @property
    def full_weights(self) -> Path | None:
        return self.path / FULL_WEIGHTS if (self.path / FULL_WEIGHTS).exists() else None


def save_checkpoint(folder: str | Path, step: int, model: Any, optimizer: torch.optim.Optimizer,
                    extra: dict[str, Any], keep: int = 2) -> Path:
    folder = Path(folder)
    target = folder / f"{PREFIX}{step:06d}"
    partial = folder / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if is_lora(model):
        model.save_pretrained(partial / ADAPTER)
    else:
        from safetensors.torch import save_model

        save_model(model, str(partial / FULL_WEIGHTS))
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    state = {"step": step, **extra}
    (partial / "state.json").write_text(json.dumps(state, indent=1, default=str) + "\n", encoding="utf-8")
    torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
               partial / "rng.pt")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    for old in sorted(folder.glob(f"{PREFIX}*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(folder: str | Path) -> Checkpoint | None:
    found = sorted(Path(folder).glob(f"{PREFIX}*")) if Path(folder).exists() else []
    if not found:
        return None
    path = found[-1]
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    return Checkpoint(path, int(state["step"]), state)


def restore_training_state(checkpoint: Checkpoint, optimizer: torch.optim.Optimizer) -> None:
    """Optimizer and RNG states from `checkpoint` (the weights are loaded with the model)."""
    optimizer.load_state_dict(torch.load(checkpoint.path / "optimizer.pt", weights_only=False))
    rng = torch.load(checkpoint.path / "rng.pt", weights_only=False)
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
