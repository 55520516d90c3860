"""``optimlint check --watch``: a real process that lints, clears the screen and lints again
when a linted file or its config changes, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

from conftest import write
from optimlint.watchmode import CLEAR

BAD = "import torch\n\n\ndef build(model):\n    return torch.optim.Adam(model.parameters(), learning_rate=0.1)\n"
WAIT_S = 60


class Watcher:
    """``optimlint check --watch ARGS`` with its output read line by line."""

    def __init__(self, cwd, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "OPTIMLINT_OUTPUT_FORMAT")}
        self.proc = subprocess.Popen([sys.executable, "-m", "optimlint", "check", "--watch", *args], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_run(self) -> list[str]:
        """The lines of the next run, up to the line saying it watches again."""
        out: list[str] = []
        deadline = time.monotonic() + WAIT_S
        while not out or not out[-1].startswith("Watching for file changes"):
            out.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
        return out

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=WAIT_S)


def test_watch_relints_on_change_and_clears_the_screen(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT3"]\n')
    write(tmp_path / "train.py", BAD)
    watcher = Watcher(tmp_path, "--output-format", "concise", "train.py")
    try:
        first = watcher.next_run()
        assert first[0].startswith(CLEAR) and first[0].endswith("] Starting linter in watch mode...\n")
        assert first[1].startswith("train.py:5:49: OPT301 [*] `torch.optim.Adam` has no `learning_rate` argument")
        assert first[2:] == ["Found 1 error. [*] 1 fixable with --fix.\n", "Watching for file changes (Ctrl-C to stop).\n"]

        time.sleep(0.05)  # a new mtime even on coarse-grained file systems
        write(tmp_path / "train.py", BAD.replace("learning_rate", "lr"))
        second = watcher.next_run()
        assert second[0].startswith(CLEAR) and second[0].endswith("] File change detected...\n")
        assert second[1:] == ["All checks passed!\n", "Watching for file changes (Ctrl-C to stop).\n"]

        # the config is watched too: a new selection re-lints
        write(tmp_path / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT3"]\nignore = ["OPT3"]\n')
        write(tmp_path / "train.py", BAD)
        third = watcher.next_run()
        if third[1:] != ["All checks passed!\n", "Watching for file changes (Ctrl-C to stop).\n"]:
            third = watcher.next_run()  # the two writes were seen by two polls
        assert third[1:] == ["All checks passed!\n", "Watching for file changes (Ctrl-C to stop).\n"]

        # a broken config is reported, and the watch goes on
        write(tmp_path / "pyproject.toml", '[tool.optimlint]\nselcet = ["OPT3"]\n')
        fourth = watcher.next_run()
        assert fourth[1].startswith(f"error: {tmp_path / 'pyproject.toml'}:2: unknown key `selcet`")
    finally:
        code = watcher.stop()
    assert code == 0
