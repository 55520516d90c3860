"""``optimlint check --stdin-filename PATH -``: standard input linted exactly as the file at
PATH would be (its config, per-file-ignores, noqa, excludes with --force-exclude), and with
``--fix`` the fixed source on stdout and the report on stderr, as Ruff does. Every test runs
the real command in a subprocess, as an editor plugin or a formatter hook does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import OPT102_LOOP, OPT102_LOOP_FIXED, TRAIN_TWO_FINDINGS, write

# OPT301 at 5:48 (a safe rename), OPT102 at 9:9 under a noqa, OPT102 at 15:9 (a safe move).
TRAIN = TRAIN_TWO_FINDINGS.replace("opt.zero_grad()\n", "opt.zero_grad()  # noqa: OPT102\n") + """\
    for x in loader:
        opt.zero_grad()
        loss = model(x)
        loss.backward()
        opt.zero_grad()
        opt.step()
"""
TRAIN_FIXED = TRAIN.replace("learning_rate=", "lr=").replace(
    "        loss = model(x)\n        loss.backward()\n        opt.zero_grad()\n        opt.step()\n",
    "        loss = model(x)\n        opt.zero_grad()\n        loss.backward()\n        opt.step()\n")
CONFIG = """\
[tool.optimlint]
select = ["OPT1", "OPT3"]
extend-exclude = ["generated"]

