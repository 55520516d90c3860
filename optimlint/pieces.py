"""A big file cut into independent pieces, each parsed, linted and dropped in turn.

LibCST's tree of a file costs ~19 MB per 1,000 lines and the analyses hold it for the whole
lint: a 100k-line file would need ~2 GB. A file of at least ``MIN_LINES`` lines is cut here
into pieces that cannot see each other, and ``lint.lint_source`` lints one piece at a time,
so memory is bounded by the largest piece.

How (CPython's ``ast`` locates the module-level statements, ten times cheaper than LibCST):

- **Units**: module-level statements, decorators included; statements that share a line
  (``a = 1; b = 2``) are one unit.
- **Header**: units that only import (``import x``, ``from y import z``, and ``try``
  blocks of imports). A piece holds the header units that bind the names it mentions (the
  first and the last of each, see ``_header_for``): imports read by many pieces do not join
  them.
- **Reference graph**: a unit *binds* the module-level names its module-level code stores
  (assignments, ``def``/``class`` names, ``for``/``with`` targets, names declared
  ``global`` anywhere inside it) and *mentions* every name written anywhere inside it (a
  local variable that shares a module-level name's spelling counts too: over-connecting
  only makes a piece bigger, never wrong). Units that bind or mention one non-header name
  are joined. A piece is a connected component.
- **Whole-file facts**: what the analyses gather over the whole file whatever the function
  (the import table, imports inside functions included; the argparse parser's options and
  which attributes the file sets) is gathered once for the file (``Plan``) and given to the
  analysis of every piece, so a piece sees the file's, not its own. Not gathered: questions
  about the rest of the file by a dotted name whatever the function (OPT401's "``model.neck``
  frozen or given to another optimizer elsewhere in the file") see the rest of the piece:
  in a big file of unrelated functions that share the spelling ``model.neck``, the whole
  file's answer was the accident, the piece's is the function's own.
- **Text**: a piece is its units' lines (each with the comment and blank lines right above
  it), in file order: columns are the file's own, and ``Rows`` maps a piece's rows to the
  file's, which its ``FileContext`` applies to every position (so findings, messages that
  name a row, and fix edits are in the file's rows; fixes apply to the real file). Emptying
  the other pieces' lines instead would keep rows without a map, but LibCST would then parse
  every empty line of the file for every piece.

Components are packed, in file order, into pieces of at least ``PIECE_LINES`` lines (or
the file threshold when lower: tests cut small files into single components), for fewer
pieces and fewer copies of the header to parse. A file whose units form a single component, or that
``ast`` cannot parse, is not cut (``plan`` returns None) and is linted whole as before.
"""

from __future__ import annotations

import os
import re

# A file shorter than this is linted whole: its tree fits well within the memory budget
# (~19 MB per 1,000 lines), and whole is the reference the pieces are checked against.
# ``OPTIMLINT_PIECES_MIN_LINES`` overrides it (tests and benchmarks cut small files).
MIN_LINES = 8000
PIECE_LINES = 2000
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+\Z")


def min_lines() -> int:
    raw = os.environ.get("OPTIMLINT_PIECES_MIN_LINES")
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            pass
    return MIN_LINES


class Plan:
    """The pieces of one file and what every piece must see of the whole file.

    ``texts``: each piece's text and its segments (``Rows``: where its rows are in the
    file). ``imports``: the file's
    import bindings and star imports (``names.ImportTable``'s, imports inside functions of
    other pieces included), read by ``ast``. ``argparse_text``: the file with only the units
    that hold the argparse parser's facts (``add_argument``, ``set_defaults``, ``setattr``),
    or None when none does; ``attribute_stores``: every attribute name the file assigns
    (``x.name = ...``, ``x.name += ...``), which ``argparse_defaults`` reads as "set elsewhere"."""

    def __init__(self, texts, imports, argparse_text, attribute_stores) -> None:
        self.texts: list[tuple[str, list[tuple[int, int]]]] = texts
        self.imports: tuple[dict[str, str], list[str]] = imports
        self.argparse_text: str | None = argparse_text
        self.attribute_stores: set[str] = attribute_stores


