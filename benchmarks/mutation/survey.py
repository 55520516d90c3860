"""Find the training loops of fetched repositories and write the manifest's rows.

    python benchmarks/mutation/survey.py owner/name [owner/name ...] >> benchmarks/mutation/manifest.tsv

Each repository is extracted at its mirror's HEAD (`fetch_corpus.extract`), every `.py` and
`.ipynb` file is read with `training_sites`, and each training loop becomes one row:
`repo  commit  path  locator  kind`, where the locator is `<function qualname>@L<row>`
(the row of the outermost loop holding a backward and an optimizer step, or of the `def`
of a step function whose loop is in a caller) and kind is `loop` or `step-function`.
Vendored copies of big libraries (paths under `site-packages`, `third_party`, `vendor`)
and test files are skipped.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fetch_corpus import DEFAULT_MIRRORS, DEFAULT_ROOT, extract, head_commit  # noqa: E402
from sources import source_of  # noqa: E402
from training_sites import FileSites  # noqa: E402

SKIP = re.compile(r"(^|/)(site-packages|third_party|thirdparty|vendor|\.git|tests?)(/|$)|(^|/)test_[^/]*$")


def loops_of(text: str) -> list[tuple[str, int, str]]:
    try:
        sites = FileSites(text)
    except Exception:
        return []
    rows = []
    for unit in sites.units:
        if not unit.is_training:
            continue
        loops = unit.training_loops()
        if loops:
            rows.extend((unit.qualname, sites.line(lp.stmt), "loop") for lp in loops)
        else:
            rows.append((unit.qualname, unit.start, "step-function"))
    return rows


OTHER_FRAMEWORK = re.compile(r"^\s*(?:import|from)\s+(paddle|tensorflow|mindspore|oneflow|megengine|jittor|mxnet)\b", re.M)
TORCH_IMPORT = re.compile(r"^\s*(?:import|from)\s+torch\b", re.M)


def not_pytorch(text: str) -> bool:
    """A script of another framework that spells `backward()` and `step()` too (PaddlePaddle
    ports kept beside the PyTorch code): its loops are not PyTorch training loops."""
    return bool(OTHER_FRAMEWORK.search(text)) and not TORCH_IMPORT.search(text)


def survey(repo: str, root: Path, mirrors: Path, max_bytes: int = 400_000) -> list[str]:
    commit = head_commit(mirrors, repo)
    target, _, _ = extract(repo, commit, root, mirrors)
    rows = []
    for path in sorted(p for p in target.rglob("*") if p.suffix in (".py", ".ipynb") and p.is_file()):
        rel = path.relative_to(target).as_posix()
        if SKIP.search(rel) or path.stat().st_size > max_bytes:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if "backward" not in text or "step" not in text or not_pytorch(text):
            continue
        try:
            script, _ = source_of(path)
        except Exception:
            continue
        for qualname, line, kind in loops_of(script):
            rows.append(f"{repo}\t{commit}\t{rel}\t{qualname}@L{line}\t{kind}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write manifest rows for the training loops of fetched repositories.")
    parser.add_argument("repos", nargs="+")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS)
    args = parser.parse_args(argv)
    for repo in args.repos:
        try:
            rows = survey(repo, args.root, args.mirrors)
        except Exception as err:  # one broken mirror must not stop the survey
            print(f"{repo}: {err}", file=sys.stderr)
            continue
        print(f"{repo}: {len(rows)} training loops", file=sys.stderr)
        for row in rows:
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
