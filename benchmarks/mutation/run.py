"""Lint every training file of the manifest and each of its mutants; report recall per operator.

    python benchmarks/mutation/run.py                       # the whole manifest
    python benchmarks/mutation/run.py --jobs 2 --write-readme
    python benchmarks/mutation/run.py --manifest M --root DIR --json out.json

For each manifest file (recreated by fetch_corpus.py) the harness builds the mutants of its
training loops (`mutate.mutants_of`, units named in the manifest only; optimizer
constructions anywhere in the file), then lints the original and every mutant with the
installed optimlint, each as `optimlint check --no-cache --output-format json
--stdin-filename <the file's real path> -` run from the repository's root folder (where a
user runs `optimlint check .`): the text is linted as if it stood at its place in the
repository, so cross-file resolution sees the rest of the project exactly as for the
original.

Two ways to run that command, with the same outcomes (checked on real repositories, see
README.md): by default two long-lived worker processes each call optimlint's console entry
(`optimlint.cli.main`) in-process, with standard input, standard output and the working
folder set as a subprocess would have them, so start-up and the parse of the project's
other files (cached per process by path and mtime) are paid once per worker instead of
once per mutant; `--subprocess` starts a new `python -m optimlint` for every lint.

A mutant is *caught* when the expected code is reported inside its region (the mutated
unit, or the construction statement; for a deleted step also any finding that opens with the
optimizer's name, since OPT104 may be reported at its construction outside the unit) more times
than in the original; *missed* otherwise. Mutants the operator marked equivalent are counted apart with their
reason. Findings on the originals are listed for triage by reading.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import io
import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fetch_corpus import DEFAULT_ROOT, MANIFEST, read_manifest  # noqa: E402
from mutate import EXCLUSIONS, OPERATORS, Mutant, mutants_of  # noqa: E402
from sources import source_of  # noqa: E402

README = HERE.parent / "README.md"
SECTION = "## Mutation recall"


@dataclass
class Outcome:
    repo: str
    path: str
    operator: str
    code: str
    unit: str
    loop_line: int
    site_line: int
    excluded: str | None
    caught: bool
    before: int  # expected-code findings in the original's region
    after: int  # and in the mutant's
    new_codes: list[str] = field(default_factory=list)  # other codes the mutant added


def check_args(as_path: str, extra: tuple[str, ...]) -> list[str]:
    """The `optimlint` arguments that lint standard input as the file `as_path`."""
    return ["check", "--no-cache", "--output-format", "json", "--exit-zero", "-q", *extra,
            "--stdin-filename", as_path, "-"]


def findings_of(returncode: int, stdout: bytes, stderr: bytes, as_path: str) -> list[dict]:
    if returncode not in (0, 1):
        raise RuntimeError(f"optimlint failed on {as_path}: {stderr.decode(errors='replace')[-400:]}")
    out = stdout.decode("utf-8", "replace").strip()
    return json.loads(out) if out else []


def lint(text: str, as_path: str, command: list[str], extra: tuple[str, ...] = (), cwd: str | None = None) -> list[dict]:
    """optimlint's JSON findings for `text` linted as the file `as_path` from folder `cwd`
    (default: the file's own), by a new process."""
    proc = subprocess.run([*command, *check_args(as_path, extra)], input=text.encode("utf-8"), capture_output=True,
                          cwd=cwd or os.path.dirname(as_path) or ".")
    return findings_of(proc.returncode, proc.stdout, proc.stderr, as_path)


def lint_in_process(job: tuple[str, str, str | None, tuple[str, ...]]) -> list[dict]:
    """What `lint` returns, computed in this (worker) process by optimlint's console entry:
    the same arguments, the text on standard input, standard output and error captured, the
    same working folder, as `subprocess.run(..., cwd=...)` gives the CLI."""
    from optimlint.cli import main as optimlint_main

    text, as_path, cwd, extra = job
    saved = sys.stdin, sys.stdout, sys.stderr, os.getcwd()
    out, err = io.BytesIO(), io.BytesIO()
    # Held here until the end: a collected wrapper would close the buffer it wraps.
    streams = (io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8"),
               io.TextIOWrapper(out, encoding="utf-8", write_through=True),
               io.TextIOWrapper(err, encoding="utf-8", write_through=True))
    sys.stdin, sys.stdout, sys.stderr = streams
    returncode = 0
    try:
        os.chdir(cwd or os.path.dirname(as_path) or ".")
        optimlint_main(check_args(as_path, extra))
    except SystemExit as exc:
        returncode = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for stream in streams[1:]:
            stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved[:3]
        os.chdir(saved[3])
    return findings_of(returncode, out.getvalue(), err.getvalue(), as_path)


def lint_all(jobs_list: list[tuple[str, str, str]], jobs: int, in_process: bool, command: list[str],
             extra: tuple[str, ...], progress: bool) -> list[list[dict]]:
    """The findings of every (text, as_path, cwd), in order, at most two lints at a time.

    In-process workers keep their caches between lints; a worker is replaced after
    `WORKER_LINTS` lints so that what those caches hold stays bounded."""
    workers = max(1, min(jobs, 2))
    if in_process:
        pool = multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=WORKER_LINTS)
        found = pool.imap(lint_in_process, [(text, as_path, cwd, extra) for text, as_path, cwd in jobs_list])
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
        found = pool.map(lambda job: lint(job[0], job[1], command, extra, job[2]), jobs_list)
    results: list[list[dict]] = []
    with pool:
        for i, findings in enumerate(found):
            results.append(findings)
            if progress and i % 100 == 0:
                print(f"  linted {i}/{len(jobs_list)}", file=sys.stderr)
    return results