def plan(source: str) -> Plan | None:
    """How to lint ``source`` in pieces, or None when the file is to be linted whole."""
    if source.count("\n") + 1 < min_lines():
        return None
    lines = _LINES.findall(source)  # not str.splitlines: a form feed does not end a row
    units: list[tuple[int, int, bool]] = []  # (first row, last row, in the header)
    survey = _Survey()
    try:
        for tree in _trees(lines):
            found = _units(tree.body)
            survey.add(found)
            units.extend((start, end, _is_header(stmts)) for start, end, stmts in found)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(units) < 2:
        return None
    header = [k for k, u in enumerate(units) if u[2]]
    body = [k for k, u in enumerate(units) if not u[2]]
    components = _components(body, survey)
    if len(components) < 2:
        return None
    pieces: list[tuple[list[int], set[str]]] = []
    size = 0
    target = min(PIECE_LINES, min_lines())
    for comp, names in components:
        n = sum(units[k][1] - units[k][0] + 1 for k in comp)
        if not pieces or size >= target:
            pieces.append(([], set()))
            size = 0
        pieces[-1][0].extend(comp)
        pieces[-1][1].update(names)
        size += n
    if len(pieces) < 2:
        return None
    # Each kept unit comes with the comment and blank lines right above it (what LibCST
    # reads as its leading lines); the lines before the first unit and after the last one
    # (the module's header and footer) are in every piece.
    above = []
    prev_end = 0
    for start, end, _ in units:
        above.append(prev_end + 1)
        prev_end = end
    tail = (prev_end + 1, len(lines))

    def piece_of(chosen: list[int]) -> tuple[str, list[tuple[int, int]]]:
        """The piece's text and its segments ``(first row in the piece, first row in the file)``."""
        spans = [(1, units[0][0] - 1)] if units[0][0] > 1 else []
        spans += [(above[k], units[k][1]) for k in sorted(chosen)]
        if tail[0] <= tail[1]:
            spans.append(tail)
        out: list[str] = []
        segments: list[tuple[int, int]] = []
        row = 1
        for first, last in spans:
            if segments and segments[-1][1] + (row - segments[-1][0]) == first:
                pass  # continues the previous segment
            else:
                segments.append((row, first))
            out.extend(lines[first - 1:last])
            row += last - first + 1
        text = "".join(out)
        if text and not text.endswith(("\n", "\r")):
            text += "\n"  # a unit that ended the file without a newline, followed by others
        return text, segments

    texts = [piece_of(_header_for(header, names, survey) + piece) for piece, names in pieces]
    return Plan(texts, _import_table(survey.imports), _argparse_calls(survey.argparse, lines),
                survey.attribute_stores)


class Rows:
    """A piece's rows -> the file's rows: each segment of the piece is a run of the file's
    lines, so a row moves by its segment's offset (a row past the end by the last one's)."""

    __slots__ = ("_starts", "_offsets")

    def __init__(self, segments: list[tuple[int, int]]) -> None:
        self._starts = [p for p, _ in segments]
        self._offsets = [f - p for p, f in segments]

    def __call__(self, row: int) -> int:
        from bisect import bisect_right

        return row + self._offsets[max(0, bisect_right(self._starts, row) - 1)]


