"""Findings snapshot: every finding of one code tree on a set of corpora, in a canonical text.

A refactor that means to change nothing proves it by two snapshots that are byte-identical
(issue 12): take one before, one after, and compare::

    PYTHONPATH=<tree before> python scripts/findings_snapshot.py --out /tmp/before.txt
    PYTHONPATH=<tree after>  python scripts/findings_snapshot.py --out /tmp/after.txt
    python scripts/findings_snapshot.py --compare /tmp/before.txt /tmp/after.txt

The default corpora are the project's own: ``tests/real_world``, ``tests/mutation_corpus``,
``fixtures`` and ``examples``, plus every ``python`` block of every rule page (written to a
temporary folder as ``<CODE>_<section>_<n>.py``). More folders (for instance the research
repositories of ``benchmarks/sweeps``) are given as arguments; each is linted from its own root.

One line per finding, sorted: ``path:row:col CODE message-digest fix-digest`` where the
digests are the first 12 hex digits of SHA-1 of the message and of the fix's edits (``-`` for
none), and the path is relative to the corpus root with the corpus name in front. Everything
runs through the real CLI (``python -m optimlint check --no-cache --output-format json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = ("tests/real_world", "tests/mutation_corpus", "fixtures", "examples")
SECTIONS = ("Example", "Use instead", "When it stays silent")


def digest(value: object) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def lint(folder: Path, name: str) -> list[str]:
    """The canonical lines for every finding under ``folder`` (linted from it)."""
    proc = subprocess.run([sys.executable, "-m", "optimlint", "check", "--no-cache", "--exit-zero", "--isolated",
                           "--select", "OPT", "--output-format", "json", "."],
                          cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"optimlint failed on {folder}: {proc.stderr[-500:]}")
    lines = []
    for d in json.loads(proc.stdout or "[]"):
        path = Path(d["filename"])
        rel = path.relative_to(folder) if path.is_absolute() and path.is_relative_to(folder) else path
        loc = d["location"]
        lines.append(f"{name}/{rel.as_posix()}:{loc['row']}:{loc['column']} {d['code']} "
                     f"{digest(d['message'])} {digest(d.get('fix'))}")
    return lines


def rule_page_blocks(into: Path) -> None:
    """Write each python block of each rule page as its own file."""
    from optimlint.catalogue import pages_dir, parse_page

    for page in sorted(pages_dir().glob("OPT*.md")):
        code = page.stem
        parsed = parse_page(code, page.read_text(encoding="utf-8"))
        for section in SECTIONS:
            for n, block in enumerate(parsed.code_blocks(section)):
                slug = section.lower().replace(" ", "_")
                (into / f"{code}_{slug}_{n}.py").write_text(block, encoding="utf-8")


def snapshot(extra: list[Path], defaults: bool = True) -> list[str]:
    lines: list[str] = []
    if not defaults:
        return sorted(line for folder in extra for line in lint(folder.resolve(), folder.name))
    for rel in DEFAULT_CORPORA:
        folder = ROOT / rel
        if folder.is_dir():
            lines += lint(folder, rel)
    with tempfile.TemporaryDirectory() as tmp:
        rule_page_blocks(Path(tmp))
        lines += lint(Path(tmp), "rules")
    for folder in extra:
        lines += lint(folder.resolve(), folder.name)
    return sorted(lines)


def compare(a: Path, b: Path) -> int:
    before = a.read_text(encoding="utf-8").splitlines()
    after = b.read_text(encoding="utf-8").splitlines()
    gone = sorted(set(before) - set(after))
    new = sorted(set(after) - set(before))
    for line in gone:
        print(f"- {line}")
    for line in new:
        print(f"+ {line}")
    print(f"{len(before)} findings before, {len(after)} after: {len(gone)} gone, {len(new)} new")
    return 1 if gone or new else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="*", type=Path, help="more corpora, each linted from its own root")
    ap.add_argument("--out", type=Path, help="write the snapshot here (default: standard output)")
    ap.add_argument("--no-defaults", action="store_true", help="only the folders given, not the project's corpora")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                    help="compare two snapshots; exit 1 when they differ")
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    text = "".join(line + "\n" for line in snapshot(args.folders, defaults=not args.no_defaults))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
