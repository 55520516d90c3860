"""Code switched off by hand (``if False:`` / ``if 0:``) never runs: a call there that might
clear the gradients does not make the loop opaque, so a loop that never clears is reported;
under a flag of unknown value the same call keeps it silent. ``if True:`` always runs its body."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

LOOP = """\
import torch
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in loader:
    loss = (model(x) - y).pow(2).mean()
    loss.backward()
    optimizer.step()
    if GUARD:
        inspect_gradients(model, writer)
"""


@pytest.mark.parametrize("guard", ["False", "0"])
def test_opt101_a_call_under_a_switched_off_branch_hides_nothing(guard):
    assert codes_at(LOOP.replace("GUARD", guard), ["OPT101"]) == [("OPT101", 8)]


@pytest.mark.parametrize("guard", ["debug", "args.log_grads", "True"])
def test_opt101_silent_when_the_branch_may_run_the_call_that_may_clear(guard):
    assert codes_at(LOOP.replace("GUARD", guard), ["OPT101"]) == []


def test_opt101_silent_when_an_always_true_branch_clears():
    src = LOOP.replace("    if GUARD:\n        inspect_gradients(model, writer)\n",
                       "    if True:\n        optimizer.zero_grad()\n")
    assert codes_at(src, ["OPT101"]) == []
