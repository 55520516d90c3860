"""Jupyter notebooks: the Python of the code cells as one module, and fixes written back.

Reading uses the JSON directly (nbformat is only a test dependency). The code cells are
joined in order, each starting on its own line, so a model defined in cell 2, its optimizer
in cell 4 and the loop in cell 7 are analysed as the one program they are when run top to
bottom. What is not Python is blanked, never dropped, so every row of the joined text
belongs to exactly one row of one cell:

- IPython escapes at the start of a statement: ``%line magic``, ``!shell`` (with its
  backslash-continued rows), ``?help`` / ``obj?``, ``x = !cmd`` / ``x = %magic``, the
  autocall escapes ``/ , ;``; an indented one becomes ``pass`` so the block around it still
  parses (``if IN_COLAB:\\n    !pip install timm``);
- a cell magic (``%%bash``, ``%%timeit``...) blanks its whole cell, except those that run
  their body once as the cell's Python (``%%time``, ``%%capture``: a training loop is
  often timed): only their magic row is blanked;
- a cell whose language is not Python (VS Code's per-cell ``languageId``), and every cell of
  a notebook whose kernel language is not Python.

A cell whose first line is indented is dedented as IPython does (pasted code runs), unless
the previous cell ends with a block header it continues; columns are still reported in the
cell as written. Markdown and raw cells are not part of the text at all.

Writing back replaces only the ``source`` of the code cells a fix changed, in place in the
original JSON text, so outputs, execution counts, metadata, key order and indentation stay
byte for byte as they were. Rows a fix kept get their original text back (magics, line
endings); new rows take their cell's line ending.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from optimlint.diagnostics import Diagnostic, Edit, Fix, Location
from optimlint.report.paths import display_path

# Rows end where LibCST and CPython end them.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_ESCAPES = ("%", "!", "?", "/", ",", ";")  # IPython's escapes at the start of a statement
_ASSIGN_MAGIC = re.compile(r"^\s*[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[!%]")
_PYTHON_NAMES = {"python", "python3", "python2", "ipython", "ipython3", "ipython2"}


class NotebookError(Exception):
    """A notebook that cannot be linted; the message is shown to the user (OPT000)."""


# "... after 'with' statement on line 443" in CPython's syntax errors
_LINE_REFERENCE = re.compile(r"\bon line (\d+)\b")


@dataclass
class _Cell:
    """One code cell: where its rows are in the joined text and how to write it back."""

    index: int  # 1-based among all cells (what the user sees in Jupyter)
    position: int  # 0-based index in the ``cells`` array
    lines: list[str]  # the original source split into rows, each with its line ending
    start_row: int  # first row in the joined text (1-based)
    analysed: bool  # False: a cell magic or not Python; its rows are blank
    protected: set[int] = field(default_factory=set)  # rows (0-based) blanked as magics
    source_is_list: bool = True
    dedent: str = ""  # IPython's leading-indent cleanup: removed from the rows in ``dedented``
    dedented: set[int] = field(default_factory=set)

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    @property
    def source(self) -> str:
        return "".join(self.lines)

    @property
    def eol(self) -> str:
        """The line ending new rows get: the cell's own."""
        for line in self.lines:
            if line.endswith("\r\n"):
                return "\r\n"
            if line.endswith("\r"):
                return "\r"
            if line.endswith("\n"):
                return "\n"
        return "\n"

    @property
    def trailing_newline(self) -> bool:
        return bool(self.lines) and self.lines[-1].endswith(("\n", "\r"))

    def row_length(self, row: int) -> int:
        return len(_content(self.lines[row - 1])) if 0 < row <= len(self.lines) else 0


def _content(line: str) -> str:
    return line.rstrip("\r\n")


def _split(text: str) -> list[str]:
    return _LINE.findall(text)


