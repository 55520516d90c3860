"""Precision sweep: run the order/AMP rules over real training code from PyPI wheels.

Downloads each package's wheel (no dependencies) into ``/tmp/ml/wheels`` and unzips it
into ``/tmp/ml/src/<pkg>/`` unless another run already did, then runs
``optimlint check --no-cache --output-format json --select OPT1,OPT306,OPT5`` on it and
prints the findings per rule per package, and every finding (``path:row:col CODE msg``)
for triage.

Usage::

    python scripts/sweep_rules.py                    # the default package list
    python scripts/sweep_rules.py timm trl           # some packages
    python scripts/sweep_rules.py --no-download      # only what is already unpacked
    python scripts/sweep_rules.py /tmp/ml/extra/*    # folders already unpacked elsewhere
    python scripts/sweep_rules.py --select OPT101    # other codes
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path("/tmp/ml")
WHEELS = ROOT / "wheels"
SRC = ROOT / "src"

DEFAULT = [
    "transformers", "diffusers", "accelerate", "lightning", "pytorch-lightning", "timm", "d2l",
    "skorch", "pytorch-ignite", "stable-baselines3", "trl", "torchtune", "ultralytics",
]


def _norm(name: str) -> str:
    return name.lower().replace("-", "_")


def ensure(pkg: str, download: bool) -> Path | None:
    """``/tmp/ml/src/<pkg>``, downloading and unzipping the wheel when missing."""
    dest = SRC / pkg
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    wheel = _find_wheel(pkg)
    if wheel is None and download:
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":none:",
                        "-q", "-d", str(WHEELS), pkg], check=False)
        wheel = _find_wheel(pkg)
    if wheel is None:
        print(f"# {pkg}: no wheel", file=sys.stderr)
        return None
    dest.mkdir(parents=True, exist_ok=True)
    if wheel.suffix == ".whl":
        with zipfile.ZipFile(wheel) as z:
            z.extractall(dest)
    else:
        subprocess.run(["tar", "-xf", str(wheel), "-C", str(dest)], check=False)
    return dest


def _find_wheel(pkg: str) -> Path | None:
    if not WHEELS.is_dir():
        return None
    stem = _norm(pkg)
    for f in sorted(WHEELS.iterdir()):
        n = f.name.lower()
        if _norm(n).startswith(stem + "_") and n.startswith((stem, pkg.lower())) and \
                n[len(stem) + 1:][:1].isdigit():
            return f
    return None


# A file can only fire these rules if it runs a backward or builds an LBFGS: lint only those
# (the engine's own pre-filter still parses every file that says "step").
CANDIDATE = re.compile(rb"backward|LBFGS")


def candidates(path: Path) -> list[str]:
    out = []
    for f in sorted(path.rglob("*.py")):
        try:
            if CANDIDATE.search(f.read_bytes()):
                out.append(str(f))
        except OSError:
            pass
    return out


def lint(path: Path, select: str, jobs: int) -> list[dict]:
    exe = Path(sys.executable).with_name("optimlint")
    files = candidates(path)
    found: list[dict] = []
    for i in range(0, len(files), 200):
        cmd = [str(exe) if exe.exists() else "optimlint", "check", "--no-cache", "--exit-zero",
               "--jobs", str(jobs), "--output-format", "json", "--select", select, *files[i:i + 200]]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        try:
            found += json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            print(f"# {path}: bad output\n{proc.stdout[:2000]}\n{proc.stderr[:2000]}", file=sys.stderr)
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("packages", nargs="*", default=DEFAULT)
    ap.add_argument("--select", default="OPT1,OPT306,OPT5")
    ap.add_argument("--no-download", action="store_true")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--quiet", action="store_true", help="only the per-rule table")
    args = ap.parse_args(argv)
    table: dict[str, collections.Counter] = {}
    for pkg in args.packages:
        dest = Path(pkg) if Path(pkg).is_dir() else ensure(pkg, not args.no_download)
        if dest is None:
            continue
        found = lint(dest, args.select, args.jobs)
        pkg = Path(pkg).name if Path(pkg).is_dir() else pkg
        table[pkg] = collections.Counter(d["code"] for d in found)
        if not args.quiet:
            for d in found:
                loc = d["location"]
                print(f"{d['filename']}:{loc['row']}:{loc['column']}: {d['code']} {d['message']}",
                      flush=True)
    codes = sorted({c for counts in table.values() for c in counts})
    print("\npackage".ljust(22) + " ".join(c.rjust(7) for c in codes) + "   total")
    for pkg, counts in table.items():
        print(pkg.ljust(21) + " ".join(str(counts.get(c, 0)).rjust(7) for c in codes)
              + str(sum(counts.values())).rjust(8))
    total = collections.Counter()
    for counts in table.values():
        total.update(counts)
    print("TOTAL".ljust(21) + " ".join(str(total.get(c, 0)).rjust(7) for c in codes)
          + str(sum(total.values())).rjust(8))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
