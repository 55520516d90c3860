"""The files, other than the linted one, that a file's results depend on.

Cross-file analyses call ``record_dependency(path)`` when they read a project file; the
worker that lints a file collects them around its ``lint_file`` call (``with recording()
as deps``), and the results cache stores them with their hashes, so a cached result is
used only while they are unchanged too.
"""

from __future__ import annotations

import os

_RECORDING: list[set[str]] = []


def record_dependency(path: str) -> None:
    """Note that the file being linted read ``path``: its cached result depends on it."""
    if _RECORDING:
        _RECORDING[-1].add(os.path.abspath(path))


class recording:
    """``with recording() as deps:`` collects the paths passed to ``record_dependency``."""

    def __enter__(self) -> set[str]:
        self.deps: set[str] = set()
        _RECORDING.append(self.deps)
        return self.deps

    def __exit__(self, *exc) -> None:
        _RECORDING.pop()
