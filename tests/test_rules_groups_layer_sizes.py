"""OPT401 where a layer's size is read from an attribute (issue 13): ``nn.Linear(128,
self.n_words)`` is a torch layer built from numbers, so what it reads of ``self`` is a size,
not a module it shares; the layer is its own submodule, and groups that leave it out leave
its parameters to no optimizer. A layer handed a module of the class (``nn.TransformerEncoder(
self.layer, 2)``, a project ``Head(self.backbone)``) may share parameters: silent."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

MODEL = """\
import torch
from torch import nn, optim


class Head(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body


class NgramModel(nn.Module):
    def __init__(self, vocab_size, context, dim):
        super().__init__()
        self.n_words = vocab_size
        self.embedding = nn.Embedding(self.n_words, dim)
        self.hidden = nn.Linear(context * dim, 128)
        self.out = {out}

    def forward(self, x):
        return self.out(self.hidden(self.embedding(x).view(1, -1)))


model = NgramModel(100, 2, 16)
optimizer = optim.SGD([{{"params": model.embedding.parameters()}}, {{"params": model.hidden.parameters()}}], lr=1e-3)
for x, y in batches:
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def test_opt401_a_layer_sized_by_an_attribute_left_out_of_the_groups():
    assert codes_at(MODEL.format(out="nn.Linear(128, self.n_words)"), ["OPT401"]) == [("OPT401", 24)]


@pytest.mark.parametrize("out", [
    "nn.TransformerEncoder(self.hidden, 2)",  # handed a module of the class: may share its parameters
    "Head(self.hidden)",  # a project class handed one
])
def test_opt401_silent_for_a_layer_handed_a_module_of_the_class(out):
    assert codes_at(MODEL.format(out=out), ["OPT401"]) == []
