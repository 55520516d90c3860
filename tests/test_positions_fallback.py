"""Positions drive LibCST's private code generation state; a LibCST whose internals moved
must cost speed, never a wrong location or a crash."""

import libcst as cst
import pytest

from optimlint.analysis import positions as P
from optimlint.analysis.walk import parent_map

from conftest import lint

SOURCE = """\
import torch


def train(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
"""


def _nodes(module):
    found = []

    class V(cst.CSTVisitor):
        def on_visit(self, node):
            found.append(node)
            return True

    module.visit(V())
    return found


@pytest.mark.parametrize("where", ["__init__", "__getitem__"])
def test_a_failing_fast_path_falls_back_to_libcsts_provider(monkeypatch, where):
    module = cst.parse_module(SOURCE)
    expected = P.provider_positions(module)

    def broken(*args, **kwargs):
        raise AttributeError("CodegenState has no attribute 'tokens'")

    monkeypatch.setattr(P.Positions, where, broken)
    guarded = P.GuardedPositions(module, SOURCE, parent_map(module).get)
    nodes = _nodes(module)
    assert all(guarded[n] == expected[n] for n in nodes)
    assert nodes[3] in guarded and cst.Name("elsewhere") not in guarded


def test_findings_are_the_same_without_the_fast_path(monkeypatch):
    before = [(d.code, d.location, d.end_location) for d in lint(SOURCE)]

    def broken(*args, **kwargs):
        raise TypeError("CodegenState.__init__() got an unexpected keyword argument")

    monkeypatch.setattr(P.Positions, "__init__", broken)
    assert [(d.code, d.location, d.end_location) for d in lint(SOURCE)] == before
    assert before and before[0][0] == "OPT101"
