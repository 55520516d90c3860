"""Issue 13's cost budgets, measured in one run: code that is all training loops against Ruff,
and one big file of training functions at growing sizes.

    python benchmarks/training_budget.py                    # everything (~5 minutes on 2 idle cores)
    python benchmarks/training_budget.py --repeat 1 --sizes 10000 25000
    python benchmarks/training_budget.py --tree /tmp/before --tree .   # two source trees, interleaved

1. **Training files.** The original `.py` files of the mutation manifest
   (`benchmarks/mutation/manifest.tsv`, recreated under `--root` by
   `benchmarks/mutation/fetch_corpus.py`; notebooks left out: Ruff reads them differently), linted
   in one command each, alternating, best of `--repeat` by wall:
   - `optimlint check --no-cache` over all of them (default `--jobs`: every CPU);
   - `ruff check --select ALL --no-cache --isolated` over the same list;
   - LibCST's `parse_module` of each file alone, over a pool of one process per CPU (what the
     issue calls "the parse": the floor of a linter that parses every file with LibCST).
   Budget: optimlint's wall <= 6x Ruff's.
2. **One big file.** A single file of training functions, generated from the project's own
   test programs (`tests/real_world/*.py` and `fixtures/*.py`, every top-level function and
   class renamed per copy, `if __name__ == "__main__":` blocks disabled), cut at 10k, 25k,
   50k and 100k lines (`--sizes`); each linted once, `--no-cache`. Budget: time linear in the
   size, peak RSS <= 500 MB.

With `--tree DIR` (repeatable) optimlint runs from each source tree in turn (`PYTHONPATH=DIR`),
command by command, so a before/after comparison shares the machine's load.

Each command runs under a wrapper process that reports `getrusage(RUSAGE_CHILDREN)`: CPU is
user + system time of the tool and all its workers, peak RSS the largest single process
(`benchmarks/bench.py`'s `measure`). The load average is printed before and after each
measurement: the development machine is shared, so CPU is the steadier figure.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench import measure, optimlint_env  # noqa: E402

MANIFEST = HERE / "mutation" / "manifest.tsv"
DEFAULT_ROOT = Path("/work/corpora/research")
SIZES = (10_000, 25_000, 50_000, 100_000)

# LibCST's parse of each file given on the command line, one process per CPU.
PARSE_ONLY = r"""
import sys
from concurrent.futures import ProcessPoolExecutor
import libcst

