"""Render the joined runtime report: ``text`` (one line per finding) or ``json`` (check's array).

The JSON report is ``optimlint check``'s array: each entry one of check's objects (same keys)
plus ``runtime`` (``confirmed``, ``not-observed``, ``not-reached``) and what the run saw
(``seen``, ``test``/``tests``, ``rank``/``ranks``, ``count``, ``runtime_only``). An internal
error of a hook is an entry of its own (``INTERNAL_ERROR``: code ``OPT000``, the code of what
optimlint could not analyse, never suppressed; ``runtime`` ``error``), so that counting the
entries by ``runtime`` gives the text summary's counts exactly.

Torch-free. Also holds the step shared by ``optimlint run`` and ``pytest --optimlint``:
lint the files that ran and join them with the observations (``joined_report``).
"""

from __future__ import annotations

import json
import os
from typing import TextIO

from optimlint.runtime.join import CONFIRMED, NOT_OBSERVED, NOT_REACHED, join


def _library_file(path: str) -> bool:
    return "site-packages" in path or "dist-packages" in path


def joined_report(report, extra_files=(), settings=None) -> list:
    """Lint the user files that ran (``extra_files`` + files with events) and join."""
    from optimlint.config import ConfigError, load_settings
    from optimlint.lint import lint_source

    files = []
    for path in [*extra_files, *sorted(report.files())]:
        if path and os.path.isfile(path) and not _library_file(os.path.abspath(path)):
            real = os.path.realpath(path)
            if real not in {os.path.realpath(f) for f in files}:
                files.append(path)
    static = []
    texts = {}
    first_cfg = None
    for path in files:
        try:
            cfg = settings if settings is not None else load_settings(start=os.path.dirname(os.path.abspath(path)))
        except ConfigError:
            from optimlint.config import Settings

            cfg = Settings()
        if first_cfg is None:
            first_cfg = cfg
        try:
            from optimlint.sources import read_source

            text = read_source(path).text
        except Exception:
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError):
                continue
        texts[path] = text
        try:
            static.extend(d for d in lint_source(path, text, cfg) if d.code != "OPT000")
        except Exception as exc:  # the report must still be written
            report.errors.append(f"static analysis of {path}: {type(exc).__name__}: {exc}")
    return join(static, report.findings, report.sites, texts, settings if settings is not None else first_cfg)


def confirmed(diagnostics) -> list:
    return [d for d in diagnostics if d.runtime == CONFIRMED]


def _tags(d) -> str:
    extra = d.extra or {}
    tags = []
    if extra.get("runtime_only"):
        tags.append("runtime only")
    if "rank" in extra:
        tags.append(f"rank {extra['rank']}")
    if "ranks" in extra:
        tags.append("ranks " + ", ".join(map(str, extra["ranks"])))
    if "test" in extra:
        tags.append(f"test {extra['test']}")
    if "tests" in extra:
        tags.append("tests " + ", ".join(extra["tests"]))
    if extra.get("count", 1) > 1:
        tags.append(f"seen {extra['count']} times")
    return f" ({', '.join(tags)})" if tags else ""


#: ``runtime`` of the JSON entry that reports an internal error of a hook.
ERROR = "error"
#: Code and name of that entry: OPT000 is the code check gives to what optimlint could not
#: analyse (never selectable away), so a consumer filtering on rule codes skips it and one
#: failing on OPT000 sees it; ``name`` says which of the two it is.
INTERNAL_ERROR = ("OPT000", "internal-error")
ERROR_PREFIX = "internal error in a runtime hook (ignored): "


def counts(diagnostics, errors=()) -> dict:
    return {
        "confirmed": sum(d.runtime == CONFIRMED for d in diagnostics),
        "runtime_only": sum(bool((d.extra or {}).get("runtime_only")) for d in diagnostics),
        "not_observed": sum(d.runtime == NOT_OBSERVED for d in diagnostics),
        "not_reached": sum(d.runtime == NOT_REACHED for d in diagnostics),
        "errors": len(errors),
    }


def summary(diagnostics, errors=()) -> str:
    """The text report's last line; internal errors are counted when there are any."""
    c = counts(diagnostics, errors)
    line = (f"optimlint runtime: {c['confirmed']} confirmed ({c['runtime_only']} seen only at runtime), "
            f"{c['not_observed']} not observed, {c['not_reached']} not reached")
    if c["errors"]:
        line += f", {c['errors']} internal error{'s' if c['errors'] != 1 else ''}"
    return line


def _status(d) -> str:
    """``[confirmed: what was seen]`` for a static finding the run confirmed."""
    seen = (d.extra or {}).get("seen")
    if d.runtime == CONFIRMED and seen and seen != d.message:
        return f"[confirmed: {seen}]"
    return f"[{d.runtime}]"


def text_lines(diagnostics, errors=(), rank=None) -> list[str]:
    from optimlint.report.paths import location_prefix

    lines = []
    if rank is not None:
        lines.append(f"optimlint runtime report (rank {rank})")
    for d in diagnostics:
        lines.append(f"{location_prefix(d)}: {d.code} {d.message} {_status(d)}{_tags(d)}")
    for err in errors:
        lines.append(f"optimlint: {ERROR_PREFIX}{err}")
    lines.append(summary(diagnostics, errors))
    return lines


def to_json(diagnostics) -> list[dict]:
    """Check's object for each joined finding, with ``runtime`` and what the run saw."""
    from optimlint.report.json_report import diagnostic_to_json

    out = []
    for d in diagnostics:
        obj = diagnostic_to_json(d)
        extra = d.extra or {}
        for key in ("rank", "ranks", "test", "tests", "count", "seen"):
            if key in extra:
                obj[key] = extra[key]
        if extra.get("runtime_only"):
            obj["runtime_only"] = True
        out.append(dict(sorted(obj.items())))
    return out


def error_to_json(error: str) -> dict:
    """An internal error of a hook as an entry with check's keys: it belongs to no line
    (``filename`` and the locations are null) and ``runtime`` is ``error``."""
    code, name = INTERNAL_ERROR
    return {"cell": None, "code": code, "end_location": None, "filename": None, "fix": None, "location": None,
            "message": ERROR_PREFIX + error, "name": name, "noqa_row": None, "runtime": ERROR,
            "severity": "error", "url": None}


def to_json_report(diagnostics, errors=()) -> list[dict]:
    """The runtime JSON report: check's array, each entry with ``runtime``, then one entry per
    internal error of a hook (``runtime`` ``error``)."""
    return to_json(diagnostics) + [error_to_json(err) for err in errors]


def render(diagnostics, fmt: str, stream: TextIO, errors=(), rank=None) -> None:
    if fmt == "json":
        json.dump(to_json_report(diagnostics, errors), stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    else:
        stream.write("\n".join(text_lines(diagnostics, errors, rank)) + "\n")


__all__ = ["CONFIRMED", "ERROR", "INTERNAL_ERROR", "NOT_OBSERVED", "NOT_REACHED", "joined_report", "render",
           "confirmed", "counts", "text_lines", "to_json_report"]
