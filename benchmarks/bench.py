"""optimlint against TorchFix and Ruff on real code, in one run (so the ratios are fair).

    python benchmarks/bench.py                      # transformers, diffusers, pytorch-lightning
    python benchmarks/bench.py --corpus diffusers --torchfix-sample 40

What it does:

1. ``pip download --no-deps`` the wheels of the corpora into ``benchmarks/corpora/wheels``
   and extracts their ``.py`` files into ``benchmarks/corpora/src/<name>/`` (both gitignored);
2. per corpus, each tool in its own subprocess, measured by a small wrapper process that
   reports ``getrusage(RUSAGE_CHILDREN)`` (CPU time of the tool and all its workers, and the
   peak RSS of the largest of them) and the wall time:
   - optimlint cold: ``optimlint check --no-cache``;
   - optimlint warm: the same with the cache, after a run that filled it;
   - TorchFix (``torchfix`` from a separate venv, default ``/tmp/benchvenv``): very slow,
     so ``--torchfix-sample N`` times it on N files picked at random (seeded) and
     extrapolates per file to the whole corpus (labelled "extrapolated");
   - ``ruff check --select ALL --no-cache``;
3. one clean file through the pre-commit entry (``optimlint check --force-exclude f.py``)
   and a 1,000-line training script with findings (median of several runs);
4. writes ``benchmarks/results/<timestamp>.json`` and ``.md`` and prints the markdown.

With ``--tree DIR`` (repeatable; ``--tree /tmp/before --tree .``) it compares optimlint source
trees instead (``PYTHONPATH=DIR``, the same interpreter and corpora): every measurement of the
single files and of each corpus (cold, warm) is taken for each tree in turn, ``--repeat`` (single
files) and ``--corpus-repeat`` (corpora) times, so that the machine's load falls on all alike;
the table gives each tree's median wall and CPU. Ruff and TorchFix are not run then.

optimlint runs as ``<python> -m optimlint`` (``--python``, default this interpreter) with
bytecode writing enabled (an installed package has its ``.pyc`` files; a source checkout
run with PYTHONDONTWRITEBYTECODE would recompile optimlint at every start).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPORA = {"pytorch-lightning": "pytorch_lightning", "diffusers": "diffusers",
           "transformers": "transformers"}

# Runs ``argv`` and prints wall seconds, children CPU seconds and peak RSS (KiB) as JSON.
WRAPPER = r"""
import json, resource, subprocess, sys, time
argv = json.loads(sys.argv[1]); cwd = sys.argv[2] or None
t = time.perf_counter()
proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime, "maxrss_kib": ru.ru_maxrss,
                  "rc": proc.returncode, "stdout_lines": proc.stdout.count(b"\n"),
                  "stderr_tail": proc.stderr[-2000:].decode("utf-8", "replace")}))
"""


# --------------------------------------------------------------------------- corpora
def fetch(name: str, python: str) -> Path:
    """The extracted sources of ``name``'s wheel (downloaded once)."""
    src = HERE / "corpora" / "src" / CORPORA[name]
    if src.is_dir() and any(src.rglob("*.py")):
        return src
    wheels = HERE / "corpora" / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "-q", "-d", str(wheels), name], check=True)
    prefix = CORPORA[name].replace("-", "_")
    wheel = max(wheels.glob(f"{prefix}-*.whl"), key=lambda p: p.stat().st_mtime)
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            if member.endswith(".py"):
                z.extract(member, src)
    return src


def corpus_stats(src: Path) -> tuple[list[Path], int]:
    files = sorted(src.rglob("*.py"))
    return files, sum(p.read_bytes().count(b"\n") for p in files)


def wheel_version(name: str) -> str:
    prefix = CORPORA[name]
    found = sorted((HERE / "corpora" / "wheels").glob(f"{prefix}-*.whl"))
    return found[-1].name.split("-")[1] if found else "?"


# --------------------------------------------------------------------------- measuring
def measure(argv: list[str], cwd: str | None = None, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAPPER, json.dumps(argv), cwd or ""],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"wrapper failed: {out.stderr}")
    result = json.loads(out.stdout)
    result["cpu"] = result["user"] + result["sys"]
    return result


