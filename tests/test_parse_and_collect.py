"""The linted file's parse (``parsing.parse_module``: LibCST's parser with plain node
constructors) builds LibCST's own tree, and the collector policy around each file
(``gc_policy.one_file``) leaves the collector as it found it."""

from __future__ import annotations

import gc
from pathlib import Path

import libcst as cst
import pytest

from optimlint import gc_policy
from optimlint.parsing import _plain_inits, parse_module

HERE = Path(__file__).resolve().parent

# Every kind of node whose dataclass has default factories the parser may leave out, and
# syntax of recent Pythons (match, walrus, f-strings, decorators, star-except, type aliases).
VARIED = '''\
import torch, os.path as osp
from torch import (nn,
                   optim as o)
x: int = 1 ; y = (yield_ := [a for a in range(3) if a]) or {1: 2, **{}}
@decorator(arg)
async def f(a, /, b=1, *c, d, e: "int" = 2, **g) -> None:
    global x
    async with open(p) as h, ctx():
        await h
    try:
        pass
    except* ValueError as err:
        raise err from None
    else:
        del a[1:2:3], b.c
    finally:
        return lambda q, *, r=2: q ** -r // ~1 @ m
class K(nn.Module, metaclass=M):
    """doc"""
    def forward(self, x):
        match x:
            case {"a": 1, **rest} if rest: return f"{x!r:>{w}} {x=}"
            case [1, *others] | K(a=1): return not x is not None
            case _: pass
        while x < 1 <= 2 != 3: x <<= 1; x @= m; x |= 1
        for i, j in zip(a, b): continue
        assert x, "message"
        return (x if x else -x) + 1j + 0x1F + 1.5e3 + "text" "more"
type Alias = list[int]
'''


def _corpus() -> list[str]:
    texts = [VARIED]
    for folder in ("real_world", "mutation_corpus"):
        texts += [p.read_text(encoding="utf-8") for p in sorted((HERE / folder).rglob("*.py"))][:40]
    texts += [p.read_text(encoding="utf-8") for p in sorted((HERE.parent / "fixtures").glob("*.py"))]
    return texts


def test_the_plain_constructors_cover_every_node_class():
    inits = _plain_inits()
    assert inits is not None
    assert cst.Name in inits and cst.FunctionDef in inits and cst.MatchMapping in inits


@pytest.mark.parametrize("text", _corpus(), ids=lambda t: str(len(t)))
def test_the_tree_is_libcsts_own(text):
    ours, theirs = parse_module(text), cst.parse_module(text)
    assert ours.deep_equals(theirs)
    assert ours.code == text
    # every field of every node is set: a missing slot would raise on reading it
    assert [type(n).__name__ for n in _nodes(ours)] == [type(n).__name__ for n in _nodes(theirs)]


def _nodes(root):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def test_default_factories_give_fresh_values_after_the_parse():
    parse_module(VARIED)
    # LibCST's own constructors are back: validation, and the dataclass defaults
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")
    comma = cst.Comma()
    assert comma.whitespace_before.deep_equals(cst.SimpleWhitespace(""))
    assert cst.Name("ok").lpar == ()


def test_a_syntax_error_leaves_libcsts_constructors_in_place():
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def f(:\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("1x")


def test_the_collector_is_off_while_a_file_is_linted_and_back_on_after():
    assert gc.isenabled()
    with gc_policy.one_file():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_cycle_left_by_a_file_is_collected_after_it():
    import weakref

    class Node:
        pass

    with gc_policy.one_file():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
    assert gone() is None


def test_a_collector_turned_off_by_the_caller_stays_off():
    gc.disable()
    try:
        with gc_policy.one_file():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_comes_back_when_the_lint_raises():
    with pytest.raises(RuntimeError), gc_policy.one_file():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_linted_files_tree_is_freed_without_the_collector():
    """The analyses cached on a file's context refer back to it (cycles), as do the walk
    index's memo and visitor classes made per call: the context lets them go after the checks
    and the visitors are classes of their modules, so the tree is freed by reference counting
    when the lint returns, not left for a young collection to traverse after each file (whose
    cost grew with the whole tree)."""
    from optimlint.config import Settings
    from optimlint.lint import lint_source

    real_world = sorted((HERE / "real_world").glob("*.py"))
    assert len(real_world) >= 30
    nodes = left = 0
    for path in real_world:
        source = path.read_text(encoding="utf-8")
        module = parse_module(source)
        stack = [module]
        while stack:
            nodes += 1
            stack.extend(stack.pop().children)
        gc.collect()
        gc.disable()
        try:
            lint_source(str(path), source, Settings(), parse=lambda _text, m=[module]: m.pop())
            del module
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
        finally:
            gc.set_debug(0)
            gc.enable()
        garbage, gc.garbage[:] = list(gc.garbage), []
        assert not any(type(o) is cst.Module for o in garbage), path.name
        left += sum(isinstance(o, cst.CSTNode) for o in garbage)
        del garbage
    assert left < nodes / 5, (left, nodes)  # a few subtrees that analyses' own cycles hold
