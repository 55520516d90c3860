"""``json`` and ``json-lines``: Ruff's object per diagnostic (``name`` and ``severity`` included),
plus ``runtime`` after a runtime run."""

from __future__ import annotations

import json
from typing import TextIO

from optimlint.report.paths import absolute_path


def _loc(loc) -> dict:
    return {"column": loc.column, "row": loc.row}


def fix_to_json(fix) -> dict | None:
    if fix is None:
        return None
    return {
        "applicability": str(getattr(fix.applicability, "value", fix.applicability)),
        "edits": [{"content": e.content, "end_location": _loc(e.end_location), "location": _loc(e.location)}
                  for e in fix.edits],
        "message": fix.message,
    }


def diagnostic_to_json(d) -> dict:
    """Keys in Ruff's (alphabetical) order; ``runtime`` only after a runtime run."""
    out = {
        "cell": (d.extra or {}).get("cell"),
        "code": d.code,
        "end_location": _loc(d.end_location),
        "filename": absolute_path(d.filename),
        "fix": fix_to_json(d.fix),
        "location": _loc(d.location),
        "message": d.message,
        "name": d.name,
        "noqa_row": d.noqa_row,
    }
    if d.runtime is not None:
        out["runtime"] = d.runtime
    out["severity"] = "error"  # Ruff's key; every optimlint finding is an error (exit 1)
    out["url"] = d.url
    return out


def render_json(diagnostics, stream: TextIO) -> None:
    json.dump([diagnostic_to_json(d) for d in diagnostics], stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def render_json_lines(diagnostics, stream: TextIO) -> None:
    for d in diagnostics:
        stream.write(json.dumps(diagnostic_to_json(d), ensure_ascii=False) + "\n")