def optimlint_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("OPTIMLINT_OUTPUT_FORMAT", None)
    return env


def optimlint_argv(python: str, *args: str) -> list[str]:
    return [python, "-m", "optimlint", "check", "--exit-zero", "-q", "--output-format", "concise", *args]


def median_wall(argv, cwd, env, repeat: int) -> dict:
    runs = [measure(argv, cwd, env) for _ in range(repeat)]
    best = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    best["walls"] = [round(r["wall"], 3) for r in runs]
    return best


# --------------------------------------------------------------------------- scripts
def training_script(lines: int = 1000) -> str:
    """A realistic training script of about ``lines`` lines with findings: the fixtures'
    training code (loops, Keras ports, parameter groups) repeated under new names."""
    parts = [(REPO / "fixtures" / n).read_text() for n in ("train_loop.py", "keras_port.py", "param_groups.py")]
    out, k = [], 0
    while sum(p.count("\n") for p in out) < lines:
        for text in parts:
            out.append(text.replace("def main(", f"def main_{k}(").replace('if __name__ == "__main__":',
                                                                             "if False:"))
            k += 1
    text = "\n\n".join(out)
    return "\n".join(text.splitlines()[:lines]).rsplit("\ndef ", 1)[0] + "\n"


CLEAN_FILE = '''"""Serving helpers."""
import json
import os


def load_config(path):
    with open(path) as fh:
        return json.load(fh)


def cache_dir():
    return os.environ.get("APP_CACHE", os.path.expanduser("~/.cache/app"))
'''


# --------------------------------------------------------------------------- main
def run_corpus(name: str, args, python: str, work: Path) -> dict:
    src = fetch(name, python)
    files, lines = corpus_stats(src)
    row: dict = {"corpus": name, "version": wheel_version(name), "files": len(files), "lines": lines}
    env = optimlint_env()
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []

    row["optimlint_cold"] = measure(optimlint_argv(python, "--no-cache", *jobs, str(src)), str(work), env)
    shutil.rmtree(work / ".optimlint_cache", ignore_errors=True)
    row["optimlint_fill"] = measure(optimlint_argv(python, *jobs, str(src)), str(work), env)
    row["optimlint_warm"] = measure(optimlint_argv(python, *jobs, str(src)), str(work), env)
    if args.serial:
        row["optimlint_cold_j1"] = measure(optimlint_argv(python, "--no-cache", "--jobs", "1", str(src)),
                                           str(work), env)

    ruff = shutil.which("ruff", path=str(Path(args.venv) / "bin")) or shutil.which("ruff")
    if ruff:
        row["ruff"] = measure([ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", "-q",
                               "--no-respect-gitignore", "--isolated", str(src)], str(work))
    torchfix = shutil.which("torchfix", path=str(Path(args.venv) / "bin"))
    if torchfix and args.torchfix_sample != 0:
        if args.torchfix_sample and args.torchfix_sample < len(files):
            sample = random.Random(args.seed).sample(files, args.torchfix_sample)
            m = measure([torchfix, *map(str, sample)], str(work))
            scale = len(files) / len(sample)
            m.update(sampled_files=len(sample), extrapolated=True,
                     sample_wall=m["wall"], sample_cpu=m["cpu"],
                     wall=m["wall"] * scale, cpu=m["cpu"] * scale)
        else:
            m = measure([torchfix, str(src)], str(work))
            m["extrapolated"] = False
        row["torchfix"] = m
    return row


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def markdown(results: dict) -> str:
    m = results["machine"]
    out = [f"Machine: {m['cpus']} CPUs ({m['processor']}), Python {m['python']}, {m['system']}; "
           f"load average at start {m['load_start']}; {results['date']}.", "",
           "| corpus | tool | wall | CPU | peak RSS | files/s | lines/s | wall vs optimlint cold |",
           "|---|---|---|---|---|---|---|---|"]
    for row in results["corpora"]:
        if "optimlint_cold" not in row:
            continue
        cold = row["optimlint_cold"]["wall"]
        label = {"optimlint_cold": "optimlint cold (`--no-cache`)", "optimlint_warm": "optimlint warm (cache)",
                 "optimlint_cold_j1": "optimlint cold, `--jobs 1`",
                 "optimlint_fill": "optimlint cold, filling the cache",
                 "ruff": "ruff `--select ALL --no-cache`", "torchfix": "TorchFix"}
        for key in ("optimlint_cold", "optimlint_fill", "optimlint_warm", "optimlint_cold_j1", "ruff",
                    "torchfix"):
            if key not in row:
                continue
            r = row[key]
            name = label[key]
            if r.get("extrapolated"):
                name += f" (extrapolated from {r['sampled_files']} files: {fmt_s(r['sample_wall'])})"
            out.append(f"| {row['corpus']} {row['version']} ({row['files']} files, {row['lines']:,} lines) "
                       f"| {name} | {fmt_s(r['wall'])} | {fmt_s(r['cpu'])} | {r['maxrss_kib'] / 1024:.0f} MB "
                       f"| {row['files'] / r['wall']:,.0f} | {row['lines'] / r['wall']:,.0f} "
                       f"| {r['wall'] / cold:.2f}x |")
    out += ["", "| single file | wall (median) | CPU (same run) | peak RSS | walls of all runs |",
            "|---|---|---|---|---|"]
    for key, label in (("precommit_clean", "clean file via the pre-commit entry (`python -m optimlint check --force-exclude`)"),
                       ("precommit_script", "the same through the installed `optimlint` script (what pre-commit runs)"),
                       ("script_1000", "1,000-line training script with findings (`--no-cache`)")):
        r = results.get(key)
        if r is None:
            continue
        out.append(f"| {label} | {r['wall'] * 1000:.0f} ms | {r['cpu'] * 1000:.0f} ms | {r['maxrss_kib'] / 1024:.0f} MB "
                   f"| {', '.join(f'{w * 1000:.0f}' for w in r['walls'])} ms |")
    return "\n".join(out + goals(results)) + "\n"


