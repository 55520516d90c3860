"""The rule pages (``rules/OPTnnn.md``): where they are, and their parts.

In a wheel the pages are shipped as ``optimlint/catalogue/``; in a source checkout
(editable install) they are read from the repository's ``rules/`` folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def pages_dir() -> Path:
    shipped = _HERE / "catalogue"
    if shipped.is_dir():
        return shipped
    return _HERE.parent / "rules"


def page_text(code: str) -> str | None:
    path = pages_dir() / f"{code.upper()}.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


@dataclass
class Page:
    code: str
    title: str
    sections: dict[str, str]

    def code_blocks(self, section: str) -> list[str]:
        """The ```python blocks of a section (e.g. "Example", "Use instead")."""
        body = self.sections.get(section, "")
        return [m.group(1) for m in re.finditer(r"```python\n(.*?)```", body, re.S)]


def parse_page(code: str, text: str) -> Page:
    lines = text.splitlines()
    title = lines[0].lstrip("# ").strip() if lines else code
    sections: dict[str, str] = {}
    current = None
    buf: list[str] = []
    for line in lines[1:]:
        m = re.match(r"^## (.+?)\s*$", line)
        if m:
            if current is not None:
                sections[current] = "\n".join(buf).strip() + "\n"
            current, buf = m.group(1), []
        else:
            buf.append(line)
    if current is not None:
        sections[current] = "\n".join(buf).strip() + "\n"
    return Page(code, title, sections)


REQUIRED_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety",
                     "Runtime confirmation")
