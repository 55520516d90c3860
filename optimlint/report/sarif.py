"""SARIF 2.1.0 (what GitHub code scanning uploads), in Ruff's shape.

Each rule of the run carries its page (``rules/OPTnnn.md``): a short description (the first
sentence of "What it does"), a full description ("What it does" and "Why is this bad?"),
help as text and Markdown (the whole page) and its URI. Each result with a fix carries it
as a SARIF ``fix`` (the replacements in the file, and the fix's applicability, safe or
unsafe, as a property); findings in notebooks carry their cell, and no fix (their rows are
the cell's, not the file's). Columns count code points, as Python's strings do
(``columnKind``). tests/test_sarif_schema.py validates the document against the SARIF
2.1.0 JSON schema.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TextIO

from optimlint import __version__
from optimlint.diagnostics import DOCS_URL
from optimlint.registry import RULES
from optimlint.report.paths import absolute_path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _plain(markdown: str) -> str:
    """Markdown as plain text: code spans and emphasis unmarked, blank-line paragraphs kept."""
    text = re.sub(r"`([^`]*)`", r"\1", markdown)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return text.strip()


def _unwrapped(text: str) -> str:
    """Paragraphs on one line each (the pages wrap at 100 columns), blank lines between."""
    return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip())


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    m = re.search(r"^(.+?)[.:](\s|$)", flat)
    return (m.group(1) if m else flat) + "."


def _rule(code: str) -> dict:
    from optimlint.catalogue import page_text, parse_page  # only for SARIF: the pages are read here

    info = RULES.get(code)
    name = info.name if info else code
    out = {
        "id": code,
        "name": name,
        "shortDescription": {"text": name.replace("-", " ")},
        "helpUri": DOCS_URL.format(code=code),
        "defaultConfiguration": {"level": "error"},
        "properties": {"id": code, "name": name, "problem.severity": "error",
                       "fix": info.fix if info else "none"},
    }
    text = page_text(code)
    if text is None:  # OPT000 (syntax-error) has no page
        return out
    page = parse_page(code, text)
    what = page.sections.get("What it does", "")
    why = page.sections.get("Why is this bad?", "")
    if what:
        out["shortDescription"] = {"text": _plain(_first_sentence(what))}
        out["fullDescription"] = {"text": _unwrapped(_plain(what + ("\n" + why if why else "")))}
    out["help"] = {"text": _plain(text), "markdown": text}
    return out


def _region(start, end) -> dict:
    return {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}


def _fix(d, uri: str) -> dict:
    return {
        "description": {"text": d.fix.message},
        "artifactChanges": [{
            "artifactLocation": {"uri": uri},
            "replacements": [{"deletedRegion": _region(e.location, e.end_location),
                              "insertedContent": {"text": e.content}} for e in d.fix.edits],
        }],
        "properties": {"applicability": str(d.fix.applicability.value)},
    }


def _result(d, rule_index: dict[str, int]) -> dict:
    uri = Path(absolute_path(d.filename)).as_uri()
    out = {
        "level": "error",
        "message": {"text": d.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri},
                "region": _region(d.location, d.end_location),
            }
        }],
        "ruleId": d.code,
        "ruleIndex": rule_index[d.code],
    }
    cell = (d.extra or {}).get("cell")
    if cell is not None:
        out["properties"] = {"cell": cell}
    elif d.fix is not None and d.fix.edits:
        out["fixes"] = [_fix(d, uri)]
    return out


def sarif_document(diagnostics) -> dict:
    codes = sorted({d.code for d in diagnostics})
    index = {code: i for i, code in enumerate(codes)}
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
            "columnKind": "unicodeCodePoints",
            "results": [_result(d, index) for d in diagnostics],
        }],
    }


def render_sarif(diagnostics, stream: TextIO) -> None:
    json.dump(sarif_document(diagnostics), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
