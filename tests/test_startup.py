"""The pre-commit path starts fast: ``check [FLAGS] FILES`` is parsed without click, and a
clean file's run imports no more than it needs. Both parsers must agree on every
invocation the fast one accepts; everything else must go to click."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import write
from optimlint import cli
from optimlint.hashing import sha256_hex
from optimlint.discovery import DEFAULT_EXCLUDES, Pattern, path_parts

FLAGS = [name for decls, attrs in cli.CHECK_OPTIONS for name in decls[:-1]
         for name in name.split("/") if attrs.get("is_flag") or "/" in decls[0]]
VALUED = [name for decls, attrs in cli.CHECK_OPTIONS if not attrs.get("is_flag") and "/" not in decls[0]
          for name in decls[:-1]]


@pytest.fixture(autouse=True)
def _no_option_env(monkeypatch):
    monkeypatch.delenv("OPTIMLINT_OUTPUT_FORMAT", raising=False)
    monkeypatch.delenv("_OPTIMLINT_COMPLETE", raising=False)


def click_params(argv: list[str]) -> dict:
    """What click passes to ``check`` for ``argv`` (``check ...``)."""
    group = cli._build_cli()
    with group.commands["check"].make_context("check", list(argv[1:])) as ctx:
        return dict(ctx.params)


def test_the_table_has_flags_and_valued_options():
    assert {"--force-exclude", "--fix", "-q", "--quiet", "--unsafe-fixes", "--no-unsafe-fixes"} <= set(FLAGS)
    assert {"--select", "--output-format", "-j", "--jobs", "--config", "-o"} <= set(VALUED)


@pytest.mark.parametrize("flag", FLAGS)
def test_every_flag_parses_like_click(flag):
    argv = ["check", flag, "a.py"]
    assert cli._fast_check_params(argv) is not None
    assert cli._fast_check_params(argv) == click_params(argv)


@pytest.mark.parametrize("argv", [
    ["check"],
    ["check", "serving.py"],
    ["check", "--force-exclude", "a.py", "b/c.py", "d.ipynb"],
    ["check", "--force-exclude", "--fix", "a.py"],
    ["check", "a.py", "--force-exclude", "b.py", "-q"],  # options between paths
    ["check", "--unsafe-fixes", "--no-unsafe-fixes", "a.py"],  # the last one wins
    ["check", "--no-unsafe-fixes", "--unsafe-fixes"],
    ["check", "--fix", "--fix", "--statistics", "--exit-zero", "--no-cache", "--diff", "--show-fixes", "."],
    ["check", "", "weird name.py", "ü.py"],
])
def test_fast_path_parses_like_click(argv):
    assert cli._fast_check_params(argv) is not None
    assert cli._fast_check_params(argv) == click_params(argv)


@pytest.mark.parametrize("argv", [
    [], ["--version"], ["-V"], ["-h"], ["--help"], ["rule", "OPT101"], ["rules"], ["run", "x.py"],
    ["check", "--help"], ["check", "-h"], ["check", "--bogus"], ["check", "-qj2"], ["check", "-"],
    ["check", "--", "-weird.py"], ["check", "--fix=yes"], ["check", "--force-exclude=1"],
    *(["check", name, "x"] for name in VALUED), ["check", "--select=OPT1", "a.py"], ["check", "--fi"],
])
def test_everything_else_goes_to_click(argv):
    assert cli._fast_check_params(argv) is None


@pytest.mark.parametrize("env", ["OPTIMLINT_OUTPUT_FORMAT", "_OPTIMLINT_COMPLETE"])
def test_an_option_or_completion_variable_goes_to_click(monkeypatch, env):
    monkeypatch.setenv(env, "concise")
    assert cli._fast_check_params(["check", "a.py"]) is None


# --------------------------------------------------------------------------- both ways, end to end
RUN = textwrap.dedent("""
    import json, sys
    from optimlint import cli
    if sys.argv[1] == "click":
        cli._fast_check_params = lambda argv: None  # what main() does for any other invocation
    try:
        cli.main(sys.argv[2:])
    except SystemExit as exc:
        code = exc.code
    loaded = sorted(m for m in ("click", "pathlib", "hashlib", "libcst", "tomllib", "dataclasses", "inspect",
                                "typing") if m in sys.modules)
    print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
