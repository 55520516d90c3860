"""Standard input linted as a named file: ``optimlint check --stdin-filename PATH -``.

What editor plugins and formatters call with an unsaved buffer. The text is linted exactly
as the file at PATH would be (its settings, per-file-ignores, noqa; a notebook when PATH
ends in ``.ipynb``), through the same ``file_lint.lint_file``, only read from the bytes given
and, with ``--fix``, written back to the caller instead of to PATH. With
``--force-exclude`` a PATH that discovery would exclude is not linted, and ``--fix``
hands the source back unchanged, as Ruff does.
"""

from __future__ import annotations

import os

from optimlint.config import Settings
from optimlint.file_lint import lint_file
from optimlint.results import RunOptions, RunResult


def excluded(path: str, settings: Settings) -> bool:
    """Whether discovery would leave ``path`` out (excludes, .gitignore, an excluded folder)."""
    from optimlint.discovery import Excluder

    return Excluder(settings, settings.root or os.getcwd()).excluded_with_ancestors(os.path.abspath(path), False)


def lint_stdin(path: str, raw: bytes, settings: Settings, options: RunOptions) -> tuple[RunResult, bytes]:
    """The result of linting ``raw`` as ``path``, and the bytes ``--fix`` gives back (the
    fixed source, or ``raw`` when nothing was fixed)."""
    from optimlint import sources

    if options.force_exclude and excluded(path, settings):
        return RunResult(), raw
    fixed: list[bytes] = []
    result = lint_file(path, settings, options, read=lambda p: sources.source_from_bytes(p, raw),
                       write=lambda src, text: fixed.append(sources.encode_source(src, text)))
    return RunResult([result]), fixed[-1] if fixed else raw
