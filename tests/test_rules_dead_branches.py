"""Code switched off by hand (``if False:`` / ``if 0:``) never runs: a call there that might
clear the gradients does not make the loop opaque, so a loop that never clears is reported;
under a flag of unknown value the same call keeps it silent. ``if True:`` always runs its body.
Gradients sanitised in place (``p.grad.nan_to_num_()``, ``p.grad.data.clamp_(-1, 1)``) are neither
cleared nor stepped: those calls hide nothing either."""

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


# -- gradients sanitised in place: neither cleared nor stepped ---------------------------------
SANITISED = """\
import torch

params = [p for p in build_model().parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(params, lr=1e-4)
for batch in loader:
    loss = compute_loss(batch)
    loss.backward()
    for p in params:
        if p.grad is not None:
            FIX
    optimizer.step()
"""


@pytest.mark.parametrize("fix", ["p.grad.nan_to_num_(nan=0.0, posinf=1e-6, neginf=-1e-6)",
                                 "p.grad.data.clamp_(-1.0, 1.0)"])
def test_opt101_gradients_sanitised_in_place_are_not_cleared(fix):
    assert codes_at(SANITISED.replace("FIX", fix), ["OPT101"]) == [("OPT101", 7)]


@pytest.mark.parametrize("fix", ["p.grad = None", "reset_gradient(p)"])
def test_opt101_gradients_dropped_or_handed_to_an_unknown_helper_stay_silent(fix):
    assert codes_at(SANITISED.replace("FIX", fix), ["OPT101"]) == []
