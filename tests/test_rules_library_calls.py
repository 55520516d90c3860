"""Library calls that are no opaque calls (issue 13), between the backward and a clearing moved
before the step (OPT102 still reported):

- a library of numbers (numpy, math, scipy) reads what it is handed (``np.isnan(grad_norm)``
  after a clip) and writes no gradient of torch's;
- a plain standard-library module (``time``, ``os``, ``json``, ``logging``, ...: none runs a
  callable it is handed or touches a torch object) and an argument parser's methods.

A project function handed the same norm, or the optimizer, stays opaque."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

LOOP = """\
import json
import logging
import os
import time

import numpy as np
import torch
from torch import nn

from monitor import check_norm, record

model = nn.Linear(8, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(10):
    for x, y in batches:
        loss = nn.functional.mse_loss(model(x), y)
{first}        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if {check}(grad_norm):
            print("the gradient norm is NaN")
        {call}
{second}        optimizer.step()
"""
CLEAR = "        optimizer.zero_grad()\n"
PLAIN = [
    'logging.info("grad norm %s of %s", grad_norm, optimizer)',
    'json.dump({"norm": float(grad_norm)}, open(os.path.join("runs", "norm.json"), "w"))',
    "time.sleep(grad_norm.item() * 0)",
    'parser.add_argument("--norm", default=grad_norm)',
]


@pytest.mark.parametrize("check, call", [("np.isnan", "pass"), *(("np.isnan", call) for call in PLAIN)])
def test_opt102_the_clearing_after_library_calls(check, call):
    source = LOOP.format(first="", check=check, call=call, second=CLEAR)
    assert codes_at(source, ["OPT102"]) == [("OPT102", 22)]


@pytest.mark.parametrize("first, check, call, second", [
    (CLEAR, "np.isnan", PLAIN[0], ""),  # cleared before the backward
    ("", "check_norm", "pass", CLEAR),  # a project function handed the norm: opaque
    ("", "np.isnan", "record(grad_norm, optimizer)", CLEAR),  # a project function handed the optimizer
])
def test_opt102_silent(first, check, call, second):
    assert codes_at(LOOP.format(first=first, check=check, call=call, second=second), ["OPT102"]) == []
