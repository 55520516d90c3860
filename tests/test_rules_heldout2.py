"""Shapes found by the mutation harness and the precision sweep on the second held-out set
(benchmarks/mutation/heldout2.tsv): each a must-fire case and its must-not-fire twin, written
here in the project's own words."""

from __future__ import annotations

from tests.conftest import codes_at

# --------------------------------------------------------------------------- OPT104
# A notebook-style script: module-level epochs whose inner loop clears and backpropagates an
# optimizer built by a helper of another module, and never steps it. The check that looks
# for a step elsewhere once searched the optimizer's builders in the wrong scope (a loop
# variable shadowed the scope it was handed: the module's key in the step table is None)
# and stopped with an internal error instead of reporting.
NOTEBOOK_NO_STEP = """\
import torch
from torch import nn

from helpers import build_optimizer

net = nn.Linear(8, 2)
opt = build_optimizer(net)
for epoch in range(3):
    for xb, yb in batches:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(xb), yb)
        loss.backward()
"""


def test_module_level_loop_that_never_steps_is_reported_not_a_crash():
    assert codes_at(NOTEBOOK_NO_STEP, ["OPT104"]) == [("OPT104", 12)]


def test_module_level_loop_that_steps_is_quiet():
    stepped = NOTEBOOK_NO_STEP + "        opt.step()\n"
    assert codes_at(stepped, ["OPT104"]) == []
