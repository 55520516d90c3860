"""The README's rule table is the registry's, and its commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import invoke

ROOT = Path(__file__).resolve().parent.parent


def test_readme_rule_table_matches_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- rules-table:start -->\n(.*?)<!-- rules-table:end -->", readme, re.S)
    assert m, "README.md lost its rules-table markers"
    generated = invoke(["rules", "--output-format", "markdown"]).stdout
    assert m.group(1) == generated, "README rule table is stale: regenerate with " \
                                    "`optimlint rules --output-format markdown`"


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    pytest_line = [line for line in ci.splitlines() if "pytest" in line][-1].strip()
    assert pytest_line == "python -m pytest -q -p no:randomly"
    assert ".venv/bin/python -m pytest -q -p no:randomly" in readme
    assert "pip install torch==2.13.0" in readme and "pip install -q torch==2.13.0" in ci
    assert "pip install -e '.[runtime,test]'" in readme and "pip install -q -e '.[runtime,test]'" in ci
