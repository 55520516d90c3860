"""Replacing a file's content atomically: a reader sees the old bytes or the new, never a mix.

Used for fixed source files (``sources.write_source``) and the cache's entries (``store``).
"""

from __future__ import annotations

import os

_tmp_count = 0


def atomic_write(target: str, data: bytes, mode: int | None = None,
                 owner: tuple[int, int] | None = None, durable: bool = True) -> None:
    """Write ``data`` to a new private file next to ``target``, then rename it over ``target``.

    A process killed before the rename leaves ``target`` untouched (and, at worst, a
    ``.NAME.PID-N.optimlint-tmp`` file beside it: a kill cannot be cleaned up after); one
    killed after it leaves the new content. ``mode`` (default 0o600) and, where permitted,
    ``owner`` are given to the new file; ``durable`` syncs it to disk before the rename (a
    fixed source file; not a cache entry, which a miss rebuilds). The temporary name is
    unique to this process (pid and a counter; ``O_EXCL`` makes sure), which is all
    ``tempfile.mkstemp`` would add, without the ~3 ms its import costs a run.
    """
    global _tmp_count
    directory = os.path.dirname(os.path.abspath(target))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        _tmp_count += 1
        tmp = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}-{_tmp_count}.optimlint-tmp")
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
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if owner is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, *owner)
            except OSError:  # not permitted (another user's file): keep ours
                pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
