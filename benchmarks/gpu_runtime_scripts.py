"""The runtime corpus (`tests/runtime_scripts/`) run again with CUDA tensors.

Each script runs as its own `optimlint run --output-format json` process in which
``torch.set_default_device("cuda")`` is set first (and ``torch.Generator()`` without a device
makes a CUDA generator, so the scripts' seeded data is built on the GPU too): the models,
batches, gradients and optimizer states are CUDA tensors, and a script naming the CPU
(``GradScaler("cpu")``, ``autocast("cpu")``, ``.to("cpu")``) names CUDA instead. The confirmed codes must be the
script's ``# expect:`` line, as on the CPU (tests/test_runtime_scripts.py), with no hook error.
Framework scripts (Lightning, accelerate, the transformers Trainer) pick their own device and
are left to the CPU suite. Without CUDA it says so and exits 0.

Usage: ``python benchmarks/gpu_runtime_scripts.py [--device cuda|cpu] [--jobs N] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "tests" / "runtime_scripts"
FRAMEWORKS = ("lightning", "accelerate", "transformers")

# Runs inside the child: CUDA by default, then optimlint's own console entry.
PRELUDE = """
import sys, torch
device = sys.argv.pop(1)
torch.set_default_device(device)
class _DefaultDeviceGenerator(torch.Generator):
    def __new__(cls, device=None):
        return torch._C.Generator.__new__(cls, device if device is not None else torch.get_default_device())
torch.Generator = _DefaultDeviceGenerator
from optimlint.cli import main
sys.exit(main(sys.argv[1:]))
"""


def expected(path: Path) -> set[str]:
    value = path.read_text(encoding="utf-8").splitlines()[0][len("# expect: "):].strip()
    return set() if value == "-" else set(value.split())


def uses_framework(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return any(f"import {name}" in text or f"from {name}" in text for name in FRAMEWORKS)


def run_one(script: Path, device: str) -> tuple[str, str]:
    """Returns (verdict, detail): verdict is 'same', 'differs' or 'did not run'."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        # the scripts that name the CPU (GradScaler("cpu"), autocast("cpu"), .to("cpu"),
        # to_empty(device="cpu")) name the run's device instead
        copy = Path(tmp) / script.name
        copy.write_text(script.read_text(encoding="utf-8").replace('"cpu"', f'"{device}"'), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SCRIPTS), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, "-c", PRELUDE, device, "run", "--output-format", "json", "-o", str(out),
                               str(copy)], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
        if not out.exists():
            return "did not run", proc.stderr.strip().splitlines()[-1:] and proc.stderr.strip().splitlines()[-1]
        report = json.loads(out.read_text(encoding="utf-8"))
    confirmed = {d["code"] for d in report if d.get("runtime") == "confirmed"}
    errors = [d["message"] for d in report if d.get("runtime") == "error"]
    want = expected(script)
    ok_status = proc.returncode == 0 or (proc.returncode == 1 and want)
    if confirmed == want and not errors and ok_status:
        return "same", " ".join(sorted(confirmed)) or "-"
    tail = proc.stderr.strip().splitlines()[-1:] if not ok_status else []
    return "differs", f"expected {sorted(want)}, confirmed {sorted(confirmed)}, errors {errors}, exit {proc.returncode} {tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--jobs", type=int, default=1, help="scripts run at a time (each its own process)")
    parser.add_argument("--device", default="cuda", help="cpu checks the script itself on a machine without CUDA")
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_runtime_scripts: no CUDA device here: nothing to check (skipped)")
        return 0
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name() if args.device == 'cuda' else args.device}")
    names = sorted(p.name for p in SCRIPTS.glob("*.py") if not p.name.startswith("_"))
    if args.only:
        names = [n for n in names if n in args.only]

    def outcome(name: str) -> tuple[str, str]:
        script = SCRIPTS / name
        return ("skipped (framework)", "") if uses_framework(script) else run_one(script, args.device)

    tally: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(outcome, names))
    for name, (verdict, detail) in zip(names, outcomes):
        tally[verdict] = tally.get(verdict, 0) + 1
        print(f"{name:50s} {verdict:20s} {detail}", flush=True)
    print("; ".join(f"{k}: {v}" for k, v in sorted(tally.items())))
    return 0 if set(tally) <= {"same", "skipped (framework)"} else 1


if __name__ == "__main__":
    sys.exit(main())
