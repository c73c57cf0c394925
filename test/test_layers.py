"""The package's layers only import downwards (docs/architecture.md), and nothing imports in a cycle.

Read from the source (no imports run): every `from .x import` / `from ..x import` inside
robotxr1_ros is resolved to the sub-package it names and checked against the layer order.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import robotxr1_ros

PACKAGE = Path(robotxr1_ros.__file__).parent
# Lowest first; a module may import from its own layer and the layers before it.
LAYERS = [
    {"errors", "params", "json_files", "samples", "rate_limit", "cache_dirs", "cpus"},
    {"track"},
    {"sim"},
    {"control"},
    {"cases"},
    {"llm"},
    {"evaluation"},
    {"training"},
    {"nodes"},
    {"bags", "bench"},  # recording, and the DDS bench, start or subscribe with the nodes' message builders
    {"commands", "cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def top_of(module: str) -> str:
    """'robotxr1_ros.track.library' -> 'track'."""
    return module.split(".")[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_import_nodes(tree: ast.AST):
    """Every `from ... import` of the file, at any depth, except type-checking-only ones."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.ImportFrom):
            yield node
        yield from runtime_import_nodes(node)


def internal_imports(path: Path) -> set[str]:
    """Absolute names of the robotxr1_ros modules `path` imports when it runs."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = set()
    for node in runtime_import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.startswith("robotxr1_ros."):
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names
                         if (PACKAGE.parent / f"{target}.{alias.name}".replace(".", "/")).with_suffix(".py").exists())
    return found


@lru_cache(maxsize=1)
def all_modules() -> dict[str, frozenset[str]]:
    return {module_name(path): frozenset(internal_imports(path)) for path in PACKAGE.rglob("*.py")}


def test_every_sub_package_has_a_layer():
    tops = {top_of(name) for name in all_modules() if name != "robotxr1_ros"}
    assert tops <= set(RANK), f"add {sorted(tops - set(RANK))} to LAYERS (and docs/architecture.md)"


def test_imports_only_point_down():
    upward = [f"{name} -> {target}" for name, targets in all_modules().items() if name != "robotxr1_ros"
              for target in targets if RANK[top_of(target)] > RANK[top_of(name)]]
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    modules = all_modules()
    graph = {name: {t for t in targets if t in modules} for name, targets in modules.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]) if nxt in trail else nxt)
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
