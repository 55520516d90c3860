"""The cache directory: where entries live, keyed by optimlint's own code, written atomically.

Like Ruff's ``.ruff_cache``, it lives in the project root as ``.optimlint_cache/`` with a
``.gitignore`` (``*``) and a ``CACHEDIR.TAG``, so neither git nor backup tools pick it up.
Layout::

    .optimlint_cache/<optimlint key>/<settings key>/<path key>.json       (optimlint.cache)
    .optimlint_cache/<optimlint key>/<key of "config file">/<config path key>.settings

- the *optimlint key* is the version plus a stamp of the installed package's sources (so
  an edited checkout never serves entries of the code it had before); a run prunes the
  directories of other builds that nothing used in the last hour;
- the *settings key* hashes ``Settings.fingerprint()`` (everything that changes a file's
  results); the lint results are ``optimlint.cache``'s;
- the ``.settings`` entries hold a config file's validated settings, by its path and the
  SHA-256 of its bytes (``SettingsCache``: an unchanged config is neither parsed with
  tomllib nor validated again).

Entries are JSON (never pickle: a cache directory committed to a cloned repository must not
be able to run code), written atomically (temporary file + ``os.replace``). Anything wrong
with the cache (unreadable, corrupt, foreign, unwritable) makes it a miss, never an error.
"""

from __future__ import annotations

import json
import os

import optimlint
from optimlint.atomic import atomic_write
from optimlint.hashing import sha256_hex

CACHE_DIR = ".optimlint_cache"
FORMAT = 1  # bump when the entry layout changes

_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by optimlint.\n"
        "# For information about cache directory tags see https://bford.info/cachedir/\n")


# --------------------------------------------------------------------------- the code's key
_CODE_KEY: str | None = None


def code_key() -> str:
    """The optimlint version plus a stamp (path, size, mtime) of every module of the package.

    The version alone is not enough while optimlint is developed (the version stays while
    the checks change); stat-ing the package's ~50 files costs well under a millisecond.
    """
    global _CODE_KEY
    if _CODE_KEY is None:
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


# --------------------------------------------------------------------------- entries
class Store:
    """The entries of one kind (``fingerprint``) under one project root."""

    SUFFIX = ".json"  # what the entries are named

    def __init__(self, root: str, fingerprint: str) -> None:
        self.base = os.path.join(os.path.abspath(root), CACHE_DIR)
        kind_key = sha256_hex(fingerprint.encode())[:16]
        self.dir = os.path.join(self.base, code_key(), kind_key)
        self._ready = False

    def _entry_path(self, path: str) -> str:
        key = sha256_hex(os.path.abspath(path).encode("utf-8", "surrogatepass"))[:32]
        return os.path.join(self.dir, key + self.SUFFIX)

    def _read(self, path: str) -> dict:
        """The entry stored for ``path`` (raises when there is none or it is not JSON)."""
        with open(self._entry_path(path), "rb") as fh:
            return json.loads(fh.read())

    def _write(self, path: str, entry: dict) -> None:
        """Store ``entry`` for ``path`` (raises when it cannot be written)."""
        data = json.dumps(entry, separators=(",", ":"))
        self._prepare()
        atomic_write(self._entry_path(path), data.encode("utf-8"), durable=False)

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
                    atomic_write(target, content.encode(), durable=False)
                except OSError:
                    pass
        self._ready = True


class SettingsCache(Store):
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
            entry = self._read(path)
            if entry.get("path") != os.path.abspath(path) or entry.get("hash") != digest:
                return None
            fields = entry["settings"]
            return fields if isinstance(fields, dict) else None
        except Exception:  # missing, corrupt or foreign: parse the config
            return None

    def put_fields(self, path: str, digest: str, fields: dict) -> None:
        try:
            self._write(path, {"path": os.path.abspath(path), "hash": digest, "settings": fields})
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
