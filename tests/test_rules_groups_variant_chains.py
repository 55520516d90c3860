"""OPT401 for a model whose layers are built in every arm of an ``if``/``elif`` chain without
``else`` (``if conv == "gcn": ... elif conv == "sage": ...``): the chain ran an arm whenever the
groups' own submodules come from it, so a layer every arm builds exists, and groups that leave
it out leave its parameters to no optimizer (issue 13). A layer under a lone ``if``, or a chain
none of the groups' submodules comes from, may not exist: silent."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

MODEL = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, kind, use_aux=False):
        super().__init__()
        self.stem = nn.Linear(8, 8)
        if kind == "small":
            self.encoder = nn.Linear(8, 16)
            self.head = nn.Linear(16, 2)
        elif kind == "large":
            self.encoder = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 16))
            self.head = nn.Linear(16, 2)
        if use_aux:
            self.aux = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.encoder(self.stem(x)))


model = Net("small")
optimizer = torch.optim.Adam([{groups}], lr=1e-3)
for x, y in batches:
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def group(*names: str) -> str:
    return ", ".join(f'{{"params": model.{n}.parameters()}}' for n in names)


def test_opt401_a_layer_every_arm_builds_left_out_of_the_groups():
    assert codes_at(MODEL.format(groups=group("stem", "encoder", "aux")), ["OPT401"]) == [("OPT401", 23)]


@pytest.mark.parametrize("names", [
    ("stem", "encoder", "head"),  # the optional layer of a lone ``if`` left out
    ("stem", "aux"),  # no submodule of the groups comes from the chain: it may have run no arm
])
def test_opt401_silent(names):
    assert codes_at(MODEL.format(groups=group(*names)), ["OPT401"]) == []