class _Survey:
    """One walk of each unit's statements: the names each unit binds and mentions, and the
    whole file's imports, attribute stores and argparse calls."""

    def __init__(self) -> None:
        self.bound: list[set[str]] = []
        self.mentions: list[set[str]] = []
        self.imports: list = []  # (unit index, node)
        self.argparse: list = []
        self.attribute_stores: set[str] = set()

    def add(self, units: list) -> None:
        """Survey ``units`` (``_units``'s), the next ones of the file."""
        import ast

        defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        for k, (_, _, stmts) in enumerate(units, start=len(self.bound)):
            bound: set[str] = set()
            named: set[str] = set()
            for stmt in stmts:
                bound |= _bound(stmt)
                for node in ast.walk(stmt):
                    t = type(node)
                    if t is ast.Name:
                        named.add(node.id)
                    elif t is ast.Attribute:
                        pass
                    elif t in defs:
                        named.add(node.name)
                    elif t is ast.Global:
                        named.update(node.names)
                    elif t is ast.Import or t is ast.ImportFrom:
                        self.imports.append((k, node))
                    elif t is ast.Assign:
                        self.attribute_stores.update(x.attr for x in node.targets if type(x) is ast.Attribute)
                    elif t is ast.AugAssign:
                        if type(node.target) is ast.Attribute:
                            self.attribute_stores.add(node.target.attr)
                    elif t is ast.Call:
                        f = node.func
                        if type(f) is ast.Attribute and f.attr in ("add_argument", "set_defaults") \
                                or type(f) is ast.Name and f.id == "setattr":
                            self.argparse.append(node)
            self.bound.append(bound)
            self.mentions.append(named)


# A line that may start a module-level statement: not indented, not a comment or a closing
# bracket, not a clause that continues the statement above.
_MAY_START = re.compile(r"(?!(else|elif|except|finally)\b)[^\s#)\]}]")
CHUNK_LINES = 2000


def _trees(lines: list[str]):
    """CPython's trees of the file, a run of about ``CHUNK_LINES`` whole module-level
    statements at a time, rows counted from the file's start: the tree of a 100k-line file
    at once would take more memory than its pieces. A run is cut before a line that may
    start a statement; where that line is inside a string or brackets after all, the run
    does not parse and is extended (the whole file parses: checked before, and the last run
    ends with it)."""
    import ast
    import warnings

    first = 0
    while first < len(lines):
        last = first + CHUNK_LINES
        while True:
            while last < len(lines) and not _MAY_START.match(lines[last]):
                last += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse("".join(lines[first:last]))
                break
            except SyntaxError:
                if last >= len(lines):
                    raise
                last += max(1, last - first)  # grows geometrically: a long string costs log(n) tries
        if first:
            ast.increment_lineno(tree, first)
        yield tree
        first = last


def _header_for(header: list[int], names: set[str], survey: _Survey) -> list[int]:
    """The header units a piece that mentions ``names`` is given: for each name it mentions,
    the first and the last import that binds it (a big file repeats ``import torch`` in every
    part; the import table each piece reads is the whole file's anyway), every star import,
    and the first ``from torch.optim import Adam`` (where OPT302's fix adds ``AdamW``)."""
    import ast

    first: dict[str, int] = {}
    last: dict[str, int] = {}
    chosen: set[int] = set()
    adam = False
    wanted = set(header)
    for k, node in survey.imports:
        if k not in wanted:
            continue
        for alias in node.names:
            if alias.name == "*":
                chosen.add(k)
                continue
            name = (alias.asname or alias.name).split(".")[0]
            if name in names:
                first.setdefault(name, k)
                last[name] = k
            if not adam and isinstance(node, ast.ImportFrom) and node.module == "torch.optim" \
                    and not node.level and alias.name == "Adam" and alias.asname is None:
                adam = True
                chosen.add(k)
    chosen.update(first.values())
    chosen.update(last.values())
    return sorted(chosen)


def _argparse_calls(calls: list, lines: list[str]) -> str | None:
    """A text of the file's ``add_argument``, ``set_defaults`` and ``setattr`` calls, each a
    parenthesised expression of its own, in the order of the file (what
    ``argparse_defaults`` reads of a tree besides attribute stores); None when there are none."""
    if not calls:
        return None
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    out: list[str] = []
    end = (0, 0)
    for call in calls:
        if (call.lineno, call.col_offset) < end:
            continue  # inside the previous call's text already
        end = (call.end_lineno, call.end_col_offset)
        first, last = call.lineno - 1, call.end_lineno - 1
        raw = [line.encode("utf-8", "surrogatepass") for line in lines[first:last + 1]]
        if first == last:
            raw = [raw[0][call.col_offset:call.end_col_offset]]
        else:
            raw[0] = raw[0][call.col_offset:]
            raw[-1] = raw[-1][:call.end_col_offset]
        out.append("(\n" + b"".join(raw).decode("utf-8", "surrogatepass") + "\n)\n")
    return "".join(out)