WORKER_LINTS = 400


def count(findings: list[dict], code: str, region: tuple[int, int], subject: str | None = None) -> int:
    """Findings of `code` inside `region`, or anywhere when their message opens with `subject`."""
    lo, hi = region
    named = f"`{subject}`" if subject else None
    return sum(1 for f in findings if f["code"] == code and (
        lo <= f["location"]["row"] <= hi or (named is not None and f["message"].startswith(named))))


def judge(m: Mutant, original: list[dict], mutant: list[dict]) -> tuple[bool, int, int, list[str]]:
    before = count(original, m.code, m.original_region, m.subject)
    after = count(mutant, m.code, m.region, m.subject)
    old = collections.Counter(f["code"] for f in original)
    new = collections.Counter(f["code"] for f in mutant)
    return after > before, before, after, sorted((new - old).keys() - {m.code})


def plan(manifest: list[dict], root: Path) -> list[tuple[dict, str, str, list[Mutant]]]:
    """(a manifest row of the file, text, lint-as path, mutants) for each manifest file."""
    units: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    first: dict[tuple[str, str], dict] = {}
    for row in manifest:
        key = (row["repo"], row["path"])
        units[key].add(row["locator"].rsplit("@", 1)[0])
        first.setdefault(key, row)
    out = []
    for key, row in first.items():
        path = root / row["repo"].replace("/", "+") / row["path"]
        if not path.exists():
            print(f"missing: {path} (run fetch_corpus.py)", file=sys.stderr)
            continue
        text, as_path = source_of(path)
        try:
            mutants, _ = mutants_of(text)
        except Exception as err:  # the harness's own reading failed: say so, go on
            print(f"unreadable: {path}: {err}", file=sys.stderr)
            continue
        mutants = [m for m in mutants if m.unit in units[key] or m.operator in CONSTRUCTION]
        out.append((row, text, as_path, mutants))
    return out


CONSTRUCTION = {"adam-weight-decay", "keras-kwargs", "drop-group-submodule"}


def run(manifest: list[dict], root: Path, jobs: int = 2, command: list[str] | None = None,
        progress: bool = False, extra: tuple[str, ...] = (),
        in_process: bool = True) -> tuple[list[Outcome], list[dict], dict]:
    """Lint every original and mutant (at most two at a time, in long-lived workers or, with
    `in_process` False, each by a new `command` process); `extra` is passed to `optimlint
    check` (the test uses `--ignore` to see misses counted)."""
    command = command or [sys.executable, "-m", "optimlint"]
    work = plan(manifest, root)
    jobs_list: list[tuple[str, str, str]] = []
    for row, text, as_path, mutants in work:
        repo_root = str(root / row["repo"].replace("/", "+"))  # where a user runs `optimlint check .`
        jobs_list.append((text, as_path, repo_root))
        jobs_list.extend((m.source, as_path, repo_root) for m in mutants)
    results = lint_all(jobs_list, jobs, in_process, command, extra, progress)
    outcomes: list[Outcome] = []
    originals: list[dict] = []
    it = iter(results)
    for row, text, as_path, mutants in work:
        original = next(it)
        for f in original:
            originals.append({"repo": row["repo"], "path": row["path"], "code": f["code"],
                              "row": f["location"]["row"], "message": f["message"]})
        for m in mutants:
            caught, before, after, new = judge(m, original, next(it))
            if not caught and not m.excluded and any(
                    f["code"] == m.code and f["location"]["row"] == m.site_line for f in original):
                m.excluded = "original-has-it"
            if not caught and not m.excluded and any(
                    f["code"] == m.code and f["location"]["row"] in m.evaluations for f in original):
                m.excluded = "original-reports-the-evaluation"
            outcomes.append(Outcome(row["repo"], row["path"], m.operator, m.code, m.unit, m.loop_line,
                                    m.site_line, m.excluded, caught, before, after, new))
    corpus = {
        "repositories": len({r["repo"] for r in manifest}),
        "files": len(work),
        "loops": sum(1 for r in manifest if (r["repo"], r["path"]) in {(w[0]["repo"], w[0]["path"]) for w in work}),
        "lines": sum(len(w[1].splitlines()) for w in work),
        "mutants": len(outcomes),
    }
    return outcomes, originals, corpus


