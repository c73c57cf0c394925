"""robotxr1's cache folders on this machine: $XDG_CACHE_HOME/robotxr1/<name> (~/.cache when unset),
each movable on its own by an environment variable (tests and CI point them elsewhere)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str, override_env: str) -> Path:
    """$`override_env` if set, else the `name` folder under robotxr1's cache root."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "robotxr1" / name
    return Path(os.environ.get(override_env, default))
