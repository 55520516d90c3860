"""A call of a plain standard-library function (``time``, ``os``, ``json``, ``logging``, ...: none
runs a callable it is handed or touches a torch object) or of an argument parser's methods is no
opaque call (issue 13): a clearing moved between the backward and the step is still reported
(OPT102) with the norm logged in between. A project function handed the same norm stays opaque."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

LOOP = """\
import json
import logging
import os
import time

import torch
from torch import nn

from monitor import record

model = nn.Linear(8, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(10):
    for x, y in batches:
        loss = nn.functional.mse_loss(model(x), y)
{first}        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
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


@pytest.mark.parametrize("call", PLAIN)
def test_opt102_the_clearing_after_a_plain_library_call(call):
    source = LOOP.format(first="", call=call, second=CLEAR)
    assert codes_at(source, ["OPT102"]) == [("OPT102", 19)]


@pytest.mark.parametrize("first, call, second", [
    (CLEAR, PLAIN[0], ""),  # cleared before the backward
    ("", "record(grad_norm, optimizer)", CLEAR),  # a project function handed the optimizer: opaque
])
def test_opt102_silent(first, call, second):
    assert codes_at(LOOP.format(first=first, call=call, second=second), ["OPT102"]) == []