def goals(results: dict) -> list[str]:
    """issue 6's goals against this run's figures (wall times; ratios within this run)."""
    main = [r for r in results["corpora"] if r["corpus"] in ("transformers", "diffusers") and "optimlint_cold" in r]

    def each(fn) -> str:
        return ", ".join(f"{r['corpus']} {fn(r)}" for r in main)

    def verdict(ok: bool) -> str:
        return "yes" if ok else "no"

    rows = []
    with_tf = [r for r in main if "torchfix" in r]
    if with_tf:
        ratios = [r["torchfix"]["wall"] / r["optimlint_cold"]["wall"] for r in with_tf]
        rows.append(("cold >= 100x faster than TorchFix", verdict(min(ratios) >= 100),
                     ", ".join(f"{r['corpus']} {x:.0f}x" for r, x in zip(with_tf, ratios))))
    with_ruff = [r for r in main if "ruff" in r]
    if with_ruff:
        ratios = [r["optimlint_cold"]["wall"] / r["ruff"]["wall"] for r in with_ruff]
        rows.append(("cold within 1.5x of `ruff --select ALL --no-cache`", verdict(max(ratios) <= 1.5),
                     ", ".join(f"{r['corpus']} {x:.2f}x ruff's wall" for r, x in zip(with_ruff, ratios))))
    if main:
        rows.append(("warm <= 1 s", verdict(all(r["optimlint_warm"]["wall"] <= 1 for r in main)),
                     each(lambda r: fmt_s(r["optimlint_warm"]["wall"]))))
        rss = [max(r[k]["maxrss_kib"] for k in ("optimlint_cold", "optimlint_fill", "optimlint_warm")) / 1024
               for r in main]
        rows.append(("peak RSS <= 300 MB", verdict(max(rss) <= 300),
                     ", ".join(f"{r['corpus']} {x:.0f} MB" for r, x in zip(main, rss))))
    for key, label, limit in (("precommit_clean", "clean file via pre-commit <= 60 ms (`python -m`)", 0.060),
                              ("precommit_script", "clean file via pre-commit <= 60 ms (the `optimlint` script)", 0.060),
                              ("script_1000", "1,000-line script with findings <= 400 ms", 0.400)):
        r = results.get(key)
        if r is not None:
            rows.append((label, verdict(r["wall"] <= limit), f"{r['wall'] * 1000:.0f} ms median"))
    if not rows:
        return []
    return ["", "| goal | met | this run |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]


def tree_env(tree: str) -> dict:
    """The environment that runs optimlint from source tree ``tree``."""
    return {**optimlint_env(), "PYTHONPATH": str(Path(tree).resolve())}


def interleaved(argv, cwd, trees: list[str], repeat: int) -> dict[str, dict]:
    """``repeat`` runs of ``argv`` per tree, the trees taking turns; per tree the run of median
    wall with every run's wall and CPU. ``cwd``: a folder, or one per tree (a dict)."""
    runs: dict[str, list[dict]] = {t: [] for t in trees}
    for _ in range(repeat):
        for tree in trees:
            runs[tree].append(measure(argv, cwd[tree] if isinstance(cwd, dict) else cwd, tree_env(tree)))
    out = {}
    for tree, rs in runs.items():
        best = dict(sorted(rs, key=lambda r: r["wall"])[len(rs) // 2])
        best["walls"] = [round(r["wall"], 3) for r in rs]
        best["cpus"] = [round(r["cpu"], 3) for r in rs]
        best["cpu_median"] = sorted(r["cpu"] for r in rs)[len(rs) // 2]
        out[tree] = best
    return out


def compare_trees(args, python: str) -> dict:
    """``--tree``: the single files and the corpora, each tree in turn (see the docstring)."""
    trees = args.tree
    results: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "system": platform.platform(),
                    "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg())},
        "trees": trees, "rows": [],
    }

    def row(label, per_tree):
        results["rows"].append({"what": label, "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
                                "trees": per_tree})
        print(f"... {label} done (load {results['rows'][-1]['load']})", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="optimlint-bench-") as tmp:
        work = Path(tmp)
        for tree in trees:  # bytecode of each tree compiled once, untimed
            subprocess.run(optimlint_argv(python, "--no-cache", str(REPO / "fixtures" / "train_loop.py")),
                           cwd=work, env=tree_env(tree), capture_output=True)
        (work / "serving.py").write_text(CLEAN_FILE)
        row("clean file via the pre-commit entry (`python -m optimlint check --force-exclude`)",
            interleaved([python, "-m", "optimlint", "check", "--force-exclude", "serving.py"], str(work), trees,
                        args.repeat))
        (work / "train_big.py").write_text(training_script())
        row("1,000-line training script with findings (`--no-cache`)",
            interleaved([python, "-m", "optimlint", "check", "--no-cache", "--exit-zero", "train_big.py"],
                        str(work), trees, args.repeat))
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        for name in args.corpus or list(CORPORA):
            src = fetch(name, python)
            files, lines = corpus_stats(src)
            what = f"{name} {wheel_version(name)} ({len(files)} files, {lines:,} lines)"
            row(f"{what}: cold (`--no-cache`)",
                interleaved(optimlint_argv(python, "--no-cache", *jobs, str(src)), str(work), trees,
                            args.corpus_repeat))

            # each tree its own cache (its own working folder), filled once, untimed
            folders = {}
            for i, tree in enumerate(trees):
                folder = work / f"{name}-{i}"
                folder.mkdir()
                subprocess.run(optimlint_argv(python, *jobs, str(src)), cwd=folder, env=tree_env(tree),
                               capture_output=True)
                folders[tree] = str(folder)
            row(f"{what}: warm (cache)",
                interleaved(optimlint_argv(python, *jobs, str(src)), folders, trees, args.corpus_repeat))
    results["machine"]["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return results


def trees_markdown(results: dict) -> str:
    m = results["machine"]
    trees = results["trees"]
    names = {t: Path(t).resolve().name for t in trees}
    head = " | ".join(f"`{names[t]}` wall | CPU" for t in trees)
    out = [f"Machine: {m['cpus']} CPUs ({m['processor']}), Python {m['python']}, {m['system']}; "
           f"load average {m['load_start']} at the start, {m['load_end']} at the end; {results['date']}. "
           "Medians per tree (the trees took turns); CPU = user + system of optimlint and its workers.", "",
           f"| measurement | load after | {head} | CPU {names[trees[-1]]} / {names[trees[0]]} |",
           "|---|---|" + "---|---|" * len(trees) + "---|"]
    for r in results["rows"]:
        cells = []
        for t in trees:
            x = r["trees"][t]
            cells.append(f"{fmt_ms(x['wall'])} | {fmt_ms(x['cpu_median'])}")
        ratio = r["trees"][trees[-1]]["cpu_median"] / r["trees"][trees[0]]["cpu_median"]
        out.append(f"| {r['what']} | {r['load']} | {' | '.join(cells)} | {ratio:.2f} |")
    out += ["", "Every run (wall / CPU, seconds):", ""]
    for r in results["rows"]:
        for t in trees:
            x = r["trees"][t]
            runs = ", ".join(f"{w:.2f}/{c:.2f}" for w, c in zip(x["walls"], x["cpus"]))
            out.append(f"- {r['what']}, `{names[t]}`: {runs}")
    return "\n".join(out) + "\n"


def fmt_ms(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else fmt_s(x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", choices=sorted(CORPORA),
                    help="corpora to run (default: all three)")
    ap.add_argument("--python", default=sys.executable, help="interpreter that has optimlint installed")
    ap.add_argument("--venv", default="/tmp/benchvenv", help="venv with torchfix and ruff")
    ap.add_argument("--torchfix-sample", type=int, default=40,
                    help="time TorchFix on N random files and extrapolate (0: skip TorchFix, "
                         "-1: the whole corpus)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None, help="optimlint --jobs (default: its own)")
    ap.add_argument("--serial", action="store_true", help="also time optimlint --jobs 1")
    ap.add_argument("--repeat", type=int, default=7, help="runs of the single-file timings")
    ap.add_argument("--tree", action="append", default=None,
                    help="an optimlint source tree (PYTHONPATH); repeat to compare trees, taking turns")
    ap.add_argument("--corpus-repeat", type=int, default=3, help="with --tree: runs of each corpus measurement")
    args = ap.parse_args(argv)
    if args.torchfix_sample < 0:
        args.torchfix_sample = None
    if args.tree:
        results_dir = HERE / "results"
        results_dir.mkdir(parents=True, exist_ok=True)
        results = compare_trees(args, args.python)
        text = trees_markdown(results)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (results_dir / f"{stamp}-trees.json").write_text(json.dumps(results, indent=2))
        (results_dir / f"{stamp}-trees.md").write_text(text)
        print(text)
        return 0

    results_dir = HERE / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "system": platform.platform(),
                    "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg())},
        "corpora": [],
    }
    env = optimlint_env()
    stamp = time.strftime("%Y%m%d-%H%M%S")

    def save() -> str:
        results["machine"]["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        text = markdown(results)
        (results_dir / f"{stamp}.json").write_text(json.dumps(results, indent=2))
        (results_dir / f"{stamp}.md").write_text(text)
        return text

    with tempfile.TemporaryDirectory(prefix="optimlint-bench-") as tmp:
        work = Path(tmp)
        # Compile optimlint's bytecode once (not timed).
        subprocess.run(optimlint_argv(args.python, "--no-cache", str(REPO / "fixtures" / "train_loop.py")),
                       cwd=work, env=env, capture_output=True)
        clean = work / "serving.py"
        clean.write_text(CLEAN_FILE)
        results["precommit_clean"] = median_wall(
            [args.python, "-m", "optimlint", "check", "--force-exclude", "serving.py"], str(work), env, args.repeat)
        entry = Path(args.python).parent / "optimlint"  # the console script pip installed
        if entry.exists():
            results["precommit_script"] = median_wall(
                [str(entry), "check", "--force-exclude", "serving.py"], str(work), env, args.repeat)
        script = work / "train_big.py"
        script.write_text(training_script())
        results["script_1000"] = median_wall(
            [args.python, "-m", "optimlint", "check", "--no-cache", "--exit-zero", "train_big.py"],
            str(work), env, args.repeat)
        results["script_1000"]["findings"] = results["script_1000"]["stdout_lines"]
        save()
        for name in args.corpus or list(CORPORA):
            print(f"... {name}", file=sys.stderr)
            results["corpora"].append(run_corpus(name, args, args.python, work))
            save()
    print(save())
    return 0


if __name__ == "__main__":
    sys.exit(main())
