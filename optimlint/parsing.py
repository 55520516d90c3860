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
    """``libcst.parse_module(source)`` without LibCST's validation of each node it builds.

    Every node's ``__post_init__`` runs ``_validate`` (parentheses balanced, required
    whitespace present...): checks of trees built by hand, which a tree the parser built
    from text always passes, and a fifth to a third of the parse (LibCST's own comment
    there suggests skipping it for parsed files). Validation is off only while the parser
    builds this tree; a node another thread builds meanwhile is not validated either,
    which changes nothing for a valid node. Errors are LibCST's own."""
    import libcst as cst
    from libcst._nodes.base import CSTNode

    validate = CSTNode.__dict__.get("__post_init__")
    if validate is None:  # a LibCST that validates elsewhere
        return cst.parse_module(source)
    CSTNode.__post_init__ = _skip_validation  # type: ignore[method-assign]
    try:
        return cst.parse_module(source)
    finally:
        CSTNode.__post_init__ = validate  # type: ignore[method-assign]


def _skip_validation(self) -> None:
    pass


def parse_text(path: str, source: str, verdict):
    """The LibCST module, or ``[OPT000 diagnostic]`` when the text does not parse.

    ``verdict``: ``cpython_verdict``'s for the same text (None, a location or False)."""
    import libcst as cst  # ~0.2 s: only for a file that is parsed (never on a clean file's run)

    try:
        return parse_module(source)
    except cst.ParserSyntaxError as exc:
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
