"""Parsing one text: CPython's verdict, LibCST's module, and OPT000 for what does not parse.

Below the checks: the engine parses each candidate file here, and the cross-file analysis
(``analysis/modules.py``) parses the project files it reads with the same rules.
"""

from __future__ import annotations

import re

from optimlint.diagnostics import Diagnostic, Location


def syntax_error(path: str, message: str, row: int = 1, column: int = 1) -> Diagnostic:
    loc = Location(max(row, 1), max(column, 1))
    return Diagnostic("OPT000", "syntax-error", message, path, loc, loc)


def cpython_verdict(path: str, source: str):
    """What CPython's parser says of ``source``: None when it parses; an OPT000 diagnostic
    for nesting too deep to hand to LibCST (whose native parser overflows the C stack, a
    segmentation fault that would end the run, on a few thousand brackets: CPython refuses
    more than 200); else the syntax error as ``(message, row, column)``, or False when
    CPython could not say where (a NUL byte in a notebook cell)."""
    # symtable parses like ast.parse (same errors, positions and limits) without building
    # Python AST objects: 1.75x faster, and its import costs 1 ms where ast's costs 5-14 ms.
    # It also refuses what only CPython's compiler would (``nonlocal`` at module level, a
    # duplicate argument): LibCST, which accepts those, has the last word on them.
    import symtable
    import warnings

    try:
        with warnings.catch_warnings():  # invalid escapes and the like: not our business
            warnings.simplefilter("ignore")
            symtable.symtable(source, path, "exec")
    except SyntaxError as exc:
        if exc.msg == "too many nested parentheses":
            return syntax_error(path, f"SyntaxError: {exc.msg}", exc.lineno or 1, exc.offset or 1)
        return (exc.msg, exc.lineno, exc.offset or 1) if exc.lineno else False
    except (RecursionError, MemoryError) as exc:
        what = "recursion limit" if isinstance(exc, RecursionError) else "memory"
        return syntax_error(path, "SyntaxError: the file is nested too deeply to be parsed "
                                  f"(CPython's parser ran out of {what})")
    except ValueError:
        return False
    return None


# ``parse_text``'s ``verdict`` when CPython has not been asked: LibCST parses first, and
# CPython is asked for its message only if LibCST refuses the text.
NOT_ASKED = object()

# A row indented 99 columns or more: CPython refuses 100 levels of indentation.
_DEEP_INDENT = re.compile(r"^[ \t]{99}", re.M)


def libcst_may_go_first(source: str) -> bool:
    """``source`` can be handed to LibCST's native parser before CPython has looked at it.

    CPython's verdict (``cpython_verdict``) guards LibCST from what it cannot take: brackets
    nested a few thousand deep overflow its stack (a segmentation fault), a chain of
    thousands of operators runs for minutes; CPython refuses both, and more than 200
    brackets or 99 indentation levels. Each of those needs a long logical line, deep
    brackets or deep indentation. A text with none of them (every row under 2,000
    characters, no row indented 99 columns, brackets that never close more than they open
    and never nest past 100, no bracketed or backslash-continued stretch over 3,000
    characters) is parsed by LibCST first, and CPython is asked only when LibCST refuses it
    (its message and position are the precise ones): on training files that is one parse
    where there were two (CPython's was 4% of a lint). Any other text is asked of CPython
    first, as before; brackets in strings and comments can only send a text there."""
    if _DEEP_INDENT.search(source) is not None:
        return False
    depth = stretch = 0
    for row in source.split("\n"):
        width = len(row)
        if width > 2000:
            return False
        if "(" in row or ")" in row or "[" in row or "]" in row or "{" in row or "}" in row:
            opens = row.count("(") + row.count("[") + row.count("{")
            if depth + opens > 100:
                return False
            depth += opens - row.count(")") - row.count("]") - row.count("}")
            if depth < 0:
                return False
        if depth or row.endswith(("\\", "\\\r")):  # (a row of a CRLF text ends with its CR)
            stretch += width
            if stretch > 3000:
                return False
        else:
            stretch = 0
    return depth == 0


_CONTINUES = re.compile(r"(else|elif|except|finally)\b")


def salvage(path: str, source: str, rounds: int = 10) -> str | None:
    """``source`` with each top-level statement CPython rejects blanked (its rows kept empty,
    so every other row stays where it was), or None when that does not make it parse. For the
    project files the cross-file analysis reads, never for a linted file: a script of 2017
    passing ``async=True`` to a helper (a keyword since Python 3.7) still shows its other
    functions, ``run_steps(DQNAgent(config))`` among them. A top-level statement starts at a
    row that begins with a name or a decorator (not ``else:`` / ``except ...:``, which continue
    one) and ends where the next one starts."""
    lines = source.splitlines(keepends=True)
    for _ in range(rounds):
        verdict = cpython_verdict(path, "".join(lines))
        if verdict is None:
            return "".join(lines)
        if not isinstance(verdict, tuple) or not 1 <= verdict[1] <= len(lines):
            return None
        row = verdict[1] - 1
        start = next((i for i in range(row, -1, -1) if _starts_statement(lines[i])), None)
        if start is None:
            return None
        while start > 0 and lines[start - 1][:1] == "@":
            start -= 1
        end = next((i for i in range(row + 1, len(lines)) if _starts_statement(lines[i])), len(lines))
        blanked = ["\n" if line.endswith("\n") else "" for line in lines[start:end]]
        if blanked == lines[start:end]:
            return None
        lines[start:end] = blanked
    return None


