"""The last few seconds of odometry and LiDAR: the state window the decision module judges.

ROS-free and shared by the LLM node (live topics) and `robotxr1 replay` (a bag), so both build
windows the same way. Samples are kept by their own timestamps; a timestamp going backwards (a
simulator reset, a bag played again) starts a new window rather than mixing two runs. The buffer
is bounded by count as well as by time: a publisher stamping every message with the same (or
zero) time would otherwise grow it without end.
"""
from __future__ import annotations

from collections import deque

from ..errors import Robotxr1Error
from ..samples import OdomSample, ScanSample, StateWindow

DEFAULT_WINDOW_S = 3.0
DEFAULT_MAX_SAMPLES = 1000  # per stream: 3 s of odometry at 100 Hz three times over


class StateBuffer:
    def __init__(self, window_s: float = DEFAULT_WINDOW_S, max_samples: int = DEFAULT_MAX_SAMPLES) -> None:
        if not window_s > 0.0:
            raise Robotxr1Error(f"window length must be positive, got {window_s} s")
        if max_samples < 2:
            raise Robotxr1Error(f"a window needs room for at least 2 samples, got max_samples={max_samples}")
        self.window_s = window_s
        self._odometry: deque[OdomSample] = deque(maxlen=max_samples)
        self._scans: deque[ScanSample] = deque(maxlen=max_samples)

    def __len__(self) -> int:
        """Samples held, odometry and scans."""
        return len(self._odometry) + len(self._scans)

    def add_odometry(self, sample: OdomSample) -> None:
        if self._odometry and sample.t < self._odometry[-1].t:
            self.clear()
        self._odometry.append(sample)
        self._trim(self._odometry, sample.t)

    def add_scan(self, sample: ScanSample) -> None:
        if self._scans and sample.t < self._scans[-1].t:
            self._scans.clear()
        self._scans.append(sample)
        self._trim(self._scans, sample.t)

    def _trim(self, samples: deque, newest: float) -> None:
        while samples and samples[0].t < newest - self.window_s:
            samples.popleft()

    def clear(self) -> None:
        self._odometry.clear()
        self._scans.clear()

    @property
    def covered_s(self) -> float:
        """Time between the oldest and the newest odometry sample held."""
        return self._odometry[-1].t - self._odometry[0].t if self._odometry else 0.0

    def window(self) -> StateWindow:
        """A copy of the current window; scans older than the first odometry sample are left out."""
        odometry = tuple(self._odometry)
        start = odometry[0].t if odometry else float("inf")
        return StateWindow(odometry=odometry, scans=tuple(s for s in self._scans if s.t >= start))
