"""Whether the training stack (requirements/train.txt, `make train-setup`) is installed.

robotxr1_ros.training's modules import torch and friends inside their functions, so importing them
succeeds without the stack and the failure would come later, as a traceback in the middle of the
work; the commands ask here first.
"""
from __future__ import annotations

import importlib.util

from ..errors import Robotxr1Error

# The packages robotxr1_ros.training imports (requirements/train.txt pins them).
PACKAGES = ("torch", "transformers", "peft", "accelerate", "xgrammar")


def require_training_stack() -> None:
    """Refuse in one line, naming what is missing and how to install it."""
    missing = [name for name in PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise Robotxr1Error(f"the training stack is not installed (no {', '.join(missing)}); run `make train-setup`")