def _import_table(imports: list) -> tuple[dict[str, str], list[str]]:
    """``names.ImportTable.build``'s bindings and star modules, from CPython's tree: every
    import of the file, module level or nested, in the order of the text."""
    import ast

    found = [node for _, node in imports]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    bindings: dict[str, str] = {}
    stars: list[str] = []
    for node in found:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    bindings[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    bindings[root] = root
            continue
        module = "." * node.level + (node.module or "")
        if any(alias.name == "*" for alias in node.names):
            stars.append(module)
            continue
        for alias in node.names:
            local = alias.asname or alias.name
            sep = "" if module.endswith(".") else "."
            bindings[local] = f"{module}{sep}{alias.name}" if module else alias.name
    return bindings, stars


def _units(body: list) -> list[tuple[int, int, list]]:
    """``(first row, last row, statements)`` of each module-level unit, in order."""
    units: list[tuple[int, int, list]] = []
    for stmt in body:
        start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", ()))])
        end = stmt.end_lineno or stmt.lineno
        if units and start <= units[-1][1]:  # shares a line with the previous statement
            first, last, stmts = units[-1]
            units[-1] = (first, max(last, end), [*stmts, stmt])
        else:
            units.append((start, end, [stmt]))
    return units


def _is_header(stmts: list) -> bool:
    import ast

    def imports_only(nodes) -> bool:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass)):
                continue
            if isinstance(node, ast.Try):
                if not (imports_only(node.body) and imports_only(node.orelse) and imports_only(node.finalbody)
                        and all(imports_only(h.body) for h in node.handlers)):
                    return False
                continue
            return False
        return True

    return imports_only(stmts)


def _components(body: list[int], survey: _Survey) -> list[tuple[list[int], set[str]]]:
    """The connected components of the units ``body`` (indices), each in file order,
    ordered by their first unit; each with the names its units mention."""
    parent = {k: k for k in body}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    bound_by: dict[str, int] = {}  # a name -> the first unit of body that binds it
    for k in body:
        for name in survey.bound[k]:
            first = bound_by.setdefault(name, k)
            if first != k:
                union(first, k)
    for k in body:
        for name in survey.mentions[k]:
            binder = bound_by.get(name)
            if binder is not None:
                union(k, binder)
    groups: dict[int, tuple[list[int], set[str]]] = {}
    for k in body:
        units, names = groups.setdefault(find(k), ([], set()))
        units.append(k)
        names |= survey.mentions[k]
    return [groups[k] for k in sorted(groups)]


def _bound(stmt) -> set[str]:
    """Module-level names ``stmt`` binds (its own code outside nested functions and classes,
    and names any nested function declares ``global``)."""
    import ast

    out: set[str] = set()
    stack = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
            for inner in ast.walk(node):
                if isinstance(inner, ast.Global):
                    out.update(inner.names)
            stack.extend(getattr(node, "decorator_list", ()))
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            out.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                out.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return out


class RowsMoved:
    """A piece's positions (``analysis.positions``), in the file's rows."""

    __slots__ = ("_positions", "_rows")

    def __init__(self, positions, rows: Rows) -> None:
        self._positions = positions
        self._rows = rows

    def __getitem__(self, node):
        from libcst.metadata import CodePosition, CodeRange

        found = self._positions[node]
        rows = self._rows
        return CodeRange(CodePosition(rows(found.start.line), found.start.column),
                         CodePosition(rows(found.end.line), found.end.column))

    def __contains__(self, node: object) -> bool:
        return node in self._positions
