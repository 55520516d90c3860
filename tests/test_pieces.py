"""A big file is linted in independent pieces (``optimlint/pieces.py``): the same findings,
rows and fixed text as linting it whole, in less memory.

``OPTIMLINT_PIECES_MIN_LINES`` lowers the size from which a file is cut (8,000 lines by
default), so that small files show every piece: here 1 (every component its own piece)
against a size no file reaches (whole, as before).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import invoke

WHOLE = "100000000"
PIECES = "1"

# Three module-level pieces besides the imports: a helper and the loop that calls it (one
# piece: the loop reads the helper's name), and a second loop that reads neither. The
# helper only logs, so the loop never clears (OPT101); without the helper beside it the
# call would be opaque and OPT101 silent.
PROGRAM = '''\
"""Two training functions that share nothing but the imports."""
import torch
from torch import nn  # noqa: OPT999


def log_step(opt, step):
    print("step", step, opt.param_groups[0]["lr"])


def train_logged(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step, (x, y) in enumerate(loader):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        log_step(opt, step)


def train_late_clear(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.zero_grad()
        opt.step()
'''

EXPECTED = [
    "train.py:3:23: OPT001 Invalid `noqa` directive: `OPT999` is not a rule code (run `optimlint rules` for the list)",
    "train.py:14:9: OPT101 `opt`'s gradients are never cleared in this loop: each `opt.step()` applies the sum "
    "of every backward so far; call `opt.zero_grad()` once per iteration",
    "train.py:24:9: OPT102 [*] `opt.zero_grad()` runs after the backward and before `opt.step()`: the step sees "
    "no gradient; clear before the backward",
]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(PROGRAM, encoding="utf-8")
    return tmp_path


def concise(monkeypatch, min_lines: str, *args: str):
    monkeypatch.setenv("OPTIMLINT_PIECES_MIN_LINES", min_lines)
    return invoke(["check", "--no-cache", "--output-format", "concise", *args])


def test_the_program_is_cut_into_a_piece_per_component(monkeypatch):
    from optimlint import pieces

    monkeypatch.setenv("OPTIMLINT_PIECES_MIN_LINES", PIECES)
    plan = pieces.plan(PROGRAM)
    assert plan is not None and len(plan.texts) == 3  # the docstring, helper + loop, the other loop
    lines = PROGRAM.splitlines(keepends=True)
    text, segments = plan.texts[1]
    # the imports it reads, log_step and train_logged as written (rows 2-16 of the file);
    # train_late_clear is not there
    assert text == "".join(lines[1:16])
    assert pieces.Rows(segments)(1) == 2 and pieces.Rows(segments)(15) == 16
    text, segments = plan.texts[2]  # the imports again, then train_late_clear from row 17
    assert text == "".join(lines[1:3] + lines[16:])
    rows = pieces.Rows(segments)
    assert [rows(r) for r in (1, 2, 3, 11)] == [2, 3, 17, 25]
    monkeypatch.setenv("OPTIMLINT_PIECES_MIN_LINES", WHOLE)
    assert pieces.plan(PROGRAM) is None


def test_findings_in_pieces_are_the_findings_of_the_whole_file(here, monkeypatch):
    whole = concise(monkeypatch, WHOLE, "train.py")
    cut = concise(monkeypatch, PIECES, "train.py")
    assert whole.exit_code == cut.exit_code == 1
    assert whole.stdout.splitlines()[:3] == EXPECTED  # the helper resolved: OPT101 fires
    assert cut.stdout == whole.stdout  # the header's noqa reported once, rows and columns exact


def test_a_loop_whose_helper_is_missing_is_opaque(tmp_path, monkeypatch):
    # What the reference graph prevents: the loop linted without the helper it calls.
    monkeypatch.chdir(tmp_path)
    text = PROGRAM.replace('def log_step(opt, step):\n    print("step", step, opt.param_groups[0]["lr"])\n', "")
    (tmp_path / "train.py").write_text(text, encoding="utf-8")
    out = concise(monkeypatch, WHOLE, "train.py").stdout
    assert "OPT101" not in out and "OPT102" in out


def test_fix_on_a_file_in_pieces_writes_the_whole_fixed_file(here, monkeypatch):
    result = concise(monkeypatch, PIECES, "--fix", "train.py")
    assert result.exit_code == 1
    fixed = PROGRAM.replace("        loss.backward()\n        opt.zero_grad()\n        opt.step()\n",
                            "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n")
    assert fixed != PROGRAM
    assert (here / "train.py").read_text(encoding="utf-8") == fixed
    assert result.stdout.splitlines()[:2] == EXPECTED[:2]  # what is left, at its rows
    # and the same as fixing it whole
    (here / "train.py").write_text(PROGRAM, encoding="utf-8")
    again = concise(monkeypatch, WHOLE, "--fix", "train.py")
    assert again.stdout == result.stdout
    assert (here / "train.py").read_text(encoding="utf-8") == fixed


def test_a_piece_with_nothing_to_find_is_not_parsed(monkeypatch):
    from optimlint.config import Settings
    from optimlint.lint import lint_source
    import optimlint.lint as lint

    monkeypatch.setenv("OPTIMLINT_PIECES_MIN_LINES", PIECES)
    parsed: list[str] = []
    real = lint.parse_text

    def spy(path, text, verdict):
        parsed.append(text)
        return real(path, text, verdict)

    monkeypatch.setattr(lint, "parse_text", spy)
    found = lint_source("train.py", PROGRAM, Settings())
    assert [d.code for d in found] == ["OPT001", "OPT101", "OPT102"]
    assert len(parsed) == 2  # the docstring's piece holds no needle: never parsed
    assert all("def " in text for text in parsed)


# A training function repeated under new names: independent components, each with OPT102.
COPY = textwrap.dedent('''\
    def train_{k}(model, loader):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.zero_grad()
            opt.step()


''')

RSS = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stdout.count("OPT102"))
"""


