"""Every bad input a user can hand optimlint, through the real CLI: the exact message, the
exit code, no traceback, and the other files of the same run still linted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import OPT102_LOOP as TRAIN
from conftest import OPT102_LOOP_FIXED as FIXED
from conftest import OPT102_MESSAGE as OPT102
from conftest import invoke, write



@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "good.py", TRAIN)
    return tmp_path


def concise(*args):
    return invoke(["check", "--no-cache", "--output-format", "concise", *args])


def assert_no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stdout + result.stderr


def test_good_file_alone(here):
    result = concise("good.py")
    assert result.stdout.splitlines() == [f"good.py:11:5: {OPT102}",
                                          "Found 1 error. [*] 1 fixable with --fix."]
    assert result.exit_code == 1


# --------------------------------------------------------------------------- contents
def test_syntax_error_reported_and_others_linted(here):
    (here / "broken.py").write_text("import torch\ndef f(:\n    pass\n")
    result = concise("broken.py", "good.py")
    assert result.stdout.splitlines() == [
        "broken.py:2:7: OPT000 SyntaxError: invalid syntax",
        f"good.py:11:5: {OPT102}",
        "Found 2 errors. [*] 1 fixable with --fix.",
    ]
    assert result.exit_code == 1
    assert_no_traceback(result)


def test_nul_bytes(here):
    (here / "nul.py").write_bytes(b"import torch\nx = 1\x00\n")
    result = concise(".")
    assert result.stdout.splitlines()[:2] == [
        f"good.py:11:5: {OPT102}",
        "nul.py:2:6: OPT000 source code cannot contain null bytes (first at line 2)",
    ]
    assert result.exit_code == 1
    assert_no_traceback(result)


def test_undecodable_bytes_without_cookie(here):
    (here / "latin.py").write_bytes(b'import torch\nname = "caf\xe9"\n')
    result = concise(".")
    assert result.stdout.splitlines()[:2] == [
        f"good.py:11:5: {OPT102}",
        "latin.py:2:12: OPT000 cannot decode the file as UTF-8: byte 0xe9 at line 2 "
        "(declare the encoding with a `# -*- coding: ... -*-` line)",
    ]
    assert result.exit_code == 1


def test_unknown_encoding_in_cookie(here):
    (here / "odd.py").write_bytes(b"# -*- coding: klingon -*-\nx = 1\n")
    result = concise("odd.py", "good.py")
    assert result.stdout.splitlines()[:2] == [
        f"good.py:11:5: {OPT102}",
        "odd.py:1:1: OPT000 bad encoding declaration: unknown encoding: klingon",
    ]


def test_latin1_cookie_lints_and_fix_keeps_latin1_bytes(here):
    head = "# -*- coding: latin-1 -*-\n"
    text = head + TRAIN + 'name = "caf\u00e9"\n'
    (here / "latin.py").write_bytes(text.encode("latin-1"))
    result = concise("latin.py")
    assert result.stdout.splitlines()[0] == f"latin.py:12:5: {OPT102}"
    result = concise("--fix", "latin.py")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (here / "latin.py").read_bytes() == (head + FIXED + 'name = "caf\u00e9"\n').encode("latin-1")
    assert b"caf\xe9" in (here / "latin.py").read_bytes()


def test_bom_kept_after_fix(here):
    (here / "bom.py").write_bytes(b"\xef\xbb\xbf" + TRAIN.encode())
    result = concise("bom.py")
    assert result.stdout.splitlines()[0] == f"bom.py:11:5: {OPT102}"  # the BOM is no column
    result = concise("--fix", "bom.py")
    assert result.exit_code == 0
    assert (here / "bom.py").read_bytes() == b"\xef\xbb\xbf" + FIXED.encode()


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_kept_after_fix(here, newline):
    (here / "crlf.py").write_bytes(TRAIN.replace("\n", newline).encode())
    result = concise("crlf.py")
    assert result.stdout.splitlines()[0] == f"crlf.py:11:5: {OPT102}"
    result = concise("--fix", "crlf.py")
    assert result.exit_code == 0
    assert (here / "crlf.py").read_bytes() == FIXED.replace("\n", newline).encode()


def test_mixed_line_endings_kept_after_fix(here):
    lines = TRAIN.splitlines()
    # Odd rows end with \r\n, even rows with \n: the first ending (\n) is LibCST's default.
    mixed = "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(lines))
    (here / "mixed.py").write_bytes(mixed.encode())
    result = concise("--fix", "mixed.py")
    assert result.exit_code == 0
    after = (here / "mixed.py").read_bytes().decode()
    assert after.replace("\r\n", "\n") == FIXED
    before_rows = mixed.splitlines(keepends=True)
    after_rows = after.splitlines(keepends=True)
    assert len(after_rows) == len(before_rows)
    # Every row outside the two the fix swapped keeps its exact bytes, ending included.
    assert after_rows[:9] == before_rows[:9]
    assert after_rows[11:] == before_rows[11:]
    assert {"\r\n", "\n"} == {row[len(row.rstrip("\r\n")):] for row in after_rows}
    # A second --fix changes nothing.
    concise("--fix", "mixed.py")
    assert (here / "mixed.py").read_bytes().decode() == after


def test_empty_file(here):
    (here / "empty.py").write_bytes(b"")
    result = concise("empty.py")
    assert result.stdout == "All checks passed!\n"
    assert result.exit_code == 0
    result = concise("--fix", "empty.py")
    assert result.exit_code == 0
    assert (here / "empty.py").read_bytes() == b""


def test_fifty_thousand_lines(here):
    loop = TRAIN.split("\n\n", 2)[2]  # the for loop, 5 lines
    head = TRAIN[: TRAIN.index("for x")]
    filler = "".join(f"value_{i} = {i}\n" for i in range(50_000 - 17))
    text = head + loop + filler + loop
    assert text.count("\n") >= 50_000
    (here / "big.py").write_text(text)
    last = head.count("\n") + loop.count("\n") + filler.count("\n") + 4
    result = concise("big.py")
    assert result.stdout.splitlines() == [
        f"big.py:11:5: {OPT102}",
        f"big.py:{last}:5: {OPT102}",
        "Found 2 errors. [*] 2 fixable with --fix.",
    ]
    assert result.exit_code == 1


def test_too_many_nested_parentheses_never_reach_libcst(here):
    # 5000 nested brackets overflow LibCST's native parser (a segmentation fault);
    # CPython refuses more than 200 and so does optimlint.
    (here / "deep.py").write_text("import torch\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    result = concise("deep.py", "good.py")
    assert result.stdout.splitlines()[:2] == [
        "deep.py:2:205: OPT000 SyntaxError: too many nested parentheses",
        f"good.py:11:5: {OPT102}",
    ]
    assert result.exit_code == 1
    assert_no_traceback(result)


def test_nesting_beyond_cpythons_recursion_limit(here):
    (here / "deep.py").write_text("import torch\nx = " + "+".join(["a"] * 100_000) + "\n")
    result = concise("deep.py", "good.py")
    assert result.stdout.splitlines()[:2] == [
        "deep.py:1:1: OPT000 SyntaxError: the file is nested too deeply to be parsed "
        "(CPython's parser ran out of recursion limit)",
        f"good.py:11:5: {OPT102}",
    ]
    assert_no_traceback(result)


def first_two_beside_good(here, name, text):
    """The first two lines of a concise run over ``name`` (written with ``text``) and
    good.py; the run shows no traceback."""
    (here / name).write_text(text)
    result = concise(name, "good.py")
    assert_no_traceback(result)
    return result.stdout.splitlines()[:2]


def test_too_many_indentation_levels(here):
    text = "import torch\n" + "".join(" " * i + "if x:\n" for i in range(101)) + " " * 101 + "pass\n"
    assert first_two_beside_good(here, "deep.py", text) == [
        "deep.py:102:1: OPT000 SyntaxError: too many levels of indentation",
        f"good.py:11:5: {OPT102}",
    ]


@pytest.mark.parametrize("expression", [
    " + ".join(f"v{i}" for i in range(600)),  # a long operator chain
    "(\n" + "".join(f"    'line {i}\\n'\n" for i in range(1200)) + ")",  # pydoc_data/topics.py
])
def test_nesting_beyond_libcsts_recursion_limit(here, expression):
    text = TRAIN + "total = " + expression + "\n"
    (here / "deep.py").write_text(text)
    result = concise("deep.py", "good.py")
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [f"deep.py:11:5: {OPT102}", f"good.py:11:5: {OPT102}"]


def test_syntax_error_in_a_training_file_has_cpythons_message(here):
    # LibCST parses a training file first; CPython is asked only once LibCST refuses it, and
    # its message and position are the ones reported.
    assert first_two_beside_good(here, "broken.py", TRAIN + "def report(:\n    pass\n") == [
        "broken.py:13:12: OPT000 SyntaxError: invalid syntax",
        f"good.py:11:5: {OPT102}",
    ]


@pytest.mark.parametrize("continued", [
    "(\n" + "-" * 1900 + "\n" + "-" * 1900 + "\n" + "-" * 1900 + "1)",  # rows inside brackets
    "\\\n".join(["-" * 1900] * 3) + "1",  # rows joined by backslashes
])
def test_a_chain_over_several_rows_is_still_refused_by_cpython(here, continued):
    # 5,700 unary minuses: too deep for CPython's parser. No row is long, no bracket deep:
    # the stretch of rows that make one line sends the file to CPython before LibCST.
    assert first_two_beside_good(here, "deep.py", TRAIN + "total = " + continued + "\n") == [
        "deep.py:1:1: OPT000 SyntaxError: the file is nested too deeply to be parsed "
        "(CPython's parser ran out of recursion limit)",
        f"good.py:11:5: {OPT102}",
    ]


# --------------------------------------------------------------------------- paths
def test_path_that_does_not_exist(here):
    result = concise("missing.py", "good.py")
    assert result.stdout.splitlines() == [
        f"good.py:11:5: {OPT102}",
        "missing.py:1:1: OPT000 No such file or directory",
        "Found 2 errors. [*] 1 fixable with --fix.",
    ]
    assert result.exit_code == 1


def test_directory_given_as_a_file(here):
    # A directory named like a file is walked, as Ruff does; an empty one warns.
    (here / "looks_like.py").mkdir()
    result = concise("looks_like.py")
    assert result.stdout == "All checks passed!\n"
    assert result.stderr == "warning: No Python files found under the given path(s)\n"
    assert result.exit_code == 0
    write(here / "looks_like.py" / "inner.py", TRAIN)
    result = concise("looks_like.py")
    assert result.stdout.splitlines()[0] == f"looks_like.py/inner.py:11:5: {OPT102}"


def test_directory_given_as_config_file(here):
    (here / "conf").mkdir()
    result = concise("--config", "conf", "good.py")
    assert result.exit_code == 2
    assert result.stderr == "error: invalid value for `--config`: 'conf' is a directory, not a config file\n"


def test_read_source_refuses_a_directory(here):
    from optimlint.sources import SourceError, read_source

    (here / "d.py").mkdir()
    with pytest.raises(SourceError, match="^is a directory, not a file$"):
        read_source(str(here / "d.py"))


def test_symlink_loop_in_a_walked_directory(here):
    os.symlink("loop_b.py", here / "loop_a.py")
    os.symlink("loop_a.py", here / "loop_b.py")
    os.symlink(".", here / "self_dir")  # a directory loop is not followed
    result = concise(".")
    assert result.stdout.splitlines() == [
        f"good.py:11:5: {OPT102}",
        "loop_a.py:1:1: OPT000 cannot read the file: Too many levels of symbolic links",
        "loop_b.py:1:1: OPT000 cannot read the file: Too many levels of symbolic links",
        "Found 3 errors. [*] 1 fixable with --fix.",
    ]
    assert result.exit_code == 1


def test_directory_symlink_to_itself_given_explicitly(here):
    os.symlink(".", here / "self_dir")
    result = concise("self_dir", "self_dir/self_dir/good.py", "good.py")
    assert result.stdout.splitlines() == [  # one file, found once, however it is named
        f"self_dir/good.py:11:5: {OPT102}",
        "Found 1 error. [*] 1 fixable with --fix.",
    ]


def test_symlink_loop_given_explicitly(here):
    os.symlink("loop_b.py", here / "loop_a.py")
    os.symlink("loop_a.py", here / "loop_b.py")
    result = concise("loop_a.py", "good.py")
    assert result.stdout.splitlines()[:2] == [
        f"good.py:11:5: {OPT102}",
        "loop_a.py:1:1: OPT000 No such file or directory",
    ]
    assert result.exit_code == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway")
def test_unreadable_file(here):
    path = write(here / "secret.py", TRAIN)
    path.chmod(0)
    try:
        result = concise(".")
    finally:
        path.chmod(0o644)
    assert result.stdout.splitlines()[:2] == [
        f"good.py:11:5: {OPT102}",
        "secret.py:1:1: OPT000 cannot read the file: Permission denied",
    ]
    assert result.exit_code == 1


# --------------------------------------------------------------------------- config
def test_invalid_pyproject(here):
    (here / "pyproject.toml").write_text('[tool.optimlint]\nselect = ["OPT1"\n')
    result = concise("good.py")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"error: {here / 'pyproject.toml'}:2: invalid TOML: "
                             "Unclosed array at end of file\n")


def test_unknown_code_in_select_config(here):
    (here / "pyproject.toml").write_text('[tool.optimlint]\nselect = ["OPT999"]\n')
    result = concise("good.py")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {here / 'pyproject.toml'}:2: unknown rule selector `OPT999` "
                             "in `select` (run `optimlint rules` for the list of codes)\n")


def test_unknown_code_in_select_option(here):
    result = concise("--select", "OPT999", "good.py")
    assert result.exit_code == 2
    assert result.stderr == ("error: invalid value for `--select`: unknown rule selector `OPT999` "
                             "(run `optimlint rules` for the list of codes)\n")


# --------------------------------------------------------------------------- everything at once
def test_one_run_over_every_bad_file(here):
    (here / "broken.py").write_text("def f(:\n")
    (here / "nul.py").write_bytes(b"\x00")
    (here / "latin.py").write_bytes(b"x = '\xe9'\n")
    (here / "empty.py").write_bytes(b"")
    (here / "deep.py").write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    os.symlink("nowhere.py", here / "dangling.py")
    proc = subprocess.run([sys.executable, "-m", "optimlint", "check", "--no-cache",
                           "--output-format", "concise", "."],
                          cwd=here, capture_output=True, text=True, timeout=300)
    assert proc.stdout.splitlines() == [
        "broken.py:1:7: OPT000 SyntaxError: invalid syntax",
        "dangling.py:1:1: OPT000 broken symbolic link to nowhere.py",
        "deep.py:1:205: OPT000 SyntaxError: too many nested parentheses",
        f"good.py:11:5: {OPT102}",
        "latin.py:1:6: OPT000 cannot decode the file as UTF-8: byte 0xe9 at line 1 "
        "(declare the encoding with a `# -*- coding: ... -*-` line)",
        "nul.py:1:1: OPT000 source code cannot contain null bytes (first at line 1)",
        "Found 6 errors. [*] 1 fixable with --fix.",
    ]
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr


def test_notebook_that_is_not_json(here):
    (here / "broken.ipynb").write_text('{"cells": [')
    result = concise("broken.ipynb", "good.py")
    assert result.stdout.splitlines()[:2] == [
        "broken.ipynb:1:1: OPT000 not a valid notebook: invalid JSON: Expecting value at line 1 column 12",
        f"good.py:11:5: {OPT102}",
    ]
    assert result.exit_code == 1
    assert_no_traceback(result)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_is_not_read(here):
    # Opening a FIFO for reading would block forever; it is refused from its stat.
    os.mkfifo(here / "pipe.py")
    result = concise(".")
    assert result.stdout.splitlines()[:2] == [
        f"good.py:11:5: {OPT102}",
        "pipe.py:1:1: OPT000 not a regular file",
    ]
    assert result.exit_code == 1


def test_valid_python_libcst_cannot_parse_is_not_a_syntax_error(here):
    text = TRAIN + "\n\ndef annotate():\n    (no_such_global): int\n"
    compile(text, "valid.py", "exec")  # valid Python
    (here / "valid.py").write_text(text)
    result = concise("valid.py")
    assert not any("OPT000" in line for line in result.stdout.splitlines())
