"""A run where no file can contain a finding never imports LibCST or rich (pre-commit speed),
and a file that is linted computes each piece of LibCST metadata once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import write
from optimlint import prefilter

PROBE = textwrap.dedent("""
    import json, sys
    from optimlint.cli import main
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    heavy = sorted(m for m in ("libcst", "rich", "torch") if m in sys.modules)
    print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""")


def probe(cwd, *args) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, "check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.fixture
def clean_tree(tmp_path):
    write(tmp_path / "app" / "server.py", """
        import os

        def handler(request):
            return {"path": os.getcwd(), "method": request.method}
    """)
    write(tmp_path / "app" / "utils.py", "def add(a, b):\n    return a + b\n")
    write(tmp_path / "app" / "nb.ipynb", json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": ["print('hello')\n"]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return tmp_path


@pytest.mark.parametrize("args", [["--no-cache"], [], ["--jobs", "1"], ["--force-exclude", "app/server.py"],
                                  ["--output-format", "json"], ["--statistics"]])
def test_no_candidate_imports_neither_libcst_nor_rich(clean_tree, args):
    paths = [] if any(a.endswith(".py") for a in args) else ["app"]
    out = probe(clean_tree, *args, *paths)
    assert out == {"code": 0, "heavy": []}


def test_a_cached_candidate_imports_nothing_heavy_either(clean_tree):
    write(clean_tree / "app" / "train.py", """
        import torch

        def train(model, loader, opt):
            for x in loader:
                opt.zero_grad()
                model(x).backward()
                opt.step()
    """)
    assert probe(clean_tree, "app")["heavy"] == ["libcst"]  # control: a candidate is parsed
    assert probe(clean_tree, "app") == {"code": 0, "heavy": []}  # the second run is all cache


def test_a_syntax_error_in_a_clean_file_is_still_reported(clean_tree):
    write(clean_tree / "app" / "bad.py", "def f(:\n    return 1\n")
    out = probe(clean_tree, "--no-cache", "app")
    assert out["code"] == 1  # OPT000; LibCST confirms what CPython rejects


def test_static_needles_match_the_imported_checks():
    """The pre-filter's table (read from the checks' source) is the checks' own."""
    from optimlint.checks.base import all_checks

    static = prefilter._read_checks_statically()
    assert static is not None
    imported = sorted((sorted(c.codes), c.needles, c.requires) for c in all_checks())
    assert sorted((sorted(codes), needles, requires) for codes, needles, requires in static) == imported


def test_static_reader_reads_multiline_and_inherited_needles(tmp_path, monkeypatch):
    checks = tmp_path / "optimlint" / "checks"
    write(checks / "base.py", """
        class Check:
            codes: ClassVar[tuple[str, ...]] = ()
            needles: ClassVar[tuple[bytes, ...]] = (b"optim", b"backward")
            requires: ClassVar[tuple[tuple[bytes, ...], ...]] = ()
    """)
    write(checks / "family.py", """
        class Helper:
            codes = ("NOT",)

        class First(Check):
            codes = ("OPT201",
                     "OPT202")  # a comment
            needles = (b"sched(",  # parentheses inside the bytes
                       b"x)")
            requires = ((rb"opt\\w*\\.step\\(",
                         rb"backward\\("),)

        def between():
            needles = (b"ignored",)

        class Second(First):
            codes = ("OPT203",)

        class Third(base.Check):
            codes = ("OPT204",)
    """)
    monkeypatch.setattr(prefilter, "__file__", str(tmp_path / "optimlint" / "prefilter.py"))
    table = sorted((sorted(c), n, r) for c, n, r in prefilter._read_checks_statically())
    first = ((rb"opt\w*\.step\(", rb"backward\("),)
    assert table == [(["OPT201", "OPT202"], (b"sched(", b"x)"), first), (["OPT203"], (b"sched(", b"x)"), first),
                     (["OPT204"], (b"optim", b"backward"), ())]
    write(checks / "odd.py", """
        class Fourth(Check):
            codes = ("OPT205",)
            needles = NEEDLES
    """)
    monkeypatch.setattr(prefilter, "_STATIC", False)
    assert prefilter._static_checks() is None  # unsure: the engine imports the checks
    assert prefilter.may_fire(b"loss.backward()", {"OPT101"})


def test_may_fire_follows_selection():
    assert prefilter.may_fire(b"loss.backward()", {"OPT101"})
    assert not prefilter.may_fire(b"def add(a, b): return a + b", {"OPT101", "OPT301"})
    assert not prefilter.may_fire(b"loss.backward()", {"OPT000"})


def test_metadata_is_computed_once_per_file(monkeypatch, lint_fn):
    """Every check of a candidate file shares one position computation and one tree index
    (which gives the parents and every walk)."""
    from optimlint.analysis import positions, walk

    resolved = []
    for cls in (positions.Positions, walk.Index):
        def counting(self, *args, _real=cls.__init__, _name=cls.__name__):
            resolved.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(cls, "__init__", counting)
    diagnostics = lint_fn("""
        import torch
        from torch.cuda.amp import GradScaler

        def train(model, loader, epochs):
            opt = torch.optim.Adam(model.parameters(), learning_rate=1e-3)
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
            scaler = GradScaler()
            for epoch in range(epochs):
                for x, y in loader:
                    loss = model(x, y)
                    scaler.scale(loss).backward()
                    opt.step()
                    sched.step()
                    opt.zero_grad()
    """)
    assert len({d.code[:4] for d in diagnostics}) >= 2  # several checks reported
    assert sorted(resolved) == ["Index", "Positions"], resolved


@pytest.mark.parametrize("text, value", [
    ('(b"a", b"b")', (b"a", b"b")),
    ('((rb"x\\(", rb"y"),)', ((b"x\\(", b"y"),)),
    ('("OPT1",\n "OPT2")', ("OPT1", "OPT2")),
])
def test_the_static_reader_reads_literals(text, value):
    assert prefilter._literal(text) == value


@pytest.mark.parametrize("text", ["NEEDLES", "().__class__", "(lambda: 1)()", 'tuple(x for x in "ab")',
                                  "__import__('os')"])
def test_the_static_reader_runs_nothing_but_literals(text):
    with pytest.raises(ValueError):
        prefilter._literal(text)
