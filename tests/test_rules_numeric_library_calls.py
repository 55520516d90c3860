"""A call of a library of numbers (numpy, math, scipy) is no opaque call (issue 13): it reads
what it is handed (``np.isnan(grad_norm)`` after a clip) and writes no gradient of torch's,
so a clearing moved between the backward and the step is still reported (OPT102). A project
function handed the same norm stays opaque."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

LOOP = """\
import numpy as np
import torch
from torch import nn

from monitor import check_norm

model = nn.Linear(8, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(10):
    for x, y in batches:
        loss = nn.functional.mse_loss(model(x), y)
{first}        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if {check}(grad_norm):
            print("the gradient norm is NaN")
{second}        optimizer.step()
"""
CLEAR = "        optimizer.zero_grad()\n"


def test_opt102_the_clearing_after_a_numpy_check_of_the_norm():
    source = LOOP.format(first="", check="np.isnan", second=CLEAR)
    assert codes_at(source, ["OPT102"]) == [("OPT102", 16)]


@pytest.mark.parametrize("first, check, second", [
    (CLEAR, "np.isnan", ""),  # cleared before the backward
    ("", "check_norm", CLEAR),  # a project function handed the norm: opaque
])
def test_opt102_silent(first, check, second):
    assert codes_at(LOOP.format(first=first, check=check, second=second), ["OPT102"]) == []
