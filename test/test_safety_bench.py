"""`robotxr1 bench safety` end to end with a few sequences: no unsafe command, stops within the
deadline, and an oracle that does catch an unfiltered command path."""
from __future__ import annotations

import json

from robotxr1_ros import cli
from robotxr1_ros.bench import safety
from robotxr1_ros.control.controller import MAX_STOP_LATENCY_S
from robotxr1_ros.control.odometry_gate import OdometryGate
from robotxr1_ros.control.safety_filter import FilteredCommand, SafetyFilter


def test_bench_safety_reports_no_unsafe_command(tmp_path, capsys):
    sequences = 2 * len(safety.FAULTS)
    assert cli.main(["bench", "safety", "--sequences", str(sequences), "--mpc-every", str(sequences),
                     "--out", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unsafe_commands"] == 0, result["unsafe_by_reason"]
    assert result["mpc_sequences"] == 1
    assert result["commands"] > 30 * sequences
    assert result["injected_by_fault"] == {fault: 2 for fault in safety.FAULTS}
    assert 0.0 < result["max_stop_latency_s"] <= MAX_STOP_LATENCY_S
    assert set(result["stop_latency_s_by_fault"]) >= {"overspeed", "zero_quaternion", "off_track", "dropout",
                                                       "clock_stall", "clock_slow", "clock_jump"}
    # Stopped on a paused or slow clock, zero speed still goes out about every control period.
    gaps = result["max_zero_speed_gap_s_by_fault"]
    assert {"clock_stall", "clock_slow"} <= set(gaps) and max(gaps.values()) < MAX_STOP_LATENCY_S / 2
    assert json.loads((tmp_path / "safety.json").read_text()) == result
    assert "unsafe commands: 0" in (tmp_path / "safety.md").read_text()


def test_the_oracle_catches_a_command_path_without_the_filter(monkeypatch):
    def pass_through(self, speed, steering, params):
        self.speed, self.steering = speed, steering
        return FilteredCommand(speed, steering, ())
    monkeypatch.setattr(SafetyFilter, "apply", pass_through)
    result = safety.bench_safety(sequences=len(safety.FAULTS), mpc_every=0)
    assert result["unsafe_commands"] > 0
    assert "non-finite command" in result["unsafe_by_reason"]
    assert "speed above v_max or the vehicle's maximum" in result["unsafe_by_reason"]


def test_the_oracle_catches_a_gate_that_lets_corrupted_odometry_through(monkeypatch):
    monkeypatch.setattr(OdometryGate, "_judge", lambda self, sample, now: (None, ""))
    result = safety.bench_safety(sequences=len(safety.FAULTS), mpc_every=0)
    assert any("moving on corrupted odometry" in reason for reason in result["unsafe_by_reason"])
