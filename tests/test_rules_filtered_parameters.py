"""An optimizer over ``filter(lambda p: p.requires_grad, model.parameters())`` holds parameters
of ``model`` (issue 13), as one over a comprehension filtering them does: ``model.zero_grad()``
clears its gradients. A clearing of the model moved between the backward and the step is
reported (OPT102); over parameters the file cannot trace, it stays silent."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

LOOP = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
optimizer = torch.optim.Adam({params}, lr=1e-3)
for epoch in range(10):
    for x, y in batches:
        loss = nn.functional.mse_loss(model(x), y)
{first}        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
{second}        optimizer.step()
"""
FILTERED = "filter(lambda p: p.requires_grad, model.parameters())"
CLEAR = "        model.zero_grad()\n"


def test_opt102_the_models_clearing_between_backward_and_step_of_a_filtered_optimizer():
    assert codes_at(LOOP.format(params=FILTERED, first="", second=CLEAR), ["OPT102"]) == [("OPT102", 11)]


@pytest.mark.parametrize("params, first, second", [
    (FILTERED, CLEAR, ""),  # cleared before the backward
    ("filter(lambda p: p.requires_grad, trainable)", "", CLEAR),  # parameters of no known module
])
def test_opt102_silent(params, first, second):
    assert codes_at(LOOP.format(params=params, first=first, second=second), ["OPT102"]) == []
