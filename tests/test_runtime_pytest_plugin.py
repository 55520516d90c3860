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
    from optimlint.runtime.report import joined_report  # noqa: F401 - and the lint it runs:

    # the checks are imported lazily on the first lint; imported inside a pytester run they
    # would be dropped from sys.modules afterwards and imported twice
    from optimlint.config import Settings
    from optimlint.lint import lint_source

    lint_source("warm.py", "import torch\nopt = torch.optim.Adam(p, weight_decay=0.1)\n", Settings())

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
    assert lines[0].endswith("backward passes since it was built: nothing cleared them (add `optimizer.zero_grad()`)] "
                             "(test test_train.py::test_forgets_zero_grad)")
    assert "optimlint runtime: 1 confirmed" in section
    assert "test_clean" not in result.stdout.str().split("optimlint runtime report")[1]


def test_strict_fails_the_session_on_a_confirmed_finding(pytester):
    pytester.makepyfile(test_train=BUGGY_TEST)
    result = pytester.runpytest_inprocess("--optimlint-strict", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    # the failure names the rule and the test that caused it
    result.stdout.fnmatch_lines(["optimlint: --optimlint-strict: failing the session on confirmed findings: "
                                 "OPT101 in test_train.py::test_forgets_zero_grad"])


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


END_OF_SESSION_TESTS = """
import torch
from torch import nn


def run(sched_per_batch):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    batches = [torch.randn(2, 4) for _ in range(4)]
    for epoch in range(3):
        for x in batches:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            if sched_per_batch:
                sched.step()


def test_per_batch_a():
    run(True)


def test_per_batch_b():
    run(True)


def test_never_steps():
    model = nn.Linear(4, 1)
    unused = torch.optim.Adam(model.parameters())
    for _ in range(3):
        model(torch.randn(2, 4)).sum().backward()
"""


def test_end_of_session_checks_carry_every_triggering_test(pytester):
    pytester.makepyfile(test_sched=END_OF_SESSION_TESTS)
    result = pytester.runpytest_inprocess("--optimlint", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    section = result.stdout.str().split("optimlint runtime report")[1]
    (opt202,) = [line for line in section.splitlines() if " OPT202 " in line]
    # at the scheduler's step; seen only at runtime, in two tests
    assert opt202.startswith("test_sched.py:17:17: OPT202 `StepLR` (period 2) was stepped 12 times for 12 steps of `opt` over 3 epochs ")
    assert opt202.endswith("(runtime only, tests test_sched.py::test_per_batch_a, test_sched.py::test_per_batch_b, "
                           "seen 2 times)")
    # the static finding (the unused optimizer) joined with the end-of-session check, with its test
    (opt104,) = [line for line in section.splitlines() if " OPT104 " in line]
    assert opt104.startswith("test_sched.py:30:14: OPT104 `unused` is built but never stepped")
    assert opt104.endswith("[confirmed: 3 backward passes reached the parameters of `unused` (`Adam`) but its "
                           "`step()` never ran] (test test_sched.py::test_never_steps)")


def test_report_file_and_ini_options(pytester):
    pytester.makepyfile(test_train=BUGGY_TEST)
    pytester.makeini("[pytest]\noptimlint = true\noptimlint_strict = true\noptimlint_report = out/rt.json\n")
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    import json

    report = json.loads((pytester.path / "out" / "rt.json").read_text())
    assert [(d["code"], d["runtime"], d["test"]) for d in report] == [
        ("OPT101", "confirmed", "test_train.py::test_forgets_zero_grad")]
    # the file counts what the terminal summary counts
    from test_runtime_join import json_counts, summary_counts

    (line,) = [line for line in result.outlines if line.startswith("optimlint runtime: ")]
    assert json_counts(report) == summary_counts(line)


@pytest.mark.slow
def test_xdist_workers_report_to_the_controller(tmp_path):
    """A real `pytest -n 2`: the workers' observations reach the controller's report, with
    their test ids, and --optimlint-strict fails the session there (it passed silently)."""
    pytest.importorskip("xdist")
    (tmp_path / "test_train.py").write_text(BUGGY_TEST)
    (tmp_path / "test_more.py").write_text(END_OF_SESSION_TESTS)
    cmd = [sys.executable, "-m", "pytest", "-n", "2", "--optimlint", "--optimlint-strict", "-p", "no:randomly",
           "-p", "no:cacheprovider", "--optimlint-report", "rt.json", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "5 passed" in proc.stdout
    import json

    report = json.loads((tmp_path / "rt.json").read_text())
    got = sorted((d["code"], d.get("test") or tuple(d.get("tests", ()))) for d in report
                 if d["runtime"] == "confirmed")
    assert got == [("OPT101", "test_train.py::test_forgets_zero_grad"),
                   ("OPT104", "test_more.py::test_never_steps"),
                   ("OPT202", ("test_more.py::test_per_batch_a", "test_more.py::test_per_batch_b"))]
    (strict_line,) = [line for line in proc.stdout.splitlines() if "--optimlint-strict: failing" in line]
    assert "OPT101 in test_train.py::test_forgets_zero_grad" in strict_line
