"""What CI sees (issue 17, items 3-6 and 8): reports written into folders that do not exist
yet, GitHub annotations placed from ``GITHUB_WORKSPACE``, an empty selection refused,
statistics as JSON, OPT000 named when it is ignored, ``severity`` in JSON, and ``--diff``
counting the fixes ``--unsafe-fixes`` would add. Ruff's shapes, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import invoke, write

SOURCE = "def f():\n    flag_safe(1)\n    flag_plain()\n    flag_unsafe()\n"


@pytest.fixture
def project(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_WORKSPACE", "NO_COLOR", "FORCE_COLOR", "OPTIMLINT_OUTPUT_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    write(tmp_path / "src" / "train.py", SOURCE)
    return tmp_path


def run_module(cwd, *args, env=None):
    """``python -m optimlint`` in a subprocess: what CI runs (no fake rules there)."""
    full = {k: v for k, v in os.environ.items() if k not in ("GITHUB_WORKSPACE", "OPTIMLINT_DEBUG")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "optimlint", *args], cwd=cwd, capture_output=True,
                          text=True, env=full, timeout=120)


TRAIN = """\
import torch

def train(model, loader, opt):
    for x in loader:
        loss = model(x)
        loss.backward()
        opt.zero_grad()
        opt.step()
"""


# --------------------------------------------------------------------------- item 3: -o
@pytest.mark.parametrize("fmt", ["sarif", "json", "full"])
def test_output_file_in_a_missing_folder_is_created(tmp_path, fmt):
    write(tmp_path / "train.py", TRAIN)
    proc = run_module(tmp_path, "check", "--no-cache", "--output-format", fmt, "-o", "reports/lint/out.txt",
                      "train.py")
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "")
    text = (tmp_path / "reports" / "lint" / "out.txt").read_text()
    assert "OPT102" in text


def test_output_file_that_cannot_be_created_is_a_clear_error(tmp_path):
    write(tmp_path / "train.py", TRAIN)
    write(tmp_path / "blocker", "a file, not a folder\n")
    proc = run_module(tmp_path, "check", "--no-cache", "-o", "blocker/out.json", "train.py")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot write the report to blocker/out.json: ")
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- item 4: GitHub
def test_github_annotations_are_relative_to_the_workspace(project, monkeypatch):
    """Run from ``src/``: GitHub places ``file=`` relative to the repository (the workspace)."""
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project))
    monkeypatch.chdir(project / "src")
    lines = invoke(["check", "--output-format", "github"]).stdout.splitlines()
    assert lines[0] == ("::error title=optimlint (OPT604),file=src/train.py,line=2,col=5,endLine=2,endColumn=17::"
                        "train.py:2:5: OPT604 `flag_safe()` is flagged")
    assert all(",file=src/train.py," in line for line in lines)


def test_github_annotations_outside_the_workspace_are_absolute(project, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path_factory.mktemp("elsewhere")))
    line = invoke(["check", "--output-format", "github"]).stdout.splitlines()[0]
    assert f",file={project / 'src' / 'train.py'}," in line


def test_github_annotation_of_a_multiline_span_has_no_columns(tmp_path, monkeypatch, fake_rules):
    """GitHub takes ``col``/``endColumn`` only on a one-line span (Ruff leaves them out too)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    write(tmp_path / "m.py", "flag_plain(\n    1,\n)\n")
    (line,) = invoke(["check", "--output-format", "github"]).stdout.splitlines()
    assert line == "::error title=optimlint (OPT107),file=m.py,line=1,endLine=3::m.py:1:1: OPT107 `flag_plain()` is flagged"


# --------------------------------------------------------------------------- item 5: --select ''
@pytest.mark.parametrize("option", ["--select", "--extend-select", "--ignore"])
@pytest.mark.parametrize("value", ["", " ", "OPT1,", ",OPT1"])
def test_an_empty_selector_is_a_usage_error(project, option, value):
    """An unset variable in CI (``--select "$RULES"``) must not turn linting off."""
    result = invoke(["check", option, value])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"error: invalid value for `{option}`: empty rule selector in {value!r} "
                             f"(is a variable unset?)\n")


def test_an_empty_select_through_the_module_exits_2(tmp_path):
    write(tmp_path / "train.py", TRAIN)
    proc = run_module(tmp_path, "check", "--no-cache", "--select", "", "train.py")
    assert proc.returncode == 2 and "All checks passed" not in proc.stdout


