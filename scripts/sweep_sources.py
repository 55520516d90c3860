"""Robustness sweep: lint every ``.py`` file of large real code bases and account for each.

Roots (each optional, given by name on the command line; default all):

- ``stdlib``: CPython's standard library (``sysconfig.get_paths()["stdlib"]``), tests and
  deliberately broken files (bad encodings, bad syntax) included;
- ``torch``: the installed torch package;
- ``transformers``: the transformers wheel unpacked in ``/tmp/ml/src/transformers``
  (``pip download --no-deps transformers -d /tmp/ml/wheels`` then unzip, if missing).

Every file under a root is put in exactly one category:

- ``findings``: linted, at least one OPTnnn finding (not OPT000);
- ``clean``: parsed and linted, no finding;
- ``prefilter``: no selected check's needle in the file, so it was not parsed by LibCST
  (CPython still checked it for syntax errors);
- ``opt000``: reported as OPT000, grouped by reason (syntax error, encoding, NUL bytes...);
- ``internal``: an internal error (a bug in optimlint: the script exits 1);
- ``excluded``: not discovered (default excludes such as ``build``/``dist``/``site-packages``
  directories, ``.gitignore``), listed so nothing is silently lost;
- ``missing``: discovered by this script's walk but absent from the run's results (a bug).

Usage: ``python scripts/sweep_sources.py [stdlib] [torch] [transformers] [--show N]``.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import sysconfig
import time

from optimlint.checks.base import checks_for
from optimlint.config import Settings
from optimlint.engine import run
from optimlint.results import RunOptions

TRANSFORMERS = "/tmp/ml/src/transformers"


def roots() -> dict[str, str]:
    out = {"stdlib": sysconfig.get_paths()["stdlib"]}
    try:
        import importlib.util

        spec = importlib.util.find_spec("torch")
        if spec and spec.origin:
            out["torch"] = os.path.dirname(spec.origin)
    except (ImportError, ValueError):
        pass
    if os.path.isdir(TRANSFORMERS):
        out["transformers"] = TRANSFORMERS
    return out


NOT_STDLIB = ("site-packages", "dist-packages")  # installed packages beside the stdlib


def walk_py(top: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Every ``.py`` file below ``top`` (symlinked directories are not followed, like
    discovery), leaving out directories named in ``skip`` directly under ``top``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == top:
            dirnames[:] = [d for d in dirnames if d not in skip]
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".py"):
                found.append(os.path.normpath(os.path.join(dirpath, name)))
    return found


def reason_of(message: str) -> str:
    """A short category for an OPT000 message (the details vary per file)."""
    if message.startswith("SyntaxError"):
        return "syntax error"
    if "null bytes" in message:
        return "NUL bytes"
    if message.startswith(("cannot decode", "bad encoding")):
        return "encoding"
    if message.startswith(("cannot read", "no such file", "not a regular", "is a directory")):
        return "unreadable"
    return re.sub(r"\d+", "N", message)[:60]


def sweep(name: str, top: str, settings: Settings, show: int) -> tuple[collections.Counter, list]:
    start = time.monotonic()
    skip = NOT_STDLIB if name == "stdlib" else ()
    walked = walk_py(top, skip)
    paths = [top] if not skip else [
        os.path.join(top, e) for e in sorted(os.listdir(top))
        if e not in skip and (e.endswith(".py") or os.path.isdir(os.path.join(top, e)))]
    result = _run_in_chunks(name, paths, settings)
    needles = [n for c in checks_for(settings.enabled_codes()) for n in c.needles]
    by_path = {os.path.normpath(f.path): f for f in result.files}
    counts: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    internal: list[tuple[str, str]] = []
    examples: dict[str, list[str]] = collections.defaultdict(list)
    for problem in result.errors:
        internal.append((problem.filename, f"discovery: {problem.message}"))
    for path in walked:
        f = by_path.pop(path, None)
        if f is None:
            counts["excluded"] += 1
            examples["excluded"].append(path)
            continue
        if f.error:
            counts["internal"] += 1
            internal.append((path, f.error))
            continue
        opt000 = [d for d in f.diagnostics if d.code == "OPT000"]
        if opt000:
            counts["opt000"] += 1
            reasons[reason_of(opt000[0].message)] += 1
            examples["opt000"].append(f"{path}: {opt000[0].message}")
            continue
        if f.diagnostics:
            counts["findings"] += 1
            examples["findings"].append(
                f"{path}: " + ", ".join(sorted({d.code for d in f.diagnostics})))
            continue
        if f.skipped or not _has_needle(path, needles):
            counts["prefilter"] += 1
        else:
            counts["clean"] += 1
    for path, f in by_path.items():  # linted but not a .py (.pyi, .ipynb): counted apart
        counts["other-suffix"] += 1
        if f.error:
            internal.append((path, f.error))
    counts["walked"] = len(walked)
    elapsed = time.monotonic() - start
    print(f"== {name}: {top} ({elapsed:.0f}s)")
    for key in ("walked", "findings", "clean", "prefilter", "opt000", "excluded", "internal",
                "other-suffix"):
        print(f"  {key:13} {counts[key]}")
    for reason, n in reasons.most_common():
        print(f"    opt000 {reason}: {n}")
    accounted = sum(counts[k] for k in ("findings", "clean", "prefilter", "opt000", "excluded", "internal"))
    if accounted != len(walked):
        print(f"  !! {len(walked) - accounted} files unaccounted for")
        internal.append((top, "files unaccounted for"))
    for key in ("opt000", "findings", "excluded"):
        for line in examples[key][:show]:
            print(f"    {key}: {line}")
    for path, error in internal:
        print(f"  INTERNAL {path}: {error}")
    return counts, internal


CHUNK = 40


def _run_in_chunks(name: str, paths: list[str], settings: Settings):
    """``engine.run`` over the discovered files, a chunk at a time, printing progress and
    every finding / OPT000 / internal error as it comes (a long sweep shows what it has)."""
    from optimlint.discovery import discover
    from optimlint.parsing import syntax_error
    from optimlint.results import RunResult

    files, problems = discover(paths, settings)
    result = RunResult()
    for problem in problems:
        result.errors.append(syntax_error(problem.path, problem.message))
    for i in range(0, len(files), CHUNK):
        part = run(files[i:i + CHUNK], settings, RunOptions(cache=False, excerpts=False))
        result.files.extend(part.files)
        result.errors.extend(part.errors)
        for f in part.files:
            if f.error:
                print(f"  [{name}] INTERNAL {f.path}: {f.error}", flush=True)
            elif f.diagnostics:
                print(f"  [{name}] {f.path}: " + ", ".join(
                    f"{d.code}@{d.location.row}" for d in f.diagnostics), flush=True)
        print(f"  [{name}] {min(i + CHUNK, len(files))}/{len(files)} files", flush=True)
    return result


def _has_needle(path: str, needles: list[bytes]) -> bool:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    return any(n in raw for n in needles)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="stdlib, torch, transformers (default: all found)")
    parser.add_argument("--show", type=int, default=5, help="example files shown per category")
    args = parser.parse_args(argv)
    available = roots()
    names = args.names or list(available)
    settings = Settings(select=["OPT"])
    total: collections.Counter = collections.Counter()
    errors = []
    for name in names:
        top = available.get(name, name)
        if not os.path.isdir(top):
            print(f"== {name}: not found, skipped", file=sys.stderr)
            continue
        counts, internal = sweep(name, top, settings, args.show)
        total.update(counts)
        errors.extend(internal)
    print("== total: " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
