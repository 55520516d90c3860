"""``model.forward(x)`` in a training loop is the module's forward, read like ``model(x)``: it
neither clears nor steps an optimizer, so a loop that calls it and never clears its optimizer's
gradients gets OPT101 (OPT604 says to call ``model(x)`` instead), even where the forward's own
body is beyond reading (a loop over ``self.modules()``). A ``forward`` handed the optimizer stays
a call that may do anything."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

SCRIPT = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x, *hooks):
        for layer in list(self.modules())[1:]:
            x = layer(x)
        return x


model = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in loader:
    output = model.forward(x)
    loss = criterion(output, y)
    loss.backward()
    optimizer.step()
"""


def test_opt101_a_loop_calling_the_module_forward_method_and_never_clearing():
    assert codes_at(SCRIPT, ["OPT101"]) == [("OPT101", 22)]


@pytest.mark.parametrize("old, new", [
    # cleared
    ("    output = model.forward(x)\n", "    optimizer.zero_grad()\n    output = model.forward(x)\n"),
    # the forward is handed the optimizer: it may clear it
    ("model.forward(x)", "model.forward(x, optimizer)"),
])
def test_opt101_silent_when_cleared_or_the_forward_may_clear(old, new):
    assert codes_at(SCRIPT.replace(old, new), ["OPT101"]) == []
