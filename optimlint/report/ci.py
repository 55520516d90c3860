"""CI annotations: GitHub Actions workflow commands and GitLab Code Quality JSON."""

from __future__ import annotations

import hashlib
import json
import os
from typing import TextIO

from optimlint.report.paths import display_path, location_prefix


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics, stream: TextIO) -> None:
    """``::error title=optimlint (CODE),file=...,line=...::path:row:col: CODE message`` (Ruff's).

    ``file=`` is relative to ``GITHUB_WORKSPACE`` (the checkout GitHub places annotations in),
    whatever folder the run started from; ``col``/``endColumn`` only on a one-line span, the
    only place GitHub reads them."""
    for d in diagnostics:
        props = [f"title={_escape_property(f'optimlint ({d.code})')}",
                 f"file={_escape_property(_ci_path(d.filename, 'GITHUB_WORKSPACE'))}",
                 f"line={d.location.row}"]
        if d.location.row == d.end_location.row:
            props += [f"col={d.location.column}", f"endLine={d.end_location.row}",
                      f"endColumn={d.end_location.column}"]
        else:
            props.append(f"endLine={d.end_location.row}")
        stream.write(f"::error {','.join(props)}::{_escape_data(f'{location_prefix(d)}: {d.code} {d.message}')}\n")


def _ci_path(filename: str, variable: str) -> str:
    """The path relative to the CI's checkout named by ``variable`` (absolute outside it),
    or, outside CI, as the text output shows it."""
    base = os.environ.get(variable)
    if not base:
        return display_path(filename)
    absolute = os.path.abspath(filename)
    base = os.path.abspath(base)
    try:
        if os.path.commonpath([absolute, base]) == base:
            return os.path.relpath(absolute, base).replace(os.sep, "/")
    except ValueError:  # another drive
        pass
    return absolute


def render_gitlab(diagnostics, stream: TextIO) -> None:
    """GitLab Code Quality report: one object per finding, stable fingerprints."""
    seen: dict[str, int] = {}
    out = []
    for d in diagnostics:
        path = _ci_path(d.filename, "CI_PROJECT_DIR")
        base = f"{d.code}\0{path}\0{d.message}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        fingerprint = hashlib.sha256(f"{base}\0{count}".encode()).hexdigest()[:32]
        out.append({
            "check_name": d.code,
            "description": f"{d.code}: {d.message}",
            "fingerprint": fingerprint,
            "location": {"lines": {"begin": d.location.row, "end": d.end_location.row}, "path": path},
            "severity": "major",
        })
    json.dump(out, stream, indent=2, ensure_ascii=False)
    stream.write("\n")
