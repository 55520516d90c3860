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
    """``positions[node] -> CodeRange`` for the nodes of ``module`` (KeyError otherwise)."""

    __slots__ = ("_module", "_ranges", "_line_starts", "_made")

    def __init__(self, module: cst.Module) -> None:
        state = _OffsetState(module)
        module._codegen(state)
        self._module = module  # keeps the ids in ``_ranges`` meaningful
        self._ranges = state.ranges
        self._line_starts = state.line_starts
        self._made: dict[int, CodeRange] = {}

    def _at(self, offset: int) -> CodePosition:
        line = bisect.bisect_right(self._line_starts, offset)
        return CodePosition(line, offset - self._line_starts[line - 1])

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        key = id(node)
        made = self._made.get(key)
        if made is None:
            start, end = self._ranges[key]
            made = self._made[key] = CodeRange(self._at(start), self._at(end))
        return made

    def __contains__(self, node: object) -> bool:
        return id(node) in self._ranges
