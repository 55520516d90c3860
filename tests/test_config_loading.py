"""Config: where it is found, what it changes, and the exact errors for mistakes (exit 2)."""

from __future__ import annotations

import pytest

from conftest import invoke, write

SOURCE = "flag_safe()\nflag_unsafe()\nflag_plain()\n"


@pytest.fixture
def project(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "src" / "train.py", SOURCE)
    write(tmp_path / "tests" / "test_x.py", SOURCE)
    return tmp_path


def codes(result) -> list[str]:
    return [line.split()[0].split(":")[0] + " " + line.split()[1] for line in result.stdout.splitlines()]


def test_pyproject_select_and_ignore(project):
    write(project / "pyproject.toml", """
        [project]
        name = "demo"

        [tool.optimlint]
        select = ["OPT1"]
        ignore = ["OPT107"]
    """)
    result = invoke(["check", "-q", "--output-format", "concise"])
    assert codes(result) == ["src/train.py OPT101", "tests/test_x.py OPT101"]


def test_cli_select_overrides_config_select(project):
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1"]\n')
    result = invoke(["check", "-q", "--output-format", "concise", "--select", "OPT604", "src"])
    assert codes(result) == ["src/train.py OPT604"]


def test_config_found_walking_up_from_first_path(project, monkeypatch):
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT604"]\n')
    monkeypatch.chdir(project / "src")
    result = invoke(["check", "-q", "--output-format", "concise", "train.py"])
    assert codes(result) == ["train.py OPT604"]


def test_pyproject_without_table_is_skipped(project, tmp_path):
    write(project / "optimlint.toml", 'select = ["OPT107"]\n')
    write(project / "src" / "pyproject.toml", '[project]\nname = "inner"\n')
    result = invoke(["check", "-q", "--output-format", "concise", "src"])
    assert codes(result) == ["src/train.py OPT107"]


def test_optimlint_toml_wins_over_pyproject_in_same_dir(project):
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT604"]\n')
    write(project / "optimlint.toml", 'select = ["OPT101"]\n')
    result = invoke(["check", "-q", "--output-format", "concise", "src"])
    assert codes(result) == ["src/train.py OPT101"]


def test_explicit_config_file(project):
    write(project / "conf" / "lint.toml", 'extend-select = []\nselect = ["OPT107"]\n')
    result = invoke(["check", "-q", "--output-format", "concise", "--config", "conf/lint.toml", "src"])
    assert codes(result) == ["src/train.py OPT107"]


def test_per_file_ignores(project):
    write(project / "pyproject.toml", """
        [tool.optimlint]
        per-file-ignores = { "tests/*" = ["OPT1"], "train.py" = ["OPT604"] }
    """)
    result = invoke(["check", "-q", "--output-format", "concise"])
    assert codes(result) == ["src/train.py OPT101", "src/train.py OPT107", "tests/test_x.py OPT604"]


def test_per_file_ignores_subtable_and_double_star(project):
    write(project / "pyproject.toml", """
        [tool.optimlint.per-file-ignores]
        "**/test_*.py" = ["OPT"]
    """)
    result = invoke(["check", "-q", "--output-format", "concise"])
    assert all(c.startswith("src/") for c in codes(result))
    assert len(codes(result)) == 3


def test_exclude_and_extend_exclude(project):
    write(project / "build" / "gen.py", SOURCE)
    write(project / "pyproject.toml", '[tool.optimlint]\nextend-exclude = ["tests/"]\nselect = ["OPT604"]\n')
    result = invoke(["check", "-q", "--output-format", "concise"])
    assert codes(result) == ["src/train.py OPT604"]  # build/ by default, tests/ by config
    write(project / "pyproject.toml", '[tool.optimlint]\nexclude = ["src"]\nselect = ["OPT604"]\n')
    result = invoke(["check", "-q", "--output-format", "concise"])
    # ``exclude`` replaces the defaults: build/ is linted now.
    assert codes(result) == ["build/gen.py OPT604", "tests/test_x.py OPT604"]


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("toml, message", [
    ('[tool.optimlint]\nselect = ["OPT1"]\n\nselcet = ["OPT2"]\n',
     "pyproject.toml:4: unknown key `selcet` in [tool.optimlint]; known keys: select, ignore, extend-select, "
     "per-file-ignores, exclude, extend-exclude, unsafe-fixes, preview, optimizer-factories, scheduler-factories, "
     "adam-weight-decay, extend"),
    ('[tool.optimlint]\nunsafe_fixes = true\n',
     "pyproject.toml:2: unknown key `unsafe_fixes` in [tool.optimlint] (did you mean `unsafe-fixes`?); known "
     "keys: select, ignore, extend-select, per-file-ignores, exclude, extend-exclude, unsafe-fixes, preview, "
     "optimizer-factories, scheduler-factories, adam-weight-decay, extend"),
    ('[tool.optimlint]\nselect = [\n  "OPT1",\n  "OPT999",\n]\n',
     "pyproject.toml:4: unknown rule selector `OPT999` in `select` (run `optimlint rules` for the list of codes)"),
    ('[tool.optimlint]\nignore = "OPT101"\n',
     "pyproject.toml:2: `ignore` must be a list of strings, got a string"),
    ('[tool.optimlint]\nunsafe-fixes = "yes"\n',
     "pyproject.toml:2: `unsafe-fixes` must be true or false, got a string"),
    ('[tool.optimlint]\n\n[tool.optimlint.per-file-ignores]\n"tests/*" = ["OPT1", "XYZ1"]\n',
     "pyproject.toml:4: unknown rule selector `XYZ1` in `per-file-ignores` for 'tests/*'"),
    ('[tool.optimlint]\nper-file-ignores = ["OPT1"]\n',
     "pyproject.toml:2: `per-file-ignores` must be a table of glob = [codes], got a list"),
])
def test_config_errors_name_file_key_and_line(project, toml, message):
    write(project / "pyproject.toml", toml)
    result = invoke(["check"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {project / message}\n"


def test_invalid_toml(project):
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1"\n')
    result = invoke(["check"])
    assert result.exit_code == 2
    assert result.stderr == f"error: {project / 'pyproject.toml'}:2: invalid TOML: Unclosed array at end of file\n"
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1"]\nselect = 3\n')
    result = invoke(["check"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {project / 'pyproject.toml'}:3: invalid TOML: ")


def test_optimlint_toml_unknown_key(project):
    write(project / "optimlint.toml", 'select = ["OPT1"]\n[lint]\nselect = ["OPT2"]\n')
    result = invoke(["check"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {project / 'optimlint.toml'}:2: unknown key `lint` in [optimlint]")


def test_missing_config_file(project):
    result = invoke(["check", "--config", "nope.toml"])
    assert result.exit_code == 2
    assert result.stderr == "error: nope.toml: config file not found\n"


def test_factories_reach_settings(tmp_path):
    from optimlint.config import load_settings

    write(tmp_path / "optimlint.toml", 'optimizer-factories = ["mylib.make_opt"]\n'
                                        'scheduler-factories = ["mylib.*sched*"]\n')
    settings = load_settings(start=str(tmp_path))
    assert settings.optimizer_factories == ["mylib.make_opt"]
    assert settings.scheduler_factories == ["mylib.*sched*"]
    assert settings.root == str(tmp_path)
