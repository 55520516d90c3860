"""`pytest --optimlint` with the real pytest (pytester): attribution to tests, the report
section, `--optimlint-strict`, and that the plugin stays inert (no torch) without the option."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

pytest.importorskip("torch")

BUGGY_TEST = """
import torch
from torch import nn


def make():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_clean():
    model, opt = make()
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(2, 4)).sum().backward()
        opt.step()


def test_forgets_zero_grad():
    model, opt = make()
    for _ in range(3):
        loss = model(torch.randn(2, 4)).sum()
        loss.backward()
        opt.step()
"""


@pytest.fixture(autouse=True, scope="module")
def _import_lazily_loaded_torch_modules():
    """pytester's in-process runs drop the modules imported during the run afterwards; torch's
    lazily imported parts (dynamo, inductor) cannot be imported twice, so load them here once."""
    import torch
    from torch import nn

    from optimlint.runtime.monitor import watch

    with watch():
        model = nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt.zero_grad()
        model(torch.randn(2, 4)).sum().backward()
        opt.step()


def test_report_attributes_the_finding_to_its_test(pytester):
    pytester.makepyfile(test_train=BUGGY_TEST)
    result = pytester.runpytest_inprocess("--optimlint", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    out = result.stdout.str()
    section = out.split("optimlint runtime report")[1]
    lines = [line for line in section.splitlines() if "OPT101" in line]
    assert len(lines) == 1
    # the static finding (at the backward) joined with what the run saw in that test
    assert lines[0].startswith("test_train.py:23:9: OPT101 ")
    assert lines[0].endswith("[confirmed] (test test_train.py::test_forgets_zero_grad)")
    assert "optimlint runtime: 1 confirmed" in section
    assert "test_clean" not in result.stdout.str().split("optimlint runtime report")[1]


def test_strict_fails_the_session_on_a_confirmed_finding(pytester):
    pytester.makepyfile(test_train=BUGGY_TEST)
    result = pytester.runpytest_inprocess("--optimlint-strict", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*--optimlint-strict: failing the session*"])


def test_strict_passes_a_clean_session(pytester):
    pytester.makepyfile(test_train=BUGGY_TEST.split("def test_forgets_zero_grad")[0])
    result = pytester.runpytest_inprocess("--optimlint-strict", "-p", "no:randomly")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["optimlint runtime: 0 confirmed*"])


def test_without_the_option_there_is_no_report_and_no_hook(pytester):
    pytester.makepyfile(test_train=BUGGY_TEST)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    assert result.ret == 0
    assert "optimlint runtime report" not in result.stdout.str()


def test_the_plugin_module_does_not_import_torch_without_the_option(tmp_path):
    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    pass\n")
    code = ("import sys, pytest\n"
            "rc = pytest.main(['-q', '-p', 'no:randomly', '-p', 'no:cacheprovider', %r])\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
            "sys.exit(rc)\n" % str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("NO-TORCH")
