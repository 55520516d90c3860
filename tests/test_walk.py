"""analysis/walk.py: the read-only traversal the checks use instead of LibCST's ``visit``."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider

from optimlint.analysis import walk
from optimlint.config import Settings

SOURCE = (Path(__file__).parent.parent / "fixtures" / "train_loop.py").read_text(encoding="utf-8")


def _recording_visitor():
    """A plain visitor recording every visit_/leave_ call for the node types in SOURCE."""
    calls: list[tuple[str, str, int]] = []
    names = {type(n).__name__ for n in _all_nodes(cst.parse_module(SOURCE))}
    attrs = {}
    for name in names:
        attrs[f"visit_{name}"] = (lambda n=name: lambda self, node: calls.append(("visit", n, id(node))))()
        attrs[f"leave_{name}"] = (lambda n=name: lambda self, node: calls.append(("leave", n, id(node))))()
    return type("V", (cst.CSTVisitor,), attrs)(), calls


def _all_nodes(module):
    out, stack = [], [module]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def test_visit_makes_libcsts_calls_in_libcsts_order():
    module = cst.parse_module(SOURCE)
    fast, fast_calls = _recording_visitor()
    walk.visit(module, fast)
    slow, slow_calls = _recording_visitor()
    MetadataWrapper(module, unsafe_skip_copy=True).module.visit(slow)
    # LibCST's visit rebuilds nodes, so compare the sequence of (event, type) pairs
    assert [c[:2] for c in fast_calls] == [c[:2] for c in slow_calls]
    assert len(fast_calls) > 200


def test_visit_skips_children_when_visit_returns_false():
    module = cst.parse_module("def f():\n    g(1)\n\nh(2)\n")
    seen = []

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node):
            return False

        def visit_Call(self, node):
            seen.append(node.func.value)

    walk.visit(module, V())
    assert seen == ["h"]


def test_parent_map_equals_parent_node_provider():
    module = cst.parse_module(SOURCE)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
    assert walk.parent_map(module) == dict(expected)


def test_linting_keeps_no_file_alive():
    """Visitor classes defined inside checks close over a file's context: nothing may cache
    them strongly, or every linted tree stays in memory for the whole run."""
    from optimlint import context
    from optimlint.lint import lint_source

    alive = []
    real_init = context.FileContext.__init__

    def tracking_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        alive.append(weakref.ref(self))

    context.FileContext.__init__ = tracking_init
    try:
        for _ in range(3):
            lint_source("train.py", SOURCE, Settings(select=["OPT"]))
    finally:
        context.FileContext.__init__ = real_init
    gc.collect()
    assert len(alive) == 3
    assert [ref() for ref in alive] == [None, None, None]


def test_nodes_of_read_from_the_index_equals_the_walk():
    """nodes_of over a tracked tree reads the index: the same nodes, in the same order, as
    walking the subtree, for every statement and node classes the checks ask for."""
    module = cst.parse_module(SOURCE)
    handle = walk.track(module)
    kinds = [(cst.Call,), cst.Name, (cst.Name, cst.Attribute), (cst.FunctionDef, cst.ClassDef),
             (cst.Assign, cst.AnnAssign, cst.AugAssign), (cst.Attribute,), (cst.Comma,), cst.BaseExpression]
    roots = [module, *walk._nodes_of(module, (cst.FunctionDef, cst.For, cst.SimpleStatementLine))]
    for root in roots:
        for types in kinds:
            got = list(walk.nodes_of(root, types))
            assert [id(n) for n in got] == [id(n) for n in walk._nodes_of(root, types)]
    assert walk._indexed_names((cst.Call,)) == ("Call",)
    assert walk._indexed_names((cst.Comma,)) == ()  # trivia: not in the index
    assert walk._indexed_names(cst.BaseExpression) == ()  # a base class: walked
    assert handle.index() is not None
