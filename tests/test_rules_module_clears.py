"""Several networks, each cleared through its own module (``self.D.zero_grad()``,
``netG.zero_grad()``) and stepped through its own optimizer: a GAN's generator and
discriminator, an actor and a critic. The held-out sets showed a deleted step, or a step moved
before its backward, going unreported there. Each must-fire case below has a twin, written the
way correct code is, that must stay silent."""

from __future__ import annotations

from tests.conftest import codes_at, lint


def fill(template: str, **parts: str) -> str:
    for key, text in parts.items():
        template = template.replace("{" + key + "}", text)
    return template

# --------------------------------------------------------------------------- OPT104
# An adversarial pair trained in turn; each optimizer is built over one network and each network
# is cleared through the module. The discriminator's step is gone: its backward is wasted on every
# pass (the next `self.disc.zero_grad()` throws it away) and its parameters never move.
PAIR = """\
import torch
from torch import nn


class Adversarial:
    def __init__(self, device):
        self.gen = nn.Sequential(nn.Linear(16, 64), nn.Tanh())
        self.disc = nn.Sequential(nn.Linear(64, 1), nn.Sigmoid())
        self.bce = nn.BCELoss().to(device)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=2e-4)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=2e-4)

    def fit(self, loader, epochs):
        for epoch in range(epochs):
            for real, _ in loader:
                noise = torch.randn(real.size(0), 16)
                fake = self.gen(noise)
                d_loss = self.bce(self.disc(real), torch.ones(real.size(0), 1)) + \\
                    self.bce(self.disc(fake.detach()), torch.zeros(real.size(0), 1))
                self.disc.zero_grad()
                d_loss.backward()
                {d_step}

                g_loss = self.bce(self.disc(fake), torch.ones(real.size(0), 1))
                self.disc.zero_grad()
                self.gen.zero_grad()
                g_loss.backward()
                {g_step}
"""
D_STEP = "self.opt_d.step()"
G_STEP = "self.opt_g.step()"


def test_discriminator_step_deleted_fires():
    src = fill(PAIR, d_step="pass", g_step=G_STEP)
    assert codes_at(src, ["OPT104"]) == [("OPT104", 21)]


def test_generator_step_deleted_fires_at_its_own_backward():
    src = fill(PAIR, d_step=D_STEP, g_step="pass")
    found = lint(src, ["OPT104"])
    assert [(d.code, d.location.row) for d in found] == [("OPT104", 27)]
    assert "`self.opt_g`" in found[0].message and "`self.gen.zero_grad()`" in found[0].message


def test_both_networks_stepped_is_silent():
    # the discriminator's gradients that the generator's backward writes are cleared by
    # `self.disc.zero_grad()` before the next discriminator backward: correct code
    assert codes_at(fill(PAIR, d_step=D_STEP, g_step=G_STEP)) == []


def test_step_in_a_method_the_loop_calls_is_silent():
    src = fill(PAIR, d_step="self.update_disc()", g_step=G_STEP) + """
    def update_disc(self):
        self.opt_d.step()
"""
    assert codes_at(src, ["OPT104"]) == []


def test_optimizer_over_both_networks_is_not_cleared_by_one_of_them():
    # `self.disc.zero_grad()` clears half of an optimizer built over both networks: no proof
    src = fill(PAIR, d_step="pass", g_step=G_STEP).replace(
        "torch.optim.Adam(self.disc.parameters(), lr=2e-4)",
        "torch.optim.Adam(list(self.disc.parameters()) + list(self.gen.parameters()), lr=2e-4)")
    assert codes_at(src, ["OPT104"]) == []


# OPT103 and OPT101: the loss function is built with `.to(device)`; calling it is its forward,
# not a call that might clear or step the instance's optimizers.
def test_step_before_backward_with_a_moved_loss_module_fires():
    src = fill(PAIR, d_step=D_STEP, g_step=G_STEP).replace(
        "                self.gen.zero_grad()\n                g_loss.backward()\n                self.opt_g.step()",
        "                self.gen.zero_grad()\n                self.opt_g.step()\n                g_loss.backward()")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 27)]


def test_clears_deleted_with_a_moved_loss_module_fires():
    src = fill(PAIR, d_step=D_STEP, g_step=G_STEP)
    for clear in ("                self.disc.zero_grad()\n", "                self.gen.zero_grad()\n"):
        src = src.replace(clear, "")
    assert [c for c, _ in codes_at(src, ["OPT101"])] == ["OPT101"]