def _starts_statement(line: str) -> bool:
    head = line[:1]
    return (head.isalpha() or head in "_@") and _CONTINUES.match(line) is None


def parse_module(source: str):
    """``libcst.parse_module(source)`` with each node built by a plain constructor.

    LibCST's native parser builds every node by calling its class; the dataclass's
    ``__init__`` sets each field through ``object.__setattr__`` (the classes are frozen)
    and its ``__post_init__`` runs ``_validate`` (parentheses balanced, required whitespace
    present...): checks of trees built by hand, which a tree the parser built from text
    always passes, and a fifth to a third of the parse (LibCST's own comment there suggests
    skipping it for parsed files). While the parser builds this tree, each node class's
    ``__init__`` is one that stores the fields through their slots and validates nothing
    (``_plain_inits``: a tenth of what is left of the parse). A node another thread builds
    meanwhile is not validated either, which changes nothing for a valid node. Errors are
    LibCST's own."""
    import libcst as cst

    inits = _plain_inits()
    if inits is None:  # a LibCST whose nodes are not slotted dataclasses
        return cst.parse_module(source)
    for cls, (_, plain) in inits.items():
        cls.__init__ = plain
    try:
        return cst.parse_module(source)
    finally:
        for cls, (own, _) in inits.items():
            cls.__init__ = own


_INITS: list = []


def _plain_inits() -> dict | None:
    """``{node class: (its own __init__, the plain one)}`` for every node class of LibCST,
    built once; None when a class does not have the shape the plain constructor assumes
    (a slotted dataclass whose ``__init__`` takes exactly its fields)."""
    if not _INITS:
        try:
            _INITS.append(_build_plain_inits())
        except _Unexpected:
            _INITS.append(None)
    return _INITS[0]


class _Unexpected(Exception):
    pass


def _build_plain_inits() -> dict:
    import dataclasses
    import inspect

    from libcst._nodes.base import CSTNode

    out: dict = {}
    stack, seen = [CSTNode], set()
    while stack:
        for cls in stack.pop().__subclasses__():
            if cls in seen:
                continue
            seen.add(cls)
            stack.append(cls)
            # (``add_slots`` makes a new class of each dataclass: the one without its own
            # ``__slots__`` is the discarded original, never instantiated)
            if "__slots__" in cls.__dict__ and "__init__" in cls.__dict__ and dataclasses.is_dataclass(cls):
                own = cls.__dict__["__init__"]
                out[cls] = (own, _plain_init(cls, own, dataclasses, inspect))
    if not out:
        raise _Unexpected
    return out


def _plain_init(cls, own, dataclasses, inspect):
    """An ``__init__`` for ``cls`` with ``own``'s signature that stores each field through its
    slot descriptor (a default factory called as the dataclass's would) and nothing else."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    params = list(inspect.signature(own).parameters.values())[1:]
    if [p.name for p in params] != list(fields) or any(not f.init for f in dataclasses.fields(cls)):
        raise _Unexpected
    namespace: dict = {}
    args: list[str] = []
    body: list[str] = []
    starred = False
    for k, p in enumerate(params):
        slot = next((c.__dict__[p.name] for c in cls.__mro__
                     if type(c.__dict__.get(p.name)).__name__ == "member_descriptor"), None)
        if slot is None or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise _Unexpected
        if p.kind is p.KEYWORD_ONLY and not starred:
            args.append("*")
            starred = True
        namespace[f"_set{k}"] = slot.__set__
        if p.default is inspect.Parameter.empty:
            args.append(p.name)
        else:
            namespace[f"_default{k}"] = p.default
            args.append(f"{p.name}=_default{k}")
            factory = fields[p.name].default_factory
            if factory is not dataclasses.MISSING:
                namespace[f"_factory{k}"] = factory
                body.append(f"    if {p.name} is _default{k}: {p.name} = _factory{k}()")
        body.append(f"    _set{k}(self, {p.name})")
    source = f"def __init__(self, {', '.join(args)}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(compile(source, f"<plain __init__ of {cls.__name__}>", "exec"), namespace)
    return namespace["__init__"]


def parse_text(path: str, source: str, verdict):
    """The LibCST module, or ``[OPT000 diagnostic]`` when the text does not parse.

    ``verdict``: ``cpython_verdict``'s for the same text (None, a location or False), or
    ``NOT_ASKED``: CPython is asked only if LibCST refuses the text."""
    import libcst as cst  # ~0.2 s: only for a file that is parsed (never on a clean file's run)

    try:
        return parse_module(source)
    except cst.ParserSyntaxError as exc:
        if verdict is NOT_ASKED:
            verdict = cpython_verdict(path, source)
            if isinstance(verdict, Diagnostic):
                return [verdict]
        if verdict is None:
            # Valid Python that LibCST's grammar lacks (`(name): int`): not a syntax error;
            # the file cannot be analysed, so it has no findings.
            return []
        if verdict:  # CPython's message and position are the precise ones
            message, row, column = verdict
            return [syntax_error(path, f"SyntaxError: {message}", row, column)]
        message = exc.message.removeprefix("parser error: ")
        return [syntax_error(path, f"SyntaxError: {message}", exc.raw_line, exc.raw_column + 1)]
    except RecursionError:
        return [syntax_error(path, "SyntaxError: the file is nested too deeply to be parsed")]
