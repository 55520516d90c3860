"""Recall of optimlint on real bug-fix commits mined from public repositories.

Each row of ``manifest.tsv`` names a commit that fixed a training-loop mistake, the file and
row of the mistake in the fix's parent, and the rule that should report it.  For every row this
script writes the parent's version of the file (with ``context=repo``: every ``.py`` file of the
repository at that commit, so project helpers resolve) into a temporary directory from the git
mirror, lints it as a user would (``python -m optimlint check --no-cache --isolated --output-format
json``), and does the same for the fixed version.

* caught: the expected code is reported within ``--window`` rows of the bug's row in the parent.
* fixed-alarm: on the fixed version, a finding of the expected code remains on the rows the fix
  touched (or with the very message of the caught finding): a false alarm to read.

Third-party code is never committed: the mirrors are read at run time
(``/work/.mirror/<owner>+<name>/repo``; elsewhere ``git clone --mirror``).
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TREE = HERE.parent.parent
MIRRORS = Path(os.environ.get("OPTIMLINT_MIRRORS", "/work/.mirror"))


@dataclass
class Bug:
    repo: str
    fix: str
    parent: str
    path: str
    row: int
    code: str
    context: str
    description: str

    @property
    def git_dir(self) -> Path:
        return MIRRORS / self.repo.replace("/", "+") / "repo"


def read_manifest(path: Path) -> list[Bug]:
    bugs = []
    with path.open(newline="") as handle:
        rows = csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t")
        for row in rows:
            bugs.append(
                Bug(
                    row["repo"],
                    row["fix"],
                    row["parent"],
                    row["path"],
                    int(row["row"]),
                    row["code"],
                    row["context"],
                    row["description"],
                )
            )
    return bugs


def _git(bug: Bug, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={bug.git_dir}", *args], check=True, capture_output=True).stdout


def materialise(bug: Bug, commit: str, into: Path) -> Path:
    """Write the file (or the repository's .py files) at ``commit`` under ``into``."""
    target = into / bug.path
    if bug.context == "repo":
        data = _git(bug, "archive", "--format=tar", commit, "--", "*.py")
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(into, filter="data")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_git(bug, "show", f"{commit}:{bug.path}"))
    return target


def lint(root: Path, target: Path) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(TREE))  # (``--tree``: another checkout's optimlint)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimlint",
            "check",
            "--no-cache",
            "--isolated",
            "--exit-zero",
            "-q",
            "--output-format",
            "json",
            str(target.relative_to(root)),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        return json.loads(out.stdout or "[]")
    except json.JSONDecodeError:
        sys.stderr.write(out.stdout[-2000:] + out.stderr[-2000:])
        return []


def touched_rows(bug: Bug) -> set[int]:
    """Rows of the fixed file that the fix added or changed."""
    diff = _git(bug, "diff", "-U0", bug.parent, bug.fix, "--", bug.path).decode(errors="replace")
    rows: set[int] = set()
    for match in re.finditer(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", diff, re.M):
        start, count = int(match.group(1)), int(match.group(2) or 1)
        rows.update(range(start, start + max(count, 1)))
    return rows


def measure(bug: Bug, window: int) -> dict:
    result = {"bug": bug, "caught": False, "near": [], "fixed_alarms": [], "error": None}
    if not bug.git_dir.is_dir():
        result["error"] = f"no mirror {bug.git_dir}"
        return result
    with tempfile.TemporaryDirectory(prefix="realbug-") as tmp:
        before = Path(tmp) / "before"
        after = Path(tmp) / "after"
        before.mkdir()
        after.mkdir()
        found = lint(before, materialise(bug, bug.parent, before))
        hits = [f for f in found if f["code"] == bug.code and abs(f["location"]["row"] - bug.row) <= window]
        result["caught"] = bool(hits)
        result["near"] = sorted({f["code"] for f in found if abs(f["location"]["row"] - bug.row) <= window})
        fixed = lint(after, materialise(bug, bug.fix, after))
        rows = touched_rows(bug)
        messages = {f["message"] for f in hits}
        result["fixed_alarms"] = [
            f
            for f in fixed
            if f["code"] == bug.code
            and (any(abs(f["location"]["row"] - r) <= window for r in rows) or f["message"] in messages)
        ]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest.tsv")
    parser.add_argument("--window", type=int, default=3, help="rows either side of the bug")
    parser.add_argument("--only", help="substring of repo or code to keep")
    parser.add_argument("--json", type=Path, help="write the per-bug results here")
    parser.add_argument("--tree", type=Path, help="lint with the optimlint of this checkout (default: this one)")
    args = parser.parse_args()
    if args.tree is not None:
        global TREE
        TREE = args.tree.resolve()
    bugs = read_manifest(args.manifest)
    if args.only:
        bugs = [b for b in bugs if args.only in b.repo or args.only == b.code]
    results = []
    for bug in bugs:
        res = measure(bug, args.window)
        results.append(res)
        status = "ERROR " + res["error"] if res["error"] else ("caught" if res["caught"] else "MISSED")
        alarm = f"  fixed-alarm x{len(res['fixed_alarms'])}" if res["fixed_alarms"] else ""
        print(
            f"{status:7} {bug.code} {bug.repo}@{bug.fix[:10]} {bug.path}:{bug.row}"
            f"  near={','.join(res['near']) or '-'}{alarm}",
            flush=True,
        )
        for finding in res["fixed_alarms"]:
            print(f"          fixed: {finding['location']['row']}: {finding['message'][:100]}")
    per_code: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for res in results:
        per_code[res["bug"].code][1] += 1
        per_code[res["bug"].code][0] += res["caught"]
    print("\n| rule | caught / bugs |\n|---|---|")
    for code in sorted(per_code):
        print(f"| {code} | {per_code[code][0]} / {per_code[code][1]} |")
    total = sum(r["caught"] for r in results)
    alarms = sum(bool(r["fixed_alarms"]) for r in results)
    print(f"| all | {total} / {len(results)} |\n\nfixed versions with the finding left: {alarms}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "repo": r["bug"].repo,
                        "fix": r["bug"].fix,
                        "path": r["bug"].path,
                        "row": r["bug"].row,
                        "code": r["bug"].code,
                        "caught": r["caught"],
                        "near": r["near"],
                        "error": r["error"],
                        "fixed_alarms": [(f["location"]["row"], f["code"], f["message"]) for f in r["fixed_alarms"]],
                    }
                    for r in results
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