# --------------------------------------------------------------------------- reading
def read_notebook(path: str, raw: bytes) -> "Notebook":
    """Parse ``raw`` (the file's bytes); ``NotebookError`` when it is not a v4 notebook."""
    try:
        raw_text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"not a valid notebook: the file is not UTF-8 "
                            f"(byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        data = json.loads(raw_text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not a valid notebook: invalid JSON: {exc.msg} "
                            f"at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise NotebookError("not a valid notebook: the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise NotebookError("not a valid notebook: the JSON is not an object")
    version = data.get("nbformat")
    if version is None and "worksheets" in data and "cells" not in data:
        version = 3  # nbformat 3 kept its cells in worksheets
    if isinstance(version, int) and not isinstance(version, bool) and version < 4:
        raise NotebookError(f"nbformat {version} notebooks are not supported; convert it to "
                            f"nbformat 4 (`jupyter nbconvert --to notebook --nbformat 4`)")
    if "cells" not in data:
        raise NotebookError("not a valid notebook: no `cells` list")
    if version is not None and version != 4:
        raise NotebookError(f"not a valid notebook: unknown nbformat version {version!r}")
    cells = data["cells"]
    if not isinstance(cells, list):
        raise NotebookError("not a valid notebook: `cells` is not a list")
    nb = Notebook(path, data, raw_text, _python_kernel(data))
    nb.bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
    return nb


def _python_kernel(data: dict) -> bool:
    """False only when the notebook says its language is something other than Python."""
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    for key, field_name in (("kernelspec", "language"), ("language_info", "name")):
        section = meta.get(key)
        if isinstance(section, dict) and isinstance(section.get(field_name), str):
            return _is_python(section[field_name])
    return True


def _is_python(language: str) -> bool:
    name = language.strip().lower()
    return name in _PYTHON_NAMES or name.startswith("python")


def _cell_language_is_python(cell: dict) -> bool:
    meta = cell.get("metadata")
    vscode = meta.get("vscode") if isinstance(meta, dict) else None
    language = vscode.get("languageId") if isinstance(vscode, dict) else None
    return not isinstance(language, str) or _is_python(language)


def _cell_source(cell: dict, number: int) -> tuple[str, bool]:
    source = cell.get("source", "")
    if isinstance(source, str):
        return source, False
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source), True
    raise NotebookError(f"not a valid notebook: cell {number} has a `source` that is neither "
                        f"a string nor a list of strings")


# --------------------------------------------------------------------------- magics
class _Scanner:
    """Just enough of Python's tokenizer to know whether a row starts a statement:
    open brackets, strings spanning rows, backslash continuations."""

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open string's delimiter
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.continued

    def scan(self, line: str) -> str:
        """Advance over ``line`` (no line ending); returns its last significant character
        outside strings and comments ("" if none)."""
        i, n, last = 0, len(line), ""
        self.continued = False
        while i < n:
            if self.string is not None:
                if line[i] == "\\":
                    i += 2
                    continue
                if line.startswith(self.string, i):
                    i += len(self.string)
                    self.string = None
                    last = "'"
                    continue
                i += 1
                continue
            ch = line[i]
            if ch == "#":
                break
            if ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            elif ch in "'\"":
                self.string = ch * 3 if line.startswith(ch * 3, i) else ch
                i += len(self.string)
                last = ch
                continue
            if not ch.isspace():
                last = ch
            i += 1
        if self.string is not None and len(self.string) == 1:
            # A one-quote string goes on only after a backslash; otherwise it is an error
            # the parser reports: start afresh on the next row.
            if not line.endswith("\\"):
                self.string = None
        elif last == "\\" and line.rstrip().endswith("\\"):
            self.continued = True
        return last


def _is_magic(line: str, last: str) -> bool:
    stripped = line.lstrip()
    if not stripped:
        return False
    return stripped.startswith(_ESCAPES) or last == "?" or bool(_ASSIGN_MAGIC.match(line))


def _blank_magics(rows: list[str]) -> tuple[list[str], set[int]]:
    """The rows (contents, no endings) with IPython escapes blanked, and which were."""
    scanner = _Scanner()
    out, blanked = [], set()
    magic_goes_on = False  # ``!pip install a \`` goes on in the next row
    for i, row in enumerate(rows):
        if magic_goes_on:
            out.append("")
            blanked.add(i)
            magic_goes_on = row.rstrip().endswith("\\")
            continue
        if scanner.at_statement_start:
            saved = (scanner.depth, scanner.string, scanner.continued)
            last = scanner.scan(row)
            if _is_magic(row, last):
                scanner.depth, scanner.string, scanner.continued = saved
                indent = row[: len(row) - len(row.lstrip())]
                out.append(f"{indent}pass" if indent else "")
                blanked.add(i)
                magic_goes_on = row.rstrip().endswith("\\")
                continue
        else:
            scanner.scan(row)
        out.append(row)
    return out, blanked


