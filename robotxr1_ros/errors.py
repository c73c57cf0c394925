"""The one error base class of robotxr1.

A Robotxr1Error is bad input or configuration with a precise message (a parameter out of range, a
missing model file, a malformed track file): the CLI and the node runner print it in one line.
Anything else is a bug and keeps its traceback. It is a ValueError, as bad values are.
"""
from __future__ import annotations


class Robotxr1Error(ValueError):
    """Bad input or configuration, with a message that says what and where."""
