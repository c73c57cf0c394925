"""Per-step training metrics, appended to `metrics.jsonl` and `metrics.csv` in the run folder.

The JSONL file is the record (curves.py reads it); the CSV is for spreadsheets and holds the
columns of the first row written. On resume, rows after the checkpoint's step are dropped, so a
step that ran after the last checkpoint is not counted twice.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

JSONL = "metrics.jsonl"
CSV = "metrics.csv"


def read_metrics(folder: str | Path) -> list[dict[str, Any]]:
    path = Path(folder) / JSONL
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class MetricsLog:
    def __init__(self, folder: str | Path, resume_step: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = read_metrics(self.folder)
        rows = [] if resume_step is None else [row for row in rows if row.get("step", 0) <= resume_step]
        self.columns: list[str] = list(rows[0]) if rows else []
        (self.folder / JSONL).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        with (self.folder / CSV).open("w", newline="", encoding="utf-8") as handle:
            if self.columns:
                writer = csv.DictWriter(handle, self.columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)

    def write(self, row: Mapping[str, Any]) -> None:
        with (self.folder / JSONL).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(dict(row)) + "\n")
        new_file = not self.columns
        if new_file:
            self.columns = list(row)
        with (self.folder / CSV).open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, self.columns, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(dict(row))
