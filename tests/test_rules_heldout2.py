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


# --------------------------------------------------------------------------- OPT101 / OPT103
# An off-policy learner steps the optimizer its policy object carries: `self.policy.optimizer`,
# an attribute of an attribute, named like an optimizer and stepped, is one.
POLICY_OPTIMIZER = """\
import torch.nn.functional as F


class QLearner:
    def learn(self, gradient_steps, memory):
        for _ in range(gradient_steps):
            sample = memory.draw(64)
            td_loss = F.smooth_l1_loss(self.q_net(sample.obs), sample.target)
            self.policy.optimizer.zero_grad()
            td_loss.backward()
            self.policy.optimizer.step()
"""


def test_policy_carried_optimizer_never_cleared_is_reported():
    unclear = POLICY_OPTIMIZER.replace("            self.policy.optimizer.zero_grad()\n", "")
    assert codes_at(unclear, ["OPT101"]) == [("OPT101", 9)]


def test_policy_carried_optimizer_stepped_before_backward_is_reported():
    early = POLICY_OPTIMIZER.replace(
        "            td_loss.backward()\n            self.policy.optimizer.step()\n",
        "            self.policy.optimizer.step()\n            td_loss.backward()\n")
    assert codes_at(early, ["OPT103"]) == [("OPT103", 10)]


def test_policy_carried_optimizer_in_order_is_quiet():
    assert codes_at(POLICY_OPTIMIZER, ["OPT1"]) == []


def test_policy_carried_attribute_not_named_like_an_optimizer_is_not_one():
    # `self.policy.learner.step()` is no optimizer by its name: no missing clear is claimed
    other = POLICY_OPTIMIZER.replace("            self.policy.optimizer.zero_grad()\n", "") \
        .replace("self.policy.optimizer.step()", "self.policy.learner.step()")
    assert codes_at(other, ["OPT1"]) == []

