"""The text the harness mutates for one corpus file.

A `.py` file is its own text. A notebook (`.ipynb`) is read as the script of its code cells
joined in order, each after a `# %%` marker, with IPython magics and shell escapes (`%...`,
`!...`) commented out so the script parses; its mutants and its original are both linted as
that script (named `<notebook>.py`), so the comparison is like with like.
"""

from __future__ import annotations

import json
from pathlib import Path


def notebook_script(raw: str) -> str:
    cells = json.loads(raw).get("cells", [])
    out = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else src
        lines = []
        for line in text.splitlines():
            stripped = line.lstrip()
            lines.append(f"# {line}" if stripped.startswith(("%", "!", "?")) or stripped.endswith("?") else line)
        out.append("# %%\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


def source_of(path: Path) -> tuple[str, str]:
    """(text to mutate and lint, the file name to lint it as)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        return notebook_script(raw), str(path) + ".py"
    return raw, str(path)
