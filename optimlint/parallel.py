"""Lint many files in worker processes; results come back in input order.

A process pool pays for itself only when there is real work: forking, and each worker's
first import of LibCST and the checks (~0.2 s), cost more than linting a handful of files.
So the pool is used when ``jobs > 1`` and the files to lint weigh enough (see
:func:`worth_a_pool`); otherwise the caller lints serially in-process.

Files are sent in chunks (a folder's files together, the heaviest chunks first, so one big
file does not finish last on its own),
each worker runs ``file_lint.lint_file`` per file and also reports which other files a lint
read (``dependencies.record_dependency``). A worker that dies (a crash in native code, killed for
memory) or a result that cannot come back turns into ``FileResult.error`` for the files
concerned, never a traceback; the other files' results are kept.
"""

from __future__ import annotations

import os
import sys

from optimlint import gc_policy
from optimlint.dependencies import recording
from optimlint.file_lint import lint_file
from optimlint.results import FileResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable, Sequence

# Below these, a pool costs more than it saves (measured on a 2-core machine: the pool's
# start plus the workers' imports is ~0.3 s; LibCST and the analysis do ~3-5k lines/s).
MIN_FILES = 4
MIN_CANDIDATE_BYTES = 200_000  # ~5,000 lines that will be parsed by LibCST
MIN_TOTAL_BYTES = 4_000_000  # ~100,000 lines that CPython parses for syntax errors only


def default_jobs() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worth_a_pool(jobs: int, n_files: int, candidate_bytes: int, total_bytes: int) -> bool:
    if jobs <= 1 or n_files < MIN_FILES:
        return False
    return candidate_bytes >= MIN_CANDIDATE_BYTES or total_bytes >= MIN_TOTAL_BYTES


def lint_one(path: str, settings, options):
    """``(FileResult, dependencies)`` for one file, whichever process runs it."""
    with recording() as deps, gc_policy.one_file():
        result = lint_file(path, settings, options)
    return result, frozenset(deps)


def _lint_chunk(paths: Sequence[str], settings, options) -> list:
    out = []
    for path in paths:
        try:
            out.append(lint_one(path, settings, options))
        except BaseException as exc:  # lint_file never raises; this is a last resort
            if isinstance(exc, KeyboardInterrupt):
                raise
            out.append((_failed(path, f"{type(exc).__name__}: {exc}"), frozenset()))
    return out


def _failed(path: str, why: str) -> FileResult:
    return FileResult(path, error=f"internal error: {why} (please report it)")


def _warm_up() -> None:
    """Import what every lint needs once, before forking, so workers share it."""
    try:
        # Imported here, not at the top: a run that uses no pool never loads LibCST.
        import libcst  # noqa: F401

        from optimlint.checks.base import all_checks

        all_checks()
    except Exception:  # pragma: no cover - the workers will report it per file
        pass


def _context():
    import multiprocessing

    # fork is by far the cheapest start on Linux (workers inherit the imported modules);
    # macOS and Windows default to spawn, which is what they support safely.
    if sys.platform.startswith("linux"):
        try:
            return multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover
            pass
    return multiprocessing.get_context()


def _chunks(order: list[int], weights: Sequence[int], jobs: int) -> list[list[int]]:
    """Split ``order`` (indices, heaviest first) into chunks of about equal weight, about
    ``16 * jobs`` of them and at most 64 files each: the biggest files go one or a few
    at a time, so no worker is left with a long chunk while the other waits."""
    target = max(1, sum(weights[i] for i in order) // (jobs * 16))
    chunks: list[list[int]] = []
    current: list[int] = []
    load = 0
    for i in order:
        current.append(i)
        load += weights[i]
        if load >= target or len(current) == 64:
            chunks.append(current)
            current, load = [], 0
    if current:
        chunks.append(current)
    return chunks


def plan_chunks(paths: Sequence[str], weights: Sequence[int], jobs: int) -> list[list[int]]:
    """The chunks the pool is handed, heaviest first: cut from the files folder by folder
    (``_by_folder``), so that a worker reads a folder's imported project files once (over
    the 346 training files of the mutation manifest, 17 project files were read by both
    workers instead of 82), and sorted by weight so that the last chunks are the lightest
    and no worker is left alone at the end."""
    return sorted(_chunks(_by_folder(paths, weights), weights, jobs), key=lambda c: -sum(weights[i] for i in c))


def _by_folder(paths: Sequence[str], weights: Sequence[int]) -> list[int]:
    """The indices of ``paths`` folder by folder (the heaviest folder first), each folder's
    files heaviest first: the files of one folder import the same project files, which a
    worker reads once for all the files it lints, so a folder's files go to one chunk as far
    as the chunks' sizes allow."""
    folders: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        folders.setdefault(os.path.dirname(path), []).append(i)
    groups = sorted(folders.values(), key=lambda g: -sum(weights[i] for i in g))
    return [i for g in groups for i in sorted(g, key=lambda i: -weights[i])]


def lint_in_pool(paths: Sequence[str], weights: Sequence[int], settings, options, jobs: int,
                 done: Callable[[int, object, frozenset], None], warm: bool = True) -> None:
    """Lint ``paths`` with ``jobs`` processes; ``done(index, result, deps)`` per file, in the
    order they finish (the caller places them by index)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if warm:
        _warm_up()
    chunks = plan_chunks(paths, weights, jobs)
    workers = min(jobs, len(chunks))
    broken: list[int] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        futures = {pool.submit(_lint_chunk, [paths[i] for i in chunk], settings, options): chunk
                   for chunk in chunks}
        pending = set(futures)
        while pending:
            completed, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in completed:
                chunk = futures[future]
                try:
                    results = future.result()
                except BrokenProcessPool:
                    broken.extend(chunk)  # maybe only a bystander of another file's crash
                    continue
                except Exception:
                    # The results could not come back (e.g. not picklable): lint here.
                    results = _lint_chunk([paths[i] for i in chunk], settings, options)
                for i, (result, deps) in zip(chunk, results):
                    done(i, result, deps)
    # A dead worker breaks the whole pool: lint each file it took down in a process of its
    # own, so that only the file that really kills its process is reported as failed.
    for i in sorted(broken):
        done(i, *_lint_isolated(paths[i], settings, options))


def _lint_isolated(path: str, settings, options):
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=_context()) as pool:
            return pool.submit(lint_one, path, settings, options).result()
    except BrokenProcessPool:
        return _failed(path, "the worker process linting this file stopped unexpectedly"), frozenset()
    except Exception:
        return lint_one(path, settings, options)
