"""The CPUs a process may use, and those the control process is pinned to ($ROBOTXR1_CONTROL_CPUS).

The controller pins itself to them (nodes/priority.py); the LLM node counts llama.cpp's threads
around them (llm/llama_resources.py). Both read the setting here, so they agree on which CPUs
control keeps.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import Robotxr1Error

CONTROL_CPUS_ENV = "ROBOTXR1_CONTROL_CPUS"
NO_PINNING = "all"


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (its affinity; every CPU where the OS does not say)."""
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def control_cpus(environ: Mapping[str, str] = os.environ, allowed: set[int] | None = None) -> set[int] | None:
    """The CPUs the control process is pinned to, from $ROBOTXR1_CONTROL_CPUS: unset or empty, the
    last CPU this process may use; "all", no pinning (None); else CPU numbers separated by commas,
    a negative one counted from the end of the allowed CPUs (-1 is the last).

    >>> sorted(control_cpus({}, allowed={0, 1, 2, 3}))
    [3]
    >>> sorted(control_cpus({CONTROL_CPUS_ENV: "0, -1"}, allowed={0, 1, 2, 3}))
    [0, 3]
    >>> control_cpus({CONTROL_CPUS_ENV: "all"}, allowed={0, 1}) is None
    True
    """
    if allowed is None:
        if not hasattr(os, "sched_getaffinity"):
            return None
        allowed = os.sched_getaffinity(0)
    usable = sorted(allowed)
    setting = environ.get(CONTROL_CPUS_ENV, "").strip()
    if setting == NO_PINNING:
        return None
    if not setting:
        return {usable[-1]}
    cpus = set()
    for item in setting.split(","):
        try:
            cpu = int(item)
        except ValueError:
            raise Robotxr1Error(f"{CONTROL_CPUS_ENV}={setting!r}: {item.strip()!r} is not a CPU number "
                                f"(CPU numbers separated by commas, or {NO_PINNING!r})") from None
        if -len(usable) <= cpu < 0:
            cpu = usable[cpu]
        if cpu not in usable:
            raise Robotxr1Error(f"{CONTROL_CPUS_ENV}={setting!r}: CPU {cpu} is not one this process may use "
                                f"({', '.join(map(str, usable))})")
        cpus.add(cpu)
    return cpus
