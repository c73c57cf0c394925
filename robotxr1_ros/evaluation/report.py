"""Evaluation reports: a JSON file with everything, a markdown summary for people, and the log of
every wrong decision (JSON lines: prompt, output, expected)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .control_eval import ControlReport, case_description
from .decision_eval import DecisionReport

PER_TRACK_SETTINGS = ("note", "warning")  # settings that differ between the tracks of one run


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _settings_lines(settings: dict[str, Any]) -> list[str]:
    return [f"- {name}: `{value}`" for name, value in settings.items()]


def decision_markdown(report: DecisionReport) -> str:
    summary = report.summary()
    instructions = list(summary["per_instruction"])
    lines = [f"# Decision accuracy: {report.model}", "", *_settings_lines(report.settings), "",
             f"**Overall accuracy {_pct(summary['accuracy'])}** over {summary['n']} (instruction, state) pairs; "
             f"verdict readable in {_pct(summary['parse_rate'])}; mean latency {_num(summary['latency_s_mean'], 2)} s; "
             f"labels True in {_pct(summary['label_true_rate'])}, so a constant majority verdict would score "
             f"{_pct(max(summary['label_true_rate'], 1 - summary['label_true_rate']))}.", "",
             "## Per instruction", "", "| instruction | n | accuracy | parse rate | labels True |",
             "|---|---|---|---|---|"]
    for instruction, row in summary["per_instruction"].items():
        lines.append(f"| {instruction} | {row['n']} | {_pct(row['accuracy'])} | {_pct(row['parse_rate'])} | "
                     f"{_pct(row['label_true_rate'])} |")
    lines += ["", "## Per dataset (accuracy)", "",
              "| dataset | n | overall | " + " | ".join(instructions) + " |",
              "|---|---|---|" + "---|" * len(instructions)]
    for dataset, row in summary["per_dataset"].items():
        cells = summary["per_dataset_instruction"][dataset]
        lines.append(f"| {dataset} | {row['n']} | {_pct(row['accuracy'])} | "
                     + " | ".join(_pct(cells[i]) for i in instructions) + " |")
    lines += ["", *(f"- {dataset}: {note}" for dataset, notes in report.dataset_notes.items() for note in notes)]
    lines += ["", f"{len(report.wrong)} wrong answers are logged in `wrong_answers.jsonl` (prompt, output, expected).",
              ""]
    return "\n".join(lines)


def control_markdown(report: ControlReport, out_dir: Path | None = None) -> str:
    """The summary; plot links are relative to `out_dir` (where the markdown file goes)."""
    summary = report.summary()
    title = "Control adaptability" if report.suite == "default" else f"Control, suite `{report.suite}`"
    lines = [f"# {title}: {report.proposer} on track `{report.track}`", "",
             *_settings_lines(report.settings), f"- scenario: `{report.scenario}`", "",
             f"**Behaviour achieved in {summary['achieved']} of {summary['prompts']} prompts "
             f"({_pct(summary['achieved_rate'])})**; parameters unchanged in {summary['unchanged']}; results outside "
             f"the effective ranges: {summary['out_of_range']}.", "",
             f"**Control adaptability score {_pct(summary['score'])}** (mean improvement over {summary['prompts']} "
             f"prompts an RMSE applies to, failures at RMSE 69); clipped at -100 %: {_pct(summary['score_clipped'])}; "
             f"median {_pct(summary['median_improvement'])}; failures {summary['failures']} "
             f"(crashes {summary['crashes']}); behaviour achieved in {summary['achieved']} of {summary['prompts']}; "
             f"parameters parsed in {_pct(summary['parse_rate'])}; "
             f"mean latency {_num(summary['latency_s_mean'], 2)} s.", "",
             "## Per case", "",
             "| case | RMSE of (or check) | prompts | score | clipped | failures | achieved | achieved rate "
             "| unchanged | out of range | mean default RMSE | mean RMSE |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case, row in summary["per_case"].items():
        lines.append(f"| {case} | {case_description(case)} | {row['prompts']} | {_pct(row['score'])} | "
                     f"{_pct(row['score_clipped'])} | {row['failures']} | {row['achieved']} | "
                     f"{_pct(row['achieved_rate'])} | {row['unchanged']} | {row['out_of_range']} | "
                     f"{_num(row['mean_default_rmse'])} | "
                     f"{_num(row['mean_rmse'])} |")
    lines += ["", "## Per prompt", "",
              "| case | instruction | default RMSE | RMSE | improvement | failure | achieved | mean speed | changes "
              "| latency |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for p in report.prompts:
        changes = ", ".join(f"{k}={v:.3g}" for k, v in p.changes.items()) or "-"
        plot = f" ([plot]({Path(os.path.relpath(p.plot, out_dir or '.')).as_posix()}))" if p.plot else ""
        lines.append(f"| {p.case} | {p.text}{plot} | {_num(p.default_rmse)} | {_num(p.rmse)} | {_pct(p.improvement)} | "
                     f"{p.failure or '-'} | {'yes' if p.achieved else 'no'} | "
                     f"{_num(p.metrics['mean_speed'] if p.metrics else None, 2)} | {changes} | "
                     f"{_num(p.latency_s, 2)} |")
    return "\n".join(lines) + "\n"


def write_decision_report(report: DecisionReport, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "decision_report.json", "markdown": out / "decision_report.md",
             "wrong": out / "wrong_answers.jsonl"}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    paths["markdown"].write_text(decision_markdown(report), encoding="utf-8")
    with paths["wrong"].open("w", encoding="utf-8") as handle:
        for entry in report.wrong:
            handle.write(json.dumps(entry) + "\n")
    return paths


def write_control_report(report: ControlReport, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "control_report.json", "markdown": out / "control_report.md"}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    paths["markdown"].write_text(control_markdown(report, out), encoding="utf-8")
    return paths


def tracks_markdown(reports: list[ControlReport]) -> str:
    """One row per track: the same suite and proposer scored on tracks of different length and shape."""
    first = reports[0]
    title = "Control adaptability" if first.suite == "default" else f"Control, suite `{first.suite}`"
    shared = {name: value for name, value in first.settings.items() if name not in PER_TRACK_SETTINGS}
    lines = [f"# {title}: {first.proposer} on {len(reports)} tracks", "", *_settings_lines(shared), "",
             "| track | driven [s] | prompts | score | clipped | failures | crashes | achieved | achieved rate "
             "| unchanged | out of range | report |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for report in reports:
        s = report.summary()
        lines.append(f"| {report.track} | {report.scenario['seconds']:g} | {s['prompts']} | {_pct(s['score'])} | "
                     f"{_pct(s['score_clipped'])} | {s['failures']} | {s['crashes']} | {s['achieved']} | "
                     f"{_pct(s['achieved_rate'])} | {s['unchanged']} | {s['out_of_range']} | "
                     f"[{report.track}]({report.track}/control_report.md) |")
    return "\n".join(lines) + "\n"


def write_control_reports(reports: list[ControlReport], out_dir: str | Path) -> dict[str, Path]:
    """One track: its report in `out_dir`. Several: each in `out_dir/<track>/`, and the per-track table
    (control_tracks.md, .json) in `out_dir`."""
    if len(reports) == 1:
        return write_control_report(reports[0], out_dir)
    out = Path(out_dir)
    for report in reports:
        write_control_report(report, out / report.track)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "control_tracks.json", "markdown": out / "control_tracks.md"}
    tracks = {r.track: {"scenario": r.scenario, "summary": r.summary(), "report": f"{r.track}/control_report.json"}
              for r in reports}
    paths["json"].write_text(json.dumps({"kind": "control_tracks", "suite": reports[0].suite,
                                         "proposer": reports[0].proposer, "tracks": tracks}, indent=1) + "\n",
                             encoding="utf-8")
    paths["markdown"].write_text(tracks_markdown(reports), encoding="utf-8")
    return paths
