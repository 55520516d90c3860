"""The per-file tree index (analysis/walk.py) and the cheap positions (analysis/positions.py)
must give exactly what LibCST's own machinery gives: the same visitor calls in the same
order, the same parents, the same ranges for every node."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from optimlint.analysis import walk
from optimlint.analysis.positions import Positions

ROOT = Path(__file__).parent.parent
SOURCES = sorted([*ROOT.glob("fixtures/*.py"), *ROOT.glob("tests/real_world/*.py")])

TRICKY = (
    "x = 1\r\ny = (1 +\r\n     2)\r\n"  # CRLF
    "def f(a, *, b=3):\r\n    '''doc\r\n    more'''\r\n    return a\r\n"
)
ODD = "@decorator\n# comment\nclass A(B, metaclass=M):  # trailing\n    x: int = 1; y = 2\n\n\n    z = f'{a!r:>{w}}'\n" \
      "if a:\n    pass\nelif b:\n    pass\nelse:\n    pass\nwith a as (b, c), d: ...\n" \
      "try:\n    pass\nexcept* E as e:\n    raise\nfinally:\n    del x\n" \
      "match p:\n    case [1, *rest] if rest:\n        pass\n    case {'k': v, **kw}:\n        pass\n" \
      "lambda *a, **k: (yield)\n"


DECORATED = '''# header comment

import os  # why


# about f
@a.b(1,
     2)

# between
@c
async def f(x):
    return (
        x)


class K:
    """doc

    """
x = 1; y = 2
z = \\
    3
(a
) = 4
def g(): pass
# footer
'''
NESTED = '''class Trainer:
    # a comment
    @staticmethod
    @other(
        1)
    async def run(self):
        async with a as b:
            async for x in b:
                while x:
                  # odd indent
                  if x: y = 1
                  elif z:
                      pass
                  else:
                    break
                else:
                    pass
        try:
            f()
        except E:
            g()
        else:
          h()
        finally:
            i(); j()

        def inner():
            pass
        return [x
    for x in y]


def tabbed():
\tif a:
\t\tb()  # tabs
'''
# ast puts this decorator on the line of ``d``, not of ``@``: found out, all generated
PAREN_DECORATOR = "x = 1\n@(\n  d\n)\ndef g(): pass\n"


def _sources():
    return [(p.name, p.read_text(encoding="utf-8")) for p in SOURCES] + [
        ("crlf", TRICKY), ("odd", ODD), ("decorated", DECORATED), ("no-final-newline", "x = 1\nf(x)"),
        ("paren-decorator", PAREN_DECORATOR), ("nested", NESTED)]


def _all_nodes(module):
    return list(MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)) + [module]


@pytest.mark.parametrize("name,text", _sources(), ids=[n for n, _ in _sources()])
def test_positions_equal_position_provider(name, text):
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    ours = Positions(module)
    assert len(expected) > 10
    for node, rng in expected.items():
        assert ours[node] == rng, (type(node).__name__, module.code_for_node(node))
    # lazily, one statement at a time
    handle = walk.track(module)
    lazy = Positions(module, text, walk.parent_map(module).get)
    parents = walk.parent_map(module)
    in_body = {id(s) for s in module.body}

    def in_statement(node):
        while node is not None and id(node) not in in_body:
            node = parents.get(node)
        return node is not None

    def depth(node):
        d = 0
        while node is not None:
            node, d = parents.get(node), d + 1
        return d

    # deepest first, so that inner statements are generated on their own before the
    # statements around them
    items = sorted(((n, r) for n, r in expected.items() if in_statement(n)), key=lambda nr: -depth(nr[0]))
    for node, rng in items[1::2] + items[::-2]:
        assert lazy[node] == rng, (type(node).__name__, module.code_for_node(node))
    if name == "paren-decorator":
        assert lazy._full  # the generated text did not match the source there: verified
    elif "\r" not in text and module.has_trailing_newline:
        assert not lazy._full  # each statement found where ast says it starts
    for node, rng in expected.items():  # the module, its header and footer: all generated
        assert lazy[node] == rng
    del handle


@pytest.mark.parametrize("name,text", _sources(), ids=[n for n, _ in _sources()])
def test_index_parents_and_visits_equal_libcst(name, text):
    module = cst.parse_module(text)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
    handle = walk.track(module)
    parents = walk.parent_map(module)
    assert isinstance(parents, walk.ParentMap)  # read from the index
    assert dict(parents.items()) == dict(expected)
    assert parents.get(module) is None
    fresh = walk.ParentMap(walk.Index(module))  # trivia parents asked before anything else
    for node, parent in expected.items():
        assert fresh.get(node) is parent
        assert parents.get(node) is parent

    # Every subtree, a visitor hooking a few node types (some pruning): same calls as the
    # recursive walk.
    calls_fast: list = []
    calls_slow: list = []

    def make(calls, trivia):
        class V(cst.CSTVisitor):
            def visit_FunctionDef(self, node):
                calls.append(("v", id(node)))
                return len(node.params.params) != 1  # prune some

            def leave_FunctionDef(self, node):
                calls.append(("l", id(node)))

            def visit_Call(self, node):
                calls.append(("v", id(node)))

            def leave_Attribute(self, node):
                calls.append(("l", id(node)))

            def visit_For(self, node):
                calls.append(("v", id(node)))
                return False

            def leave_For(self, node):
                calls.append(("l", id(node)))

        class WithTrivia(V):  # hooks a node type the index leaves out
            def visit_Comma(self, node):
                calls.append(("v", id(node)))

        return WithTrivia() if trivia else V()

    for k, node in enumerate(_all_nodes(module)[::7]):
        calls_fast.clear()
        calls_slow.clear()
        walk.visit(node, make(calls_fast, k % 5 == 0))
        walk._visit_recursive(node, make(calls_slow, k % 5 == 0))
        assert calls_fast == calls_slow
        assert walk.children(node) == walk._children(node)
    del handle


def test_visit_of_an_untracked_tree_uses_the_recursive_walk():
    module = cst.parse_module("f(g(1))\n")
    seen = []

    class V(cst.CSTVisitor):
        def visit_Call(self, node):
            seen.append(node.func.value)

    assert walk.index_of(module) is None
    walk.visit(module, V())
    assert seen == ["f", "g"]


def test_a_node_shared_twice_in_a_tree_disables_the_index():
    name = cst.Name("x")
    module = cst.Module(body=[cst.SimpleStatementLine([cst.Expr(name)]),
                              cst.SimpleStatementLine([cst.Expr(name)])])
    handle = walk.track(module)
    assert handle.index() is None
    assert isinstance(walk.parent_map(module), dict)


def _node_classes():
    out, todo = set(), [cst.CSTNode]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out:
                out.add(sub)
                todo.append(sub)
    return [c for c in out if c.__module__.startswith("libcst.") and not inspect.isabstract(c)]


def test_field_order_from_bytecode_matches_the_source():
    """``_order`` reads the visit order from ``_visit_and_replace_children``'s constants;
    the source text (what LibCST executes) must say the same for every node class."""
    classes = _node_classes()
    assert len(classes) > 150
    for cls in classes:
        declared = {f.name for f in dataclasses.fields(cls)}
        assert walk._order(cls) == walk._order_from_source(cls, declared), cls.__name__


@pytest.mark.parametrize("name,text", _sources()[:6], ids=[n for n, _ in _sources()[:6]])
def test_trivia_subtrees_hold_only_trivia(name, text):
    """The index leaves trivia out whole: nothing else may hide under a trivia node."""
    module = cst.parse_module(text)
    stack = [(module, False)]
    seen_trivia = 0
    while stack:
        node, under_trivia = stack.pop()
        trivia = walk.is_trivia(type(node))
        assert trivia or not under_trivia, type(node).__name__
        seen_trivia += trivia
        stack.extend((c, trivia) for c in node.children)
    assert seen_trivia > 10


def test_dotted_relies_on_name_and_attribute_having_no_subclasses():
    """analysis/names.py compares ``type(node) is cst.Name`` for speed."""
    from optimlint.analysis.names import dotted

    assert cst.Name.__subclasses__() == [] and cst.Attribute.__subclasses__() == []
    assert dotted(cst.parse_expression("a.b.c")) == "a.b.c"
    assert dotted(cst.parse_expression("a")) == "a"
    assert dotted(cst.parse_expression("a().b")) is None
    assert dotted(cst.parse_expression("(a).b")) == "a.b"


@pytest.mark.parametrize("name,text", _sources(), ids=[n for n, _ in _sources()])
def test_generated_extractors_give_the_kept_children_of_the_generic_loop(name, text):
    """Each class's extractor, generated from its field annotations, reads fewer fields
    than the generic loop: it must still give every non-trivia child, in the same order,
    for every node (unvalidated parse included, as the engine parses)."""
    from optimlint.parsing import parse_module

    for module in (cst.parse_module(text), parse_module(text)):
        stack = [module]
        while stack:
            node = stack.pop()
            extractor = walk._KEPT.get(type(node)) or walk._kept_extractor(type(node))
            assert extractor is not None, type(node).__name__
            got, want = extractor(node), walk._kept_children_generic(node)
            assert len(got) == len(want) and all(a is b for a, b in zip(got, want)), type(node).__name__
            stack.extend(walk._children(node))


@pytest.mark.parametrize("name,text", _sources()[:8], ids=[n for n, _ in _sources()[:8]])
def test_walks_of_an_untracked_tree_step_over_trivia_with_the_same_results(name, text):
    """A tree no context tracks (another project file) is walked without its trivia when the
    question names no trivia class: ``nodes_of`` and ``visit`` give what the full walk gives."""
    module = cst.parse_module(text)
    for types in ((cst.Call,), (cst.Name, cst.Attribute), cst.FunctionDef, (cst.AssignTarget, cst.AugAssign)):
        assert list(walk.nodes_of(module, types)) == list(walk._nodes_of(module, types))

    class Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.seen: list = []

        def visit_Call(self, node) -> bool:
            self.seen.append(("enter", node))
            return not isinstance(node.func, cst.Name)  # prunes some

        def leave_Name(self, node) -> None:
            self.seen.append(("leave", node))

    fast, slow = Calls(), Calls()
    walk.visit(module, fast)
    walk._visit_recursive(module, slow)
    assert fast.seen == slow.seen and fast.seen


IMPORTS_EVERYWHERE = '''import os, torch.nn as nn
from . import sibling
if x:
    import a.b
elif y: from c import d as e
else:
    from ..pkg.mod import (f,
                           g as h)
try:
    import i
except* E:
    from j import *
else:
    import k
finally:
    import l as m
for n in o:
    import p
else:
    import q
while r:
    import s
with t as u:
    from v import w
match z:
    case 1:
        import aa
    case _: import bb
@decorator(lambda: cc)
class K:
    import dd
    def method(self):
        import ee.ff as gg
        async def inner():
            from hh import ii
        return [jj for jj in kk]
import os as os2
'''


@pytest.mark.parametrize("name,text", [("everywhere", IMPORTS_EVERYWHERE), *_sources()[:8]],
                         ids=["everywhere", *[n for n, _ in _sources()[:8]]])
def test_import_table_of_another_file_equals_the_indexed_visit(name, text):
    """``ImportTable.build`` of a tree no index holds (another project file) steps only through
    statements; it must bind what the visit of the linted file's index binds, in the same order."""
    from optimlint.analysis.names import ImportTable

    module = cst.parse_module(text)
    untracked = ImportTable.build(module)
    handle = walk.track(module)
    assert walk.index_of(module) is not None
    indexed = ImportTable.build(module)
    del handle
    assert list(untracked.bindings.items()) == list(indexed.bindings.items())
    assert untracked.star_modules == indexed.star_modules
    if name == "everywhere":
        assert {"nn", "sibling", "a", "e", "f", "h", "i", "k", "m", "p", "q", "s", "w", "aa", "bb", "dd", "gg",
                "ii", "os", "os2"} <= set(untracked.bindings)
        assert untracked.star_modules == ["j"]
