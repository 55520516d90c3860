"""File discovery: suffixes, default excludes, .gitignore semantics, explicit paths."""

from __future__ import annotations

import os

import pytest

from optimlint.config import Settings
from optimlint.discovery import IgnoreFile, discover


def touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def found(root, paths=(".",), force_exclude=False, **settings):
    files, problems = discover([str(p) for p in paths], Settings(root=str(root), **settings), force_exclude)
    return [os.path.relpath(f, root).replace(os.sep, "/") for f in files], problems


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch(tmp_path, "a.py", "b.pyi", "nb.ipynb", "notes.txt", "pkg/c.py", "pkg/sub/d.py",
          ".venv/lib/e.py", "build/f.py", "node_modules/g.py", "pkg/__pycache__/h.py",
          ".git/hooks/i.py", "site-packages/j.py")
    return tmp_path


def test_suffixes_and_default_excludes(tree):
    files, problems = found(tree)
    assert files == ["a.py", "b.pyi", "nb.ipynb", "pkg/c.py", "pkg/sub/d.py"]
    assert problems == []


def test_explicit_excluded_paths_are_linted_unless_force_exclude(tree):
    assert found(tree, ["build/f.py", ".venv"])[0] == [".venv/lib/e.py", "build/f.py"]
    assert found(tree, ["build/f.py", ".venv", "a.py"], force_exclude=True)[0] == ["a.py"]


def test_explicit_file_of_any_suffix_is_linted(tree):
    touch(tree, "bin/script")
    assert found(tree, ["bin/script"])[0] == ["bin/script"]


def test_missing_path_is_a_problem(tree):
    files, problems = found(tree, ["nope.py", "a.py"])
    assert files == ["a.py"]
    assert [(p.path, p.message) for p in problems] == [("nope.py", "No such file or directory")]


def test_gitignore_patterns(tree):
    (tree / ".git").mkdir(exist_ok=True)
    (tree / ".gitignore").write_text(
        "# comment\n"
        "*.pyi\n"
        "pkg/sub/\n"       # a directory, anchored (contains a slash)
        "gen_*.py\n"       # anywhere
        "!keep_gen_1.py\n"
        "/top_only.py\n"   # anchored at the root
        "logs\n"           # a file or a directory named logs
        "data/**/raw.py\n"
    )
    touch(tree, "gen_x.py", "pkg/gen_y.py", "keep_gen_1.py", "top_only.py", "pkg/top_only.py",
          "logs/k.py", "data/raw.py", "data/a/b/raw.py", "data/a/ok.py")
    files, _ = found(tree)
    assert files == ["a.py", "data/a/ok.py", "keep_gen_1.py", "nb.ipynb", "pkg/c.py", "pkg/top_only.py"]


def test_dir_only_pattern_does_not_match_file(tree):
    (tree / ".gitignore").write_text("cache/\n")
    touch(tree, "cache/x.py", "pkg/cache")  # a *file* called cache (no suffix: never walked anyway)
    touch(tree, "cache.py")
    files, _ = found(tree)
    assert "cache/x.py" not in files and "cache.py" in files


def test_nested_gitignore_and_negation_override(tree):
    (tree / ".gitignore").write_text("*_gen.py\n")
    (tree / "pkg" / ".gitignore").write_text("!ok_gen.py\nlocal.py\n")
    touch(tree, "x_gen.py", "pkg/ok_gen.py", "pkg/bad_gen.py", "pkg/local.py", "local.py")
    files, _ = found(tree)
    assert "x_gen.py" not in files and "pkg/bad_gen.py" not in files
    assert "pkg/ok_gen.py" in files
    assert "pkg/local.py" not in files and "local.py" in files


def test_file_in_ignored_directory_cannot_be_reincluded(tree):
    (tree / ".gitignore").write_text("out/\n!out/keep.py\n")
    touch(tree, "out/keep.py")
    assert "out/keep.py" not in found(tree)[0]


def test_repository_gitignore_applies_to_subdirectory_argument(tree):
    (tree / ".git").mkdir(exist_ok=True)
    (tree / ".gitignore").write_text("pkg/sub/\n")
    files, _ = found(tree, ["pkg"])
    assert files == ["pkg/c.py"]


def test_force_exclude_applies_gitignore_and_parent_dirs(tree):
    (tree / ".gitignore").write_text("secret.py\n")
    touch(tree, "secret.py")
    assert found(tree, ["secret.py", "build/f.py", "pkg/c.py"], force_exclude=True)[0] == ["pkg/c.py"]


def test_exclude_settings(tree):
    assert found(tree, extend_exclude=["pkg/sub"])[0] == ["a.py", "b.pyi", "nb.ipynb", "pkg/c.py"]
    # exclude replaces the defaults
    files = found(tree, exclude=["pkg"])[0]
    assert "build/f.py" in files and "pkg/c.py" not in files


@pytest.mark.parametrize("pattern, path, is_dir, ignored", [
    ("*.py", "a/b/c.py", False, True),
    ("a/*.py", "a/b/c.py", False, None),
    ("a/**/c.py", "a/c.py", False, True),
    ("a/**/c.py", "a/b/d/c.py", False, True),
    ("**/b", "x/y/b", True, True),
    ("a/**", "a/b/c.py", False, True),
    ("b/", "a/b", False, None),
    ("b/", "a/b", True, True),
    ("c.p[xy]", "c.py", False, True),
    ("c.p[!y]", "c.py", False, None),
    ("\\#x.py", "#x.py", False, True),
    ("x.py\\ ", "x.py ", False, True),
    ("?.py", "ab.py", False, None),
])
def test_gitignore_glob_semantics(tmp_path, pattern, path, is_dir, ignored):
    gi = IgnoreFile.from_lines(str(tmp_path), [pattern])
    assert gi.verdict(str(tmp_path / path), is_dir) is ignored
