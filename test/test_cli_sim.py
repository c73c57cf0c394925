"""`robotxr1 sim` and `robotxr1 bench sim` through the real command line entry point."""
import json

from robotxr1_ros.cli import main


def test_sim_writes_metrics_log_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["sim", "--track", "circle", "--seconds", "6", "--param", "v_max=4", "--json", "--out", str(out)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["params"]["v_max"] == 4.0
    assert not report["metrics"]["crashed"]
    assert 2.0 < report["metrics"]["mean_speed"] <= 4.0
    assert (out / "run.png").stat().st_size > 10_000
    header = (out / "run.csv").read_text().splitlines()[0].split(",")
    assert {"t", "x", "y", "d_race", "speed_along", "solve_ms"} <= set(header)


def test_sim_rejects_bad_parameters_with_the_range(capsys):
    assert main(["sim", "--param", "v_max=30"]) == 2
    assert "v_max=30.0 is outside the allowed range [-1.0, 15.0]" in capsys.readouterr().err
    assert main(["sim", "--param", "speed=3"]) == 2
    assert "unknown MPC parameter 'speed'" in capsys.readouterr().err


def test_bench_sim_reports_realtime_factor_and_solve_times(tmp_path, capsys):
    assert main(["bench", "sim", "--track", "circle", "--seconds", "3", "--json", "--out", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["realtime_factor"] > 0
    assert 0 < report["mpc_solve_ms_p50"] <= report["mpc_solve_ms_p99"]
    assert json.loads((tmp_path / "sim.json").read_text())["horizon"] == 40
