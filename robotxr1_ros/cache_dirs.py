"""robotxr1's cache folders on this machine: $XDG_CACHE_HOME/robotxr1/<name> (~/.cache when unset),
each movable on its own by an environment variable (tests and CI point them elsewhere).

A cache that cannot be written is an error naming the folder and the variables that move it,
not a fallback elsewhere: the merged models and the probe's verdicts are made to be found again
by the next process (every node start, every evaluation worker), which a temporary folder of one
process would not give.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import Robotxr1Error


def cache_dir(name: str, override_env: str) -> Path:
    """$`override_env` if set, else the `name` folder under robotxr1's cache root."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "robotxr1" / name
    return Path(os.environ.get(override_env, default))


def made_cache_dir(name: str, override_env: str) -> Path:
    """cache_dir(name, override_env), created if need be."""
    folder = cache_dir(name, override_env)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise unwritable_cache(folder, error, override_env) from None
    return folder


def unwritable_cache(path: Path, error: OSError, override_env: str) -> Robotxr1Error:
    """The error for a cache file or folder `path` that could not be created or written."""
    return Robotxr1Error(f"cannot write the cache {path} ({error.strerror or error}): point ${override_env} "
                         f"(or $XDG_CACHE_HOME) at a writable folder")