[tool.optimlint.per-file-ignores]
"legacy/*" = ["OPT301"]
"""


def optimlint(cwd, *args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "OPTIMLINT_OUTPUT_FORMAT")}
    return subprocess.run([sys.executable, "-m", "optimlint", *args], cwd=cwd, input=stdin, capture_output=True,
                          env=env, timeout=120)


def findings(proc) -> list[tuple[str, int, int, str]]:
    return [(d["code"], d["location"]["row"], d["location"]["column"], d["filename"])
            for d in json.loads(proc.stdout)]


@pytest.fixture
def project(tmp_path):
    write(tmp_path / "pyproject.toml", CONFIG)
    for path in ("train.py", "legacy/train.py", "generated/train.py"):
        write(tmp_path / path, TRAIN)
    return tmp_path


@pytest.mark.parametrize("path, expected", [
    ("train.py", [("OPT301", 5, 48), ("OPT102", 15, 9)]),
    ("legacy/train.py", [("OPT102", 15, 9)]),  # per-file-ignores, matched on the name given
])
def test_stdin_gives_what_the_file_on_disk_gives(project, path, expected):
    on_disk = optimlint(project, "check", "--no-cache", "--output-format", "json", path)
    piped = optimlint(project, "check", "--output-format", "json", "--stdin-filename", path, "-",
                      stdin=(project / path).read_bytes())
    assert (piped.returncode, piped.stdout, piped.stderr) == (on_disk.returncode, on_disk.stdout, on_disk.stderr)
    assert piped.returncode == 1
    assert findings(piped) == [(*e, str(project / path)) for e in expected]


def test_the_buffer_not_the_file_is_linted(project):
    """An editor pipes its unsaved buffer: what is on disk does not matter."""
    write(project / "train.py", "print('saved version')\n")
    piped = optimlint(project, "check", "--output-format", "concise", "--stdin-filename", "train.py", "-",
                      stdin=TRAIN.encode())
    assert piped.returncode == 1
    assert [line.split(": ")[1].split()[0] for line in piped.stdout.decode().splitlines()[:-1]] == ["OPT301", "OPT102"]
    assert piped.stdout.decode().startswith("train.py:5:48: OPT301 [*] `torch.optim.Adam` has no `learning_rate`")


def test_the_nearest_config_of_the_named_path(project):
    """The config is found from PATH, not from the current folder."""
    write(project / "sub" / "optimlint.toml", 'select = ["OPT3"]\n')
    piped = optimlint(project, "check", "--output-format", "json", "--stdin-filename", "sub/train.py", "-",
                      stdin=TRAIN.encode())
    assert [f[:3] for f in findings(piped)] == [("OPT301", 5, 48)]


def test_no_filename_lints_as_dash(project):
    piped = optimlint(project, "check", "--output-format", "concise", "-", stdin=TRAIN.encode())
    assert piped.returncode == 1
    assert piped.stdout.decode().splitlines()[0].startswith("-:5:48: OPT301 ")


def test_fix_writes_the_fixed_source_to_stdout_and_the_report_to_stderr(project):
    piped = optimlint(project, "check", "--fix", "--stdin-filename", "train.py", "-", stdin=TRAIN.encode())
    assert piped.stdout.decode() == TRAIN_FIXED
    assert piped.stderr.decode() == "Found 2 errors (2 fixed, 0 remaining).\n"
    assert piped.returncode == 0
    assert (project / "train.py").read_text() == TRAIN  # nothing written to disk
    # the same fixes as --fix on the file itself
    assert optimlint(project, "check", "--fix", "--no-cache", "train.py").returncode == 0
    assert (project / "train.py").read_text() == TRAIN_FIXED


def test_fix_with_remaining_findings_reports_them_on_stderr(project):
    source = TRAIN + "\n\ndef later(model):\n    return torch.optim.SGD(model, lr=0.1, nesterov=True)\n"
    piped = optimlint(project, "check", "--fix", "--output-format", "concise", "--stdin-filename", "train.py", "-",
                      stdin=source.encode())
    assert piped.stdout.decode() == TRAIN_FIXED + source[len(TRAIN):]
    assert piped.stderr.decode().splitlines() == [
        "train.py:20:43: OPT303 `SGD(nesterov=True)` with no `momentum` (default 0): PyTorch raises ValueError "
        '("Nesterov momentum requires a momentum and zero dampening"); set `momentum>0` and `dampening=0`',
        "Found 3 errors (2 fixed, 1 remaining)."]
    assert piped.returncode == 1


def test_fix_keeps_crlf_and_bom(project):
    raw = b"\xef\xbb\xbf" + OPT102_LOOP.replace("\n", "\r\n").encode()
    piped = optimlint(project, "check", "--fix", "--select", "OPT102", "--stdin-filename", "loop.py", "-", stdin=raw)
    assert piped.stdout == b"\xef\xbb\xbf" + OPT102_LOOP_FIXED.replace("\n", "\r\n").encode()


def test_diff_prints_the_diff_and_no_source(project):
    piped = optimlint(project, "check", "--diff", "--select", "OPT102", "--stdin-filename", "loop.py", "-",
                      stdin=OPT102_LOOP.encode())
    assert piped.returncode == 1
    assert piped.stdout.decode().splitlines()[:2] == ["--- loop.py", "+++ loop.py"]
    assert "-    optimizer.zero_grad()" in piped.stdout.decode()


@pytest.mark.parametrize("path", ["generated/train.py", ".venv/lib/train.py"])
def test_force_exclude_skips_an_excluded_path(project, path):
    plain = optimlint(project, "check", "--output-format", "json", "--stdin-filename", path, "-", stdin=TRAIN.encode())
    assert plain.returncode == 1  # named explicitly: linted, as a path on the command line is
    skipped = optimlint(project, "check", "--force-exclude", "--output-format", "json", "--stdin-filename", path,
                        "-", stdin=TRAIN.encode())
    assert (skipped.returncode, json.loads(skipped.stdout)) == (0, [])
    fixed = optimlint(project, "check", "--force-exclude", "--fix", "--stdin-filename", path, "-",
                      stdin=TRAIN.encode())
    assert (fixed.returncode, fixed.stdout) == (0, TRAIN.encode())  # handed back unchanged


def test_a_syntax_error_is_opt000_at_its_place(project):
    piped = optimlint(project, "check", "--output-format", "concise", "--stdin-filename", "x.py", "-",
                      stdin=b"def f(:\n    pass\n")
    assert piped.returncode == 1
    assert piped.stdout.decode().splitlines()[0] == "x.py:1:7: OPT000 SyntaxError: invalid syntax"


def test_undecodable_input_is_opt000(project):
    piped = optimlint(project, "check", "--output-format", "concise", "--stdin-filename", "x.py", "-",
                      stdin=b"x = '\xff'\n")
    assert piped.returncode == 1
    assert piped.stdout.decode().splitlines()[0].startswith("x.py:1:6: OPT000 cannot decode the file as UTF-8")


def test_a_notebook_on_stdin(project):
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Training\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
         "source": OPT102_LOOP.splitlines(keepends=True)}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    raw = json.dumps(nb, indent=1).encode()
    write(project / "nb.ipynb", raw.decode())
    piped = optimlint(project, "check", "--output-format", "concise", "--stdin-filename", "nb.ipynb", "-", stdin=raw)
    assert piped.stdout.decode().splitlines()[0].startswith("nb.ipynb:cell 2:11:5: OPT102 ")
    fixed = optimlint(project, "check", "--fix", "--stdin-filename", "nb.ipynb", "-", stdin=raw)
    assert optimlint(project, "check", "--fix", "--no-cache", "nb.ipynb").returncode == 0
    assert fixed.stdout == (project / "nb.ipynb").read_bytes()
    assert "".join(json.loads(fixed.stdout)["cells"][1]["source"]) == OPT102_LOOP_FIXED


@pytest.mark.parametrize("args, message", [
    (["-", "train.py"], "error: `-` (standard input) cannot be combined with other paths\n"),
    (["--stdin-filename", "a.py", "train.py"], "error: --stdin-filename names standard input: give `-` as the only path\n"),
    (["--watch", "-"], "error: --watch cannot read standard input\n"),
])
def test_usage_errors(project, args, message):
    proc = optimlint(project, "check", *args, stdin=b"")
    assert (proc.returncode, proc.stderr.decode()) == (2, message)