# --------------------------------------------------------------------------- tensor.backward(grad)
# A WGAN critic: each critic loss is backpropagated from a seed gradient (`one` / `minus_one`),
# the critic trained `n_critic` times per generator step, its `requires_grad` toggled.
CRITIC = """\
import torch
from torch import nn


def train(gen, critic, loader, iters, n_critic=5):
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
    opt_g = torch.optim.RMSprop(gen.parameters(), lr=5e-5)
    one = torch.tensor(1.0)
    minus_one = one * -1
    batches = iter(loader)
    for it in range(iters):
        for p in critic.parameters():
            p.requires_grad = True
        for _ in range(n_critic):
            critic.zero_grad()
            real = next(batches)
            c_real = critic(real)
            c_real = c_real.mean()
            c_real.backward(minus_one)
            c_fake = critic(gen(torch.randn(real.size(0), 8)).detach()).mean()
            c_fake.backward(one)
            {c_step}
        for p in critic.parameters():
            p.requires_grad = False
        gen.zero_grad()
        g_loss = critic(gen(torch.randn(64, 8))).mean()
        {g_order}
"""
G_ORDER = "g_loss.backward(minus_one)\n        opt_g.step()"


def test_critic_step_before_its_seeded_backward_fires():
    src = fill(CRITIC, c_step="opt_c.step()", g_order=G_ORDER).replace(
        "            c_real.backward(minus_one)\n", "            opt_c.step()\n            c_real.backward(minus_one)\n", 1
    ).replace("            c_fake.backward(one)\n            opt_c.step()\n", "            c_fake.backward(one)\n")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 19)]


def test_generator_step_before_its_seeded_backward_fires():
    src = fill(CRITIC, c_step="opt_c.step()", g_order="opt_g.step()\n        g_loss.backward(minus_one)")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 27)]


def test_critic_step_deleted_fires():
    src = fill(CRITIC, c_step="pass", g_order=G_ORDER)
    # (a local optimizer never stepped: reported where it is built)
    assert codes_at(src, ["OPT104"]) == [("OPT104", 6)]


def test_wgan_critic_loop_is_silent():
    assert codes_at(fill(CRITIC, c_step="opt_c.step()", g_order=G_ORDER)) == []


def test_backward_of_an_object_handed_a_loss_stays_opaque():
    # `runner.backward(loss)`: an engine of some library runs the backward (and may step)
    src = fill(CRITIC, c_step="pass", g_order=G_ORDER).replace(
        "            c_fake.backward(one)\n", "            runner.backward(c_fake)\n").replace(
        "    batches = iter(loader)\n", "    batches = iter(loader)\n    runner = make_runner(critic, opt_c)\n")
    assert codes_at(src, ["OPT103", "OPT104"]) == []


# --------------------------------------------------------------------------- OPT104, more shapes
# Gradients written to a log every hundred batches do not make the gradients the loop's result.
LOGGED = """\
import torch
from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter()


def train(model, loader, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for i, (x, y) in enumerate(loader):
            model.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            {step}
            if i % 100 == 0:
                for name, p in model.named_parameters():
                    {use}
"""
LOG_USE = "writer.add_histogram(name + '/grad', p.grad.cpu().numpy(), i)"


def test_step_deleted_beside_a_gradient_log_fires():
    assert codes_at(fill(LOGGED, step="pass", use=LOG_USE), ["OPT104"]) == [("OPT104", 13)]


def test_gradient_log_with_its_step_is_silent():
    assert codes_at(fill(LOGGED, step="optimizer.step()", use=LOG_USE)) == []


def test_gradients_kept_are_the_result():
    src = fill(LOGGED, step="pass", use="saliency[name] = p.grad.clone()")
    assert codes_at(src, ["OPT104"]) == []


# Two training methods of one solver, each with its own pass (clear both, backward, step one):
# the complete one steps the optimizer only after clearing it, so it never uses what the other
# method's loop left, and that loop's missing step is reported.
SOLVER = """\
import torch


class Solver:
    def __init__(self, gen, disc):
        self.G, self.D = gen, disc
        self.g_optimizer = torch.optim.Adam(self.G.parameters(), 1e-4)
        self.d_optimizer = torch.optim.Adam(self.D.parameters(), 1e-4)

    def reset_grad(self):
        self.g_optimizer.zero_grad()
        self.d_optimizer.zero_grad()

    def train(self, loader):
        for i, x in enumerate(loader):
            d_loss = self.D(x).mean() - self.D(self.G(x).detach()).mean()
            self.reset_grad()
            d_loss.backward()
            {d_step}
            if (i + 1) % 5 == 0:
                g_loss = -self.D(self.G(x)).mean()
                self.reset_grad()
                g_loss.backward()
                self.g_optimizer.step()

    def train_multi(self, loaders):
        for i, batch in enumerate(zip(*loaders)):
            for x in batch:
                d_loss = self.D(x).mean() - self.D(self.G(x).detach()).mean()
                self.reset_grad()
                d_loss.backward()
                self.d_optimizer.step()
"""