""")


def run_cli(cwd, way: str, *args: str) -> tuple[int, str, str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "OPTIMLINT_DEBUG",
                                                             "OPTIMLINT_OUTPUT_FORMAT")}
    proc = subprocess.run([sys.executable, "-c", RUN, way, *args], cwd=cwd, capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=120)
    *err, last = proc.stderr.splitlines(keepends=True)
    status = json.loads(last)
    return status["code"], proc.stdout, "".join(err), status["loaded"]


@pytest.fixture
def tree(tmp_path):
    write(tmp_path / "serving.py", 'import os\n\n\ndef home():\n    return os.environ.get("HOME")\n')
    write(tmp_path / "bad.py", "def f(:\n    return 1\n")
    write(tmp_path / "build" / "gen.py", "x = (\n")
    write(tmp_path / "train.py", """
        import torch

        def train(model, loader, opt):
            for x in loader:
                loss = model(x)
                loss.backward()
                opt.zero_grad()
                opt.step()
    """)
    write(tmp_path / "notes.txt", "not python\n")
    return tmp_path


@pytest.mark.parametrize("args", [
    ["check", "--force-exclude", "serving.py"],
    ["check", "--force-exclude", "build/gen.py"],  # excluded: no Python files
    ["check", "--force-exclude", "bad.py", "serving.py"],
    ["check", "--no-cache", "build/gen.py", "missing.py"],
    ["check", "--statistics", "-q", "."],
    ["check", "--force-exclude", "--fix", "train.py", "serving.py"],
    ["check", "--diff", "train.py"],
    ["check", "notes.txt"],
])
def test_fast_path_and_click_give_the_same_run(tree, tmp_path_factory, args):
    """Each way in its own copy of the tree, twice (the second run reads the cache, or
    sees the fixed file)."""
    outcomes = {}
    for way in ("click", "fast"):
        copy = tmp_path_factory.mktemp(way) / "tree"
        shutil.copytree(tree, copy)
        runs = [run_cli(copy, way, *args) for _ in range(2)]
        outcomes[way] = [run[:3] for run in runs]
        assert all(("click" in run[3]) == (way == "click") for run in runs)
    assert outcomes["fast"] == outcomes["click"]
    assert outcomes["fast"][0] != (0, "", "") or args[1] == "--statistics"  # the runs said something


def test_usage_errors_read_the_same_both_ways(tree):
    write(tree / "pyproject.toml", '[tool.optimlint]\nselcet = ["OPT1"]\n')
    fast = run_cli(tree, "fast", "check", "--force-exclude", "serving.py")
    assert fast[:3] == run_cli(tree, "click", "check", "--force-exclude", "serving.py")[:3]
    assert fast[0] == 2 and fast[2].startswith(f"error: {tree / 'pyproject.toml'}:2: unknown key `selcet`")


def test_a_clean_file_imports_neither_click_nor_pathlib_nor_openssl_nor_dataclasses(tree):
    for _ in range(2):  # linted and cached, then read from the cache
        code, out, err, loaded = run_cli(tree, "fast", "check", "--force-exclude", "serving.py")
        assert (code, out, err, loaded) == (0, "All checks passed!\n", "", [])
    # control: the same probe sees click when the invocation needs it
    assert "click" in run_cli(tree, "fast", "check", "--select", "OPT1", "serving.py")[3]


def test_help_and_version_still_come_from_click(tree):
    code, out, _, loaded = run_cli(tree, "fast", "check", "--help")
    assert code == 0 and "click" in loaded
    assert out.startswith("Usage: optimlint check [OPTIONS] [PATHS]...\n\n  Lint PATHS")
    for decls, _ in cli.CHECK_OPTIONS:
        assert decls[0].split("/")[0] in out
    assert run_cli(tree, "fast", "--version")[1] == "optimlint, version 0.1.0\n"


# --------------------------------------------------------------------------- config from the cache
CONFIG = '[tool.optimlint]\nselect = ["OPT1"]\n\n[tool.optimlint.per-file-ignores]\n"gen/*" = ["OPT102"]\n'


def test_an_unchanged_config_is_read_from_the_cache(tree):
    write(tree / "pyproject.toml", CONFIG)
    runs = [run_cli(tree, "fast", "check", "--output-format", "concise", "train.py") for _ in range(3)]
    assert runs[0][:3] == runs[1][:3] == runs[2][:3]
    assert runs[0][0] == 1 and "OPT102" in runs[0][1]
    assert "tomllib" in runs[0][3] and "tomllib" not in runs[1][3] and "tomllib" not in runs[2][3]
    assert list((tree / ".optimlint_cache").rglob("*.settings"))


def test_an_edited_config_is_read_again(tree):
    write(tree / "pyproject.toml", CONFIG)
    assert run_cli(tree, "fast", "check", "-q", "train.py")[0] == 1
    write(tree / "pyproject.toml", CONFIG.replace('["OPT1"]', '["OPT3"]'))
    code, out, _, loaded = run_cli(tree, "fast", "check", "-q", "train.py")
    assert (code, out) == (0, "") and "tomllib" in loaded


def test_a_bad_config_is_reported_every_run(tree):
    write(tree / "pyproject.toml", CONFIG.replace("select", "selcet"))
    first, second = (run_cli(tree, "fast", "check", "serving.py") for _ in range(2))
    assert first[:3] == second[:3] and first[0] == 2 and "unknown key `selcet`" in first[2]
    assert not list(tree.rglob("*.settings"))


@pytest.mark.parametrize("flag", ["--no-cache", "--fix", "--diff"])
def test_runs_without_the_results_cache_neither_read_nor_write_the_config_entry(tree, flag):
    write(tree / "pyproject.toml", CONFIG)
    run_cli(tree, "fast", "check", flag, "serving.py")
    assert not list(tree.rglob("*.settings"))
    run_cli(tree, "fast", "check", "serving.py")
    assert "tomllib" in run_cli(tree, "fast", "check", flag, "serving.py")[3]


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"path": 3}', b'{"settings": {"select": 1}}', b"[]"])
def test_a_corrupt_config_entry_is_parsed_again(tree, garbage):
    write(tree / "pyproject.toml", CONFIG)
    want = run_cli(tree, "fast", "check", "--output-format", "concise", "train.py")
    for entry in tree.rglob("*.settings"):
        entry.write_bytes(garbage)
    again = run_cli(tree, "fast", "check", "--output-format", "concise", "train.py")
    assert again[:3] == want[:3] and "tomllib" in again[3]


def test_cached_settings_equal_the_parsed_ones(tmp_path):
    from optimlint.config import load_settings

    write(tmp_path / "optimlint.toml", 'select = ["OPT1", "OPT3"]\nunsafe-fixes = true\nextend-exclude = ["gen"]\n'
                                       'optimizer-factories = ["lib.make_opt"]\n[per-file-ignores]\n"a/*" = ["OPT104"]\n')
    parsed = load_settings(start=str(tmp_path), cache=True)
    assert load_settings(start=str(tmp_path), cache=True) == parsed == load_settings(start=str(tmp_path))
    assert parsed.per_file_ignores == {"a/*": ["OPT104"]} and parsed.root == str(tmp_path)


# --------------------------------------------------------------------------- the pieces
@pytest.mark.parametrize("path", ["a.py", "./a.py", "a//b.py", "a/./b", "a/../b", "/abs/x.py", "//net/x.py",
                                  "///x.py", "", ".", "a/", "dir/sub/", "-", "ü/ß.py", "a/.hidden/b"])
def test_path_parts_is_pathlibs(path):
    assert path_parts(path) == pathlib.Path(path).parts


PATTERNS = [*DEFAULT_EXCLUDES, "a/b", "/build", "foo/", "!keep", "x.py", "*.py", "data/**", "[ab].py",
            "*.egg-info/", ".coverage.*", "*$py.class", "*.py,cover", "lib*", "*", "**", "*.py*", "*.py[cod]",
            "/*.py", "src/*.py", "*/build", "?.py", "\\*.py", "*\\", "a*b"]
RELS = ["build", "x/build", "xbuild", "build/x", "a/b", "c/a/b", ".git", "x/.git", "foo", "keep", "x.py",
        "sub/x.py", "a.py", "data/z", "b.py", "node_modules", "a\nb/build", "x.egg-info", "p/q.egg-info",
        ".coverage.1", "a/.coverage.x/y", "a/b$py.class", "lib64", "a/liba/b", "m.pyc", "src/m.py", "*.py",
        "py", "", "ab", "a/xb"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_match_as_their_regex_does(pattern):
    pat = Pattern.parse(pattern)
    for rel in RELS:
        for is_dir in (False, True):
            want = (not pat.dir_only or is_dir) and pat.regex.match(rel) is not None
            assert pat.matches(rel, is_dir) == want, (pattern, rel, is_dir)


def test_sha256_is_hashlibs_small_and_bulk():
    import hashlib

    for data in (b"", b"x" * 100, os.urandom(3 << 20), b"tail"):  # the third crosses the bulk limit
        assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_value_classes_behave_as_the_dataclasses_they_replace():
    import copy
    import pickle

    from optimlint.config import Settings
    from optimlint.diagnostics import Edit, Fix, Location
    from optimlint.report import ReportOptions

    a, b = Location(2, 5), Location(row=2, column=7)
    assert (a < b, a <= b, b > a, b >= a, a == Location(2, 5), a != b) == (True,) * 6
    assert sorted([b, Location(1, 9), a]) == [Location(1, 9), a, b]
    assert repr(a) == "Location(row=2, column=5)" and len({a, Location(2, 5), b}) == 2
    with pytest.raises(AttributeError):
        a.row = 3
    fix = Fix.safe("Rename", Edit("x", a, b), Edit.insertion("y", b))
    assert repr(fix.edits[1]) == "Edit(content='y', location=Location(row=2, column=7), " \
                                 "end_location=Location(row=2, column=7))"
    for clone in (pickle.loads(pickle.dumps(fix)), copy.deepcopy(fix)):
        assert clone == fix and hash(clone) == hash(fix) and clone is not fix
    assert Location(1, 1).__eq__((1, 1)) is NotImplemented

    s = Settings(select=["OPT1"], root="/p")
    assert s == Settings(["OPT1"], root="/p") and s != Settings(root="/p")
    assert Settings().select == ["OPT"] and Settings().select is not Settings().select
    assert repr(Settings()).startswith("Settings(select=['OPT'], ignore=[], extend_select=[]")
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(TypeError):
        hash(s)
    assert ReportOptions(quiet=True) == ReportOptions(False, False, True)

    from optimlint.diagnostics import Diagnostic
    from optimlint.results import FileResult, RunOptions, RunResult
    from optimlint.registry import RULES

    d = Diagnostic("OPT101", "missing-zero-grad", "m", "t.py", a, b)
    assert d.noqa_row == 2 and d.extra == {} and d.extra is not Diagnostic("X", "x", "", "", a, b).extra
    assert d.replace(fix=fix) == Diagnostic("OPT101", "missing-zero-grad", "m", "t.py", a, b, fix=fix)
    assert d.replace(fix=fix) != d and d.fix is None
    assert repr(d).startswith("Diagnostic(code='OPT101', name='missing-zero-grad', message='m'")
    result = FileResult("t.py", [d])
    assert pickle.loads(pickle.dumps(result)) == result and FileResult("t.py").diagnostics == []
    assert RunResult().files == [] and RunOptions(jobs=2) == RunOptions(False, None, False, 2)
    with pytest.raises(TypeError):
        hash(d)
    rule = RULES["OPT101"]
    assert rule.name == "missing-zero-grad" and pickle.loads(pickle.dumps(rule)) == rule
    assert hash(rule) == hash(copy.copy(rule)) and repr(rule).startswith("RuleInfo(code='OPT101'")
    with pytest.raises(AttributeError):
        rule.name = "x"


def test_code_key_stamps_files_as_os_walk_lists_them(tmp_path):
    from optimlint.store import _stamp_tree

    for rel in ("b.py", "a.py", "notes.txt", "sub/z.py", "sub/deeper/y.py", "a_sub/x.py", "__pycache__/c.py",
                "sub/__pycache__/d.py"):
        write(tmp_path / rel, "x = 1\n")
    (tmp_path / "linked").symlink_to(tmp_path / "sub", target_is_directory=True)
    want = []
    for dirpath, dirnames, filenames in os.walk(tmp_path):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                st = os.stat(os.path.join(dirpath, name))
                want.append(f"{os.path.relpath(os.path.join(dirpath, name), tmp_path)}:{st.st_size}:{st.st_mtime_ns};")
    got: list[str] = []
    _stamp_tree(str(tmp_path), "", got)
    assert got == want and len(got) == 5


def test_diagnostic_replace_copies_with_changes():
    from optimlint.diagnostics import Diagnostic, Location

    def make(**changes):
        fields = {"code": "OPT101", "name": "missing-zero-grad", "message": "m", "filename": "t.py",
                  "location": Location(3, 1), "end_location": Location(3, 9), "noqa_row": 4}
        return Diagnostic(**{**fields, **changes})

    d = make()
    for changes in ({}, {"runtime": "confirmed", "extra": {"cell": 2}}, {"location": Location(1, 1)}):
        copy = d.replace(**changes)
        assert copy == make(**changes) and copy is not d
    assert d.replace(location=Location(1, 1)).noqa_row == 4  # kept, not recomputed
    assert d.with_fix(None) == d and d == make() and d.extra == {}
    with pytest.raises(TypeError):
        d.replace(colour="red")


@pytest.mark.parametrize("raw", [
    b"", b"x = 1\n", b"\xef\xbb\xbfx = 1\n", b"# -*- coding: latin-1 -*-\nx = '\xe9'\n",
    b"#!/usr/bin/env python\n# coding=cp1252\n", b"x = 1\n# coding: latin-1\n", b"\n\n# coding: latin-1\n",
    b"open(p, encoding='utf-8')\n", b"\xff\xfe = 1\n", b"# \xff\n# coding: latin-1\n", b"#!py\r# coding: latin-1\r",
    b"\xef\xbb\xbf# coding: utf-8\n", b"# encoding: utf-8\nx = 1\n", b"# coding\nx\n", b"\xe9\n\xe9\n# coding: x\n",
])
def test_encoding_detection_matches_tokenize(raw):
    import io
    import tokenize

    from optimlint.sources import SourceError, _detect_encoding

    try:
        want = tokenize.detect_encoding(io.BytesIO(raw).readline)[0]
    except SyntaxError as exc:
        want = SourceError if not str(exc).startswith("invalid or missing") else (
            "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8")
    if want is SourceError:
        with pytest.raises(SourceError):
            _detect_encoding(raw)
    else:
        assert _detect_encoding(raw) == want
