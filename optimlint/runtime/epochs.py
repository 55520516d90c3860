"""Which loop of the user's code is the epoch loop, and which epoch a call happens in.

The static model's idea, read from the running program: the loops that contain the calling
line, innermost first, through the user's frames (``train_one_epoch()`` called from the epoch
loop of ``main()``). The *epoch loop* is the innermost of them that itself contains another
loop (the batch loop), or, when the innermost loop has no loop inside (the call sits in the
batch loop), the next one out. An epoch is identified by the values of that loop's variables:
the target of a ``for`` (``epoch`` in ``for epoch in range(n)``), the names a ``while`` loop
assigns at its own level or tests (``epoch += 1``, ``while step < total``). So lists of
batches, ``while`` loops and counters have epochs, not only DataLoader iterators. A flat loop
(no nesting, ``itertools.cycle``) has epochs only when it keeps an epoch counter itself
(``epoch += 1`` once a pass over the data ends; an int named like ``epoch``, ``cur_epoch``,
``epoch_idx``); otherwise it has none, and no epoch verdict is given there.

Source comes from ``linecache`` (files, notebooks); each file is parsed once with ``ast``.
Only called at scheduler steps and at the few checkpoints, never on every optimizer step.
"""

from __future__ import annotations

import ast
import linecache
import re

from optimlint.runtime import frames as _frames

_SCALARS = (int, float, str, bool, type(None))


class _Loop:
    __slots__ = ("start", "end", "names", "nested", "scope", "counters")

    def __init__(self, start, end, names, nested, scope, counters=()):
        self.start, self.end, self.names, self.nested, self.scope = start, end, names, nested, scope
        self.counters = counters  # epoch counters the loop's own statements assign (flat loops)


#: A name that counts epochs (``epoch``, ``cur_epoch``, ``epoch_idx``), not one that holds a
#: per-epoch value (``epoch_loss``): read as an epoch only while it holds an int.
_COUNTER = re.compile(r"^(?:[a-z]+_)?epoch(?:s_done|_idx|_index|_num|_no)?$", re.IGNORECASE)


def _counters(body) -> tuple[str, ...]:
    """Epoch counters assigned by a loop body at its own level (``epoch += 1`` under an
    ``if`` that closes the epoch)."""
    names = []
    for stmt in _own_statements(body):
        targets = [stmt.target] if isinstance(stmt, ast.AugAssign) else \
            stmt.targets if isinstance(stmt, ast.Assign) else ()
        for t in targets:
            names += [n for n in _targets(t) if _COUNTER.match(n)]
    return tuple(dict.fromkeys(names))


def _scope_line(func) -> int:
    """The first line of a function's code object (its first decorator, else ``def``)."""
    return min([d.lineno for d in func.decorator_list] + [func.lineno])


def _targets(node) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def _own_statements(body):
    """Statements of a loop body at its own level (not inside nested loops or functions)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _has_loop(body) -> bool:
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _index(tree) -> list[_Loop]:
    loops: list[_Loop] = []

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, _scope_line(child))
                continue
            if isinstance(child, ast.Lambda):
                continue
            if isinstance(child, (ast.For, ast.AsyncFor)):
                names = tuple(dict.fromkeys(_targets(child.target)))
                loops.append(_Loop(child.lineno, child.end_lineno, names, _has_loop(child.body), scope,
                                   _counters(child.body)))
            elif isinstance(child, ast.While):
                names = []
                for stmt in _own_statements(child.body):
                    if isinstance(stmt, ast.AugAssign):
                        names += _targets(stmt.target)
                    elif isinstance(stmt, ast.Assign):
                        for t in stmt.targets:
                            names += _targets(t)
                names += _targets(child.test)
                loops.append(_Loop(child.lineno, child.end_lineno, tuple(dict.fromkeys(names)),
                                   _has_loop(child.body), scope, _counters(child.body)))
            visit(child, scope)

    visit(tree, 0)
    return loops


_cache: dict[str, list[_Loop] | None] = {}


def loops_of(filename: str) -> list[_Loop] | None:
    if filename in _cache:
        return _cache[filename]
    loops = None
    try:
        text = "".join(linecache.getlines(filename))
        if text:
            loops = _index(ast.parse(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        loops = None
    _cache[filename] = loops
    return loops


def _containing(frame) -> list[_Loop]:
    code = frame.f_code
    loops = loops_of(code.co_filename)
    if not loops:
        return []
    scope = 0 if code.co_name == "<module>" else code.co_firstlineno
    line = frame.f_lineno
    inside = [lp for lp in loops if lp.scope == scope and lp.start <= line <= lp.end]
    inside.sort(key=lambda lp: lp.end - lp.start)
    return inside


def _value(v):
    return v if isinstance(v, _SCALARS) else ("id", id(v))


def epoch_marker(depth: int = 3, max_frames: int = 8):
    """An opaque value that changes when the epoch loop around the caller moves on, or None
    when no epoch loop can be seen."""
    frame = _frames.user_frame(depth)
    chain = []
    seen = 0
    while frame is not None and seen < max_frames:
        if not _frames.is_internal(frame.f_code.co_filename):
            seen += 1
            for loop in _containing(frame):
                chain.append((frame, loop))
                if len(chain) >= 2:
                    break
            if len(chain) >= 2 or (chain and chain[0][1].nested):
                break
        frame = frame.f_back
    if not chain:
        return None
    frame, loop = chain[0] if chain[0][1].nested else (chain[1] if len(chain) > 1 else (None, None))
    if loop is None:
        return _flat_epoch(*chain[0])
    if not loop.names:
        return None
    scope = frame.f_globals if frame.f_code.co_name == "<module>" else frame.f_locals
    return (id(frame), loop.start) + tuple(_value(scope.get(name)) for name in loop.names)


def _flat_epoch(frame, loop):
    """A single loop over the batches that keeps its own epoch counter (``epoch += 1`` when
    a pass over the data ends): the counter's value is the epoch. None without one, or while
    it holds anything but an int."""
    if not loop.counters:
        return None
    scope = frame.f_globals if frame.f_code.co_name == "<module>" else frame.f_locals
    values = tuple(scope.get(name) for name in loop.counters)
    if not all(type(v) is int for v in values):
        return None
    return (id(frame), loop.start, "counter") + values