def test_step_deleted_while_a_sibling_method_steps_after_its_own_clear_fires():
    assert codes_at(fill(SOLVER, d_step="pass"), ["OPT104"]) == [("OPT104", 18)]


def test_solver_with_every_step_is_silent():
    assert codes_at(fill(SOLVER, d_step="self.d_optimizer.step()")) == []


def test_a_step_elsewhere_without_a_clear_first_may_use_the_gradients():
    # `apply_d` steps whatever gradients are there: a caller may run it after `train`'s passes
    src = fill(SOLVER, d_step="pass") + """
    def apply_d(self):
        self.d_optimizer.step()
"""
    assert codes_at(src, ["OPT104"]) == []


# A windowed step cleared through the model, the optimizer given a group later with
# `add_param_group` (which neither clears nor steps), the schedule built by a transformers factory
# that a star import brings in.
WINDOW = """\
import torch
from utils.schedules import *


def training(model, loader, epochs, accumulation_steps, unfreeze_at):
    optimizer = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    scheduler = get_linear_schedule_with_warmup(optimizer, 100, epochs * len(loader))
    for epoch in range(epochs):
        if epoch == unfreeze_at:
            optimizer.add_param_group({"params": model.backbone.parameters()})
        for i, (x, y) in enumerate(loader):
            loss = torch.nn.functional.cross_entropy(model(x), y) / accumulation_steps
            loss.backward()
            if (i + 1) % accumulation_steps == 0:
                {step}
                model.zero_grad()
                scheduler.step()
"""


def test_windowed_step_deleted_with_a_group_added_fires():
    assert codes_at(fill(WINDOW, step="pass"), ["OPT104"]) == [("OPT104", 13)]


def test_windowed_step_with_a_group_added_is_silent():
    assert codes_at(fill(WINDOW, step="optimizer.step()")) == []


def test_an_unknown_helper_handed_the_optimizer_may_step_it():
    src = fill(WINDOW, step="pass").replace("get_linear_schedule_with_warmup(", "make_trainer_hooks(")
    assert codes_at(src, ["OPT104"]) == []


def test_a_leftover_optimizer_over_the_stepped_model_is_silent():
    # a notebook's first optimizer, replaced by a second over the same model: the model's clear
    # serves the one stepped, and the leftover is no loop's missing step
    src = """\
import torch

model = torch.nn.Linear(4, 1)
sgd = torch.optim.SGD(model.parameters(), lr=0.1)
print(sgd)
adam = torch.optim.Adam(model.parameters(), lr=1e-3)
for x, y in data:
    model.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    adam.step()
"""
    assert codes_at(src, ["OPT104"]) == []


def test_a_loss_scaler_handed_the_loss_stays_opaque():
    # `loss_scaler.backward(loss)`: named for a loss, but an object that runs the backward
    src = fill(CRITIC, c_step="pass", g_order=G_ORDER).replace(
        "            c_fake.backward(one)\n", "            loss_scaler.backward(c_fake)\n").replace(
        "    batches = iter(loader)\n", "    batches = iter(loader)\n    loss_scaler = make_scaler(opt_c)\n")
    assert codes_at(src, ["OPT103", "OPT104"]) == []


def test_gradients_through_a_math_function_are_read():
    src = fill(LOGGED, step="pass", use="stats[name] = torch.log(p.grad.abs() + 1e-8)")
    assert codes_at(src, ["OPT104"]) == []


def test_gradients_logged_by_a_lightning_style_self_log_are_a_log():
    src = fill(LOGGED, step="pass", use="self.log(name, p.grad.norm())")
    assert codes_at(src, ["OPT104"]) == [("OPT104", 13)]


def test_a_loop_before_the_optimizer_is_built_is_silent():
    # a notebook: gradients applied by hand first (with a logged norm only), then an optimizer
    # built in a later cell and stepped in its own loop; the first loop is not that optimizer's
    src = """\
import torch

model = torch.nn.Linear(3, 1)
for epoch in range(10):
    model.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    print(model.weight.grad.norm())
    with torch.no_grad():
        for p in model.parameters():
            p.sub_(0.01 * p.grad)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for epoch in range(10):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT104"]) == []
    assert codes_at(src.replace("            p.sub_(0.01 * p.grad)", "            p.sub_(0.01)"), ["OPT104"]) == []
