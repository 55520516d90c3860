"""Nothing is lost: ``--fix`` never truncates or half-writes a file, never writes through a
symlink out of the linted tree, keeps the mode; broken fixes are dropped, not written; and
static linting never imports or runs the code it reads.

A process killed (SIGKILL) while writing leaves the file exactly as it was or exactly
fixed. Killed before the rename, it may leave its temporary file (``.NAME.XXXX.optimlint-tmp``
beside the target): a SIGKILL cannot be cleaned up after, and the original is intact.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from conftest import OPT102_LOOP as TRAIN
from conftest import OPT102_LOOP_FIXED as FIXED
from conftest import invoke, write



@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fix(*args):
    return invoke(["check", "--no-cache", "--output-format", "concise", "--fix", *args])


# --------------------------------------------------------------------------- killed mid-fix
KILLER = """
import os, signal, sys
real_replace, real_fsync = os.replace, os.fsync
where = sys.argv[1]
def die():
    os.kill(os.getpid(), signal.SIGKILL)
def fsync(fd):
    if where == "fsync":
        os.write(fd, b"half")  # bytes a half-written temp file could hold
        die()
    return real_fsync(fd)
def replace(src, dst, *a, **k):
    if where == "before-replace":
        die()
    real_replace(src, dst, *a, **k)
    if where == "after-replace":
        die()
