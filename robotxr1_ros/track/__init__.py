"""Track geometry: closed paths, tracks with walls and racing line, built-in tracks, CSV files."""
from .closed_path import ClosedPath
from .track import Track

__all__ = ["ClosedPath", "Track"]
