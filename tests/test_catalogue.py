"""Every rule page exists, has Ruff's sections, and its examples behave:
"Example" blocks must fire the page's code, "Use instead" blocks must not."""

from __future__ import annotations

import pytest

from optimlint.catalogue import REQUIRED_SECTIONS, pages_dir, parse_page
from optimlint.config import Settings
from optimlint.lint import lint_source
from optimlint.registry import RULES

CODES = [c for c in RULES if c != "OPT000"]


def _page(code):
    path = pages_dir() / f"{code}.md"
    if not path.is_file():
        pytest.fail(f"missing rule page rules/{code}.md")
    return parse_page(code, path.read_text(encoding="utf-8"))


def _implemented(code: str) -> bool:
    from optimlint.checks.base import all_checks
    from optimlint.noqa_warnings import NOQA_CODES  # read from noqa comments, not by a check

    return code in NOQA_CODES or any(code in c.codes for c in all_checks())


@pytest.mark.parametrize("code", CODES)
def test_page_sections(code):
    if not _implemented(code):
        pytest.skip(f"{code} not implemented yet")
    page = _page(code)
    assert page.title.startswith(f"{code} ({RULES[code].name})")
    for section in REQUIRED_SECTIONS:
        assert section in page.sections, f"{code}: missing section {section!r}"
    assert page.code_blocks("Example"), f"{code}: no Example code block"
    assert page.code_blocks("Use instead"), f"{code}: no 'Use instead' code block"


@pytest.mark.parametrize("code", CODES)
def test_page_examples(code):
    if not _implemented(code):
        pytest.skip(f"{code} not implemented yet")
    from optimlint.noqa_warnings import NOQA_CODES

    page = _page(code)
    # An unused noqa is reported only for a rule that runs: its example needs the others on.
    settings = Settings(select=["OPT"] if code in NOQA_CODES else [code])
    for block in page.code_blocks("Example"):
        found = [d.code for d in lint_source(f"{code}_example.py", block, settings)]
        assert code in found, f"{code}: Example block does not fire:\n{block}"
    for block in page.code_blocks("Use instead"):
        found = [d.code for d in lint_source(f"{code}_good.py", block, settings)]
        assert code not in found, f"{code}: 'Use instead' block fires:\n{block}"


@pytest.mark.parametrize("code", CODES)
def test_page_silent_examples(code):
    """The code blocks of a "When it stays silent" section must not fire the page's code."""
    if not _implemented(code):
        pytest.skip(f"{code} not implemented yet")
    page = _page(code)
    settings = Settings(select=[code])
    for block in page.code_blocks("When it stays silent"):
        found = [d.code for d in lint_source(f"{code}_silent.py", block, settings)]
        assert code not in found, f"{code}: 'When it stays silent' block fires:\n{block}"
