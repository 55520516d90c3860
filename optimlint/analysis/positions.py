"""Node positions (LibCST's ``PositionProvider`` ranges) from one cheap code generation.

``MetadataWrapper.resolve(PositionProvider)`` costs about 4x a plain ``module.code``: the
wrapper also runs an empty batched visit (which rebuilds every node), and the provider's
codegen state builds a ``CodeRange`` per node, splits every token with a regex and hashes
nodes through ``CSTNode.__hash__``. ``Positions`` runs the same code generation with a
state that records each node's start and end as character offsets (keyed by ``id``),
and turns the offsets of the nodes actually asked for into the same ``CodeRange``
LibCST would give: the same recording rules (``record_syntactic_position`` with its
``start_node``/``end_node`` overrides wins over ``before/after_codegen``), the same line
counting (``\\r\\n``, ``\\r`` and ``\\n`` within each token).
"""

from __future__ import annotations

import bisect
import re

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst._position import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")


class _Record:
    """``record_syntactic_position`` as a plain context manager (no generator)."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: "_OffsetState", node, start_node, end_node) -> None:
        self.state = state
        self.node = node
        self.start_node = start_node
        self.end_node = end_node

    def __enter__(self) -> None:
        self.start = self.state.offset

    def __exit__(self, *exc) -> None:
        ranges = self.state.ranges
        start = ranges[id(self.start_node)][0] if self.start_node is not None else self.start
        end = ranges[id(self.end_node)][1] if self.end_node is not None else self.state.offset
        ranges[id(self.node)] = (start, end)


class _OffsetState(CodegenState):
    __slots__ = ("offset", "line_starts", "ranges", "_stack")

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.offset = 0
        self.line_starts = [0]
        self.ranges: dict[int, tuple[int, int]] = {}
        self._stack: list[int] = []

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        if "\n" in value or "\r" in value:
            base = self.offset
            self.line_starts.extend(base + m.end() for m in _NEWLINE.finditer(value))
        self.offset += len(value)

    def before_codegen(self, node) -> None:
        self._stack.append(self.offset)

    def after_codegen(self, node) -> None:
        start = self._stack.pop()
        key = id(node)
        ranges = self.ranges
        if key not in ranges:
            ranges[key] = (start, self.offset)

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):  # type: ignore[override]
        return _Record(self, node, start_node, end_node)


class Positions:
    """``positions[node] -> CodeRange`` for the nodes of ``module`` (KeyError otherwise).

    With ``source`` (the text ``module`` was parsed from) and ``parent_of``, positions are
    computed lazily, one top-level statement at a time: a diagnostic in one function does
    not pay for generating the code of the whole file. A top-level statement's first line
    comes from CPython's ``ast`` (its first token, minus the comment/blank lines LibCST
    attaches to it); its generated text must then equal the source at that offset, or the
    whole module is generated once as without ``source`` (also for ``\r`` newlines, a
    module without a trailing newline, a node outside the body)."""

    __slots__ = ("_module", "_ranges", "_line_starts", "_made", "_source", "_parent_of", "_tops", "_done", "_full")

    def __init__(self, module: cst.Module, source: str | None = None, parent_of=None) -> None:
        self._module = module  # keeps the ids in ``_ranges`` meaningful
        self._made: dict[int, CodeRange] = {}
        self._source = source
        self._parent_of = parent_of
        self._tops: dict[int, int] | None = None  # id(top-level statement) -> start offset
        self._done: set[int] = set()
        self._full = False
        self._ranges: dict[int, tuple[int, int]] = {}
        self._line_starts: list[int] = [0]
        if source is None or parent_of is None or "\r" in source or not module.has_trailing_newline:
            self._generate_all()
        else:
            self._line_starts.extend(m.end() for m in _NEWLINE.finditer(source))

    def _generate_all(self) -> None:
        state = _OffsetState(self._module)
        self._module._codegen(state)
        self._ranges = state.ranges
        self._line_starts = state.line_starts
        self._full = True

    def _at(self, offset: int) -> CodePosition:
        line = bisect.bisect_right(self._line_starts, offset)
        return CodePosition(line, offset - self._line_starts[line - 1])

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        key = id(node)
        made = self._made.get(key)
        if made is None:
            found = self._ranges.get(key)
            if found is None and not self._full:
                self._generate_top(node)
                found = self._ranges.get(key)
            if found is None:
                raise KeyError(node)
            start, end = found
            made = self._made[key] = CodeRange(self._at(start), self._at(end))
        return made

    def __contains__(self, node: object) -> bool:
        try:
            self[node]  # type: ignore[index]
        except KeyError:
            return False
        return True

    # -- one top-level statement at a time ---------------------------------------------
    def _generate_top(self, node: cst.CSTNode) -> None:
        top, parent = node, self._parent_of(node)
        while parent is not None and parent is not self._module:
            top, parent = parent, self._parent_of(parent)
        if parent is None:
            return self._fall_back()  # the module itself, its header/footer, or a stranger
        if id(top) in self._done:
            return None
        tops = self._top_offsets()
        base = tops.get(id(top)) if tops is not None else None
        if base is None:
            return self._fall_back()
        state = _OffsetState(self._module)
        state.offset = base
        top._codegen(state)
        text = "".join(state.tokens)
        if not self._source.startswith(text, base):  # type: ignore[union-attr]
            return self._fall_back()
        self._ranges.update(state.ranges)
        self._done.add(id(top))
        return None

    def _fall_back(self) -> None:
        self._generate_all()

    def _top_offsets(self) -> dict[int, int] | None:
        if self._tops is None:
            self._tops = _top_offsets(self._module, self._source, self._line_starts) or {}
        return self._tops or None


def _top_offsets(module: cst.Module, source: str, line_starts: list[int]) -> dict[int, int] | None:
    """``{id(statement): offset}`` where each statement of ``module.body`` starts in
    ``source`` (its leading comment/blank lines included); None when unsure."""
    import ast

    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences: not ours to report
            tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    flat = tree.body
    out: dict[int, int] = {}
    k = 0
    for stmt in module.body:
        if k >= len(flat):
            return None
        first = flat[k]
        if isinstance(stmt, cst.SimpleStatementLine):
            k += len(stmt.body)
            line = first.lineno
        else:
            k += 1
            decorators = getattr(stmt, "decorators", ())
            if decorators:
                if not getattr(first, "decorator_list", None):
                    return None
                line = first.decorator_list[0].lineno - len(decorators[0].leading_lines)
            else:
                line = first.lineno - len(getattr(stmt, "lines_after_decorators", ()))
        line -= len(stmt.leading_lines)
        if not 1 <= line <= len(line_starts):
            return None
        out[id(stmt)] = line_starts[line - 1]
    if k != len(flat):
        return None
    return out
