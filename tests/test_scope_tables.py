"""Name-binding answers read from one walk per scope (kept with the file's walk index) equal
the answers of a walk per question, on the project's real-world programs and the fixtures.

``assignments.stores`` answers every key of a scope of the linted file from one table, and
``param_groups.name_use`` steps over the subtrees without the name: both made a big module's
analysis quadratic when each question walked the whole scope (issue 13's 63k-line file)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from optimlint.analysis import assignments, walk
from optimlint.analysis.names import key_of
from optimlint.analysis.param_groups import name_use
from optimlint.parsing import parse_module

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "tests" / "real_world").glob("*.py")) + sorted((ROOT / "fixtures").glob("*.py"))


def _scopes(module: cst.Module) -> list[cst.CSTNode]:
    return [module, *walk.nodes_of(module, (cst.FunctionDef, cst.ClassDef))]


def _keys(module: cst.Module) -> list[str]:
    """The keys bound anywhere in ``module``, and a few only read."""
    bound = set(assignments._all_stores(module, True))
    read = {key_of(n) for n in walk.nodes_of(module, (cst.Name, cst.Attribute))} - bound - {None}
    return sorted(bound) + sorted(read)[:5]


def _spelled(module: cst.Module, stores) -> list[tuple[str, str, str, str]]:
    def code(node):
        return "" if node is None else module.code_for_node(node)

    return [(type(s.node).__name__, s.kind, code(s.target), code(s.value)) for s in stores]


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_stores_from_one_table_equal_one_walk_per_key(path):
    text = path.read_text(encoding="utf-8")
    tracked = parse_module(text)
    handle = walk.track(tracked)  # as a FileContext does
    alone = parse_module(text)  # the same program, untracked: a walk per question
    asked = 0
    for scope, twin in zip(_scopes(tracked), _scopes(alone)):
        for key in _keys(tracked):
            for nested in (True, False):
                got = assignments.stores(scope, key, nested_functions=nested)
                want = assignments.stores(twin, key, nested_functions=nested)
                assert _spelled(tracked, got) == _spelled(alone, want), (scope, key, nested)
                asked += bool(want)
    assert asked > 0
    assert handle.index() is not None


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_name_use_stepping_over_subtrees_without_the_name_equals_the_full_walk(path):
    text = path.read_text(encoding="utf-8")
    tracked = parse_module(text)
    handle = walk.track(tracked)
    alone = parse_module(text)
    names = sorted({k.partition(".")[0].partition("[")[0] for k in _keys(tracked)})
    for scope, twin in zip(_scopes(tracked), _scopes(alone)):
        if isinstance(scope, cst.ClassDef):
            continue
        for name in names:
            got, want = name_use(scope, name), name_use(twin, name)
            assert got.opaque == want.opaque, (name, scope)
            assert [tracked.code_for_node(v) for v in got.values] == [alone.code_for_node(v) for v in want.values]
            assert [(m, tracked.code_for_node(n), c) for m, n, c in got.mutations] == \
                [(m, alone.code_for_node(n), c) for m, n, c in want.mutations]
    assert handle.index() is not None


def test_parse_without_validation_gives_the_validated_tree():
    for path in PROGRAMS:
        text = path.read_text(encoding="utf-8")
        fast = parse_module(text)
        assert fast.deep_equals(cst.parse_module(text)) and fast.code == text
    # validation is back on afterwards: a node built by hand is still checked
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


def test_a_tree_visited_after_a_lint_whose_context_lives_on_is_walked_whole():
    """The newest tracked tree may be one whose context was released but is still referred
    to (the last file's): a visit of another tree must walk that tree, not index the
    released one (it crashed on ``Index(None)``)."""
    from optimlint.analysis.modules import freeze_subjects
    from optimlint.config import Settings
    from optimlint.context import FileContext

    text = "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
    ctx = FileContext("train.py", text, parse_module(text), Settings())
    ctx.release()
    assert ctx._tracked.root is None  # released, and still alive here
    assert freeze_subjects(cst.parse_module("model.neck.requires_grad_(False)\n")) == ({"model.neck"}, False)
