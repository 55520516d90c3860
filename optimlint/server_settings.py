"""What the language server lints each open document with: the settings of the config file
nearest the document, and the runtime companion's last report. No LSP types here.

Both are re-read when their files change. Editors that watch files tell the server
(``workspace/didChangeWatchedFiles``, which calls ``forget``); for those that do not
(Neovim 0.7, Helix), every lookup also compares the ``stat`` of the files it depends on
with what they were when read, a few microseconds per document, so an edited
``pyproject.toml`` takes effect at the next edit either way.
"""

from __future__ import annotations

import json
import os

from optimlint.config import ConfigError, Settings, find_config, load_file

CONFIG_NAMES = ("optimlint.toml", "pyproject.toml")


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _candidates(directory: str) -> list[str]:
    """The config files that may decide the settings of a file in ``directory``, nearest first."""
    out = []
    while True:
        out.extend(os.path.join(directory, name) for name in CONFIG_NAMES)
        parent = os.path.dirname(directory)
        if parent == directory:
            return out
        directory = parent


class SettingsCache:
    """``settings_for(path)``: the Settings of the config nearest ``path`` (a ConfigError's
    message when that config is invalid), read once per version of the config files."""

    def __init__(self) -> None:
        # folder -> (stats of its candidate config files, Settings or error message)
        self._by_folder: dict[str, tuple[tuple, Settings | str]] = {}

    def settings_for(self, path: str) -> Settings | str:
        folder = os.path.dirname(os.path.abspath(path))
        candidates = _candidates(folder)
        stamp = tuple(_stat(c) for c in candidates)
        hit = self._by_folder.get(folder)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            found = find_config(folder)
            value: Settings | str = load_file(found) if found else Settings(root=folder)
        except ConfigError as exc:
            value = str(exc)
        self._by_folder[folder] = (stamp, value)
        return value

    def forget(self) -> None:
        self._by_folder.clear()


# --------------------------------------------------------------------------- runtime report
class RuntimeReport:
    """The runtime companion's last report (``optimlint run --output-file PATH``, JSON:
    check's array, each entry with ``runtime``): ``verdict(path, code, row)`` is
    ``confirmed``, ``not-observed``, ``not-reached`` or None when the report says nothing of
    that finding (or there is no report). Entries of internal errors (``runtime`` ``error``,
    no file) mark nothing."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._verdicts: dict[tuple[str, str, int], str] = {}

    def verdict(self, path: str, code: str, row: int) -> str | None:
        self._refresh()
        if not self._verdicts:
            return None
        return self._verdicts.get((os.path.realpath(path), code, row))

    def _refresh(self) -> None:
        if self.path is None:
            return
        stamp = _stat(self.path)
        if stamp == self._stamp:
            return
        self._stamp, self._verdicts = stamp, {}
        if stamp is None:
            return
        try:
            with open(self.path, encoding="utf-8") as fh:
                entries = json.load(fh)
        except (OSError, ValueError):
            return  # being written, or not a report: no verdicts until it is one
        for entry in entries if isinstance(entries, list) else []:
            try:
                key = (os.path.realpath(entry["filename"]), entry["code"], int(entry["location"]["row"]))
                runtime = entry["runtime"]
            except (KeyError, TypeError, ValueError):
                continue
            if runtime in RUNTIME_WORDS:
                self._verdicts[key] = runtime


RUNTIME_WORDS = {"confirmed": "confirmed by the last run",
                 "not-observed": "not observed in the last run",
                 "not-reached": "not reached in the last run"}


def with_verdict(message: str, verdict: str | None) -> str:
    """``message`` with the runtime verdict appended, as the editor shows it."""
    if verdict is None:
        return message
    return f"{message} [runtime: {RUNTIME_WORDS.get(verdict, verdict)}]"
