"""Suppression comments: real comments only, per line and per file; OPT000 never silenced."""

from __future__ import annotations

import textwrap

import pytest

from optimlint.config import Settings
from optimlint.lint import lint_source


def findings(source: str) -> list[tuple[str, int]]:
    diags = lint_source("t.py", textwrap.dedent(source).lstrip("\n"), Settings())
    return [(d.code, d.location.row) for d in diags]


@pytest.fixture(autouse=True)
def _fake(fake_rules):
    return fake_rules


def test_no_comment_reports_all():
    assert findings("flag_safe()\nflag_plain()\n") == [("OPT604", 1), ("OPT107", 2)]


@pytest.mark.parametrize("comment, kept", [
    ("# noqa", []),
    ("# NOQA", []),
    ("#noqa:OPT604", [("OPT101", 1)]),
    ("# noqa: OPT101", [("OPT604", 1)]),
    ("# noqa: OPT101, OPT604", []),
    ("# noqa: OPT101 OPT604", []),
    ("# noqa: E501", [("OPT604", 1), ("OPT101", 1)]),
    # no code after the colon: not a directive, and OPT001 says so
    ("# noqa:", [("OPT604", 1), ("OPT101", 1), ("OPT001", 1)]),
    ("# type: ignore  # noqa: OPT604", [("OPT101", 1)]),
    ("# noqa: OPT6", [("OPT604", 1), ("OPT101", 1), ("OPT001", 1)]),  # prefixes are not codes (OPT001)
])
def test_line_noqa(comment, kept):
    assert findings(f"flag_safe(flag_unsafe())  {comment}\n") == kept


def test_noqa_in_a_string_is_not_a_comment():
    src = '''
        x = flag_safe("# noqa")
        y = """
        # optimlint: noqa
        """
        flag_plain()
    '''
    assert findings(src) == [("OPT604", 1), ("OPT107", 5)]


def test_noqa_on_another_line_does_not_apply():
    assert findings("# noqa\nflag_safe()\n") == [("OPT604", 2)]


def test_file_level_noqa():
    assert findings("# optimlint: noqa\nflag_safe()\nflag_plain()\n") == []
    assert findings("flag_safe()\n# optimlint: noqa: OPT604\nflag_plain()\n") == [("OPT107", 3)]
    # Not on its own line: only a line noqa... for no code of ours.
    assert findings("flag_safe()  # optimlint: noqa: OPT107\nflag_plain()\n") == [("OPT604", 1), ("OPT107", 2)]


def test_opt000_never_suppressed():
    assert findings("# optimlint: noqa\nflag_safe(\n")[0][0] == "OPT000"


def test_per_file_ignores_in_lint_source(tmp_path):
    settings = Settings(root=str(tmp_path), per_file_ignores={"scripts/*": ["OPT6"]})
    diags = lint_source(str(tmp_path / "scripts" / "t.py"), "flag_safe()\nflag_plain()\n", settings)
    assert [d.code for d in diags] == ["OPT107"]
