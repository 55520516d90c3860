"""The results cache: a file whose bytes, settings and optimlint are unchanged is not re-linted.

Like Ruff's ``.ruff_cache``, it lives in the project root (``settings.root``) as
``.optimlint_cache/`` with a ``.gitignore`` (``*``) and a ``CACHEDIR.TAG``, so neither git
nor backup tools pick it up. Layout::

    .optimlint_cache/<optimlint key>/<settings key>/<path key>.json
    .optimlint_cache/<optimlint key>/<key of "config file">/<config path key>.settings

- the *optimlint key* is the version plus a stamp of the installed package's sources (so
  an edited checkout never serves results of the code it had before);
- the *settings key* hashes ``Settings.fingerprint()`` (selection, per-file ignores,
  factories, root: everything that changes a file's results);
- one entry per linted path (its key hashes the absolute path), holding the SHA-256 of the
  file's bytes and the ``FileResult``. An entry is used only when the path and the hash
  match; files that the lint of this one read (cross-file class resolution, reported with
  :func:`record_dependency`) are listed with their hashes and must match too;
- the ``.settings`` entries hold a config file's validated settings, by its path and the
  SHA-256 of its bytes (``SettingsCache``: an unchanged config is neither parsed with
  tomllib nor validated again).

Entries are JSON (never pickle: a cache directory committed to a cloned repository must not
be able to run code), written atomically (temporary file + ``os.replace``). Anything wrong
with the cache (unreadable, corrupt, foreign, unwritable) makes it a miss, never an error.
Runs with ``--fix`` or ``--diff`` neither read nor write it; nor are results that carry an
internal error stored.
"""

from __future__ import annotations

import json
import os

from optimlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location

CACHE_DIR = ".optimlint_cache"
FORMAT = 1  # bump when the entry layout changes

_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by optimlint.\n"
        "# For information about cache directory tags see https://bford.info/cachedir/\n")


# SHA-256 comes from one of two implementations with the same digests: CPython's own
# (``_sha2``/``_sha256``, loaded in microseconds) while little has been hashed, OpenSSL's
# (``hashlib``: ~3 ms to load libcrypto, ~5x faster per byte) once a run hashes more than
# ``_BULK`` bytes. A pre-commit run over a few files never loads OpenSSL; a warm run over
# a whole repository hashes at OpenSSL's speed.
_BULK = 1 << 20
_hashed = 0
_small_sha256 = None


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex."""
    global _hashed, _small_sha256
    _hashed += len(data)
    if _hashed <= _BULK:
        if _small_sha256 is None:
            _small_sha256 = _builtin_sha256() or False
        if _small_sha256:
            return _small_sha256(data).hexdigest()
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _builtin_sha256():
    for module in ("_sha2", "_sha256"):  # the name since Python 3.12, and before
        try:
            return __import__(module).sha256
        except (ImportError, AttributeError):
            continue
    return None


def content_hash(data: bytes) -> str:
    return sha256_hex(data)


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
        parts = [f"{optimlint.__version__}|{FORMAT}"]
        _stamp_tree(root, "", parts)
        _CODE_KEY = f"{optimlint.__version__}-{sha256_hex(''.join(parts).encode())[:16]}"
    return _CODE_KEY


def _stamp_tree(directory: str, prefix: str, parts: list[str]) -> None:
    """Append ``relative/path.py:size:mtime_ns;`` for every ``.py`` file below ``directory``
    (``__pycache__`` and linked directories skipped), in ``os.walk``'s order: a directory's
    files by name, then each subdirectory by name. One scandir per directory and no relpath
    per file: half the time of ``os.walk``, which every run pays."""
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError:
        return
    dirs, files = [], []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        (dirs if is_dir else files).append(entry)
    for entry in sorted(files, key=lambda e: e.name):
        if entry.name.endswith(".py"):
            try:
                st = entry.stat()
            except OSError:
                continue
            parts.append(f"{prefix}{entry.name}:{st.st_size}:{st.st_mtime_ns};")
    for entry in sorted(dirs, key=lambda e: e.name):
        if entry.name != "__pycache__" and not entry.is_symlink():
            _stamp_tree(entry.path, f"{prefix}{entry.name}{os.sep}", parts)


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

    SUFFIX = ".json"

    def __init__(self, root: str, fingerprint: str) -> None:
        self.base = os.path.join(os.path.abspath(root), CACHE_DIR)
        settings_key = sha256_hex(fingerprint.encode())[:16]
        self.dir = os.path.join(self.base, code_key(), settings_key)
        self._ready = False
        self.hits = 0
        self.writes = 0

    def _entry_path(self, path: str) -> str:
        key = sha256_hex(os.path.abspath(path).encode("utf-8", "surrogatepass"))[:32]
        return os.path.join(self.dir, key + self.SUFFIX)

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


class SettingsCache(Cache):
    """Validated settings of a config file, by its path and bytes, in the config's project
    root: a run whose config is unchanged neither imports tomllib (~4-12 ms) nor parses and
    validates the TOML. Only valid configs are stored (an invalid one is reported every
    run); the entries live beside the lint results (same code key, same pruning), named
    ``*.settings``."""

    SUFFIX = ".settings"

    def __init__(self, config_path: str) -> None:
        super().__init__(os.path.dirname(os.path.abspath(config_path)), "config file")

    def get_fields(self, path: str, digest: str) -> dict | None:
        try:
            with open(self._entry_path(path), "rb") as fh:
                entry = json.loads(fh.read())
            if entry.get("path") != os.path.abspath(path) or entry.get("hash") != digest:
                return None
            fields = entry["settings"]
            return fields if isinstance(fields, dict) else None
        except Exception:  # missing, corrupt or foreign: parse the config
            return None

    def put_fields(self, path: str, digest: str, fields: dict) -> None:
        try:
            data = json.dumps({"path": os.path.abspath(path), "hash": digest, "settings": fields},
                              separators=(",", ":"))
            self._prepare()
            _atomic_write(self._entry_path(path), data.encode("utf-8"))
        except Exception:  # unwritable: the next run parses again
            return


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


_tmp_count = 0


def _atomic_write(target: str, data: bytes) -> None:
    """Write ``data`` to a new private file beside ``target``, then rename it over ``target``.

    The temporary name is unique to this process (pid and a counter; ``O_EXCL`` makes sure),
    which is all ``tempfile.mkstemp`` would add, without the ~3 ms its import costs a run.
    """
    global _tmp_count
    directory = os.path.dirname(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        _tmp_count += 1
        tmp = os.path.join(directory, f".tmp-{os.getpid()}-{_tmp_count}.part")
        try:
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:  # left by a killed process of the same pid
            continue
    else:
        raise FileExistsError(f"no free temporary name in {directory}")
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
