"""Adopting optimlint on an existing codebase (issue 17 item 6 and "What to build"): OPT001
(invalid noqa) and OPT002 (unused noqa) as Ruff's RUF100 warns, ``--add-noqa``, and
``--preview`` gating. Through ``python -m optimlint``, with exact output."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import invoke, write

SGD = "torch.optim.SGD(model.parameters(), "


def optimlint(cwd, *args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_WORKSPACE", "OPTIMLINT_DEBUG", "OPTIMLINT_OUTPUT_FORMAT", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "optimlint", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def concise(cwd, *args):
    return optimlint(cwd, "check", "--isolated", "--no-cache", "-q", "--output-format", "concise", *args)


# --------------------------------------------------------------------------- OPT002
def test_unused_codes_are_reported_and_removed_by_fix(tmp_path):
    write(tmp_path / "train.py", f"""\
        import torch
        a = {SGD}lr=0.1)  # noqa: OPT301
        b = {SGD}lr=0.1)  # noqa: E501, OPT301
        c = {SGD}learning_rate=0.1)  # noqa: OPT301
        d = {SGD}lr=0.1)  # noqa
        e = {SGD}lr=0.1)  # noqa: E501
    """)
    result = concise(tmp_path, "train.py")
    assert result.stdout.splitlines() == [
        "train.py:2:50: OPT002 [*] Unused `noqa` directive (unused: `OPT301`)",
        "train.py:3:50: OPT002 [*] Unused `noqa` directive (unused: `OPT301`)",
    ]
    assert result.returncode == 1
    fixed = optimlint(tmp_path, "check", "--isolated", "--fix", "-q", "train.py")
    assert fixed.returncode == 0
    assert (tmp_path / "train.py").read_text().splitlines()[1:] == [
        f"a = {SGD}lr=0.1)",
        f"b = {SGD}lr=0.1)  # noqa: E501",  # another tool's code stays
        f"c = {SGD}learning_rate=0.1)  # noqa: OPT301",
        f"d = {SGD}lr=0.1)  # noqa",  # a bare noqa may serve another tool
        f"e = {SGD}lr=0.1)  # noqa: E501",
    ]
    assert concise(tmp_path, "train.py").returncode == 0


def test_a_code_of_a_rule_that_is_not_enabled_is_reported_as_ruff_does(tmp_path):
    """Ruff 0.17's RUF100 reports ``# noqa: F841`` with F841 not selected (or per-file
    ignored) as ``Unused `noqa` directive (non-enabled: `F841`)``, and --fix removes it:
    in that run it silences nothing. Other tools' codes stay alone."""
    write(tmp_path / "train.py", f"""\
        import torch
        a = {SGD}lr=0.1)  # noqa: OPT101
        b = {SGD}lr=0.1, nesterov=True)  # noqa: OPT303, OPT101, E501
        c = {SGD}learning_rate=0.1)  # noqa: OPT301, OPT204
    """)
    assert concise(tmp_path, "--select", "OPT3,OPT0", "train.py").stdout.splitlines() == [
        "train.py:2:50: OPT002 [*] Unused `noqa` directive (non-enabled: `OPT101`)",
        "train.py:3:65: OPT002 [*] Unused `noqa` directive (non-enabled: `OPT101`)",
        "train.py:4:61: OPT002 [*] Unused `noqa` directive (non-enabled: `OPT204`)",
    ]
    assert concise(tmp_path, "--select", "OPT0,OPT1", "train.py").stdout.splitlines() == [
        "train.py:2:50: OPT002 [*] Unused `noqa` directive (unused: `OPT101`)",
        "train.py:3:65: OPT002 [*] Unused `noqa` directive (unused: `OPT101`; non-enabled: `OPT303`)",
        "train.py:4:61: OPT002 [*] Unused `noqa` directive (non-enabled: `OPT301`, `OPT204`)",
    ]
    # per-file-ignores switch a rule off for the file: its codes are non-enabled there too
    write(tmp_path / "optimlint.toml", 'per-file-ignores = { "train.py" = ["OPT2"] }\n')
    result = optimlint(tmp_path, "check", "--no-cache", "-q", "--output-format", "concise", "train.py")
    assert result.stdout.splitlines()[-1] == "train.py:4:61: OPT002 [*] Unused `noqa` directive (non-enabled: `OPT204`)"
    fixed = optimlint(tmp_path, "check", "--fix", "-q", "--select", "OPT0,OPT3", "train.py")
    assert fixed.returncode == 0
    assert (tmp_path / "train.py").read_text().splitlines()[1:] == [
        f"a = {SGD}lr=0.1)",
        f"b = {SGD}lr=0.1, nesterov=True)  # noqa: OPT303, E501",
        f"c = {SGD}learning_rate=0.1)  # noqa: OPT301",
    ]


