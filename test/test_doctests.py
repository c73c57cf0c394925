"""The examples in the docstrings of the package run and hold (modules that carry any)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import robotxr1_ros


def modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(robotxr1_ros.__path__, "robotxr1_ros."):
        spec = importlib.util.find_spec(info.name)
        if spec and spec.origin and spec.origin.endswith(".py") and ">>> " in Path(spec.origin).read_text("utf-8"):
            names.append(info.name)
    return names


def test_some_modules_carry_examples():
    assert "robotxr1_ros.params" in modules_with_examples()


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
