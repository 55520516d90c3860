"""How paths are shown: relative to the current directory when inside it (Ruff does so)."""

from __future__ import annotations

import os


def display_path(filename: str) -> str:
    absolute = os.path.abspath(filename)
    cwd = os.getcwd()
    try:
        if os.path.commonpath([absolute, cwd]) == cwd:
            # relpath's result is normalised: Path(rel).as_posix() would only change the separator
            return os.path.relpath(absolute, cwd).replace(os.sep, "/")
    except ValueError:
        pass
    return absolute


def absolute_path(filename: str) -> str:
    return os.path.abspath(filename)


def location_prefix(d) -> str:
    """``path:row:col`` or, for a notebook, ``path:cell N:row:col``."""
    cell = d.extra.get("cell") if d.extra else None
    head = display_path(d.filename)
    if cell is not None:
        head = f"{head}:cell {cell}"
    return f"{head}:{d.location.row}:{d.location.column}"