def test_a_code_named_twice_is_duplicated_as_ruff_says(tmp_path):
    """RUF100 (Ruff 0.17): ``# noqa: F841, F841, E501`` with F841 unused and E501 not
    enabled is ``(unused: `F841`; non-enabled: `E501`; duplicated: `F841`)``."""
    write(tmp_path / "train.py", f"""\
        import torch
        a = {SGD}learning_rate=0.1)  # noqa: OPT301, opt301
        b = {SGD}lr=0.1)  # noqa: OPT101, OPT101, OPT204, E501
    """)
    assert concise(tmp_path, "--select", "OPT0,OPT1,OPT3", "train.py").stdout.splitlines() == [
        "train.py:2:61: OPT002 [*] Unused `noqa` directive (duplicated: `OPT301`)",
        "train.py:3:50: OPT002 [*] Unused `noqa` directive (unused: `OPT101`; non-enabled: `OPT204`; "
        "duplicated: `OPT101`)",
    ]
    optimlint(tmp_path, "check", "--isolated", "--fix", "-q", "--select", "OPT0,OPT1,OPT3", "train.py")
    assert (tmp_path / "train.py").read_text().splitlines()[1:] == [
        f"a = {SGD}learning_rate=0.1)  # noqa: OPT301",
        f"b = {SGD}lr=0.1)  # noqa: E501",
    ]


def test_unused_file_directive(tmp_path):
    write(tmp_path / "train.py", f"# optimlint: noqa: OPT303\nimport torch\na = {SGD}lr=0.1)\n")
    result = concise(tmp_path, "train.py")
    assert result.stdout == "train.py:1:1: OPT002 [*] Unused `optimlint: noqa` directive (unused: `OPT303`)\n"
    optimlint(tmp_path, "check", "--isolated", "--fix", "-q", "train.py")
    assert (tmp_path / "train.py").read_text() == f"import torch\na = {SGD}lr=0.1)\n"


def test_noqa_warnings_are_silenced_only_by_their_code(tmp_path):
    write(tmp_path / "train.py", f"import torch\na = {SGD}lr=0.1)  # noqa: OPT301, OPT002\n")
    assert concise(tmp_path, "train.py").stdout == ""
    write(tmp_path / "train.py", f"import torch\na = {SGD}lr=0.1)  # noqa: OPT301\n")
    assert concise(tmp_path, "--ignore", "OPT002", "train.py").stdout == ""


# --------------------------------------------------------------------------- OPT001
def test_invalid_noqa_comments(tmp_path):
    write(tmp_path / "train.py", f"""\
        import torch
        a = {SGD}learning_rate=0.1)  # noqa: OPT999
        b = {SGD}learning_rate=0.1)  # noqa: keras-style-argument
        c = {SGD}learning_rate=0.1)  # noqa: looks fine
        d = {SGD}lr=0.1)  # noqa: ignore flake8
    """)
    result = concise(tmp_path, "train.py")
    assert result.stdout.splitlines() == [
        "train.py:2:41: OPT301 [*] `torch.optim.SGD` has no `learning_rate` argument (Keras's name; TypeError "
        "at construction): use `lr`",
        "train.py:2:61: OPT001 Invalid `noqa` directive: `OPT999` is not a rule code (run `optimlint rules` "
        "for the list)",
        "train.py:3:41: OPT301 [*] `torch.optim.SGD` has no `learning_rate` argument (Keras's name; TypeError "
        "at construction): use `lr`",
        "train.py:3:61: OPT001 [*] Invalid `noqa` directive: `keras-style-argument` is a rule's name; write its "
        "code `OPT301`",
        "train.py:4:41: OPT301 [*] `torch.optim.SGD` has no `learning_rate` argument (Keras's name; TypeError "
        "at construction): use `lr`",
        "train.py:4:61: OPT001 Invalid `noqa` directive: expected a comma-separated list of rule codes after "
        "`noqa:` (e.g. `# noqa: OPT101`); it silences nothing",
    ]
    assert result.returncode == 1


def test_noqa_warnings_in_a_library_file_full_of_other_tools_codes(tmp_path):
    """A library file's comments that serve flake8 or Ruff alone give nothing (the text is
    scanned for directives before it is tokenized); a directive of ours behind a string that
    spells another tool's is still found, at the comment's column, and the string's text is
    never read as a directive."""
    write(tmp_path / "lib.py", """\
        import os  # noqa: F401
        import sys  # noqa: E501, F401
        SPELLED = "# noqa: looks fine"
    """)
    assert concise(tmp_path, "lib.py").stdout == ""
    write(tmp_path / "lib.py", """\
        import os  # noqa: F401
        SPELLED = "# noqa: F401"  # noqa: OPT301
        OTHER = "x"  # NOQA:
        # optimlint: noqa: everything
    """)
    # an upper-case noqa directive with nothing after its colon, on a line with no finding: flake8's
    # or Ruff's to judge; a file-level directive is ours whatever the line
    assert concise(tmp_path, "lib.py").stdout.splitlines() == [
        "lib.py:2:27: OPT002 [*] Unused `noqa` directive (unused: `OPT301`)",
        "lib.py:4:1: OPT001 Invalid `optimlint: noqa` directive: expected a comma-separated list of rule codes "
        "after `noqa:` (e.g. `# noqa: OPT101`); it silences nothing",
    ]


