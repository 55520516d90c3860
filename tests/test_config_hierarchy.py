"""Configuration per folder (issue 17 item 2), through ``python -m optimlint`` as CI runs it:
each file is linted with the config nearest to it whatever the order of the paths,
``extend`` inherits, ``--isolated`` reads none, ``--config`` overrides, and
``--show-settings`` / ``--show-files`` say which config decides which file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import write

# One line, two findings: OPT301 (Keras's learning_rate) at column 43, OPT303 (nesterov
# without momentum) at column 62.
TRAIN = "import torch\nopt = torch.optim.SGD(model.parameters(), learning_rate=0.1, nesterov=True)\n"


def optimlint(cwd, *args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_WORKSPACE", "OPTIMLINT_DEBUG", "OPTIMLINT_OUTPUT_FORMAT")}
    return subprocess.run([sys.executable, "-m", "optimlint", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def found(result) -> list[str]:
    """``path CODE`` of each concise line."""
    return [f"{line.split(':')[0]} {line.split()[1]}" for line in result.stdout.splitlines()]


@pytest.fixture
def repo(tmp_path):
    """a/ selects OPT301, b/ selects OPT303, c/ has no config of its own."""
    write(tmp_path / "a" / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT301"]\n')
    write(tmp_path / "b" / "optimlint.toml", 'select = ["OPT303"]\n')
    for folder in ("a", "b", "c"):
        write(tmp_path / folder / "train.py", TRAIN)
    return tmp_path


def test_each_file_uses_its_nearest_config_whatever_the_order(repo):
    expected = ["a/train.py OPT301", "b/train.py OPT303", "c/train.py OPT301", "c/train.py OPT303"]
    for order in (["a", "b", "c"], ["c", "b", "a"], ["b", "a", "c"]):
        result = optimlint(repo, "check", "-q", "--output-format", "concise", *order)
        assert found(result) == expected, order
        assert result.returncode == 1


def test_pre_commit_chunks_get_the_same_settings(repo):
    """pre-commit passes file names, in chunks, in any order."""
    first = optimlint(repo, "check", "-q", "--force-exclude", "--output-format", "concise",
                      "b/train.py", "a/train.py")
    assert found(first) == ["a/train.py OPT301", "b/train.py OPT303"]
    alone = optimlint(repo, "check", "-q", "--force-exclude", "--output-format", "concise", "a/train.py")
    assert found(alone) == ["a/train.py OPT301"]


def test_a_run_from_inside_a_folder_uses_that_folders_config(repo):
    result = optimlint(repo / "b", "check", "-q", "--output-format", "concise", ".", "../a")
    # a file outside the current folder is shown with its absolute path
    assert found(result) == [f"{repo / 'a' / 'train.py'} OPT301", "train.py OPT303"]


def test_extend_inherits_and_overrides(repo):
    write(repo / "base.toml", 'select = ["OPT301", "OPT303"]\nper-file-ignores = { "c/legacy/*" = ["OPT303"] }\n')
    write(repo / "c" / "pyproject.toml", '[tool.optimlint]\nextend = "../base.toml"\nignore = ["OPT301"]\n')
    write(repo / "c" / "legacy" / "old.py", TRAIN)
    result = optimlint(repo, "check", "-q", "--output-format", "concise", "c")
    # OPT301 ignored by c; per-file-ignores of the base keep the base's folder: c/legacy/*
    assert found(result) == ["c/train.py OPT303"]
    write(repo / "c" / "pyproject.toml", '[tool.optimlint]\nextend = "../base.toml"\nselect = ["OPT301"]\n')
    result = optimlint(repo, "check", "-q", "--output-format", "concise", "c")
    assert found(result) == ["c/legacy/old.py OPT301", "c/train.py OPT301"]  # a select starts afresh


def test_extend_of_a_missing_file_or_a_cycle_is_a_config_error(repo):
    write(repo / "c" / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT3"]\nextend = "../nope.toml"\n')
    result = optimlint(repo, "check", "c")
    assert result.returncode == 2
    assert result.stderr == (f"error: {repo / 'c' / 'pyproject.toml'}:3: `extend` names '../nope.toml', "
                             f"and {repo / 'nope.toml'} is not a file\n")
    write(repo / "c" / "pyproject.toml", '[tool.optimlint]\nextend = "../x.toml"\n')
    write(repo / "x.toml", 'extend = "c/pyproject.toml"\n')
    result = optimlint(repo, "check", "c")
    assert result.returncode == 2
    config, x = repo / "c" / "pyproject.toml", repo / "x.toml"
    assert result.stderr == f"error: {x}:1: `extend` makes a cycle: {config} -> {x} -> {config}\n"


def test_a_bad_config_in_one_folder_fails_the_run_that_reaches_it(repo):
    write(repo / "b" / "optimlint.toml", 'selcet = ["OPT303"]\n')
    assert optimlint(repo, "check", "-q", "a").returncode == 1
    result = optimlint(repo, "check", "-q", "a", "b")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {repo / 'b' / 'optimlint.toml'}:1: unknown key `selcet`")


def test_isolated_reads_no_config(repo):
    result = optimlint(repo, "check", "-q", "--isolated", "--output-format", "concise", "a", "b")
    assert found(result) == ["a/train.py OPT301", "a/train.py OPT303", "b/train.py OPT301", "b/train.py OPT303"]
    result = optimlint(repo, "check", "--isolated", "--config", "b/optimlint.toml", "a")
    assert result.returncode == 2
    assert result.stderr == ("error: `--config b/optimlint.toml` cannot be used with `--isolated`, "
                             "which reads no config file\n")


def test_config_key_value_overrides_every_files_config(repo):
    result = optimlint(repo, "check", "-q", "--output-format", "concise", "--config", 'ignore = ["OPT301"]', ".")
    assert found(result) == ["b/train.py OPT303", "c/train.py OPT303"]
    result = optimlint(repo, "check", "-q", "--output-format", "concise", "--config", 'select = ["OPT303"]',
                       "--config", 'extend-select = ["OPT301"]', "a", "b")
    assert found(result) == ["a/train.py OPT301", "a/train.py OPT303", "b/train.py OPT301", "b/train.py OPT303"]


def test_config_file_decides_for_every_file(repo):
    result = optimlint(repo, "check", "-q", "--output-format", "concise", "--config", "b/optimlint.toml", "a", "b")
    assert found(result) == ["a/train.py OPT303", "b/train.py OPT303"]


@pytest.mark.parametrize("value, message", [
    ("selec = 1", "invalid value for `--config` 'selec = 1': unknown key `selec` in [optimlint]; known keys: "
                  "select, ignore, extend-select, per-file-ignores, exclude, extend-exclude, unsafe-fixes, "
                  "preview, optimizer-factories, scheduler-factories, adam-weight-decay, extend"),
    ('select = ["OPT9"]', "invalid value for `--config` 'select = [\"OPT9\"]': unknown rule selector `OPT9` in "
                          "`select` (run `optimlint rules` for the list of codes)"),
    ("select = [", "invalid value for `--config`: 'select = [' is neither a config file nor a TOML "
                   "`KEY = VALUE` pair (Invalid value)"),
    ("missing.toml", "missing.toml: config file not found"),
])
def test_bad_config_values_exit_2(repo, value, message):
    result = optimlint(repo, "check", "--config", value, "a")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {message}\n")


def test_show_settings_names_the_config_of_the_file(repo):
    write(repo / "c" / "pyproject.toml", '[tool.optimlint]\nextend = "../a/pyproject.toml"\n'
                                         'extend-select = ["OPT303"]\nunsafe-fixes = true\n'
                                         'per-file-ignores = { "train.py" = ["OPT301"] }\n')
    result = optimlint(repo, "check", "--show-settings", "c/train.py")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[:16] == [
        f"Resolved settings for: {repo / 'c' / 'train.py'}",
        f"Settings path: {repo / 'c' / 'pyproject.toml'}",
        f"Project root: {repo / 'c'}",
        "",
        "# Rule selection",
        "select = [",
        '\t"OPT301",',
        "]",
        "extend-select = [",
        '\t"OPT303",',
        "]",
        "ignore = []",
        "preview = false",
        "",
        "# Fixes",
        "unsafe-fixes = true",
    ]
    table = lines.index("[per-file-ignores]")
    assert lines[table:table + 4] == ["[per-file-ignores]", '"train.py" = [', '\t"OPT301",', "]"]
    # the rules that run on this file: per-file-ignores applied
    assert lines[-3:] == ["# Rules that run on this file (2: selection, per-file-ignores and preview applied)",
                          "#\tOPT000  syntax-error", "#\tOPT303  nesterov-without-momentum"]
    isolated = optimlint(repo, "check", "--isolated", "--show-settings", "b")
    assert isolated.stdout.splitlines()[1] == "Settings path: (none: defaults)"


def test_show_settings_pasted_into_a_config_gives_the_same_settings(repo):
    """The body is TOML: pasted into an optimlint.toml elsewhere, it resolves to itself."""
    write(repo / "c" / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT3", "OPT1"]\nignore = ["OPT104"]\n'
                                         'extend-exclude = ["gen/", "*_pb2.py"]\n'
                                         'optimizer-factories = ["lib.make_opt"]\n'
                                         '[tool.optimlint.per-file-ignores]\n"tests/*" = ["OPT1"]\n'
                                         '[tool.optimlint.adam-weight-decay]\nrequire-evidence = false\n')
    shown = optimlint(repo, "check", "--show-settings", "c/train.py").stdout
    body = shown.split("\n", 3)[3]
    write(repo / "d" / "optimlint.toml", body)
    write(repo / "d" / "train.py", TRAIN)
    again = optimlint(repo, "check", "--show-settings", "d/train.py")
    assert again.returncode == 0, again.stderr
    assert again.stdout.split("\n", 3)[3] == body


def test_show_files_lists_what_would_be_linted_with_per_folder_excludes(repo):
    write(repo / "b" / "optimlint.toml", 'select = ["OPT303"]\nextend-exclude = ["gen_*.py"]\n')
    for folder in ("a", "b"):
        write(repo / folder / "gen_x.py", TRAIN)
    result = optimlint(repo, "check", "--show-files", "b", "a")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [str(repo / "a" / "gen_x.py"), str(repo / "a" / "train.py"),
                                          str(repo / "b" / "train.py")]


@pytest.fixture
def layered_excludes(tmp_path):
    """./pyproject.toml excludes ``sub/gen``; sub/pyproject.toml extends it and excludes
    ``other``: the tree Ruff 0.17 resolves to gen/train.py and sub/train.py."""
    write(tmp_path / "pyproject.toml", '[tool.optimlint]\nextend-exclude = ["sub/gen"]\n')
    write(tmp_path / "sub" / "pyproject.toml",
          '[tool.optimlint]\nextend = "../pyproject.toml"\nextend-exclude = ["other"]\n')
    for folder in ("gen", "sub", "sub/gen", "sub/other"):
        write(tmp_path / folder / "train.py", TRAIN)
    return tmp_path


def test_extended_exclude_paths_are_relative_to_the_config_that_wrote_them(layered_excludes):
    """Ruff's semantics: ``sub/gen`` in ./pyproject.toml is ./sub/gen for sub/pyproject.toml
    too (not sub/sub/gen), whether the run starts at the top or inside sub."""
    top = optimlint(layered_excludes, "check", "--show-files", ".")
    assert top.stdout.splitlines() == [str(layered_excludes / "gen" / "train.py"),
                                       str(layered_excludes / "sub" / "train.py")]
    inside = optimlint(layered_excludes / "sub", "check", "-q", "--output-format", "concise", ".")
    assert found(inside) == ["train.py OPT301", "train.py OPT303"]
    settings = optimlint(layered_excludes, "check", "--show-settings", "sub/train.py")
    assert 'extend-exclude = [\n\t"/gen",\n\t"other",\n]\n' in settings.stdout


def test_an_extended_exclude_above_the_folder_still_names_its_own_folder(layered_excludes):
    """A base in a sibling folder: ``gen/*.py`` and ``**/skip_*.py`` written in base/ name
    paths below base/, not below sub/ (Ruff 0.17 lists the same three files)."""
    write(layered_excludes / "base" / "optimlint.toml", 'extend-exclude = ["gen/*.py", "**/skip_*.py"]\n')
    write(layered_excludes / "sub" / "pyproject.toml", '[tool.optimlint]\nextend = "../base/optimlint.toml"\n')
    write(layered_excludes / "sub" / "deep" / "skip_me.py", TRAIN)
    result = optimlint(layered_excludes, "check", "--show-files", "sub")
    sub = layered_excludes / "sub"
    assert result.stdout.splitlines() == [str(sub / "deep" / "skip_me.py"), str(sub / "gen" / "train.py"),
                                          str(sub / "other" / "train.py"), str(sub / "train.py")]


def test_config_override_exclude_paths_are_relative_to_the_current_folder(layered_excludes):
    """``--config "extend-exclude = [...]"``: as Ruff's command line, from where it runs."""
    result = optimlint(layered_excludes.parent, "check", "--show-files", "--config",
                       f"extend-exclude = ['{layered_excludes.name}/gen']", layered_excludes.name)
    assert result.stdout.splitlines() == [str(layered_excludes / "sub" / "train.py")]


