from __future__ import annotations

import textwrap

import pytest

from optimlint.config import Settings
from optimlint.engine import lint_source


def lint(source: str, select: list[str] | None = None, path: str = "train.py", **settings) -> list:
    """Lint dedented ``source`` and return its diagnostics (noqa applied)."""
    cfg = Settings(select=select or ["OPT"], **settings)
    return lint_source(path, textwrap.dedent(source), cfg)


def codes_at(source: str, select: list[str] | None = None, **settings) -> list[tuple[str, int]]:
    """``[(code, row), ...]`` for ``source``: the shape most rule tests assert."""
    return [(d.code, d.location.row) for d in lint(source, select, **settings)]


@pytest.fixture
def lint_fn():
    return lint
