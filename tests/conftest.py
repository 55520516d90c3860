from __future__ import annotations

import textwrap

import pytest

from optimlint.config import Settings
from optimlint.fixing import fix_text
from optimlint.lint import lint_source


def lint(source: str, select: list[str] | None = None, path: str = "train.py", **settings) -> list:
    """Lint dedented ``source`` and return its diagnostics (noqa applied)."""
    cfg = Settings(select=select or ["OPT"], **settings)
    return lint_source(path, textwrap.dedent(source), cfg)


def codes_at(source: str, select: list[str] | None = None, **settings) -> list[tuple[str, int]]:
    """``[(code, row), ...]`` for ``source``: the shape most rule tests assert."""
    return [(d.code, d.location.row) for d in lint(source, select, **settings)]


def fixed(source: str, select: list[str], unsafe: bool = False) -> tuple[str, list[tuple[str, int]]]:
    """What ``--fix`` (``--unsafe-fixes``) writes for dedented ``source``, and the
    ``[(code, row), ...]`` a re-lint of that text still reports."""
    out = fix_text("train.py", textwrap.dedent(source), Settings(select=select), unsafe)
    return out.text, [(d.code, d.location.row) for d in out.remaining]


@pytest.fixture
def lint_fn():
    return lint


# --------------------------------------------------------------------------- shared samples
# A loop whose zero_grad sits between backward and step: OPT102 at 11:5, with a safe fix
# (the bad-input and fix-safety tests build their files from it).
OPT102_LOOP = """\
import torch
from torch import nn

model = nn.Linear(10, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
data = []

for x, y in data:
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
"""
OPT102_LOOP_FIXED = OPT102_LOOP.replace(
    "    loss.backward()\n    optimizer.zero_grad()\n",
    "    optimizer.zero_grad()\n    loss.backward()\n")
# How ``--output-format concise`` prints its finding, after ``path:11:5: ``.
OPT102_MESSAGE = ("OPT102 [*] `optimizer.zero_grad()` runs after the backward and before "
                  "`optimizer.step()`: the step sees no gradient; clear before the backward")


# A training function with two findings: OPT301 at 5:48-5:61 (a safe rename to `lr`) and
# OPT102 at 9:9-9:24 (a safe move); what the editor tests (server, Neovim, stdin) open.
TRAIN_TWO_FINDINGS = """\
import torch


def train(model, loader):
    opt = torch.optim.Adam(model.parameters(), learning_rate=1e-3)
    for x in loader:
        loss = model(x)
        loss.backward()
        opt.zero_grad()
        opt.step()
"""
TRAIN_OPT301_MESSAGE = ("`torch.optim.Adam` has no `learning_rate` argument (Keras's name; TypeError at "
                        "construction): use `lr`")
TRAIN_OPT102_MESSAGE = ("`opt.zero_grad()` runs after the backward and before `opt.step()`: the step sees no "
                        "gradient; clear before the backward")


# --------------------------------------------------------------------------- fake rules
# Rule-independent CLI/report tests need findings with and without fixes whatever the
# rule engineers' checks do. ``fake_rules`` installs, for one test only, a check that
# reports calls to ``flag_safe()`` (OPT604, safe fix -> ``fixed_safe()``), ``flag_unsafe()``
# (OPT101, unsafe fix -> ``fixed_unsafe()``) and ``flag_plain()`` (OPT107, no fix).
# Its class has no codes outside the fixture, so check discovery never picks it up.
FAKE_CODES = ("OPT604", "OPT101", "OPT107")


def _make_fake_check():
    import libcst as cst

    from optimlint.checks.base import Check
    from optimlint.diagnostics import Fix

    class FakeCheck(Check):
        codes = ()
        needles = (b"flag_",)

        def run(self, ctx):
            out = []

            class Visitor(cst.CSTVisitor):
                def visit_Call(self, node):
                    if not isinstance(node.func, cst.Name):
                        return
                    name = node.func.value
                    if name == "flag_safe":
                        fix = Fix.safe("Call `fixed_safe` instead", ctx.replace(node.func, "fixed_safe"))
                        out.append(ctx.diagnostic("OPT604", node, "`flag_safe()` is flagged", fix))
                    elif name == "flag_unsafe":
                        fix = Fix.unsafe("Call `fixed_unsafe` instead", ctx.replace(node.func, "fixed_unsafe"))
                        out.append(ctx.diagnostic("OPT101", node, "`flag_unsafe()` is flagged", fix))
                    elif name == "flag_plain":
                        out.append(ctx.diagnostic("OPT107", node, "`flag_plain()` is flagged"))

            ctx.module.visit(Visitor())
            return out

    return FakeCheck


@pytest.fixture
def fake_rules(monkeypatch):
    """Install the fake check (see above) for the duration of one test."""
    from optimlint.checks import base

    real = list(base.all_checks())
    fake = _make_fake_check()
    monkeypatch.setattr(fake, "codes", FAKE_CODES)
    monkeypatch.setattr(base, "_CHECKS", [*real, fake])
    yield fake


# --------------------------------------------------------------------------- CLI helpers
def cli_codes(folder, target: str = "train.py", select: str | None = None) -> list[tuple[str, int]]:
    """``[(code, row), ...]`` the real CLI reports for ``target``, run in ``folder`` (a small
    project the test wrote there: the other files are the project's)."""
    import json
    import os

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        args = ["check", "--no-cache", *(["--select", select] if select else []), "--output-format", "json", target]
        result = invoke(args)
    finally:
        os.chdir(cwd)
    return [(d["code"], d["location"]["row"]) for d in json.loads(result.stdout)]


def invoke(args, **kwargs):
    """Run the real click command in-process; ``result.stdout`` / ``result.stderr`` apart."""
    from click.testing import CliRunner

    from optimlint.cli import cli

    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)


def write(path, text: str):
    """Write dedented ``text`` to ``path`` (creating folders); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
