"""How much of the training files LibCST could leave unparsed (issue 13's "parse only the
statements that can hold a finding"), measured three ways on the mutation manifest's files:

    python benchmarks/parse_skip.py [--root /work/corpora/research]

CPython's ``ast`` cuts each file into module-level units as ``optimlint.pieces`` does
(statements sharing a line are one unit; imports are the header). A unit *holds a needle*
when its text holds one of the checks' needles (the pre-filter's table: ``optim``,
``backward(``, ``sched``, ``parameters(``...) or one of the training words below. Then:

- **components**: the units joined by the module-level names they bind and mention (the
  pieces' reference graph, both ways); a component none of whose units holds a needle could
  be skipped: no name of it is read or written by the rest of the file.
- **closure**: the units that hold a needle and every unit binding a name they mention,
  transitively (callees kept, callers not). Not safe: a unit that only *calls* a kept
  function (``main()`` calling ``train()`` in a loop) is dropped, and the training model
  analyses that caller's scope with the callee inlined; listed as "callers dropped".
- **bodies**: the lines of function bodies (any depth) that hold no needle. Not safe either
  as a cut: a helper's body is inlined or summarised at its call sites, and one that passes
  an argument on to an unknown call makes that call site opaque.

For each, the lines kept and LibCST's parse CPU of the kept text (the units concatenated,
parsed as one module) against the whole files', least of ``--repeat`` runs taking turns.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from training_budget import DEFAULT_ROOT, training_files  # noqa: E402

from optimlint import pieces, prefilter  # noqa: E402
from optimlint.parsing import parse_module  # noqa: E402

# Words of the training step besides the checks' needles (the rules' own triggers).
TRAINING_WORDS = (b"step(", b"zero_grad", b"GradScaler", b"autocast", b".train(", b".eval(", b"requires_grad",
                  b"no_grad", b"param_groups", b"clip_grad", b"loss", b"caler")


def needles() -> re.Pattern[bytes]:
    table = prefilter._static_checks() or []
    words = {n for _, found, _ in table for n in found} | set(TRAINING_WORDS)
    return re.compile(b"|".join(re.escape(w) for w in sorted(words)))


def survey(text: str, pattern: re.Pattern[bytes]):
    """Per file: lines in all, kept by components, kept by closure, in needle-free function
    bodies, the texts kept by components and by closure, and the callers closure drops."""
    lines = pieces._LINES.findall(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(text)
    units = pieces._units(tree.body)
    found = pieces._Survey()
    found.add(units)
    header = {k for k, u in enumerate(units) if pieces._is_header(u[2])}
    body = [k for k in range(len(units)) if k not in header]

    def raw(first: int, last: int) -> bytes:
        return "".join(lines[first - 1:last]).encode("utf-8", "surrogatepass")

    holds = {k for k in body if pattern.search(raw(units[k][0], units[k][1]))}
    by_components = set(header)
    for comp, _ in pieces._components(body, found):
        if holds.intersection(comp):
            by_components.update(comp)
    binders: dict[str, list[int]] = {}
    for k in body:
        for name in found.bound[k]:
            binders.setdefault(name, []).append(k)
    closure = set(holds)
    todo = list(holds)
    while todo:
        k = todo.pop()
        for name in found.mentions[k]:
            for j in binders.get(name, ()):
                if j not in closure:
                    closure.add(j)
                    todo.append(j)
    kept_functions = {name for k in closure for name in found.bound[k]}
    callers = [k for k in body if k not in closure and found.mentions[k] & kept_functions]
    closure |= header

    def size(ks) -> int:
        return sum(units[k][1] - units[k][0] + 1 for k in ks)

    def text_of(ks) -> str:
        return "".join("".join(lines[units[k][0] - 1:units[k][1]]) for k in sorted(ks))

    quiet = 0
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first, last = node.body[0].lineno, node.end_lineno or node.lineno
            if not pattern.search(raw(node.lineno, last)):
                quiet += last - first + 1
                continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stack.extend(node.body)
        elif isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            stack.extend(ast.iter_child_nodes(node))
    return (len(lines), size(range(len(units))), size(by_components), size(closure), quiet,
            text_of(by_components), text_of(closure), len(callers))


def parse_cpu(texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        try:
            parse_module(text)
        except Exception:
            pass
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where fetch_corpus.py put the repositories")
    ap.add_argument("--repeat", type=int, default=3, help="parses of each set of texts (the least CPU is kept)")
    args = ap.parse_args(argv)
    pattern = needles()
    whole: list[str] = []
    comps: list[str] = []
    closures: list[str] = []
    totals = [0] * 5
    dropped_callers = 0
    for path in training_files(args.root):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        try:
            *counts, by_components, closure, callers = survey(text, pattern)
        except (SyntaxError, ValueError, RecursionError):
            continue
        totals = [a + b for a, b in zip(totals, counts)]
        whole.append(text)
        comps.append(by_components)
        closures.append(closure)
        dropped_callers += callers
    lines, in_units, by_components_lines, closure_lines, quiet = totals
    runs: list[list[float]] = [[], [], []]
    for _ in range(args.repeat):  # taking turns: the machine may be shared
        for k, texts in enumerate((whole, comps, closures)):
            runs[k].append(parse_cpu(texts))
    cpu = [min(r) for r in runs]
    print(f"{len(whole)} files, {lines:,} lines ({in_units:,} in module-level statements); "
          f"closure drops {dropped_callers} units that call a kept one\n")
    print("| kept | lines | share of the lines | LibCST parse CPU |")
    print("|---|---|---|---|")
    print(f"| whole files | {lines:,} | 100% | {cpu[0]:.2f} s |")
    print(f"| components holding a needle (+ imports) | {by_components_lines:,} | "
          f"{by_components_lines / lines:.1%} | {cpu[1]:.2f} s |")
    print(f"| closure from the units holding a needle (+ imports; unsafe) | {closure_lines:,} | "
          f"{closure_lines / lines:.1%} | {cpu[2]:.2f} s |")
    print(f"| function bodies without a needle (left out; unsafe) | {lines - quiet:,} | "
          f"{(lines - quiet) / lines:.1%} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