# OPT302's fix (Adam -> AdamW) is unsafe: applied only where unsafe fixes are allowed.
ADAM = "import torch\nopt = torch.optim.Adam(model.parameters(), weight_decay=0.05)\n"


def test_unsafe_fix_counts_follow_each_files_config(tmp_path):
    """a/ allows unsafe fixes, b/ does not: --fix rewrites a's file only, so every count says
    so, whatever the order of the paths (before: the first path's config counted for both)."""
    write(tmp_path / "a" / "pyproject.toml", "[tool.optimlint]\nunsafe-fixes = true\n")
    write(tmp_path / "b" / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT"]\n')
    for folder in ("a", "b"):
        write(tmp_path / folder / "train.py", ADAM)
    for order in (["a", "b"], ["b", "a"]):
        full = optimlint(tmp_path, "check", *order)
        assert full.stdout.splitlines()[-1] == "Found 2 errors. [*] 1 fixable with --fix (1 more with --unsafe-fixes)."
        concise = optimlint(tmp_path, "check", "--output-format", "concise", *order)
        assert [line.split(": ", 1)[1][:12] for line in concise.stdout.splitlines()[:2]] == ["OPT302 [*] `", "OPT302 `torc"]
        stats = optimlint(tmp_path, "check", "--statistics", "--output-format", "json", *order)
        assert [(r["fixable"], r["fixable_count"]) for r in json.loads(stats.stdout)] == [(False, 1)]
        diff = optimlint(tmp_path, "check", "--diff", *order)
        assert diff.stdout.startswith("--- a/train.py\n")
        assert diff.stderr == "Would fix 1 error (1 additional fix available with `--unsafe-fixes`).\n"
    # the command line decides for every file
    assert optimlint(tmp_path, "check", "--no-unsafe-fixes", "b", "a").stdout.splitlines()[-1] == (
        "Found 2 errors. No fixes available (2 hidden fixes can be enabled with --unsafe-fixes).")
    assert optimlint(tmp_path, "check", "--unsafe-fixes", "b", "a").stdout.splitlines()[-1] == (
        "Found 2 errors. [*] 2 fixable with --fix.")


def test_a_pyproject_edited_between_two_lookups_is_read_again(tmp_path):
    """``find_config`` remembers what a ``pyproject.toml`` says by its text (every folder under
    it asks again in one run); an edit, as in a watch or server session, is read anew."""
    from optimlint.config import find_config

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.optimlint]\nselect = ['OPT3']\n")
    assert find_config(str(tmp_path / "pkg")) == str(pyproject)
    assert find_config(str(tmp_path / "pkg" / "sub")) == str(pyproject)
    pyproject.write_text("[tool.ruff]\n# optimlint reads nothing here\n")
    assert find_config(str(tmp_path / "pkg" / "sub")) is None
    pyproject.write_text("[tool.optimlint]\nselect = ['OPT1']\n")
    assert find_config(str(tmp_path / "pkg")) == str(pyproject)