def _leading_indent(rows: list[str]) -> tuple[str, set[int], list[str]]:
    """IPython's ``leading_indent`` cleanup: when a cell's first line is indented, that
    indentation is removed from every row starting with it (pasted code runs in Jupyter)."""
    first = next((r for r in rows if r.strip()), "")
    dedent = _indent(first)
    if not dedent:
        return "", set(), rows
    dedented = {i for i, r in enumerate(rows) if r.startswith(dedent)}
    return dedent, dedented, [r[len(dedent):] if i in dedented else r for i, r in enumerate(rows)]


def _opens_block(rows: list[str]) -> bool:
    """Whether the last statement of ``rows`` is a block header (``for ...:``): then an
    indented cell after it is its body, read joined, not pasted code to dedent."""
    for row in reversed(rows):
        if row.strip():
            return _Scanner().scan(row) == ":"
    return False


# Cell magics that run their body once, as ordinary Python in the notebook's namespace.
_PYTHON_CELL_MAGICS = frozenset({"time", "capture"})


def _is_cell_magic(rows: list[str]) -> bool:
    """The cell starts with a cell magic whose body is not plain Python run once."""
    for row in rows:
        if row.strip():
            stripped = row.lstrip()
            if not stripped.startswith("%%"):
                return False
            name = stripped[2:].split(None, 1)[0] if stripped[2:].strip() else ""
            return name not in _PYTHON_CELL_MAGICS
    return False


