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
import sys

import libcst as cst

try:  # LibCST's private code generation state: GuardedPositions falls back if these move
    from libcst._nodes.internal import CodegenState
    from libcst._position import CodePosition, CodeRange
except ImportError:  # pragma: no cover - a LibCST this module was not written against
    CodegenState = object  # type: ignore[assignment,misc]
    CodePosition = CodeRange = None  # type: ignore[assignment,misc]

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


class _Lookup:
    """``node in positions``: whether ``positions[node]`` has a range."""

    __slots__ = ()

    def __contains__(self, node: object) -> bool:
        try:
            self[node]  # type: ignore[index]
        except KeyError:
            return False
        return True


class Positions(_Lookup):
    """``positions[node] -> CodeRange`` for the nodes of ``module`` (KeyError otherwise).

    With ``source`` (the text ``module`` was parsed from) and ``parent_of``, positions are
    computed lazily, one statement at a time: a diagnostic on one line does not pay for
    generating the code of the whole file. Each statement's first line comes from CPython's
    ``ast`` walked beside LibCST's tree (its first token, minus the comment/blank lines
    LibCST attaches to it); the innermost statement holding the node asked is generated
    there with its blocks' indentation, and its text must equal the source at that offset,
    or the whole module is generated once as without ``source`` (also for ``\\r``
    newlines, a module without a trailing newline, a node outside the body, trees that do
    not line up)."""

    __slots__ = ("_module", "_ranges", "_line_starts", "_made", "_source", "_parent_of", "_tops", "_done", "_full")

    def __init__(self, module: cst.Module, source: str | None = None, parent_of=None) -> None:
        self._module = module  # keeps the ids in ``_ranges`` meaningful
        self._made: dict[int, CodeRange] = {}
        self._source = source
        self._parent_of = parent_of
        self._tops: dict[int, int] | None = None  # id(statement) -> start offset
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


    # -- one statement at a time -----------------------------------------------------
    def _generate_top(self, node: cst.CSTNode) -> None:
        """Generate the innermost statement (a line of simple statements or a compound
        statement with its body) that holds ``node``; the whole module when unsure."""
        starts = self._statement_offsets()
        if starts is None:
            return self._fall_back()
        stmt = node
        while id(stmt) not in starts:
            stmt = self._parent_of(stmt)
            if stmt is None:
                return self._fall_back()  # the module itself, its header/footer, or a stranger
        if id(stmt) in self._done:
            return None
        # The indentation the enclosing blocks put before each of its lines.
        indents: list[str] = []
        up = self._parent_of(stmt)
        while up is not None:
            if isinstance(up, (cst.IndentedBlock, cst.Match)):
                indents.append(self._module.default_indent if up.indent is None else up.indent)
            up = self._parent_of(up)
        indents.reverse()
        base = starts[id(stmt)]
        known = _STATEMENTS.get(id(stmt))
        if known is not None and known[0] is stmt and known[1] == indents and \
                self._source.startswith(known[2], base):  # type: ignore[union-attr]
            # the same statement object as in an earlier lint (the language server's
            # incremental parse keeps unchanged statements): only its offset may differ
            self._ranges.update({k: (a + base, b + base) for k, (a, b) in known[3].items()})
            self._done.add(id(stmt))
            return None
        state = _OffsetState(self._module)
        state.offset = base
        state.indent_tokens = indents
        stmt._codegen(state)
        text = "".join(state.tokens)
        if not self._source.startswith(text, base):  # type: ignore[union-attr]
            return self._fall_back()
        self._ranges.update(state.ranges)
        self._done.add(id(stmt))
        if len(_STATEMENTS) > _STATEMENTS_KEPT:
            _STATEMENTS.clear()
        _inserted()
        _STATEMENTS[id(stmt)] = (stmt, indents, text, {k: (a - base, b - base) for k, (a, b) in state.ranges.items()})
        return None

    def _fall_back(self) -> None:
        self._generate_all()

    def _statement_offsets(self) -> dict[int, int] | None:
        if self._tops is None:
            self._tops = _statement_offsets(self._module, self._source, self._line_starts) or {}
        return self._tops or None


# Relative ranges of statements generated before, by statement object: (statement, its
# indentation, its text, {id(node): (start, end) from the statement's start}).
_STATEMENTS: dict[int, tuple[cst.CSTNode, list[str], str, dict[int, tuple[int, int]]]] = {}
_STATEMENTS_KEPT = 4000

_COMPOUND_AST = {
    "FunctionDef": ("FunctionDef", "AsyncFunctionDef"), "ClassDef": ("ClassDef",), "If": ("If",),
    "For": ("For", "AsyncFor"), "While": ("While",), "With": ("With", "AsyncWith"), "Try": ("Try",),
    "TryStar": ("TryStar",), "Match": ("Match",),
}


