"""A run: discover the files, take what the cache holds, lint the rest, collect.

``run`` is discover -> cached result or ``file_lint.lint_file`` per file (serially here,
or in ``optimlint.parallel``'s worker processes) -> a ``RunResult`` in discovery order.
"""

from __future__ import annotations

import gc
import os

from optimlint import parallel, run_state
from optimlint.config import Settings
from optimlint.discovery import discover
from optimlint.hashing import sha256_hex
from optimlint.hierarchy import Hierarchy
from optimlint.parsing import syntax_error
from optimlint.prefilter import checks_fingerprint, factory_needles, may_fire
from optimlint.results import FileResult, RunOptions, RunResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable


def run(paths, settings: Settings | Hierarchy, options: RunOptions | None = None,
        progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Discover the files under ``paths`` and lint each; ``progress(done, total)`` per file.

    ``settings``: one Settings for every file, or a Hierarchy (each file's nearest config).
    Files are linted in groups that share their settings; results keep discovery order.
    A ConfigError of a config some file needs propagates (the CLI exits 2).
    """
    options = options or RunOptions()
    hierarchy = Hierarchy.of(settings)
    files, problems = discover(paths, hierarchy, options.force_exclude)
    result = RunResult()
    for problem in problems:
        result.errors.append(syntax_error(problem.path, problem.message))
    groups: dict[int, tuple[Settings, list[int]]] = {}
    for i, path in enumerate(files):
        found = hierarchy.for_path(path)
        groups.setdefault(id(found), (found, []))[1].append(i)
    out: list[FileResult | None] = [None] * len(files)
    done = 0
    for found, indices in groups.values():
        tick = None
        if progress is not None:
            def tick(k: int, _total: int, _base: int = done) -> None:
                progress(_base + k, len(files))
        for i, file_result in zip(indices, _lint_all([files[i] for i in indices], found, options, tick)):
            out[i] = file_result
        done += len(indices)
    result.files = out  # type: ignore[assignment]
    return result


def _lint_all(files: list[str], settings: Settings, options: RunOptions,
              progress: Callable[[int, int], None] | None) -> list[FileResult]:
    """Lint ``files``; results in input order.

    Cached results are taken first (``--no-cache``, ``--fix`` and ``--diff`` skip the
    cache); the rest are linted serially in-process or, when there is enough work and
    ``jobs > 1``, by ``optimlint.parallel``'s process pool.
    """
    # Run the cyclic garbage collector less often while linting (forked workers inherit
    # it): CPython's parser and LibCST allocate millions of objects per file that reference
    # counting alone frees, and at the default threshold (a collection every 700
    # allocations) the collector spent 15-20% of the parse time finding nothing.
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 50_000), *before[1:])
    try:
        with run_state.one_run():
            return _lint_files(files, settings, options, progress)
    finally:
        gc.set_threshold(*before)


def _lint_files(files: list[str], settings: Settings, options: RunOptions,
                progress: Callable[[int, int], None] | None) -> list[FileResult]:
    total = len(files)
    out: list[FileResult | None] = [None] * total
    count = 0
    use_cache = options.cache and not (options.fix or options.diff)
    cache = None
    if use_cache and files:
        from optimlint.cache import Cache  # start-up: json, and the cache only when used

        cache = Cache(settings.root or os.getcwd(), settings.fingerprint() + checks_fingerprint())
    jobs = options.jobs or parallel.default_jobs()
    enabled = settings.enabled_codes()
    factories = factory_needles(settings)
    want_bytes = cache is not None or (jobs > 1 and total >= parallel.MIN_FILES)

    todo: list[int] = []
    digests: dict[int, str] = {}
    weights: list[int] = []
    candidate_bytes = total_bytes = 0

    def finish(i: int, result: FileResult, deps=frozenset(), cached: bool = False) -> None:
        nonlocal count
        out[i] = result
        if cache is not None and i in digests and not cached:
            cache.put(files[i], digests[i], result, deps)
        count += 1
        if progress is not None:
            progress(count, total)

    small: list[bytes | None] | None = [] if want_bytes else None  # the bytes of ``todo``
    for i, path in enumerate(files):
        raw = _read_bytes(path) if want_bytes else None
        if raw is not None and cache is not None:
            digests[i] = sha256_hex(raw)
            hit = cache.get(path, digests[i], options.excerpts)
            if hit is not None:
                finish(i, hit, cached=True)
                continue
        todo.append(i)
        size = len(raw) if raw is not None else 0
        total_bytes += size
        weights.append(size)
        if small is not None:  # kept while the tree is small enough to need the scan below
            small.append(raw)
            if total_bytes >= parallel.MIN_TOTAL_BYTES:
                small = None

    warm = True
    if small is not None and jobs > 1 and len(todo) >= parallel.MIN_FILES:
        # Whether a pool pays depends on how much LibCST will parse, and a candidate weighs
        # ~20x as much (LibCST and the analysis against CPython's parse). Over a big tree the
        # pool is decided already, and this scan would be serial work before it starts
        # (0.5 s on the transformers wheel): the biggest files go first, by size alone.
        for k, raw in enumerate(small):
            if raw is not None and may_fire(raw, enabled, factories):
                candidate_bytes += len(raw)
                weights[k] *= 20
        warm = candidate_bytes > 0
    if parallel.worth_a_pool(jobs, len(todo), candidate_bytes, total_bytes):
        parallel.lint_in_pool([files[i] for i in todo], weights, settings, options, jobs,
                              lambda k, result, deps: finish(todo[k], result, deps), warm=warm)
    else:
        for i in todo:
            finish(i, *parallel.lint_one(files[i], settings, options))
    return out  # type: ignore[return-value]


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None
