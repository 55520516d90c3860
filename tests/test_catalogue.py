"""Every rule page exists, has Ruff's sections, and its examples behave:
"Example" blocks must fire the page's code, "Use instead" blocks must not."""

from __future__ import annotations

import pytest

from optimlint.catalogue import REQUIRED_SECTIONS, pages_dir, parse_page
from optimlint.config import Settings
from optimlint.fixing import fix_text
from optimlint.lint import lint_source
from optimlint.registry import RULES

CODES = [c for c in RULES if c != "OPT000"]
FIXABLE = [c for c in CODES if RULES[c].fix != "none"]
# Pages whose fix, applied to the Example, gives other code than "Use instead", and why.
FIX_DIFFERS = {
    "OPT101": "the fix adds `optimizer.zero_grad()` at the top of the loop and leaves the call before "
              "the loop in place (harmless); the page shows the loop without it",
    "OPT302": "the fix turns `Adam` into `AdamW` and keeps the decay value; the page shows it retuned "
              "(1e-2), which only the author can choose",
    "OPT603": "the fix adds `model.train()` at the top of the epoch loop and leaves the call before the "
              "loop in place (harmless); the page shows the loop without it",
}


def _page(code):
    path = pages_dir() / f"{code}.md"
    if not path.is_file():
        pytest.fail(f"missing rule page rules/{code}.md")
    return parse_page(code, path.read_text(encoding="utf-8"))


def _require_check(code: str) -> None:
    """Every code of the catalogue has a check: a code without one is a failure, not a skip."""
    from optimlint.checks.base import all_checks
    from optimlint.noqa_warnings import NOQA_CODES  # read from noqa comments, not by a check

    if code not in NOQA_CODES and not any(code in c.codes for c in all_checks()):
        pytest.fail(f"{code} is in the catalogue but no check emits it")


@pytest.mark.parametrize("code", CODES)
def test_page_sections(code):
    _require_check(code)
    page = _page(code)
    assert page.title.startswith(f"{code} ({RULES[code].name})")
    for section in REQUIRED_SECTIONS:
        assert section in page.sections, f"{code}: missing section {section!r}"
    assert page.code_blocks("Example"), f"{code}: no Example code block"
    assert page.code_blocks("Use instead"), f"{code}: no 'Use instead' code block"


@pytest.mark.parametrize("code", CODES)
def test_page_examples(code):
    _require_check(code)
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
    _require_check(code)
    page = _page(code)
    settings = Settings(select=[code])
    for block in page.code_blocks("When it stays silent"):
        found = [d.code for d in lint_source(f"{code}_silent.py", block, settings)]
        assert code not in found, f"{code}: 'When it stays silent' block fires:\n{block}"


@pytest.mark.parametrize("code", FIXABLE)
def test_page_fix_gives_use_instead(code):
    """``--fix --unsafe-fixes`` on each Example gives exactly the page's "Use instead" block
    (or, for the pages of FIX_DIFFERS, code that no longer fires)."""
    _require_check(code)
    from optimlint.noqa_warnings import NOQA_CODES

    page = _page(code)
    examples, wanted = page.code_blocks("Example"), page.code_blocks("Use instead")
    settings = Settings(select=["OPT"] if code in NOQA_CODES else [code])
    for index, block in enumerate(examples):
        fixed = fix_text(f"{code}_example.py", block, settings, unsafe=True).text
        if code in FIX_DIFFERS:
            assert fixed != block, f"{code}: the fix did not apply to the Example"
            assert fixed not in wanted, f"{code}: the fix now gives 'Use instead': remove it from FIX_DIFFERS"
            found = [d.code for d in lint_source(f"{code}_fixed.py", fixed, settings)]
            assert code not in found, f"{code}: the fixed Example still fires:\n{fixed}"
        else:
            assert index < len(wanted), f"{code}: Example {index + 1} has no 'Use instead' block"
            assert fixed == wanted[index], f"{code}: the fix of Example {index + 1} is not 'Use instead':\n{fixed}"
