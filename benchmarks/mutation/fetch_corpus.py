"""Recreate the mutation corpus from the manifest, out of local git mirrors.

The corpus is third-party code and is never committed: `manifest.tsv` names each training
file by repository, commit and path, and this script brings those files back:

    python benchmarks/mutation/fetch_corpus.py                 # every repository of the manifest
    python benchmarks/mutation/fetch_corpus.py --repo karpathy/nanoGPT

For each repository it expects a git mirror at `<mirrors>/<owner>+<name>/repo` (what the
session tool `fetch github:<owner>/<name>` leaves in /work/.mirror; a plain
`git clone --mirror https://github.com/<owner>/<name> <mirrors>/<owner>+<name>/repo`
makes the same), and writes the `.py` and `.ipynb` files of the manifest's commit to
`<root>/<owner>+<name>/` (default /work/corpora/research). All the repository's Python files
come out, not only the manifest's, because optimlint resolves classes and functions across
the project's files. A directory that is already there is used as it is (another sweep may
have put it there): nothing is deleted or overwritten. Blobs a mirror lacks (files over the
snapshot's size limit) are skipped and counted.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

DEFAULT_ROOT = Path("/work/corpora/research")
DEFAULT_MIRRORS = Path("/work/.mirror")
MANIFEST = Path(__file__).resolve().parent / "manifest.tsv"
SUFFIXES = (".py", ".ipynb")


def read_manifest(path: Path = MANIFEST) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t")]
    return rows


def git_dir(mirrors: Path, repo: str) -> Path:
    """The mirror's git directory (some snapshots are clones with a work tree: repo/.git)."""
    base = mirrors / repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def head_commit(mirrors: Path, repo: str) -> str:
    return subprocess.run(["git", "--git-dir", str(git_dir(mirrors, repo)), "rev-parse", "HEAD"],
                          check=True, capture_output=True, text=True).stdout.strip()


def extract(repo: str, commit: str, root: Path = DEFAULT_ROOT, mirrors: Path = DEFAULT_MIRRORS) -> tuple[Path, int, int]:
    """Write the repository's Python and notebook files at `commit` under `root`; returns
    (directory, files written, blobs missing from the mirror). Leaves an existing directory
    alone."""
    target = root / repo.replace("/", "+")
    if target.exists():
        return target, 0, 0
    gd = str(git_dir(mirrors, repo))
    listing = subprocess.run(["git", "--git-dir", gd, "ls-tree", "-r", "-z", commit],
                             check=True, capture_output=True).stdout.decode("utf-8", "replace")
    wanted = []
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "blob" and mode != "120000" and path.endswith(SUFFIXES):
            wanted.append((sha, path))
    partial = target.with_name(target.name + ".part")
    partial.mkdir(parents=True, exist_ok=True)
    batch = subprocess.Popen(["git", "--git-dir", gd, "cat-file", "--batch"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    written = missing = 0
    for sha, path in wanted:
        batch.stdin.write(f"{sha}\n".encode())
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            missing += 1
            continue
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)
        out = partial / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        written += 1
    batch.stdin.close()
    batch.wait()
    partial.rename(target)
    return target, written, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recreate the mutation corpus from manifest.tsv and git mirrors.")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS)
    parser.add_argument("--repo", action="append", help="only this owner/name (repeatable)")
    args = parser.parse_args(argv)
    pairs = sorted({(r["repo"], r["commit"]) for r in read_manifest(args.manifest)})
    failed = 0
    for repo, commit in pairs:
        if args.repo and repo not in args.repo:
            continue
        if not git_dir(args.mirrors, repo).exists():
            print(f"{repo}: no mirror at {git_dir(args.mirrors, repo)} (fetch github:{repo} first)", file=sys.stderr)
            failed += 1
            continue
        try:
            target, written, missing = extract(repo, commit, args.root, args.mirrors)
        except subprocess.CalledProcessError as err:
            print(f"{repo}: {commit} not in the mirror ({err.stderr.decode(errors='replace').strip()})", file=sys.stderr)
            failed += 1
            continue
        state = f"{written} files" + (f", {missing} missing from the mirror" if missing else "") if written or missing else "already there"
        print(f"{repo}@{commit[:10]} -> {target} ({state})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