def per_operator(outcomes: list[Outcome]) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for op, code in OPERATORS.items():
        mine = [o for o in outcomes if o.operator == op]
        live = [o for o in mine if not o.excluded]
        caught = sum(o.caught for o in live)
        table[op] = {
            "code": code, "mutants": len(mine), "excluded": len(mine) - len(live), "caught": caught,
            "missed": len(live) - caught, "rate": (caught / len(live)) if live else None,
            "exclusions": dict(collections.Counter(o.excluded for o in mine if o.excluded)),
        }
    return table


def markdown(table: dict[str, dict], corpus: dict, originals: list[dict], header: str, section: str = SECTION) -> str:
    lines = [section, "", header, "",
             f"Corpus: {corpus['loops']} training loops in {corpus['files']} files ({corpus['lines']:,} lines) "
             f"from {corpus['repositories']} repositories; {corpus['mutants']} mutants.", "",
             "| operator | expected | mutants | excluded (equivalent) | caught | missed | catch rate |",
             "|---|---|---|---|---|---|---|"]
    total = collections.Counter()
    for op, r in table.items():
        rate = f"{r['rate']:.0%}" if r["rate"] is not None else "—"
        lines.append(f"| {op} | {r['code']} | {r['mutants']} | {r['excluded']} | {r['caught']} | {r['missed']} | {rate} |")
        total.update({k: r[k] for k in ("mutants", "excluded", "caught", "missed")})
    live = total["caught"] + total["missed"]
    lines.append(f"| **all** | | {total['mutants']} | {total['excluded']} | {total['caught']} | {total['missed']} | "
                 f"{(total['caught'] / live if live else 0):.0%} |")
    reasons = collections.Counter()
    for r in table.values():
        reasons.update(r["exclusions"])
    if reasons:
        lines += ["", "Excluded as equivalent, by reason:", ""]
        lines += [f"- {n} × `{k}`: {EXCLUSIONS[k]}" for k, n in reasons.most_common()]
    codes = collections.Counter(f["code"] for f in originals)
    lines += ["", f"Findings on the unmutated originals: {len(originals)}"
              + (" (" + ", ".join(f"{c} {n}" for c, n in sorted(codes.items())) + ")" if codes else "") + "."]
    return "\n".join(lines) + "\n"


def write_readme(section: str, readme: Path = README, heading: str = SECTION) -> None:
    """Replace the `heading` section of `readme` by `section` (or append it)."""
    text = readme.read_text(encoding="utf-8")
    if heading + "\n" in text:
        start = text.index(heading + "\n")
        nxt = text.find("\n## ", start + len(heading))
        text = text[:start] + section + (text[nxt:] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutation recall of optimlint over real training loops.")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--jobs", type=int, default=2, help="concurrent lints (at most 2)")
    parser.add_argument("--subprocess", action="store_true",
                        help="lint each mutant by a new `python -m optimlint` process (slow; same outcomes)")
    parser.add_argument("--json", type=Path, help="write every outcome and original finding here")
    parser.add_argument("--repo", action="append", help="only this owner/name (repeatable)")
    parser.add_argument("--write-readme", action="store_true", help="replace the --section of benchmarks/README.md")
    parser.add_argument("--section", default=SECTION, help=f"the README heading written (default `{SECTION}`)")
    parser.add_argument("--note", default="", help="a sentence added under the section's heading")
    args = parser.parse_args(argv)
    manifest = [r for r in read_manifest(args.manifest) if not args.repo or r["repo"] in args.repo]
    outcomes, originals, corpus = run(manifest, args.root, args.jobs, progress=True, in_process=not args.subprocess)
    table = per_operator(outcomes)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    from optimlint import __version__ as version

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"Run of {when}, optimlint {version} at commit {commit}, "
              f"`python benchmarks/mutation/run.py --jobs {args.jobs}{' --subprocess' if args.subprocess else ''}` "
              f"over `benchmarks/mutation/{args.manifest.name}`."
              + (f" {args.note}" if args.note else ""))
    section = markdown(table, corpus, originals, header, args.section)
    print(section)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"corpus": corpus, "table": table, "outcomes": [asdict(o) for o in outcomes],
                                         "originals": originals}, indent=1), encoding="utf-8")
    if args.write_readme:
        write_readme(section, heading=args.section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
