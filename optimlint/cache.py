"""The results cache: a file whose bytes, settings and optimlint are unchanged is not re-linted.

One entry per linted path (its key hashes the absolute path) in the cache directory of the
file's project root (``optimlint.store``), under the key of the settings that linted it,
holding the SHA-256 of the file's bytes and the ``FileResult``. An entry is used only when
the path and the hash match; files that the lint of this one read (cross-file class
resolution, reported with :func:`optimlint.dependencies.record_dependency`) are listed
with their hashes and must match too. Runs with ``--fix`` or ``--diff`` neither read nor
write it; nor are results that carry an internal error stored.
"""

from __future__ import annotations

from optimlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from optimlint.hashing import hash_file
from optimlint.results import Excerpt, FileResult
from optimlint.store import Store


# --------------------------------------------------------------------------- (de)serialise
def _loc(loc: Location) -> list[int]:
    return [loc.row, loc.column]


def _diag_to_json(d: Diagnostic) -> dict:
    fix = None
    if d.fix is not None:
        fix = {"a": d.fix.applicability.value, "m": d.fix.message,
               "e": [[e.content, _loc(e.location), _loc(e.end_location)] for e in d.fix.edits]}
    return {"c": d.code, "n": d.name, "m": d.message, "f": d.filename, "l": _loc(d.location),
            "e": _loc(d.end_location), "x": fix, "q": d.noqa_row, "r": d.runtime, "extra": d.extra}


def _diag_from_json(o: dict) -> Diagnostic:
    fix = None
    if o["x"] is not None:
        x = o["x"]
        fix = Fix(Applicability(x["a"]), x["m"],
                  tuple(Edit(c, Location(*a), Location(*b)) for c, a, b in x["e"]))
    return Diagnostic(o["c"], o["n"], o["m"], o["f"], Location(*o["l"]), Location(*o["e"]),
                      fix, o["q"], o["r"], dict(o["extra"]))


def result_to_json(result) -> dict:
    excerpts = None
    if result.excerpts and all(e is not None for e in result.excerpts):
        excerpts = [[e.first_row, e.lines] for e in result.excerpts]
    return {"path": result.path, "diagnostics": [_diag_to_json(d) for d in result.diagnostics],
            "skipped": result.skipped, "excerpts": excerpts}


def result_from_json(o: dict, want_excerpts: bool):
    """The FileResult stored in ``o``; None when it lacks the excerpts this run shows."""
    diagnostics = [_diag_from_json(d) for d in o["diagnostics"]]
    result = FileResult(o["path"], diagnostics, skipped=bool(o["skipped"]))
    if not diagnostics:
        return result
    if want_excerpts:
        if o["excerpts"] is None or len(o["excerpts"]) != len(diagnostics):
            return None
        result.excerpts = [Excerpt(int(first), [str(x) for x in lines]) for first, lines in o["excerpts"]]
    else:
        result.excerpts = [None] * len(diagnostics)
    return result


# --------------------------------------------------------------------------- the cache
class Cache(Store):
    """The lint results for one settings fingerprint under one project root."""

    def __init__(self, root: str, fingerprint: str) -> None:
        super().__init__(root, fingerprint)
        self.hits = 0
        self.writes = 0

    def get(self, path: str, digest: str, want_excerpts: bool):
        """The cached FileResult of ``path`` whose bytes hash to ``digest``, or None."""
        try:
            entry = self._read(path)
            if entry.get("path") != path or entry.get("hash") != digest:
                return None
            for dep, dep_digest in entry.get("deps", {}).items():
                if hash_file(dep) != dep_digest:
                    return None
            result = result_from_json(entry["result"], want_excerpts)
        except FileNotFoundError:
            return None
        except Exception:  # a corrupt or foreign entry is a miss, never a crash
            return None
        if result is not None:
            self.hits += 1
        return result

    def put(self, path: str, digest: str, result, deps: set[str] | frozenset[str] = frozenset()) -> None:
        """Store ``result`` for ``path`` (bytes hashing to ``digest``); silently skips errors."""
        if result.error is not None or result.fixed or result.dropped or result.diff is not None:
            return
        try:
            dep_hashes = {}
            for dep in sorted(deps):
                h = hash_file(dep)
                if h is None:
                    return  # cannot vouch for it: do not cache
                dep_hashes[dep] = h
            self._write(path, {"path": path, "hash": digest, "deps": dep_hashes,
                               "result": result_to_json(result)})
            self.writes += 1
        except Exception:  # unwritable, full disk, ...: the run goes on uncached
            return
