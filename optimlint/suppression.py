"""``# noqa`` handling: per line, and ``# optimlint: noqa`` for a whole file."""

from __future__ import annotations

import re

from optimlint.diagnostics import Diagnostic

_LINE_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_FILE_NOQA = re.compile(r"^\s*#\s*optimlint:\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?\s*$",
                        re.IGNORECASE | re.MULTILINE)


def _codes(text: str | None) -> set[str] | None:
    if not text:
        return None  # bare noqa: everything
    return {c.upper() for c in re.split(r"[\s,]+", text.strip()) if c}


def filter_suppressed(diagnostics: list[Diagnostic], source: str) -> list[Diagnostic]:
    if not diagnostics or "noqa" not in source.lower():
        return diagnostics
    file_level: set[str] | None = set()
    for m in _FILE_NOQA.finditer(source):
        codes = _codes(m.group("codes"))
        if codes is None:
            file_level = None
            break
        file_level |= codes
    lines = source.splitlines()
    kept = []
    for d in diagnostics:
        if d.code == "OPT000":
            kept.append(d)
            continue
        if file_level is None or d.code in (file_level or ()):
            continue
        row = d.noqa_row or d.location.row
        if 0 < row <= len(lines):
            m = _LINE_NOQA.search(lines[row - 1])
            if m:
                codes = _codes(m.group("codes"))
                if codes is None or d.code in codes:
                    continue
        kept.append(d)
    return kept