def test_a_big_file_in_pieces_takes_less_memory(tmp_path):
    copies = 700  # 6,300 lines: ~120 MB of LibCST tree when whole
    (tmp_path / "big.py").write_text("import torch\nfrom torch import nn\n\n\n"
                                     + "".join(COPY.format(k=k) for k in range(copies)), encoding="utf-8")
    peaks = {}
    for label, min_lines in (("whole", WHOLE), ("pieces", "1000")):
        env = {**os.environ, "OPTIMLINT_PIECES_MIN_LINES": min_lines,
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        out = subprocess.run([sys.executable, "-c", RSS, sys.executable, "-m", "optimlint", "check", "--no-cache",
                              "--jobs", "1", "--output-format", "concise", "big.py"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
        peaks[label] = int(out[0])
        assert int(out[1]) == copies  # every copy's OPT102, both ways
    assert peaks["pieces"] < 0.7 * peaks["whole"], peaks


# Module-level lines that look like the start of a statement but are not: inside a
# docstring, inside brackets, a clause of the statement above, a decorator.
AWKWARD = '''\
import torch

DOC = """
not a statement
def inside_a_string():
"""
values = [
1,
2,
]
if torch.cuda.is_available():
    device = "cuda"
else:
    device = "cpu"
try:
    import apex
except ImportError:
    apex = None
finally:
    pass


@torch.no_grad()
def evaluate(model):
    return model


def train(model, loader, opt):
    for x in loader:
        model(x).sum().backward()
        opt.step()
'''


def test_the_module_is_read_in_runs_of_whole_statements(monkeypatch):
    from optimlint import pieces

    monkeypatch.setenv("OPTIMLINT_PIECES_MIN_LINES", PIECES)
    whole = pieces.plan(AWKWARD)
    for size in (1, 2, 3, 5):
        monkeypatch.setattr(pieces, "CHUNK_LINES", size)
        cut = pieces.plan(AWKWARD)
        assert cut.texts == whole.texts
        assert cut.imports == whole.imports
    assert len(whole.texts) == 6  # DOC, values, the device branch, the apex import, evaluate, train