def _statement_offsets(module: cst.Module, source: str, line_starts: list[int]) -> dict[int, int] | None:
    """``{id(statement): offset}`` where each statement in ``module`` (in any block; its
    leading comment/blank lines included) starts in ``source``, from CPython's ``ast``
    walked beside LibCST's tree; None when the two trees do not line up.

    The offsets within each module-level statement are kept by statement object
    (``_PAIRED``): when most of the module's statements were paired in an earlier lint (the
    language server's incremental parse keeps unchanged statements), only the others are
    generated and parsed by ``ast``, each as a text of its own, instead of the whole source."""
    body = module.body
    fresh = sum(1 for stmt in body if _paired(module, stmt) is None)
    if fresh * 2 > len(body):
        return _offsets_in_full(module, source, line_starts)
    out: dict[int, int] = {}
    base = sum(len(module.code_for_node(line)) for line in module.header)
    for stmt in body:
        known = _paired(module, stmt)
        if known is not None and known[3] is None:  # the module's last statement then: its text
            known = _remember(module, stmt, module.code_for_node(stmt), known[4])
        if known is not None and source.startswith(known[3], base):
            text, relative = known[3], known[4]
        else:
            text = module.code_for_node(stmt)
            if not source.startswith(text, base):
                return None
            relative = _offsets_of_one(stmt, text)
            if relative is None:
                return None
            _remember(module, stmt, text, relative)
        out.update({k: v + base for k, v in relative.items()})
        base += len(text)
    return out


def _offsets_in_full(module: cst.Module, source: str, line_starts: list[int]) -> dict[int, int] | None:
    """``_statement_offsets`` from one ``ast`` parse of the whole source; each module-level
    statement's offsets are remembered relative to its start."""
    tree = _ast_of(source)
    if tree is None:
        return None
    out: dict[int, int] = {}
    per_statement: list[dict[int, int]] = []
    k = 0
    try:
        for stmt in module.body:
            count = len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
            one: dict[int, int] = {}
            if not _pair_block([stmt], tree.body[k:k + count], one, line_starts):
                return None
            k += count
            per_statement.append(one)
            out.update(one)
    except RecursionError:
        return None
    if k != len(tree.body):
        return None
    body = module.body
    for i, (stmt, one) in enumerate(zip(body, per_statement)):
        start = one[id(stmt)]
        # the last statement's text ends before the module's footer: generated when needed
        text = source[start:per_statement[i + 1][id(body[i + 1])]] if i + 1 < len(body) else None
        _remember(module, stmt, text, {key: v - start for key, v in one.items()})
    return out


def _offsets_of_one(stmt: cst.CSTNode, text: str) -> dict[int, int] | None:
    """The offsets of ``stmt`` and the statements within it in ``text``, its own code."""
    tree = _ast_of(text)
    if tree is None:
        return None
    out: dict[int, int] = {}
    starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
    try:
        return out if _pair_block([stmt], tree.body, out, starts) else None
    except RecursionError:
        return None


def _ast_of(source: str):
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences: not ours to report
            return ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


# Offsets within module-level statements paired before, by statement object: (statement,
# the module's indentation, its newline, the statement's text or None, {id(statement or a
# statement within it): offset from its start}). The indentation and newline are what a
# block without its own generates with.
_PAIRED: dict[int, tuple] = {}
_PAIRED_KEPT = 4000


def _paired(module: cst.Module, stmt: cst.CSTNode) -> tuple | None:
    known = _PAIRED.get(id(stmt))
    if known is not None and known[0] is stmt and known[1] == module.default_indent \
            and known[2] == module.default_newline:
        return known
    return None


def _remember(module: cst.Module, stmt: cst.CSTNode, text: str | None, relative: dict[int, int]) -> tuple:
    if len(_PAIRED) > _PAIRED_KEPT:
        _PAIRED.clear()
    _inserted()
    entry = _PAIRED[id(stmt)] = (stmt, module.default_indent, module.default_newline, text, relative)
    return entry


# Entries added to _STATEMENTS and _PAIRED since the last sweep of dead ones.
_INSERTIONS = [0]
_SWEEP_EVERY = 256


def _inserted() -> None:
    _INSERTIONS[0] += 1
    if _INSERTIONS[0] >= _SWEEP_EVERY:
        _INSERTIONS[0] = 0
        forget_dead()


def forget_dead() -> None:
    """Drop the entries of ``_STATEMENTS`` and ``_PAIRED`` whose statement nothing else holds.

    Their caps count entries, and each edit in the language server adds the statements it
    re-parsed: the replaced ones stayed, each with its tree and tables, until a table held
    4,000 (the server's memory grew by ~4 KiB an edit). An entry is found only by its
    statement object, so one whose statement no tree holds can never be used again: only
    these tables hold it when its reference count is theirs (plus this function's own three:
    ``objects``' value, the local name, ``getrefcount``'s argument). LibCST nodes cannot be
    weakly referenced, hence the count."""
    objects: dict[int, cst.CSTNode] = {}
    counts: dict[int, int] = {}
    for table in (_STATEMENTS, _PAIRED):
        for entry in table.values():
            key = id(entry[0])
            objects[key] = entry[0]
            counts[key] = counts.get(key, 0) + 1
    dead = set()
    stmt = None
    for key in list(objects):
        stmt = objects[key]
        if sys.getrefcount(stmt) <= counts[key] + 3:
            dead.add(key)
    stmt = None
    objects.clear()
    for table in (_STATEMENTS, _PAIRED):
        for key in [k for k, entry in table.items() if id(entry[0]) in dead]:
            del table[key]


