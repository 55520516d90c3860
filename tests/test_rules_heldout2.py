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


# --------------------------------------------------------------------------- OPT603
# An agent whose action selection puts its network in eval mode only while it is being tested:
# the training method clears the flag before its loop and only `evaluate` raises it.
FLAGGED_EVAL = """\
import torch
from torch import nn, optim


class Agent:
    def __init__(self):
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.1), nn.Linear(16, 2))
        self.opt = optim.Adam(self.net.parameters(), lr=1e-3)
        self.evaluating = False

    def act(self, obs):
        if self.evaluating:
            self.net.eval()
        return self.net(obs).argmax()

    def fit(self, env, episodes):
        self.evaluating = False
        for episode in range(episodes):
            obs = env.reset()
            action = self.act(obs)
            loss = -self.net(obs)[action]
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()

    def evaluate(self, env):
        self.evaluating = True
        self.act(env.reset())
        self.evaluating = False
        self.net.train()
"""


def test_eval_under_a_flag_the_training_method_clears_is_quiet():
    assert codes_at(FLAGGED_EVAL, ["OPT603"]) == []


def test_eval_under_a_flag_the_loop_raises_is_reported():
    # every tenth episode evaluates from inside the loop: the flag is raised there
    raised = FLAGGED_EVAL.replace(
        "            obs = env.reset()\n",
        "            self.evaluating = episode % 10 == 0\n            obs = env.reset()\n")
    assert codes_at(raised, ["OPT603"]) == [("OPT603", 13)]


def test_eval_under_a_flag_raised_by_a_called_helper_is_reported():
    # the loop calls a helper that raises the flag: the eval can run mid-training
    helper = FLAGGED_EVAL.replace(
        "            obs = env.reset()\n",
        "            self.probe(episode)\n            obs = env.reset()\n") + (
        "\n    def probe(self, episode):\n        self.evaluating = episode % 10 == 0\n")
    assert codes_at(helper, ["OPT603"]) == [("OPT603", 13)]