def test_rule_name_fixed_into_its_code(tmp_path):
    # OPT303 has no fix of its own: the written code then silences it
    line = f"b = {SGD}lr=0.1, nesterov=True)  # noqa: "
    write(tmp_path / "train.py", f"import torch\n{line}nesterov-without-momentum\n")
    result = optimlint(tmp_path, "check", "--isolated", "--fix", "--select", "OPT0,OPT303", "train.py")
    assert result.stdout == "Found 1 error (1 fixed, 0 remaining).\n"
    assert (tmp_path / "train.py").read_text() == f"import torch\n{line}OPT303\n"
    assert concise(tmp_path, "train.py").stdout == ""


# --------------------------------------------------------------------------- --add-noqa
def test_add_noqa_silences_every_finding_and_is_idempotent(tmp_path):
    original = f"""\
        import torch
        a = {SGD}learning_rate=0.1, nesterov=True)
        b = {SGD}learning_rate=0.1)  # noqa: E501
        c = {SGD}lr=0.1)
    """
    write(tmp_path / "train.py", original)
    result = optimlint(tmp_path, "check", "--isolated", "--add-noqa", ".")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "Added 2 noqa directives.\n")
    assert (tmp_path / "train.py").read_text().splitlines()[1:] == [
        f"a = {SGD}learning_rate=0.1, nesterov=True)  # noqa: OPT301, OPT303",
        f"b = {SGD}learning_rate=0.1)  # noqa: E501, OPT301",
        f"c = {SGD}lr=0.1)",
    ]
    after = (tmp_path / "train.py").read_bytes()
    again = optimlint(tmp_path, "check", "--isolated", "--add-noqa", ".")
    assert (again.returncode, again.stderr) == (0, "Added 0 noqa directives.\n")
    assert (tmp_path / "train.py").read_bytes() == after
    clean = optimlint(tmp_path, "check", "--isolated", ".")
    assert (clean.returncode, clean.stdout) == (0, "All checks passed!\n")


def test_add_noqa_follows_each_files_config_and_keeps_line_endings(tmp_path):
    write(tmp_path / "a" / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT303"]\n')
    (tmp_path / "a" / "t.py").write_bytes(f"import torch\r\nx = {SGD}learning_rate=0.1, nesterov=True)\r\n".encode())
    result = optimlint(tmp_path, "check", "--add-noqa", "a")
    assert result.stderr == "Added 1 noqa directive.\n"
    assert (tmp_path / "a" / "t.py").read_bytes() == \
        f"import torch\r\nx = {SGD}learning_rate=0.1, nesterov=True)  # noqa: OPT303\r\n".encode()


def test_add_noqa_refuses_fix(tmp_path):
    write(tmp_path / "t.py", "x = 1\n")
    result = optimlint(tmp_path, "check", "--add-noqa", "--fix", "t.py")
    assert (result.returncode, result.stderr) == (
        2, "error: --add-noqa cannot be combined with --fix, --diff or standard input\n")


# --------------------------------------------------------------------------- --preview
def test_every_rule_of_the_spec_runs_without_preview(tmp_path):
    from optimlint.registry import PREVIEW, RULES

    assert PREVIEW == frozenset()  # no release is tagged yet: nothing is in preview
    shown = optimlint(tmp_path, "check", "--isolated", "--show-settings", "-", "--stdin-filename", "t.py")
    enabled = [line.split()[1] for line in shown.stdout.splitlines() if line.startswith("#\tOPT")]
    assert enabled == sorted(RULES)
    assert "preview = false" in shown.stdout.splitlines()


def test_preview_from_config_and_command_line(tmp_path):
    write(tmp_path / "optimlint.toml", "preview = true\n")
    write(tmp_path / "t.py", "x = 1\n")
    assert "preview = true" in optimlint(tmp_path, "check", "--show-settings", "t.py").stdout.splitlines()
    off = optimlint(tmp_path, "check", "--no-preview", "--show-settings", "t.py")
    assert "preview = false" in off.stdout.splitlines()


def test_a_rule_in_preview_runs_only_with_preview(tmp_path, monkeypatch):
    """The gate itself, with OPT303 put in preview in this process (no rule is, today)."""
    from optimlint import registry

    monkeypatch.setattr(registry, "PREVIEW", frozenset({"OPT303"}))
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "t.py", f"import torch\nx = {SGD}learning_rate=0.1, nesterov=True)\n")

    def codes(*args):
        result = invoke(["check", "--isolated", "--no-cache", "-q", "--output-format", "concise", *args, "t.py"])
        return [line.split()[1] for line in result.stdout.splitlines()]

    assert codes() == ["OPT301"]
    assert codes("--select", "OPT303") == []  # selecting it is not enough
    assert codes("--preview") == ["OPT301", "OPT303"]
    assert codes("--config", "preview = true") == ["OPT301", "OPT303"]