# --------------------------------------------------------------------------- the notebook
class Notebook:
    """The parsed notebook: original JSON (``data``), the joined Python ``text`` the checks
    see, and the map from its rows to cells."""

    def __init__(self, path: str, data: dict, raw_text: str, python: bool = True) -> None:
        self.path = path
        self.data = data
        self.raw_text = raw_text  # the file's text (without a BOM, kept in ``bom``)
        self.bom = ""
        self.cells: list[_Cell] = []
        text_rows: list[str] = []
        previous: list[str] = []  # the rows of the previous analysed cell
        for position, cell in enumerate(data["cells"]):
            number = position + 1
            if not isinstance(cell, dict):
                raise NotebookError(f"not a valid notebook: cell {number} is not an object")
            if cell.get("cell_type") != "code":
                if "cell_type" not in cell:
                    raise NotebookError(f"not a valid notebook: cell {number} has no `cell_type`")
                continue
            source, is_list = _cell_source(cell, number)
            lines = _split(source)
            rows = [_content(line) for line in lines]
            analysed = python and _cell_language_is_python(cell) and not _is_cell_magic(rows)
            dedent, dedented = "", set()
            if analysed:
                if not _opens_block(previous):
                    dedent, dedented, rows = _leading_indent(rows)
                shown, protected = _blank_magics(rows)
                previous = shown
            else:
                shown, protected = ["" for _ in rows], set(range(len(rows)))
            self.cells.append(_Cell(number, position, lines, len(text_rows) + 1, analysed,
                                    protected, is_list, dedent, dedented))
            text_rows.extend(shown)
        self.text = "".join(row + "\n" for row in text_rows)
        self._rows = text_rows  # what the checks see, row by row
        self._owner = [(c, i) for c in self.cells for i in range(c.n_rows)]

    # ------------------------------------------------------------------ locations
    def cell_at(self, row: int) -> _Cell | None:
        """The code cell holding joined ``row`` (past the end: the last cell with rows)."""
        if not self._owner:
            return None
        if row < 1:
            return self._owner[0][0]
        if row > len(self._owner):
            return self._owner[-1][0]
        return self._owner[row - 1][0]

    def _in_cell(self, cell: _Cell, loc: Location, *, end: bool = False) -> Location:
        row = loc.row - cell.start_row + 1
        if row < 1:
            return Location(1, 1)
        if row > cell.n_rows or (end and row == cell.n_rows + 1):
            # Past the cell (an end in the next cell, or the end of the text): its last row.
            return Location(cell.n_rows, cell.row_length(cell.n_rows) + 1)
        shift = len(cell.dedent) if row - 1 in cell.dedented else 0
        return Location(row, loc.column + shift)

    def locate(self, loc: Location) -> tuple[int, Location] | None:
        """``(cell number, location in the cell)`` for a location in the joined text."""
        cell = self.cell_at(loc.row)
        return None if cell is None else (cell.index, self._in_cell(cell, loc))

    def cell_rows(self, number: int) -> list[str]:
        """The rows of cell ``number`` (1-based among all cells) as written, without line
        endings (magics and indentation included): what an excerpt under a finding shows."""
        for cell in self.cells:
            if cell.index == number:
                return [_content(line) for line in cell.lines]
        return []

    def map_diagnostic(self, d: Diagnostic) -> Diagnostic:
        """A copy of ``d`` with rows in its cell and ``extra["cell"]`` = the cell number."""
        cell = self.cell_at(d.location.row)
        if cell is None:
            return d
        location = self._in_cell(cell, d.location)
        end = self._in_cell(cell, d.end_location, end=True)
        if end < location:
            end = location
        noqa_cell = self.cell_at(d.noqa_row or d.location.row) or cell
        noqa_row = self._in_cell(noqa_cell, Location(d.noqa_row or d.location.row, 1)).row
        fix = d.fix
        if fix is not None:
            fix = Fix(fix.applicability, fix.message, tuple(self._map_edit(e) for e in fix.edits))
        extra = dict(d.extra or {})
        extra["cell"] = cell.index
        message = d.message
        if d.code == "OPT000":  # CPython's "... after 'with' statement on line 443": a row of the joined text
            message = _LINE_REFERENCE.sub(lambda m: self._line_reference(int(m.group(1)), cell), message)
        return d.replace(location=location, end_location=end, noqa_row=noqa_row, fix=fix, extra=extra,
                         message=message)

    def _line_reference(self, row: int, here: _Cell) -> str:
        """``on line N`` of the joined text as the user can find it: a row of this cell, or of another."""
        cell = self.cell_at(row)
        if cell is None:
            return f"on line {row}"
        in_cell = self._in_cell(cell, Location(row, 1)).row
        return f"on line {in_cell}" if cell is here else f"on line {in_cell} of cell {cell.index}"

    def _map_edit(self, e: Edit) -> Edit:
        cell = self.cell_at(e.location.row)
        if cell is None:
            return e
        start = self._in_cell(cell, e.location)
        end = self._in_cell(cell, e.end_location, end=True)
        return Edit(e.content, start, max(start, end))

    # ------------------------------------------------------------------ writing
    def cell_sources(self, new_text: str) -> dict[int, str]:
        """``{cell position: new source}`` for the code cells whose source ``new_text``
        (the joined text after fixes) changes. Rows the fixes kept get back their original
        text (magics, line endings); new rows take the cell's line ending."""
        if new_text == self.text:
            return {}
        old = self._rows
        new = [_content(r) for r in _split(new_text)]
        built: dict[int, list[tuple[str, str | None]]] = {c.position: [] for c in self.cells}

        def keep(i: int) -> None:
            cell, row = self._owner[i]
            line = cell.lines[row]
            content = _content(line)
            built[cell.position].append((content, line[len(content):]))

        def add(cell: _Cell, rows) -> None:
            built[cell.position].extend((cell.dedent + r if r else r, None) for r in rows)

        for tag, i1, i2, j1, j2 in _opcodes(old, new):
            if tag == "equal":
                for i in range(i1, i2):
                    keep(i)
                continue
            cells_here = []
            for i in range(i1, i2):
                cell, row = self._owner[i]
                if row in cell.protected or not cell.analysed:
                    keep(i)  # magics and skipped cells are never lost
                elif cell not in cells_here:
                    cells_here.append(cell)
            rows = new[j1:j2]
            if not rows:
                continue
            if tag == "replace" and len(cells_here) > 1 and i2 - i1 == j2 - j1:
                for i, r in zip(range(i1, i2), rows):
                    cell, row = self._owner[i]
                    if cell.analysed and row not in cell.protected:
                        add(cell, [r])
                    else:
                        add(self._home(i1, rows), [r])
                continue
            target = cells_here[0] if cells_here else self._home(i1, rows)
            add(target, rows)

        changed: dict[int, str] = {}
        for cell in self.cells:
            rows = built[cell.position]
            parts = []
            for k, (content, eol) in enumerate(rows):
                last = k == len(rows) - 1
                if last and not cell.trailing_newline and content:
                    eol = ""  # (an empty last row needs its line ending to exist)
                elif not eol:
                    eol = cell.eol
                parts.append(content + eol)
            source = "".join(parts)
            if source != cell.source:
                changed[cell.position] = source
        return changed

    def _home(self, i: int, rows: list[str]) -> _Cell:
        """The cell new ``rows`` inserted before joined row index ``i`` (0-based) go to.

        Between two cells, rows indented like the next cell's first row were inserted
        before its first statement; otherwise they continue the previous cell."""
        before = self._owner[i - 1][0] if i > 0 else None
        after = self._owner[i][0] if i < len(self._owner) else None
        choice = after
        if before is not None and after is not None and before is not after:
            first = next((r for r in rows if r.strip()), "")
            shown = self._rows[after.start_row - 1: after.start_row - 1 + after.n_rows]
            nxt = next((r for r in shown if r.strip()), "")
            if _indent(first) != _indent(nxt):
                choice = before
        elif after is None:
            choice = before
        if choice is not None and choice.analysed:
            return choice
        # Never into a skipped cell: the nearest analysed one, looking back first.
        k = self.cells.index(choice) if choice is not None else len(self.cells) - 1
        for c in [*reversed(self.cells[:k]), *self.cells[k:]]:
            if c.analysed:
                return c
        return self.cells[0]

    def render(self, new_text: str) -> str:
        """The notebook's JSON text with the changed code cells' sources replaced."""
        return self.bom + self._render(new_text)

    def _render(self, new_text: str) -> str:
        changed = self.cell_sources(new_text)
        if not changed:
            return self.raw_text
        values = {}
        for cell in self.cells:
            if cell.position in changed:
                source = changed[cell.position]
                values[cell.position] = _split(source) if cell.source_is_list else source
        try:
            return _replace_sources(self.raw_text, values)
        except (_SpanError, RecursionError):
            return self._redump(values)

    def _redump(self, values: dict[int, object]) -> str:
        """Fallback: the whole JSON written again in nbformat's layout."""
        for position, value in values.items():
            self.data["cells"][position]["source"] = value
        indent = _detect_indent(self.raw_text)
        out = json.dumps(self.data, indent=indent, ensure_ascii=_ascii_only(self.raw_text))
        return out + ("\n" if self.raw_text.endswith("\n") else "")

    def after(self, new_text: str) -> "Notebook":
        """The notebook as ``render(new_text)`` writes it, read again: its cell map locates
        findings in the fixed text (a fix that adds rows moves every row after it). Its
        ``text`` is ``new_text`` except where a magic a fix would have dropped was kept or
        a cell now starts indented (IPython dedents it): lint its ``text`` then."""
        nb = read_notebook(self.path, self.render(new_text).encode("utf-8"))
        return nb

    def diff(self, new_text: str) -> str:
        """Unified diffs of the changed cells, each labelled ``path:cell N``."""
        path = display_path(self.path)
        changed = self.cell_sources(new_text)
        out = []
        for cell in self.cells:
            if cell.position not in changed:
                continue
            label = f"{path}:cell {cell.index}"
            before = [_content(r) + "\n" for r in cell.lines]
            after = [_content(r) + "\n" for r in _split(changed[cell.position])]
            out.extend(difflib.unified_diff(before, after, fromfile=label, tofile=label))
        return "".join(out)


