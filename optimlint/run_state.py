"""What holds for one engine run (``engine._lint_all``: a CLI check, one pass of watch mode).

The project's files do not come and go while a run lints, so an answer that reads only which
files exist (``analysis.modules``' module lookups) serves every file of the run, not only the
file it was found for; the next run (watch mode, the language server's next lint) asks again.
Kept out of ``analysis`` so that the engine marks a run without importing LibCST."""

from __future__ import annotations

from contextlib import contextmanager

_RUN = [None, 0]  # the current run's number (None outside a run), the last number given


@contextmanager
def one_run():
    _RUN[1] += 1
    outer, _RUN[0] = _RUN[0], _RUN[1]
    try:
        yield
    finally:
        _RUN[0] = outer


def current() -> int | None:
    """The number of the run in progress (forked workers inherit it), None outside one."""
    return _RUN[0]
