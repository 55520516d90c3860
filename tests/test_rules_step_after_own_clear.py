"""A step right after its own clearing, with no backward between them, steps on cleared
gradients; when the backward that was meant for it comes next, the step came too early (OPT103).

The shape is an RL update training several networks one after another in one method (SAC's
temperature, two Q networks and the policy; TD3's critics): the backward before the clearing
was another optimizer's, spent by that optimizer's step. OPT103 used to ask that no other
optimizer step after the late backward, which every update but the last one fails, and said
OPT102 (a clearing misplaced between a backward and its step) when the earlier backward was
another network's (held-out set 5, Popular-RL-Algorithms: 9 mutants).

It stays silent where the earlier backward may still feed the step: another optimizer over
some of the same parameters stepped in between, an optimizer of unknown parameters, a clear
of another network only, a step under a condition its clearing is not under, a closure step,
and a window of accumulated backward passes."""

from __future__ import annotations

from tests.conftest import codes_at

AGENT = """\
import torch
from torch import nn


class Trainer:
    def __init__(self, obs_dim, act_dim):
        self.q1 = nn.Linear(obs_dim + act_dim, 1)
        self.q2 = nn.Linear(obs_dim + act_dim, 1)
        self.policy = nn.Linear(obs_dim, act_dim)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.q1_opt = torch.optim.Adam(self.q1.parameters(), lr=3e-4)
        self.q2_opt = torch.optim.Adam(self.q2.parameters(), lr=3e-4)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=3e-4)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=3e-4)

    def update(self, obs, act, goal, auto_entropy=True):
        sa = torch.cat([obs, act], 1)
        if auto_entropy:
            alpha_loss = -(self.log_alpha * self.policy(obs).detach().sum()).mean()
            self.alpha_opt.zero_grad()
            alpha_loss.backward()
            self.alpha_opt.step()
        loss1 = (self.q1(sa) - goal).pow(2).mean()
        loss2 = (self.q2(sa) - goal).pow(2).mean()
        self.q1_opt.zero_grad()
        loss1.backward()
        self.q1_opt.step()
        self.q2_opt.zero_grad()
        loss2.backward()
        self.q2_opt.step()
        policy_loss = -self.q1(torch.cat([obs, self.policy(obs)], 1)).mean()
        self.policy_opt.zero_grad()
        policy_loss.backward()
        self.policy_opt.step()
"""


def row(src: str, needle: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if needle in line)


def early(src: str, name: str, loss: str) -> str:
    """``name``'s step moved before ``loss``'s backward."""
    out = src.replace(f"        {loss}.backward()\n        self.{name}.step()\n",
                      f"        self.{name}.step()\n        {loss}.backward()\n")
    assert out != src
    return out


def test_the_correct_update_is_silent():
    assert codes_at(AGENT, ["OPT1"]) == []


def test_step_after_its_clear_following_a_guarded_update_of_a_bare_tensor():
    # the backward before (the temperature's, under ``if auto_entropy``) fed ``alpha_opt``,
    # an optimizer of a tensor no network holds
    src = early(AGENT, "q1_opt", "loss1")
    assert ("OPT103", row(src, "self.q1_opt.step()")) in codes_at(src, ["OPT1"])


def test_second_network_steps_after_its_clear_opt103_not_opt102():
    src = early(AGENT, "q2_opt", "loss2")
    found = codes_at(src, ["OPT102", "OPT103"])
    assert found == [("OPT103", row(src, "self.q2_opt.step()"))]


def test_policy_steps_after_its_clear_before_the_temperature_update():
    # the temperature updated last (after the policy) rather than first
    guarded = AGENT[AGENT.index("        if auto_entropy:\n"):AGENT.index("        loss1 = ")]
    src = AGENT.replace(guarded, "") + guarded
    assert codes_at(src, ["OPT1"]) == []
    src = early(src, "policy_opt", "policy_loss")
    assert codes_at(src, ["OPT102", "OPT103"]) == [("OPT103", row(src, "self.policy_opt.step()"))]


def test_the_fix_moves_the_step_after_its_own_backward():
    from tests.conftest import fixed

    src = early(AGENT, "q2_opt", "loss2")
    text, remaining = fixed(src, ["OPT103"])
    assert "        loss2.backward()\n        self.q2_opt.step()\n" in text
    assert remaining == []


LOOP = """\
import torch
from torch import nn

actor = nn.Linear(4, 2)
critic = nn.Linear(6, 1)
value = nn.Linear(4, 1)
actor_opt = torch.optim.Adam(actor.parameters())
critic_opt = torch.optim.Adam(critic.parameters())
value_opt = torch.optim.Adam(value.parameters())
for obs, act, goal in batches:
    critic_loss = (critic(torch.cat([obs, act], 1)) - goal).pow(2).mean()
    critic_opt.zero_grad()
    critic_loss.backward()
    critic_opt.step()
    actor_loss = -critic(torch.cat([obs, actor(obs)], 1)).mean()
    actor_opt.zero_grad()
    actor_opt.step()
    actor_loss.backward()
    value_opt.zero_grad()
    (value(obs) - goal).pow(2).mean().backward()
    value_opt.step()
"""