# --------------------------------------------------------------------------- item 6: statistics, OPT000
def test_statistics_as_json_is_ruffs_array(project):
    write(project / "src" / "more.py", "flag_safe()\nflag_safe()\n")
    result = invoke(["check", "--statistics", "--output-format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {"code": "OPT604", "name": "forward-called-directly", "count": 3, "fixable": True, "fixable_count": 3},
        {"code": "OPT101", "name": "missing-zero-grad", "count": 1, "fixable": False, "fixable_count": 0},
        {"code": "OPT107", "name": "accumulated-loss-not-averaged", "count": 1, "fixable": False,
         "fixable_count": 0},
    ]
    assert result.stdout.startswith('[\n  {\n    "code": "OPT604",\n    "name"')  # pretty, Ruff's key order
    unsafe = json.loads(invoke(["check", "--statistics", "--output-format", "json", "--unsafe-fixes"]).stdout)
    assert unsafe[1] == {"code": "OPT101", "name": "missing-zero-grad", "count": 1, "fixable": True,
                         "fixable_count": 1}


def test_statistics_mark_a_partly_fixable_code(project, monkeypatch):
    """``[-]``: some findings of the code have a fix, some not (Ruff's marker)."""
    from optimlint.checks import base
    from optimlint.diagnostics import Fix

    class Partly(base.Check):
        codes = ("OPT304",)
        needles = (b"half",)

        def run(self, ctx):
            import libcst as cst

            out = []
            for node in ctx.module.body:
                call = node.body[0].value if isinstance(node, cst.SimpleStatementLine) else None
                if isinstance(call, cst.Call) and getattr(call.func, "value", "") == "half":
                    fix = Fix.safe("x", ctx.replace(call.func, "whole")) if not out else None
                    out.append(ctx.diagnostic("OPT304", call, "half", fix))
            return out

    monkeypatch.setattr(base, "_CHECKS", [*base._CHECKS, Partly])
    write(project / "src" / "halves.py", "half()\nhalf()\n")
    lines = invoke(["check", "--statistics"]).stdout.splitlines()
    assert lines[:4] == ["2\tOPT304\t[-] parameters-iterator-reused",
                         "1\tOPT101\t[ ] missing-zero-grad",
                         "1\tOPT107\t[ ] accumulated-loss-not-averaged",
                         "1\tOPT604\t[*] forward-called-directly"]


def test_statistics_json_with_no_finding_prints_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "ok.py", "x = 1\n")
    result = invoke(["check", "--statistics", "--output-format", "json"])
    assert (result.exit_code, result.stdout) == (0, "")


def test_statistics_in_another_format_is_refused(project):
    result = invoke(["check", "--statistics", "--output-format", "sarif"])
    assert result.exit_code == 2
    assert result.stderr == ("error: --statistics prints the full, concise or json format, "
                             "not `sarif`\n")


def test_ignoring_opt000_says_it_cannot_be_ignored(project):
    result = invoke(["check", "--ignore", "OPT000"])
    assert result.exit_code == 2
    assert result.stderr == ("error: invalid value for `--ignore`: `OPT000` (syntax-error) cannot be "
                             "ignored: a file that cannot be read or parsed is always reported\n")
    assert invoke(["check", "--select", "OPT000", "-q"]).exit_code == 0  # always on: selecting is harmless


def test_ignoring_opt000_in_the_config_is_an_error_with_its_line(project):
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1"]\nignore = ["OPT000"]\n')
    result = invoke(["check"])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {project / 'pyproject.toml'}:3: `OPT000` (syntax-error) cannot be "
                             f"ignored in `ignore`: a file that cannot be read or parsed is always reported\n")


# --------------------------------------------------------------------------- item 8: JSON, --diff
def test_json_carries_severity_in_ruffs_key_order(project):
    data = json.loads(invoke(["check", "--output-format", "json"]).stdout)
    assert {d["severity"] for d in data} == {"error"}
    assert list(data[0]) == ["cell", "code", "end_location", "filename", "fix", "location", "message", "name",
                             "noqa_row", "severity", "url"]


def test_diff_says_how_many_more_fixes_unsafe_fixes_would_add(project):
    result = invoke(["check", "--diff"])
    assert result.exit_code == 1
    assert result.stderr == "Would fix 1 error (1 additional fix available with `--unsafe-fixes`).\n"
    assert invoke(["check", "--diff", "--unsafe-fixes"]).stderr == "Would fix 2 errors.\n"


def test_diff_with_only_unsafe_fixes_says_so(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "u.py", "flag_unsafe()\nflag_unsafe()\n")
    result = invoke(["check", "--diff"])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "No errors would be fixed (2 fixes available with `--unsafe-fixes`).\n"
