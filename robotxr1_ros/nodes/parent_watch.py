"""Notice that the process which started this one (ros2 launch, `robotxr1 run`, a shell) is gone.

SIGTERM or SIGKILL to `ros2 launch` ends launch at once, without stopping its nodes: they were
re-parented to init and kept running, the controller still driving, until someone signalled them
by pid. A node therefore stops when its parent goes, by two means, since each alone has a gap:

- the kernel's parent-death signal (prctl PR_SET_PDEATHSIG), armed as the node starts: it arrives
  at once, even while a node is still being built (the LLM node loads its model for seconds). But
  it is only armed from this process's start on, so a parent that died earlier goes unnoticed, and
  it fires when the *thread* that forked this process ends, even if the parent process lives on
  (every robotxr1 launcher forks from its main thread);
- the parent's pid, recorded at start and compared with os.getppid() from the spin loop: a dead
  parent's children are re-parented (to init or a subreaper), whatever killed it.

ROS-free, so that it can be tested without rclpy.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The signal a node gets when its parent dies: one that run_node (nodes/spin.py) takes as a
# request to stop, as it takes Ctrl-C.
PARENT_DEATH_SIGNAL = signal.SIGTERM


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies. False where there is no
    such thing (not Linux); an error of the call itself raises OSError."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(int(sig)), ctypes.c_ulong(0), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG, {int(sig)}): {os.strerror(errno)}")
    return True


@dataclass(frozen=True)
class ParentWatch:
    """The parent this process had when the watch started."""

    ppid: int

    @classmethod
    def start(cls, death_signal: int = PARENT_DEATH_SIGNAL) -> ParentWatch:
        """Record the parent, then arm the parent-death signal. A parent dying between the two
        shows in `gone()`, which the caller checks next."""
        watch = cls(os.getppid())
        set_parent_death_signal(death_signal)
        return watch

    def gone(self) -> bool:
        """Whether the parent recorded at start has died (this process was re-parented)."""
        return os.getppid() != self.ppid