def parse(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        text = fh.read()
    try:
        libcst.parse_module(text)
    except Exception:
        return 0
    return 1

if __name__ == "__main__":
    with ProcessPoolExecutor(len(__import__("os").sched_getaffinity(0))) as pool:
        print(sum(pool.map(parse, sys.argv[1:], chunksize=4)))
"""


def training_files(root: Path, manifest: Path = MANIFEST) -> list[Path]:
    """The manifest's original `.py` files that are present under ``root``, sorted."""
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
    paths = {root / r["repo"].replace("/", "+") / r["path"] for r in rows if r["path"].endswith(".py")}
    return sorted(p for p in paths if p.is_file())


def _program_sources() -> list[str]:
    """The project's own training programs, each a module that parses alone."""
    paths = sorted((REPO / "tests" / "real_world").glob("*.py")) + sorted((REPO / "fixtures").glob("*.py"))
    out = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^from __future__ import [^\n]*\n", "", text, flags=re.M)
        text = text.replace('if __name__ == "__main__":', "if False:")
        ast.parse(text)
        out.append(text)
    return out


def _top_level_names(text: str) -> list[str]:
    return [n.name for n in ast.parse(text).body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _module_level_names(text: str) -> set[str]:
    """Names the module-level code of ``text`` binds by assignment (``device = ...``,
    ``for epoch in ...``, ``global best_acc``), not by def, class or import."""
    tree = ast.parse(text)
    out: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load) and not isinstance(
                    stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(node.id)
            elif isinstance(node, ast.Global):
                out.update(node.names)
    return out - set(_top_level_names(text))


def _rename_names(text: str, names: set[str], k: int) -> str:
    """``text`` with every use of a name in ``names`` renamed ``<name>_<k>``: identifier
    tokens only (not attributes after a dot, keyword-argument names, or words in strings)."""
    import io
    import tokenize

    toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    at: dict[int, list[tuple[int, int]]] = {}
    depth = 0
    for i, tok in enumerate(toks):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if tok.type != tokenize.NAME or tok.string not in names:
            continue
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if prev is not None and prev.type == tokenize.OP and prev.string == ".":
            continue
        if depth and nxt is not None and nxt.type == tokenize.OP and nxt.string == "=":
            continue  # f(device=...): a keyword argument's (or a parameter's) name
        at.setdefault(tok.start[0], []).append((tok.start[1], tok.end[1]))
    lines = text.splitlines(keepends=True)
    for row, spans in at.items():
        line = lines[row - 1]
        for start, end in sorted(spans, reverse=True):
            line = f"{line[:start]}{line[start:end]}_{k}{line[end:]}"
        lines[row - 1] = line
    return "".join(lines)


def big_file(lines: int, independent: bool = True) -> str:
    """About ``lines`` lines of training functions: the project's programs repeated, every
    top-level function and class of copy ``k`` renamed ``<name>_<k>`` (and so each use of
    it), so that no two functions of the file share a name. Cut at a top-level statement.

    ``independent``: the names module-level code binds (``device = ...``, ``parser``,
    ``best_acc``) renamed per copy as well, so that no copy reads another's (a real file
    does not bind ``model`` at module level hundreds of times; the analyses gather every
    module-level binding of a name, so copies sharing them are one program)."""
    sources = [(text, _top_level_names(text), _module_level_names(text) if independent else set())
               for text in _program_sources()]
    out: list[str] = []
    total = k = 0
    while total < lines:
        for text, names, shared in sources:
            if shared:
                text = _rename_names(text, shared, k)
            if names:
                pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
                text = pattern.sub(lambda m, k=k: f"{m.group(1)}_{k}", text)
            out.append(text.rstrip("\n") + "\n\n\n")
            total += out[-1].count("\n")
            k += 1
            if total >= lines:
                break
    return "".join(out)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(label: str, argv: list[str], cwd: str, env: dict | None = None) -> dict:
    before = load()
    result = measure(argv, cwd, env)
    result.update(label=label, load_before=before, load_after=load())
    print(f"  {label}: wall {result['wall']:.2f} s, CPU {result['cpu']:.2f} s, peak RSS "
          f"{result['maxrss_kib'] / 1024:.0f} MB, load {before} -> {result['load_after']}", file=sys.stderr)
    return result


def optimlint(python: str, *args: str) -> list[str]:
    return [python, "-m", "optimlint", "check", "--no-cache", "--exit-zero", "-q", "--output-format", "concise",
            *args]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter that runs optimlint (PYTHONPATH is kept)")
    ap.add_argument("--ruff", default=None, help="ruff executable (default: beside --python, else on PATH)")
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where fetch_corpus.py put the repositories")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each training-files command (best is kept)")
    ap.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="lines of the big files")
    ap.add_argument("--skip-files", action="store_true", help="only the big files")
    ap.add_argument("--shared-globals", action="store_true",
                    help="big files as before 2026-12-04 11:00: module-level variables not renamed per copy")
    ap.add_argument("--tree", action="append", default=None,
                    help="an optimlint source tree to run (PYTHONPATH); repeat to interleave trees")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    env = optimlint_env()
    trees = args.tree or [None]

    def tree_env(tree):
        if tree is None:
            return env
        return {**env, "PYTHONPATH": str(Path(tree).resolve())}

    def named(label, tree):
        return label if tree is None or len(trees) == 1 and not args.tree else f"{label} [{tree}]"

    ruff = args.ruff or shutil.which("ruff", path=str(Path(args.python).parent)) or shutil.which("ruff")
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": len(os.sched_getaffinity(0)),
                     "load_start": load(), "python": args.python, "trees": trees}
    with tempfile.TemporaryDirectory(prefix="optimlint-budget-") as tmp:
        work = Path(tmp)
        # Compile optimlint's bytecode once (not timed).
        (work / "warm.py").write_text(big_file(300))
        for tree in trees:
            measure(optimlint(args.python, "warm.py"), str(work), tree_env(tree))
        if not args.skip_files:
            files = training_files(args.root)
            if not files:
                ap.error(f"no training file of the manifest under {args.root}: run benchmarks/mutation/fetch_corpus.py")
            listing = [str(p) for p in files]
            results["files"] = {"count": len(files), "lines": sum(p.read_bytes().count(b"\n") for p in files)}
            print(f"training files: {len(files)} files, {results['files']['lines']:,} lines", file=sys.stderr)
            script = work / "parse_only.py"
            script.write_text(PARSE_ONLY)
            runs: dict[str, list[dict]] = {named("optimlint", t): [] for t in trees}
            runs.update({"ruff": [], "parse": []})
            for _ in range(args.repeat):
                if ruff:
                    runs["ruff"].append(timed("ruff", [ruff, "check", "--select", "ALL", "--no-cache", "--isolated",
                                                       "--exit-zero", "-q", *listing], str(args.root)))
                for tree in trees:
                    label = named("optimlint", tree)
                    runs[label].append(timed(label, optimlint(args.python, *listing), str(args.root), tree_env(tree)))
                runs["parse"].append(timed("LibCST parse", [args.python, str(script), *listing], str(args.root), env))
            results["files"].update({k: min(v, key=lambda r: r["wall"]) for k, v in runs.items() if v})
            results["files"]["runs"] = runs
        results["big"] = []
        for size in args.sizes:
            path = work / f"train_{size}.py"
            path.write_text(big_file(size, independent=not args.shared_globals))
            lines = path.read_text().count("\n")
            for tree in trees:
                r = timed(named(f"{lines:,}-line file", tree), optimlint(args.python, path.name), str(work),
                          tree_env(tree))
                r["lines"] = lines
                results["big"].append(r)
    results["load_end"] = load()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    out = [f"{results['date']}, {results['cpus']} CPUs, load average {results['load_start']} at the start, "
           f"{results['load_end']} at the end.", ""]
    files = results.get("files")
    if files:
        out += [f"Training files of the mutation manifest: {files['count']} files, {files['lines']:,} lines "
                f"(best of {len(files['runs']['ruff'])} by wall).", "",
                "| command | wall | CPU | peak RSS | load before -> after | walls of all runs | wall vs Ruff |",
                "|---|---|---|---|---|---|---|"]
        ruff_wall = files["ruff"]["wall"] if "ruff" in files else None
        labels = [(k, f"{k} `check --no-cache`") for k in files["runs"] if k.startswith("optimlint")]
        for key, label in (*labels, ("ruff", "ruff `check --select ALL --no-cache --isolated`"),
                           ("parse", "LibCST `parse_module` alone, one process per CPU")):
            if key not in files:
                continue
            r = files[key]
            ratio = f"{r['wall'] / ruff_wall:.1f}x" if ruff_wall else "-"
            walls = ", ".join(f"{x['wall']:.2f}" for x in files["runs"][key])
            out.append(f"| {label} | {r['wall']:.2f} s | {r['cpu']:.2f} s | {r['maxrss_kib'] / 1024:.0f} MB "
                       f"| {r['load_before']} -> {r['load_after']} "
                       f"| {walls} s | {ratio} |")
    if results.get("big"):
        out += ["", "| one file | wall | CPU | CPU per 10k lines | peak RSS | load before -> after |",
                "|---|---|---|---|---|---|"]
        for r in results["big"]:
            out.append(f"| {r['label'].replace('-line file', ' lines')} | {r['wall']:.2f} s | {r['cpu']:.2f} s "
                       f"| {r['cpu'] / r['lines'] * 10_000:.2f} s | {r['maxrss_kib'] / 1024:.0f} MB "
                       f"| {r['load_before']} -> {r['load_after']} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
