"""SARIF 2.1.0 (what GitHub code scanning uploads), in Ruff's shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from optimlint import __version__
from optimlint.diagnostics import DOCS_URL
from optimlint.registry import RULES
from optimlint.report.paths import absolute_path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rule(code: str) -> dict:
    info = RULES.get(code)
    name = info.name if info else code
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": name.replace("-", " ")},
        "helpUri": DOCS_URL.format(code=code),
        "properties": {"id": code, "name": name, "problem.severity": "error"},
    }


def _result(d) -> dict:
    uri = Path(absolute_path(d.filename)).as_uri()
    out = {
        "level": "error",
        "message": {"text": d.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri},
                "region": {
                    "startLine": d.location.row,
                    "startColumn": d.location.column,
                    "endLine": d.end_location.row,
                    "endColumn": d.end_location.column,
                },
            }
        }],
        "ruleId": d.code,
    }
    cell = (d.extra or {}).get("cell")
    if cell is not None:
        out["properties"] = {"cell": cell}
    return out


def sarif_document(diagnostics) -> dict:
    codes = sorted({d.code for d in diagnostics})
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "optimlint",
                "informationUri": "https://optimlint.dev",
                "version": __version__,
                "rules": [_rule(c) for c in codes],
            }},
            "results": [_result(d) for d in diagnostics],
        }],
    }


def render_sarif(diagnostics, stream: TextIO) -> None:
    json.dump(sarif_document(diagnostics), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