def test_a_loop_training_three_networks():
    # (before, OPT102 at the clearing: the critic's backward was taken for the actor's)
    assert codes_at(LOOP.replace("    actor_opt.step()\n    actor_loss.backward()\n",
                                 "    actor_loss.backward()\n    actor_opt.step()\n"), ["OPT1"]) == []
    assert codes_at(LOOP, ["OPT102", "OPT103"]) == [("OPT103", row(LOOP, "actor_opt.step()"))]


# -- must stay silent ----------------------------------------------------------------------

def test_an_optimizer_over_shared_parameters_stepped_between():
    # the whole model's optimizer steps on the backward, then the head's is cleared and stepped
    # on purpose without gradients (a proximal / weight-decay-only update); a later loss follows
    src = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
aux = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
prox = torch.optim.SGD(model[1].parameters(), lr=0.1, weight_decay=1e-2)
aux_opt = torch.optim.SGD(aux.parameters(), lr=0.1)
for x, y in batches:
    opt.zero_grad()
    loss = (model(x) - y).pow(2).mean()
    loss.backward()
    opt.step()
    prox.zero_grad()
    prox.step()
    aux_opt.zero_grad()
    (aux(x) - y).pow(2).mean().backward()
    aux_opt.step()
"""
    assert codes_at(src, ["OPT102", "OPT103"]) == []


def test_an_optimizer_of_unknown_parameters_stepped_between():
    src = early(AGENT, "q1_opt", "loss1").replace(
        "torch.optim.Adam([self.log_alpha], lr=3e-4)", "torch.optim.Adam(extra_params(), lr=3e-4)")
    assert codes_at(src, ["OPT103"]) == []


def test_a_bare_tensor_of_a_network_is_that_networks():
    src = early(AGENT, "q1_opt", "loss1").replace(
        "torch.optim.Adam([self.log_alpha], lr=3e-4)", "torch.optim.Adam([self.q1.weight], lr=3e-4)")
    assert codes_at(src, ["OPT103"]) == []


def test_gan_generator_step_fed_by_its_backward_before_a_clear_of_the_discriminator():
    src = """\
import torch
from torch import nn

netG = nn.Linear(8, 4)
netD = nn.Linear(4, 1)
enc = nn.Linear(4, 2)
opt_g = torch.optim.Adam(netG.parameters())
opt_d = torch.optim.Adam(netD.parameters())
opt_e = torch.optim.Adam(enc.parameters())
for real, z in batches:
    opt_d.zero_grad()
    d_loss = netD(real).mean() - netD(netG(z).detach()).mean()
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = -netD(netG(z)).mean()
    g_loss.backward()
    netD.zero_grad()
    opt_g.step()
    opt_e.zero_grad()
    enc(real).pow(2).mean().backward()
    opt_e.step()
"""
    assert codes_at(src, ["OPT1"]) == []


def test_a_step_under_a_condition_its_clearing_is_not_under():
    src = AGENT.replace(
        "        self.q2_opt.zero_grad()\n        loss2.backward()\n        self.q2_opt.step()\n",
        "        self.q2_opt.zero_grad()\n        if self.ready:\n            self.q2_opt.step()\n"
        "        loss2.backward()\n")
    assert codes_at(src, ["OPT102", "OPT103"]) == []


def test_a_closure_step_after_its_clear():
    src = """\
import torch
from torch import nn

actor = nn.Linear(4, 2)
critic = nn.Linear(6, 1)
actor_opt = torch.optim.Adam(actor.parameters())
critic_opt = torch.optim.LBFGS(critic.parameters())
for obs, act, goal in batches:
    actor_opt.zero_grad()
    (-critic(torch.cat([obs, actor(obs)], 1)).mean()).backward()
    actor_opt.step()

    def closure():
        critic_opt.zero_grad()
        loss = (critic(torch.cat([obs, act], 1)) - goal).pow(2).mean()
        loss.backward()
        return loss

    critic_opt.zero_grad()
    critic_opt.step(closure)
    (critic(torch.cat([obs, act], 1)) - goal).abs().mean().backward()
"""
    assert codes_at(src, ["OPT103"]) == []


def test_an_accumulation_window_of_the_second_network():
    src = """\
import torch
from torch import nn

actor = nn.Linear(4, 2)
critic = nn.Linear(6, 1)
actor_opt = torch.optim.Adam(actor.parameters())
critic_opt = torch.optim.Adam(critic.parameters())
for i, (obs, act, goal) in enumerate(batches):
    critic_opt.zero_grad()
    (critic(torch.cat([obs, act], 1)) - goal).pow(2).mean().backward()
    critic_opt.step()
    if i % 4 == 0:
        actor_opt.zero_grad()
    (-critic(torch.cat([obs, actor(obs)], 1)).mean() / 4).backward()
    if i % 4 == 3:
        actor_opt.step()
"""
    assert codes_at(src, ["OPT102", "OPT103"]) == []
