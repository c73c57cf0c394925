"""Importing llama.cpp's Python bindings the one way robotxr1 does: with OpenMP threads that sleep
while they wait, and with only llama.cpp's errors on stderr."""
from __future__ import annotations

import ctypes
import os
import sys
from functools import cache
from types import ModuleType


def import_llama_cpp() -> ModuleType:
    """llama_cpp, with OpenMP threads that sleep instead of spinning while they wait.

    llama.cpp's CPU threads meet at an OpenMP barrier several times per token. Spinning there
    is fine on an idle machine, but on a shared one (the car's computer runs the controller
    and ROS; CI runs tests in parallel) a descheduled peer makes the other thread spin for its
    whole time slice: measured on 2 busy cores, 6 MPC answers took 336 s spinning and 20 s
    sleeping. libgomp reads the policy when it is loaded, hence before the first import; an
    explicit OMP_WAIT_POLICY in the environment wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp

    _log_errors_only(llama_cpp)
    return llama_cpp


GGML_LOG_ERROR, GGML_LOG_CONT = 3, 5  # ggml_log_level values


@cache
def _log_errors_only(llama_cpp: ModuleType) -> object:
    """Let only llama.cpp's errors reach stderr. Its warnings are its own bookkeeping (e.g. "decode:
    removing memory module entries" when a cached prompt prefix is reused), and llama-cpp-python's
    filter lets them through once anything resets its logger's level. Returns the callback, which
    must stay referenced (the cache keeps it) as long as llama.cpp may call it."""
    previous = [0]

    @llama_cpp.llama_log_callback
    def log(level: int, text: bytes, _user_data: object) -> None:
        level = previous[0] if level == GGML_LOG_CONT else level
        previous[0] = level
        if level == GGML_LOG_ERROR:
            sys.stderr.write(text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(log, ctypes.c_void_p(0))
    return log