def _opcodes(old: list[str], new: list[str]):
    """``SequenceMatcher`` opcodes, computed on what lies between the common first and last
    rows only (a fix changes a few rows of a long notebook: this keeps it linear)."""
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    if head:
        yield "equal", 0, head, 0, head
    matcher = difflib.SequenceMatcher(None, old[head:len(old) - tail], new[head:len(new) - tail],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        yield tag, i1 + head, i2 + head, j1 + head, j2 + head
    if tail:
        yield "equal", len(old) - tail, len(old), len(new) - tail, len(new)


def _indent(row: str) -> str:
    return row[: len(row) - len(row.lstrip())]


# --------------------------------------------------------------------------- JSON in place
class _SpanError(Exception):
    pass


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


def _source_spans(text: str) -> dict[int, tuple[int, int]]:
    """``{cell position: (start, end)}`` of each ``cells[i]["source"]`` value in ``text``."""
    spans: dict[int, tuple[int, int]] = {}

    def skip(pos: int) -> int:
        return _WS.match(text, pos).end()

    def value(pos: int, path: tuple) -> int:
        pos = skip(pos)
        start = pos
        if pos >= len(text):
            raise _SpanError("unexpected end")
        ch = text[pos]
        if ch == '"':
            _, pos = json.decoder.scanstring(text, pos + 1)
        elif ch == "{":
            pos = skip(pos + 1)
            if text.startswith("}", pos):
                pos += 1
            else:
                while True:
                    pos = skip(pos)
                    if not text.startswith('"', pos):
                        raise _SpanError("key expected")
                    key, pos = json.decoder.scanstring(text, pos + 1)
                    pos = skip(pos)
                    if not text.startswith(":", pos):
                        raise _SpanError("colon expected")
                    pos = value(pos + 1, (*path, key))
                    pos = skip(pos)
                    if text.startswith(",", pos):
                        pos += 1
                    elif text.startswith("}", pos):
                        pos += 1
                        break
                    else:
                        raise _SpanError("comma expected")
        elif ch == "[":
            pos = skip(pos + 1)
            if text.startswith("]", pos):
                pos += 1
            else:
                index = 0
                while True:
                    pos = skip(value(pos, (*path, index)))
                    index += 1
                    if text.startswith(",", pos):
                        pos += 1
                    elif text.startswith("]", pos):
                        pos += 1
                        break
                    else:
                        raise _SpanError("comma expected")
        else:
            m = _NUMBER.match(text, pos)
            literal = next((lit for lit in _LITERALS if text.startswith(lit, pos)), None)
            if literal is not None:
                pos += len(literal)
            elif m is not None and m.end() > pos:
                pos = m.end()
            else:
                raise _SpanError("value expected")
        if len(path) == 3 and path[0] == "cells" and path[2] == "source" and isinstance(path[1], int):
            spans[path[1]] = (start, pos)
        return pos

    value(0, ())
    return spans


def _replace_sources(text: str, values: dict[int, object]) -> str:
    spans = _source_spans(text)
    if not all(p in spans for p in values):
        raise _SpanError("a source was not found")
    ensure_ascii = _ascii_only(text)
    out, cursor = [], 0
    for position in sorted(values):
        start, end = spans[position]
        out.append(text[cursor:start])
        out.append(_format_value(text, start, end, values[position], ensure_ascii))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _format_value(text: str, start: int, end: int, value, ensure_ascii: bool) -> str:
    """``value`` as JSON laid out like the one it replaces (``text[start:end]``)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=ensure_ascii)
    if not value:
        return "[]"
    items = [json.dumps(v, ensure_ascii=ensure_ascii) for v in value]
    old = text[start:end]
    inner = old[1:-1]
    if inner.strip():
        opening = _WS.match(inner).group()
        closing = inner[len(inner.rstrip(" \t\n\r")):]
        sep = "," + opening
        first = start + 1 + len(opening)  # the first item's opening quote
        _, after_first = json.decoder.scanstring(text, first + 1)
        between = re.compile(r"[ \t\n\r]*,[ \t\n\r]*").match(text, after_first)
        if between is not None and text.startswith('"', between.end()):
            sep = between.group()  # what separates the first two items
    else:  # an empty list: a cell without rows never gets any, this is only for safety
        opening, closing, sep = "", "", ", "
    return "[" + opening + sep.join(items) + closing + "]"


def _ascii_only(text: str) -> bool:
    """Whether the file escapes non-ASCII characters (``\\u00e9``) rather than writing them."""
    return text.isascii() and re.search(r"\\u00[89a-fA-F][0-9a-fA-F]|\\u0[1-9a-fA-F]", text) is not None


def _detect_indent_text(text: str) -> str:
    m = re.search(r"\{\r?\n([ \t]+)\"", text)
    return m.group(1) if m else " "


def _detect_indent(text: str):
    if "\n" not in text.strip():
        return None
    unit = _detect_indent_text(text)
    return len(unit) if set(unit) == {" "} else unit