def _pair_block(stmts, nodes: list, out: dict[int, int], line_starts: list[int]) -> bool:
    k = 0
    for stmt in stmts:
        if k >= len(nodes):
            return False
        first = nodes[k]
        if isinstance(stmt, cst.SimpleStatementLine):
            k += len(stmt.body)
            line = first.lineno
        else:
            k += 1
            if type(first).__name__ not in _COMPOUND_AST.get(type(stmt).__name__, ()):
                return False
            decorators = getattr(stmt, "decorators", ())
            if decorators:
                if not getattr(first, "decorator_list", None):
                    return False
                line = first.decorator_list[0].lineno - len(decorators[0].leading_lines)
            else:
                line = first.lineno - len(getattr(stmt, "lines_after_decorators", ()))
            if not _pair_compound(stmt, first, out, line_starts):
                return False
        line -= len(stmt.leading_lines)
        if not 1 <= line <= len(line_starts):
            return False
        out[id(stmt)] = line_starts[line - 1]
    return k == len(nodes)


def _body(block) -> list | None:
    """The statements of an indented block; None for ``if x: a; b`` (one line, no lines of
    its own to find)."""
    return list(block.body) if isinstance(block, cst.IndentedBlock) else None


def _pair_body(block, nodes: list, out: dict[int, int], line_starts: list[int]) -> bool:
    stmts = _body(block)
    return True if stmts is None else _pair_block(stmts, nodes, out, line_starts)


def _pair_compound(stmt, node, out: dict[int, int], line_starts: list[int]) -> bool:
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef, cst.With)):
        return _pair_body(stmt.body, node.body, out, line_starts)
    if isinstance(stmt, cst.If):
        if not _pair_body(stmt.body, node.body, out, line_starts):
            return False
        orelse = stmt.orelse
        if orelse is None:
            return not node.orelse
        if isinstance(orelse, cst.If):  # elif: the ast has one If in its orelse
            return (len(node.orelse) == 1 and type(node.orelse[0]).__name__ == "If"
                    and _pair_compound(orelse, node.orelse[0], out, line_starts))
        return _pair_body(orelse.body, node.orelse, out, line_starts)
    if isinstance(stmt, (cst.For, cst.While)):
        if not _pair_body(stmt.body, node.body, out, line_starts):
            return False
        if stmt.orelse is None:
            return not node.orelse
        return _pair_body(stmt.orelse.body, node.orelse, out, line_starts)
    if isinstance(stmt, (cst.Try, cst.TryStar)):
        if not _pair_body(stmt.body, node.body, out, line_starts):
            return False
        if len(stmt.handlers) != len(node.handlers):
            return False
        for h, n in zip(stmt.handlers, node.handlers):
            if not _pair_body(h.body, n.body, out, line_starts):
                return False
        if (stmt.orelse is None) != (not node.orelse) or (stmt.finalbody is None) != (not node.finalbody):
            return False
        if stmt.orelse is not None and not _pair_body(stmt.orelse.body, node.orelse, out, line_starts):
            return False
        if stmt.finalbody is not None and not _pair_body(stmt.finalbody.body, node.finalbody, out, line_starts):
            return False
        return True
    if isinstance(stmt, cst.Match):
        if len(stmt.cases) != len(node.cases):
            return False
        return all(_pair_body(c.body, n.body, out, line_starts) for c, n in zip(stmt.cases, node.cases))
    return False


def provider_positions(module: cst.Module):
    """LibCST's own ``PositionProvider`` mapping (``[node]`` and ``in``, like ``Positions``)."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


class GuardedPositions(_Lookup):
    """``Positions``, which drives LibCST's private code generation state, and LibCST's own
    provider from the first sign that this LibCST's internals differ from those it was
    written against (an AttributeError or TypeError inside it): slower, never wrong."""

    __slots__ = ("_module", "_fast", "_slow")

    def __init__(self, module: cst.Module, source: str | None = None, parent_of=None) -> None:
        self._module = module
        self._slow = None
        try:
            self._fast: Positions | None = Positions(module, source, parent_of)
        except (AttributeError, TypeError):  # CodegenState is not what it was
            self._fast = None

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        if self._fast is not None:
            try:
                return self._fast[node]
            except (AttributeError, TypeError):
                self._fast = None
        if self._slow is None:
            self._slow = provider_positions(self._module)
        return self._slow[node]

