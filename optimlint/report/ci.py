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
    """``::error title=optimlint (CODE),file=...,line=...::path:row:col: CODE message`` (Ruff's)."""
    for d in diagnostics:
        props = ",".join([
            f"title={_escape_property(f'optimlint ({d.code})')}",
            f"file={_escape_property(display_path(d.filename))}",
            f"line={d.location.row}",
            f"col={d.location.column}",
            f"endLine={d.end_location.row}",
            f"endColumn={d.end_location.column}",
        ])
        stream.write(f"::error {props}::{_escape_data(f'{location_prefix(d)}: {d.code} {d.message}')}\n")


def _project_relative(filename: str) -> str:
    base = os.environ.get("CI_PROJECT_DIR")
    absolute = os.path.abspath(filename)
    if base:
        try:
            return os.path.relpath(absolute, base).replace(os.sep, "/")
        except ValueError:
            return absolute
    return display_path(filename)


def render_gitlab(diagnostics, stream: TextIO) -> None:
    """GitLab Code Quality report: one object per finding, stable fingerprints."""
    seen: dict[str, int] = {}
    out = []
    for d in diagnostics:
        path = _project_relative(d.filename)
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
