"""``optimlint check`` through the real CLI: output lines, summaries, exit codes, fixes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import invoke, write

SOURCE = """
def f():
    x = flag_safe(1)
    flag_unsafe()
    flag_plain()
    return x
"""


@pytest.fixture
def project(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    write(tmp_path / "pkg" / "train.py", SOURCE)
    return tmp_path


def test_full_output_excerpt_caret_and_summary(project):
    result = invoke(["check", "pkg"])
    assert result.exit_code == 1
    assert result.stdout == (
        "pkg/train.py:2:9: OPT604 [*] `flag_safe()` is flagged\n"
        "  |\n"
        "1 | def f():\n"
        "2 |     x = flag_safe(1)\n"
        "  |         ^^^^^^^^^^^^ OPT604\n"
        "3 |     flag_unsafe()\n"
        "4 |     flag_plain()\n"
        "  |\n"
        "  = help: Call `fixed_safe` instead\n"
        "\n"
        "pkg/train.py:3:5: OPT101 `flag_unsafe()` is flagged\n"
        "  |\n"
        "1 | def f():\n"
        "2 |     x = flag_safe(1)\n"
        "3 |     flag_unsafe()\n"
        "  |     ^^^^^^^^^^^^^ OPT101\n"
        "4 |     flag_plain()\n"
        "5 |     return x\n"
        "  |\n"
        "  = help: Call `fixed_unsafe` instead\n"
        "\n"
        "pkg/train.py:4:5: OPT107 `flag_plain()` is flagged\n"
        "  |\n"
        "2 |     x = flag_safe(1)\n"
        "3 |     flag_unsafe()\n"
        "4 |     flag_plain()\n"
        "  |     ^^^^^^^^^^^^ OPT107\n"
        "5 |     return x\n"
        "  |\n"
        "\n"
        "Found 3 errors. [*] 1 fixable with --fix (1 more with --unsafe-fixes).\n"
    )
    assert "\x1b[" not in result.stdout  # not a TTY: no colour


def test_concise_one_line_per_finding(project):
    result = invoke(["check", "--output-format", "concise", "pkg/train.py"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "pkg/train.py:2:9: OPT604 [*] `flag_safe()` is flagged",
        "pkg/train.py:3:5: OPT101 `flag_unsafe()` is flagged",
        "pkg/train.py:4:5: OPT107 `flag_plain()` is flagged",
        "Found 3 errors. [*] 1 fixable with --fix (1 more with --unsafe-fixes).",
    ]


def test_unsafe_fixes_flag_marks_unsafe_fixes_fixable(project):
    result = invoke(["check", "--output-format", "concise", "--unsafe-fixes"])
    assert "pkg/train.py:3:5: OPT101 [*] `flag_unsafe()` is flagged" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "Found 3 errors. [*] 2 fixable with --fix."


def test_quiet_prints_findings_only(project):
    result = invoke(["check", "-q", "--output-format", "concise"])
    assert result.stdout.splitlines() == [
        "pkg/train.py:2:9: OPT604 [*] `flag_safe()` is flagged",
        "pkg/train.py:3:5: OPT101 `flag_unsafe()` is flagged",
        "pkg/train.py:4:5: OPT107 `flag_plain()` is flagged",
    ]
    assert result.exit_code == 1


def test_clean_project_all_checks_passed(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "ok.py", "def f():\n    return fixed_safe(1)\n")
    result = invoke(["check"])
    assert result.stdout == "All checks passed!\n"
    assert result.exit_code == 0


@pytest.mark.parametrize("args, codes", [
    (["--select", "OPT1"], ["OPT101", "OPT107"]),
    (["--select", "OPT604"], ["OPT604"]),
    (["--select", "OPT6,OPT101"], ["OPT604", "OPT101"]),
    (["--select", "OPT1", "--ignore", "OPT107"], ["OPT101"]),
    (["--ignore", "OPT1"], ["OPT604"]),
    (["--select", "OPT604", "--extend-select", "OPT107"], ["OPT604", "OPT107"]),
    (["--select", "opt604"], ["OPT604"]),
])
def test_selection_by_code_and_prefix(project, args, codes):
    result = invoke(["check", "-q", "--output-format", "concise", *args])
    assert [line.split()[1] for line in result.stdout.splitlines()] == codes


def test_no_python_files_warns_and_passes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "notes.txt", "hello\n")
    result = invoke(["check"])
    assert (result.exit_code, result.stdout) == (0, "All checks passed!\n")
    assert result.stderr == "warning: No Python files found under the given path(s)\n"


def test_exit_zero(project):
    result = invoke(["check", "--exit-zero", "-q"])
    assert result.exit_code == 0
    assert "OPT604" in result.stdout


def test_unknown_selector_is_usage_error(project):
    result = invoke(["check", "--select", "OPT999"])
    assert result.exit_code == 2
    assert result.stderr == ("error: invalid value for `--select`: unknown rule selector `OPT999` "
                             "(run `optimlint rules` for the list of codes)\n")
    assert result.stdout == ""


def test_unknown_output_format_is_usage_error(project):
    result = invoke(["check", "--output-format", "xml"])
    assert result.exit_code == 2
    assert "Invalid value for '--output-format'" in result.stderr


def test_fix_applies_safe_fixes_and_reports_remaining(project):
    result = invoke(["check", "--fix", "--output-format", "concise"])
    assert (project / "pkg" / "train.py").read_text() == SOURCE.lstrip("\n").replace("flag_safe", "fixed_safe")
    assert result.stdout.splitlines() == [
        "pkg/train.py:3:5: OPT101 `flag_unsafe()` is flagged",
        "pkg/train.py:4:5: OPT107 `flag_plain()` is flagged",
        "Found 3 errors (1 fixed, 2 remaining). No fixes available (1 hidden fix can be enabled with "
        "--unsafe-fixes).",
    ]
    assert result.exit_code == 1
    # A second --fix changes nothing.
    again = invoke(["check", "--fix", "--output-format", "concise"])
    assert again.stdout.splitlines()[-1].startswith("Found 2 errors (0 fixed, 2 remaining).")


def test_fix_unsafe_and_show_fixes(project):
    result = invoke(["check", "--fix", "--unsafe-fixes", "--show-fixes", "--output-format", "concise"])
    text = (project / "pkg" / "train.py").read_text()
    assert "fixed_safe(1)" in text and "fixed_unsafe()" in text
    assert result.stdout.splitlines() == [
        "pkg/train.py:4:5: OPT107 `flag_plain()` is flagged",
        "Fixed 2 errors:",
        "- pkg/train.py:",
        "    1 × OPT101 (missing-zero-grad)",
        "    1 × OPT604 (forward-called-directly)",
        "",
        "Found 3 errors (2 fixed, 1 remaining).",
    ]
    assert result.exit_code == 1


def test_fix_everything_exits_zero(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "t.py", "flag_safe()\nflag_safe(2)\n")
    result = invoke(["check", "--fix"])
    assert result.exit_code == 0
    assert result.stdout == "Found 2 errors (2 fixed, 0 remaining).\n"
    assert (tmp_path / "t.py").read_text() == "fixed_safe()\nfixed_safe(2)\n"


def test_unsafe_fixes_from_config(project):
    write(project / "pyproject.toml", "[tool.optimlint]\nunsafe-fixes = true\n")
    invoke(["check", "--fix"])
    assert "fixed_unsafe()" in (project / "pkg" / "train.py").read_text()
    (project / "pkg" / "train.py").write_text(SOURCE)
    invoke(["check", "--fix", "--no-unsafe-fixes"])
    assert "flag_unsafe()" in (project / "pkg" / "train.py").read_text()


def test_diff_prints_unified_diff_and_changes_nothing(project):
    before = (project / "pkg" / "train.py").read_text()
    result = invoke(["check", "--diff"])
    assert (project / "pkg" / "train.py").read_text() == before
    assert result.stdout == (
        "--- pkg/train.py\n"
        "+++ pkg/train.py\n"
        "@@ -1,5 +1,5 @@\n"
        " def f():\n"
        "-    x = flag_safe(1)\n"
        "+    x = fixed_safe(1)\n"
        "     flag_unsafe()\n"
        "     flag_plain()\n"
        "     return x\n"
        "\n"
    )
    assert result.stderr == "Would fix 1 error (1 additional fix available with `--unsafe-fixes`).\n"
    assert result.exit_code == 1


def test_diff_with_nothing_to_fix_exits_zero(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "t.py", "flag_plain()\n")
    result = invoke(["check", "--diff"])
    assert result.stdout == ""
    assert result.stderr == "No errors would be fixed.\n"
    assert result.exit_code == 0


def test_statistics(project):
    write(project / "pkg" / "more.py", "flag_safe()\nflag_safe()\n")
    result = invoke(["check", "--statistics"])
    assert result.stdout.splitlines() == [
        "3\tOPT604\t[*] forward-called-directly",
        "1\tOPT101\t[ ] missing-zero-grad",
        "1\tOPT107\t[ ] accumulated-loss-not-averaged",
        "Found 5 errors. [*] 3 fixable with --fix (1 more with --unsafe-fixes).",
    ]
    assert result.exit_code == 1


def test_output_file(project):
    result = invoke(["check", "--output-format", "json", "-o", "report.json"])
    assert result.stdout == ""
    data = json.loads((project / "report.json").read_text())
    assert [d["code"] for d in data] == ["OPT604", "OPT101", "OPT107"]
    assert result.exit_code == 1


def test_missing_path_reported_and_other_files_linted(project):
    result = invoke(["check", "--output-format", "concise", "nothere.py", "pkg"])
    lines = result.stdout.splitlines()
    assert lines[0] == "nothere.py:1:1: OPT000 No such file or directory"
    assert "pkg/train.py:2:9: OPT604 [*] `flag_safe()` is flagged" in lines
    assert result.exit_code == 1


def test_unparsable_file_is_opt000_and_others_still_linted(project):
    write(project / "pkg" / "broken.py", "flag_safe(\ndef (:\n")
    result = invoke(["check", "--output-format", "concise"])
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pkg/broken.py:") and " OPT000 SyntaxError" in lines[0]
    assert "pkg/train.py:2:9: OPT604 [*] `flag_safe()` is flagged" in lines
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code == 1


def test_opt000_is_not_deselectable(project):
    write(project / "pkg" / "broken.py", "flag_safe(\n")
    result = invoke(["check", "--output-format", "concise", "--ignore", "OPT", "-q"])
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["OPT000"]


def test_undecodable_file_is_opt000(project):
    (project / "pkg" / "latin.py").write_bytes(b"flag_safe()\nx = '\xe9\xff'\n")
    result = invoke(["check", "--output-format", "concise", "-q"])
    assert any(line.startswith("pkg/latin.py:") and " OPT000 " in line for line in result.stdout.splitlines())
    assert result.exit_code == 1


def test_internal_error_exits_2_with_message(project, fake_rules, monkeypatch):
    def boom(self, ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(fake_rules, "run", boom)
    result = invoke(["check", "pkg/train.py"])
    assert result.exit_code == 2
    assert result.stderr == ("error: pkg/train.py: internal error: RuntimeError: kaboom "
                             "(set OPTIMLINT_DEBUG=1 for a traceback; please report it)\n")
    # a file that could not be checked is not a pass
    assert "All checks passed!" not in result.stdout
    assert result.stdout.endswith("No findings, but 1 file could not be checked (see the errors above).\n")


def test_color_only_when_forced_and_never_with_no_color(project, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    colored = invoke(["check", "--output-format", "concise"])
    assert "\x1b[" in colored.stdout
    monkeypatch.setenv("NO_COLOR", "1")
    plain = invoke(["check", "--output-format", "concise"])
    assert "\x1b[" not in plain.stdout


# --------------------------------------------------------------------------- rule / rules
def test_rules_lists_every_code():
    from optimlint.registry import RULES

    result = invoke(["rules"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "FIX", "RUNTIME"]
    assert [line.split()[0] for line in lines[1:]] == list(RULES)
    row = next(line for line in lines if line.startswith("OPT102 "))
    assert row.split()[1:3] == ["zero-grad-before-step", "safe"]


def test_rule_prints_page_or_summary():
    from optimlint.catalogue import page_text

    result = invoke(["rule", "OPT102"])
    assert result.exit_code == 0
    expected = page_text("OPT102")
    if expected is not None:
        assert result.stdout == expected.rstrip("\n") + "\n"
    else:
        assert result.stdout.startswith("# OPT102 (zero-grad-before-step)\n")
    assert invoke(["rule", "zero-grad-before-step"]).stdout == result.stdout


def test_rule_unknown_code_exits_2():
    result = invoke(["rule", "OPT999"])
    assert result.exit_code == 2
    assert result.stderr == "error: unknown rule code `OPT999` (run `optimlint rules` for the list of codes)\n"


# --------------------------------------------------------------------------- subprocess
def _python_m(args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "OPTIMLINT_DEBUG")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "optimlint", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)


def test_python_m_reports_syntax_error_json(tmp_path):
    write(tmp_path / "bad.py", "import torch.optim\nloss.backward(\n")
    write(tmp_path / "ok.py", "x = 1\n")
    proc = _python_m(["check", "--output-format", "json", "."], tmp_path)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data) == 1
    d = data[0]
    assert d["code"] == "OPT000" and d["name"] == "syntax-error"
    assert d["filename"] == str(tmp_path / "bad.py")
    assert d["location"]["row"] in (2, 3)
    assert d["fix"] is None


def test_python_m_clean_and_version(tmp_path):
    write(tmp_path / "ok.py", "x = 1\n")
    proc = _python_m(["check"], tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "All checks passed!\n")
    version = _python_m(["--version"], tmp_path)
    assert version.stdout.strip() == "optimlint, version 0.1.0"


def test_python_m_bad_config_exit_2(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1"]\nselcet = ["OPT2"]\n')
    write(tmp_path / "ok.py", "x = 1\n")
    proc = _python_m(["check"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {tmp_path / 'pyproject.toml'}:3: unknown key `selcet`")
    assert "Traceback" not in proc.stderr


def test_static_check_imports_neither_torch_nor_rich(tmp_path):
    write(tmp_path / "t.py", "import torch\nopt = torch.optim.SGD([], lr=0.1)\nopt.step()\n")
    code = ("import sys\nfrom optimlint.cli import main\n"
            "try:\n    main(['check', '-q', '.'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'rich') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_unwritable_file_with_fix_exits_2(project):
    if os.geteuid() == 0:
        pytest.skip("root can write read-only files")
    target = project / "pkg" / "train.py"
    target.chmod(0o444)
    (project / "pkg").chmod(0o555)
    try:
        result = invoke(["check", "--fix", "-q"])
    finally:
        (project / "pkg").chmod(0o755)
        target.chmod(0o644)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: pkg/train.py: cannot write the fixed file: ")


def test_debug_env_shows_traceback(project, fake_rules, monkeypatch):
    def boom(self, ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(fake_rules, "run", boom)
    monkeypatch.setenv("OPTIMLINT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="kaboom"):
        invoke(["check", "pkg/train.py"])
