"""Command line (placeholder spine; see the core issue for the full interface)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from optimlint import __version__


@click.group()
@click.version_option(__version__, prog_name="optimlint")
def cli() -> None:
    """optimlint: find the mistakes that make PyTorch training silently wrong."""


@cli.command()
@click.argument("paths", nargs=-1)
def check(paths: tuple[str, ...]) -> None:
    """Lint PATHS (default: .)."""
    from optimlint.engine import lint_source

    found = 0
    for p in paths or (".",):
        for f in ([Path(p)] if Path(p).is_file() else sorted(Path(p).rglob("*.py"))):
            for d in lint_source(str(f), f.read_text(encoding="utf-8")):
                click.echo(f"{d.filename}:{d.location.row}:{d.location.column}: {d.code} {d.message}")
                found += 1
    sys.exit(1 if found else 0)


def main() -> None:
    cli()