os.fsync, os.replace = fsync, replace
from optimlint.cli import main
main(["check", "--no-cache", "--fix", "train.py"])
"""


@pytest.mark.parametrize("where, expected", [
    ("fsync", TRAIN), ("before-replace", TRAIN), ("after-replace", FIXED)])
def test_killed_mid_fix_leaves_old_or_new_content(here, where, expected):
    write(here / "train.py", TRAIN)
    proc = subprocess.run([sys.executable, "-c", KILLER, where], cwd=here,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (here / "train.py").read_text() == expected
    leftovers = sorted(p.name for p in here.iterdir() if p.name != "train.py")
    if expected == FIXED:
        assert leftovers == []
    else:  # killed before the rename: at most our temp file, the original untouched
        assert len(leftovers) <= 1
        assert all(n.startswith(".train.py.") and n.endswith(".optimlint-tmp") for n in leftovers)
    # The next run fixes the file and ignores the leftover (a dot file, not .py).
    result = fix(".")
    assert result.exit_code == 0
    assert (here / "train.py").read_text() == FIXED


def test_failed_write_leaves_no_temp_file(here, monkeypatch):
    write(here / "train.py", TRAIN)

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    result = fix("train.py")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "error: train.py: cannot write the fixed file: No space left on device")
    assert (here / "train.py").read_text() == TRAIN
    assert sorted(p.name for p in here.iterdir()) == ["train.py"]


# --------------------------------------------------------------------------- modes, links
@pytest.mark.parametrize("mode", [0o755, 0o600, 0o644])
def test_fix_keeps_the_mode(here, mode):
    path = write(here / "train.py", TRAIN)
    path.chmod(mode)
    assert fix("train.py").exit_code == 0
    assert path.read_text() == FIXED
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may write anything")
@pytest.mark.parametrize("read_only", ["file", "directory"])
def test_read_only_file_or_directory_is_not_fixed(here, read_only):
    path = write(here / "pkg" / "train.py", TRAIN)
    target = path if read_only == "file" else path.parent
    target.chmod(0o444 if read_only == "file" else 0o555)
    try:
        result = fix("pkg/train.py")
    finally:
        target.chmod(0o644 if read_only == "file" else 0o755)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "error: pkg/train.py: cannot write the fixed file: "
        + ("cannot write the file: Permission denied" if read_only == "file" else "Permission denied"))
    assert path.read_text() == TRAIN
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.py"]


def test_fix_never_writes_through_a_symlink_out_of_the_tree(tmp_path, monkeypatch):
    outside = write(tmp_path / "outside" / "real.py", TRAIN)
    project = tmp_path / "project"
    project.mkdir()
    os.symlink(outside, project / "train.py")
    monkeypatch.chdir(project)
    result = fix(".")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"error: train.py: cannot write the fixed file: refusing to write through a symlink "
        f"to {os.path.realpath(outside)}, outside the linted tree")
    assert outside.read_text() == TRAIN
    assert os.path.islink(project / "train.py")
    assert sorted(p.name for p in outside.parent.iterdir()) == ["real.py"]


def test_fix_through_a_symlink_inside_the_tree_writes_its_target(here):
    real = write(here / "src" / "real.py", TRAIN)
    os.symlink(os.path.join("src", "real.py"), here / "train.py")
    assert fix("train.py").exit_code == 0
    assert os.path.islink(here / "train.py")
    assert real.read_text() == FIXED


def test_hard_linked_file_is_replaced_not_written_in_place(here):
    # os.replace gives the path a new inode: the other name keeps the old content, so
    # nothing outside the linted path changes through a hard link.
    path = write(here / "train.py", TRAIN)
    os.link(path, here / "other_name.txt")
    assert fix("train.py").exit_code == 0
    assert path.read_text() == FIXED
    assert (here / "other_name.txt").read_text() == TRAIN


def test_write_refuses_a_file_changed_on_disk(here):
    from optimlint.sources import SourceError, read_source, write_source

    path = write(here / "train.py", TRAIN)
    src = read_source(str(path))
    path.write_text(TRAIN + "# edited meanwhile\n")
    with pytest.raises(SourceError, match="changed on disk"):
        write_source(src, FIXED)
    assert path.read_text() == TRAIN + "# edited meanwhile\n"


def test_write_refuses_text_its_encoding_cannot_hold(here):
    from optimlint.sources import SourceError, read_source, write_source

    path = here / "train.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n")
    src = read_source(str(path))
    with pytest.raises(SourceError, match="^the fixed text cannot be encoded as iso-8859-1$"):
        write_source(src, src.text + "y = '\u2603'\n")
    assert path.read_bytes() == b"# -*- coding: latin-1 -*-\nx = '\xe9'\n"


# --------------------------------------------------------------------------- broken fixes
@pytest.fixture
def broken_rules(monkeypatch):
    """A check whose fixes misbehave: ``bad_syntax()`` gets an unparsable replacement,
    ``stubborn()`` a replacement that keeps the finding, ``good()`` a correct one."""
    import libcst as cst

    from optimlint.checks import base
    from optimlint.diagnostics import Fix

    class Broken(base.Check):
        codes = ()
        needles = (b"bad_syntax", b"stubborn", b"good")

        def run(self, ctx):
            out = []

            class Visitor(cst.CSTVisitor):
                def visit_Call(self, node):
                    name = getattr(node.func, "value", None)
                    if name == "bad_syntax":
                        fix = Fix.safe("break it", ctx.replace(node, "bad_syntax(("))
                        out.append(ctx.diagnostic("OPT604", node, "`bad_syntax()`", fix))
                    elif name == "stubborn":
                        fix = Fix.safe("no change", ctx.replace(node, "stubborn( )"))
                        out.append(ctx.diagnostic("OPT604", node, "`stubborn()`", fix))
                    elif name == "good":
                        fix = Fix.safe("rename", ctx.replace(node.func, "better"))
                        out.append(ctx.diagnostic("OPT604", node, "`good()`", fix))

            ctx.module.visit(Visitor())
            return out

    real = list(base.all_checks())  # before Broken has codes, so discovery leaves it out
    monkeypatch.setattr(Broken, "codes", ("OPT604",))
    monkeypatch.setattr(base, "_CHECKS", [*real, Broken])


def test_fix_that_breaks_the_file_is_dropped(here, broken_rules):
    source = "bad_syntax()\nstubborn()\ngood()\n"
    path = write(here / "t.py", source)
    result = fix("t.py")
    assert path.read_text() == "bad_syntax()\nstubborn()\nbetter()\n"
    assert result.stderr.splitlines() == [
        "warning: t.py:1:1: fix for OPT604 was not applied: the fixed file would not parse",
        "warning: t.py:2:1: fix for OPT604 was not applied: the fix leaves its own finding in place",
    ]
    assert result.stdout.splitlines() == [
        "t.py:1:1: OPT604 `bad_syntax()`",  # the refused fix is no longer offered
        "t.py:2:1: OPT604 `stubborn()`",
        "Found 3 errors (1 fixed, 2 remaining).",
    ]
    assert result.exit_code == 1


def test_fix_twice_changes_nothing_the_second_time(here):
    path = write(here / "train.py", TRAIN)
    fix("train.py")
    first = path.read_bytes()
    st = path.stat()
    result = fix("train.py")
    assert result.stdout == "All checks passed!\n"
    assert path.read_bytes() == first
    assert path.stat().st_ino == st.st_ino  # not even rewritten


# --------------------------------------------------------------------------- never imports
SIDE_EFFECTS = """\
import pathlib, sys
pathlib.Path({marker!r}).write_text("imported")
sys.exit(3)
raise SystemExit("ran")
"""


def test_static_mode_never_imports_or_runs_the_code(tmp_path):
    marker = tmp_path / "MARKER"
    project = tmp_path / "project"
    write(project / "mypkg" / "__init__.py", SIDE_EFFECTS.format(marker=str(marker)))
    write(project / "mypkg" / "models.py", SIDE_EFFECTS.format(marker=str(marker)) + textwrap.dedent("""
        import torch
        class Net(torch.nn.Module):
            pass
        """))
    write(project / "train.py", "from mypkg.models import Net\nimport mypkg\n"
          + SIDE_EFFECTS.format(marker=str(marker)) + TRAIN.replace("nn.Linear(10, 2)", "Net()"))
    write(project / "conftest.py", SIDE_EFFECTS.format(marker=str(marker)))
    write(project / "setup.py", SIDE_EFFECTS.format(marker=str(marker)))
    env = {**os.environ, "PYTHONPATH": str(project)}
    for extra in ([], ["--fix", "--unsafe-fixes"], ["--diff"], ["--output-format", "json"]):
        proc = subprocess.run([sys.executable, "-m", "optimlint", "check", "--no-cache", *extra, "."],
                              cwd=project, capture_output=True, text=True, timeout=300, env=env)
        assert "Traceback" not in proc.stderr
        assert proc.returncode in (0, 1), proc.stderr
        assert not marker.exists(), extra
