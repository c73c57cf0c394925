"""The repository documents itself: every file it names exists in it, and docs/reference.md's
parameter table is the code's PARAM_TABLE."""
from __future__ import annotations

import ast
import glob
import re
import subprocess
from pathlib import Path

import pytest

from robotxr1_ros.params import PARAM_TABLE

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".xml", ".sh", ".txt", ".cfg", ".toml", ".cmake", ".msg", ".service"}
TOP_FOLDERS = ("docs", "robotxr1_ros", "test", "config", "launch", "scripts", "requirements", "cmake",
               "ros_interfaces", "resource", "benchmarks", ".ci")
# A file in one of the repository's folders, as prose and comments write it (globs allowed).
_FOLDERS = "|".join(re.escape(f) for f in TOP_FOLDERS)
REPO_PATH = re.compile(rf"(?<![\w./-])((?:{_FOLDERS})/[\w.*/-]*\.[\w*]+)")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A document named alone, the way README.md is (lower-case names are the reports commands write).
MARKDOWN_FILE = re.compile(r"(?<![\w/.-])([A-Z][A-Z_]*\.md)\b")
# The one kind of outside path the repository names: where setup finds the ROS 2 tooling wheels
# and composition_interfaces' source (make variables ROS2_WHEELS / ROS2_SRC, docs/ros_setup.md).
OUTSIDE = re.compile(r"\.\./shared|/work/")
OUTSIDE_ALLOWED = re.compile(r"\.\./shared/ros2-(?:wheels|src)")


def tracked_files() -> list[Path]:
    """The repository's files: tracked, or new and not ignored."""
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def tracked_text_files() -> list[Path]:
    return [path for path in tracked_files() if path.suffix in TEXT_SUFFIXES or path.name in ("Makefile", "run")]


def dangling_references(path: Path) -> list[str]:
    """What `path` names that is not in the repository."""
    text = path.read_text(errors="replace")
    problems = []
    for target in MARKDOWN_LINK.findall(text) if path.suffix == ".md" else ():
        if not re.match(r"[a-z]+:|#", target) and not (path.parent / target.split("#")[0]).exists():
            problems.append(f"link {target}")
    for name in REPO_PATH.findall(text):
        if not glob.glob(str(ROOT / name.rstrip("/"))):
            problems.append(f"path {name}")
    known_markdown = {p.name for p in tracked_files() if p.suffix == ".md"}
    problems += [f"file {name}" for name in MARKDOWN_FILE.findall(text) if name not in known_markdown]
    for line in text.splitlines():
        if OUTSIDE.search(OUTSIDE_ALLOWED.sub("", line)):
            problems.append(f"outside path in {line.strip()!r}")
    return problems


def test_no_file_names_a_file_outside_the_repository():
    found = {str(path.relative_to(ROOT)): dangling_references(path) for path in tracked_text_files()
             if path != Path(__file__).resolve()}  # this file's own examples dangle on purpose
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_the_check_finds_a_dangling_reference(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text("See REFERENCE.md, [the spec](spec.md), docs/nowhere.md and ../shared/docs/x.\n")
    assert sorted(dangling_references(doc)) == sorted([
        "link spec.md", "path docs/nowhere.md", "file REFERENCE.md",
        "outside path in 'See REFERENCE.md, [the spec](spec.md), docs/nowhere.md and ../shared/docs/x.'"])


def _table_rows(markdown: str) -> list[list[str]]:
    table = markdown.split("<!-- params-table")[1].split("<!-- end params-table -->")[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.splitlines()
            if line.startswith("|")]
    return rows[2:]  # after the header and its rule


@pytest.mark.parametrize("spec_index", range(len(PARAM_TABLE)))
def test_reference_parameter_table_is_param_table(spec_index):
    rows = _table_rows((ROOT / "docs" / "reference.md").read_text())
    assert len(rows) == len(PARAM_TABLE)
    name, ranges, default, _meaning = rows[spec_index]
    spec = PARAM_TABLE[spec_index]
    low, high = (float(value) for value in ranges.split("\N{EN DASH}"))
    assert (name, low, high, float(default)) == (spec.name, spec.minimum, spec.maximum, spec.default)


def holds_code(path: Path) -> bool:
    """A module with more than a docstring (an empty or docstring-only `__init__.py` holds none)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return bool(body[1:] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                else body)


def modules_missing_from_architecture() -> list[str]:
    package = ROOT / "robotxr1_ros"
    listed = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [path.relative_to(package).as_posix() for path in sorted(package.rglob("*.py"))
               if path.name != "__init__.py" or holds_code(path)]
    return [name for name in modules if f"`{name}`" not in listed]


def test_architecture_names_every_module():
    assert modules_missing_from_architecture() == [], "add a line for each to docs/architecture.md's Modules"
