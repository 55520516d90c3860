"""The results cache: a file whose bytes, settings and optimlint are unchanged is not re-linted.

Like Ruff's ``.ruff_cache``, it lives in the project root (``settings.root``) as
``.optimlint_cache/`` with a ``.gitignore`` (``*``) and a ``CACHEDIR.TAG``, so neither git
nor backup tools pick it up. Layout::

    .optimlint_cache/<optimlint key>/<settings key>/<path key>.json

- the *optimlint key* is the version plus a stamp of the installed package's sources (so
  an edited checkout never serves results of the code it had before);
- the *settings key* hashes ``Settings.fingerprint()`` (selection, per-file ignores,
  factories, root: everything that changes a file's results);
- one entry per linted path (its key hashes the absolute path), holding the SHA-256 of the
  file's bytes and the ``FileResult``. An entry is used only when the path and the hash
  match; files that the lint of this one read (cross-file class resolution, reported with
  :func:`record_dependency`) are listed with their hashes and must match too.

Entries are JSON (never pickle: a cache directory committed to a cloned repository must not
be able to run code), written atomically (temporary file + ``os.replace``). Anything wrong
with the cache (unreadable, corrupt, foreign, unwritable) makes it a miss, never an error.
Runs with ``--fix`` or ``--diff`` neither read nor write it; nor are results that carry an
internal error stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from optimlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location

CACHE_DIR = ".optimlint_cache"
FORMAT = 1  # bump when the entry layout changes

_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by optimlint.\n"
        "# For information about cache directory tags see https://bford.info/cachedir/\n")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- the code's key
_CODE_KEY: str | None = None


def code_key() -> str:
    """The optimlint version plus a stamp (path, size, mtime) of every module of the package.

    The version alone is not enough while optimlint is developed (the version stays while
    the checks change); stat-ing the package's ~50 files costs well under a millisecond.
    """
    global _CODE_KEY
    if _CODE_KEY is None:
        import optimlint

        root = os.path.dirname(os.path.abspath(optimlint.__file__))
        h = hashlib.sha256(f"{optimlint.__version__}|{FORMAT}".encode())
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    h.update(f"{os.path.relpath(path, root)}:{st.st_size}:{st.st_mtime_ns};".encode())
        _CODE_KEY = f"{optimlint.__version__}-{h.hexdigest()[:16]}"
    return _CODE_KEY


# --------------------------------------------------------------------------- dependencies
# Files other than the linted one that its results depend on (cross-file resolution).
# Analyses call ``record_dependency(path)`` when they read a project file; the engine
# collects them around each ``lint_file`` call (in whichever process runs it).
_RECORDING: list[set[str]] = []


def record_dependency(path: str) -> None:
    """Note that the file being linted read ``path``: its cached result depends on it."""
    if _RECORDING:
        _RECORDING[-1].add(os.path.abspath(path))


class recording:
    """``with recording() as deps:`` collects the paths passed to ``record_dependency``."""

    def __enter__(self) -> set[str]:
        self.deps: set[str] = set()
        _RECORDING.append(self.deps)
        return self.deps

    def __exit__(self, *exc) -> None:
        _RECORDING.pop()


def _hash_file(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return content_hash(fh.read())
    except OSError:
        return None


# --------------------------------------------------------------------------- (de)serialise
def _loc(loc: Location) -> list[int]:
    return [loc.row, loc.column]


def _diag_to_json(d: Diagnostic) -> dict[str, Any]:
    fix = None
    if d.fix is not None:
        fix = {"a": d.fix.applicability.value, "m": d.fix.message,
               "e": [[e.content, _loc(e.location), _loc(e.end_location)] for e in d.fix.edits]}
    return {"c": d.code, "n": d.name, "m": d.message, "f": d.filename, "l": _loc(d.location),
            "e": _loc(d.end_location), "x": fix, "q": d.noqa_row, "r": d.runtime, "extra": d.extra}


def _diag_from_json(o: dict[str, Any]) -> Diagnostic:
    fix = None
    if o["x"] is not None:
        x = o["x"]
        fix = Fix(Applicability(x["a"]), x["m"],
                  tuple(Edit(c, Location(*a), Location(*b)) for c, a, b in x["e"]))
    return Diagnostic(o["c"], o["n"], o["m"], o["f"], Location(*o["l"]), Location(*o["e"]),
                      fix, o["q"], o["r"], dict(o["extra"]))


def result_to_json(result) -> dict[str, Any]:
    excerpts = None
    if result.excerpts and all(e is not None for e in result.excerpts):
        excerpts = [[e.first_row, e.lines] for e in result.excerpts]
    return {"path": result.path, "diagnostics": [_diag_to_json(d) for d in result.diagnostics],
            "skipped": result.skipped, "excerpts": excerpts}


def result_from_json(o: dict[str, Any], want_excerpts: bool):
    """The FileResult stored in ``o``; None when it lacks the excerpts this run shows."""
    from optimlint.engine import Excerpt, FileResult

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
class Cache:
    """The entries for one settings fingerprint under one project root."""

    def __init__(self, root: str, fingerprint: str) -> None:
        self.base = os.path.join(os.path.abspath(root), CACHE_DIR)
        settings_key = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        self.dir = os.path.join(self.base, code_key(), settings_key)
        self._ready = False
        self.hits = 0
        self.writes = 0

    def _entry_path(self, path: str) -> str:
        key = hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return os.path.join(self.dir, key + ".json")

    def get(self, path: str, digest: str, want_excerpts: bool):
        """The cached FileResult of ``path`` whose bytes hash to ``digest``, or None."""
        try:
            with open(self._entry_path(path), "rb") as fh:
                entry = json.loads(fh.read())
            if entry.get("path") != path or entry.get("hash") != digest:
                return None
            for dep, dep_digest in entry.get("deps", {}).items():
                if _hash_file(dep) != dep_digest:
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
                h = _hash_file(dep)
                if h is None:
                    return  # cannot vouch for it: do not cache
                dep_hashes[dep] = h
            data = json.dumps({"path": path, "hash": digest, "deps": dep_hashes,
                               "result": result_to_json(result)}, separators=(",", ":"))
            self._prepare()
            _atomic_write(self._entry_path(path), data.encode("utf-8"))
            self.writes += 1
        except Exception:  # unwritable, full disk, ...: the run goes on uncached
            return

    def _prepare(self) -> None:
        if self._ready:
            return
        code_dir = os.path.dirname(self.dir)
        if not os.path.isdir(code_dir):
            _prune(self.base, keep=code_dir)
        os.makedirs(self.dir, exist_ok=True)
        for name, content in ((".gitignore", "# Automatically created by optimlint.\n*\n"),
                              ("CACHEDIR.TAG", _TAG)):
            target = os.path.join(self.base, name)
            if not os.path.exists(target):
                try:
                    _atomic_write(target, content.encode())
                except OSError:
                    pass
        self._ready = True


PRUNE_AFTER_S = 3600


def _prune(base: str, keep: str) -> None:
    """Remove the entries of other optimlint builds that no run used in the last hour
    (another install, e.g. pre-commit's, may still be using its own)."""
    import shutil
    import time

    now = time.time()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        other = os.path.join(base, name)
        if other == keep or not os.path.isdir(other):
            continue
        try:
            newest = max([os.stat(other).st_mtime] +
                         [e.stat().st_mtime for e in os.scandir(other) if e.is_dir()])
        except OSError:
            continue
        if now - newest > PRUNE_AFTER_S:
            shutil.rmtree(other, ignore_errors=True)


def _atomic_write(target: str, data: bytes) -> None:
    import tempfile

    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
