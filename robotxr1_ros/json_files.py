"""Reading a user's JSON file with one clear error naming the file, whatever goes wrong."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import Robotxr1Error


def read_json(path: str | Path, what: str) -> Any:
    """The parsed contents of `path`; `what` names the file in the error ("the dataset")."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise Robotxr1Error(f"{path}: cannot read {what} ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Robotxr1Error(f"{path}: {what} is not valid JSON ({error})") from None
    except RecursionError:
        raise Robotxr1Error(f"{path}: {what} is nested too deeply to be read") from None
