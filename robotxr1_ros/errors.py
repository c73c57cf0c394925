"""The one error base class of robotxr1.

A Robotxr1Error is bad input or configuration with a precise message (a parameter out of range, a
missing model file, a malformed track file): the CLI and the node runner print it in one line.
Anything else is a bug and keeps its traceback. It is a ValueError, as bad values are.
"""
from __future__ import annotations


class Robotxr1Error(ValueError):
    """Bad input or configuration, with a message that says what and where."""


def one_line(text: object) -> str:
    """`text` with its line breaks and runs of blanks collapsed: a third-party message (a YAML
    parser's, llama.cpp's) quoted inside a Robotxr1Error, which is printed as one line."""
    return " ".join(str(text).split())
