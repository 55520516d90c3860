"""``optimlint check --watch``: lint, then lint again whenever a linted file or a config
file changes, clearing the screen before each run (Ruff's ``--watch``).

Changes are found by polling: every ``POLL_S`` the files discovery would lint, and the
``pyproject.toml`` / ``optimlint.toml`` files of their folders and the folders above, are
listed with their modification time and size; any difference (an edit, a new file, a
deleted one) starts a run. Polling needs no extra dependency and sees the same files as
the run itself; the results cache keeps a re-run to the changed files.
"""

from __future__ import annotations

import os
import sys
import time

POLL_S = 0.3
CONFIG_NAMES = ("pyproject.toml", "optimlint.toml")
CLEAR = "\x1b[2J\x1b[3J\x1b[H"


def snapshot(paths, config_file: str | None) -> dict[str, tuple[int, int]]:
    """``path -> (mtime_ns, size)`` of every file whose change should start a run."""
    from optimlint.config import ConfigError, Settings, load_settings
    from optimlint.discovery import discover

    try:
        start = paths[0] if paths and os.path.exists(paths[0]) else None
        settings = load_settings(config_file, start)
    except ConfigError:
        settings = Settings(root=os.getcwd())  # the run reports the bad config; keep watching
    files, _ = discover(list(paths), settings)
    folders = {os.path.dirname(os.path.abspath(f)) for f in files}
    folders.update(os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".") for p in paths or ["."])
    watched = set(files)
    if config_file:
        watched.add(config_file)
    seen: set[str] = set()
    for folder in folders:
        while folder not in seen:
            seen.add(folder)
            watched.update(os.path.join(folder, name) for name in CONFIG_NAMES)
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    out = {}
    for path in watched:
        try:
            st = os.stat(path)
        except OSError:
            continue
        out[path] = (st.st_mtime_ns, st.st_size)
    return out


def watch_and_rerun(run_once, paths, config_file: str | None, poll_s: float = POLL_S) -> int:
    """Call ``run_once()`` (one ``check`` run, which exits) now and after every change, until
    interrupted; returns the exit status for an interrupt (0)."""
    stream = sys.stdout
    before = None
    try:
        while True:
            current = snapshot(paths, config_file)
            if current != before:
                why = "Starting linter in watch mode" if before is None else "File change detected"
                before = current
                stream.write(f"{CLEAR}[{time.strftime('%H:%M:%S')}] {why}...\n")
                stream.flush()
                try:
                    run_once()
                except SystemExit:
                    pass
                stream.write("Watching for file changes (Ctrl-C to stop).\n")
                stream.flush()
            time.sleep(poll_s)
    except KeyboardInterrupt:
        return 0
