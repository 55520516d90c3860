"""Lightning manual optimization (``automatic_optimization = False``): ``training_step`` runs
once per micro-batch, so the rules of a training loop apply to it (issue 13, shape 8): a step
that never clears (OPT101), a clear inside the accumulation window (OPT106), a micro-batch loss
not divided by the window (OPT107). Exact (code, row), and the correct forms stay silent."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at, lint

MODULE = """\
import torch
from torch import nn
import lightning as L


class Regressor(L.LightningModule):
    def __init__(self, accumulate=4):
        super().__init__()
        self.net = nn.Linear(4, 2)
        self.accumulate = accumulate
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y) / self.accumulate
        self.manual_backward(loss)
        if (batch_idx + 1) % self.accumulate == 0:
            opt.step()
            opt.zero_grad()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
"""


def test_the_correct_manual_accumulation_is_silent():
    assert codes_at(MODULE, ["OPT1"]) == []


def test_opt101_a_manual_step_that_never_clears():
    src = MODULE.replace("            opt.zero_grad()\n", "")
    assert codes_at(src, ["OPT1"]) == [("OPT101", 17)]


def test_opt106_clearing_on_every_micro_batch():
    src = MODULE.replace("            opt.zero_grad()\n", "").replace(
        "        opt = self.optimizers()\n", "        opt = self.optimizers()\n        opt.zero_grad()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT106", 15)]


def test_opt107_micro_batch_loss_not_divided():
    src = MODULE.replace(" / self.accumulate\n", "\n")
    assert codes_at(src, ["OPT1"]) == [("OPT107", 17)]


@pytest.mark.parametrize("change", [
    # no window: clear, backward, step on every call
    (("        if (batch_idx + 1) % self.accumulate == 0:\n            opt.step()\n            opt.zero_grad()\n",
      "        opt.step()\n        opt.zero_grad()\n"), (" / self.accumulate\n", "\n")),
    # a GAN's toggling: the optimizer is cleared after its step
    (("        opt = self.optimizers()\n", "        opt = self.optimizers()\n        self.toggle_optimizer(opt)\n"),),
])
def test_silent(change):
    src = MODULE
    for old, new in change:
        src = src.replace(old, new)
    assert codes_at(src, ["OPT1"]) == []


# Which classes are Lightning modules (``vocabulary.LIGHTNING_MODULE_BASES``, read by the iteration
# model): Lightning's class at each path it has had, and nothing else of ``MODULE_BASES``.
@pytest.mark.parametrize("import_line, base", [
    ("from pytorch_lightning.core.lightning import LightningModule", "LightningModule"),  # before 1.7
    ("import pytorch_lightning.core.module as plm", "plm.LightningModule"),
    ("from lightning.pytorch.core import LightningModule", "LightningModule"),
])
def test_opt101_in_a_manual_step_of_lightning_at_any_path(import_line, base):
    src = MODULE.replace("import lightning as L", import_line).replace("L.LightningModule", base)
    src = src.replace("            opt.zero_grad()\n", "")
    assert codes_at(src, ["OPT1"]) == [("OPT101", 17)]


def test_a_plain_module_with_a_training_step_is_no_lightning_module():
    # torch.nn.Module is a module base but not Lightning's: nobody runs this training_step per batch
    src = MODULE.replace("L.LightningModule", "nn.Module").replace("            opt.zero_grad()\n", "")
    assert codes_at(src, ["OPT1"]) == []


GAN_MODULE = """\
import torch
from torch import nn
import lightning as L


class TinyGAN(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.generator = nn.Linear(4, 8)
        self.critic = nn.Linear(8, 1)
        self.automatic_optimization = False

    def forward(self, z):
        {forward}

    def training_step(self, batch, batch_idx):
        gen_opt, critic_opt = self.optimizers()
        fake = self(torch.randn(batch.shape[0], 4))
        gen_loss = -self.critic(fake).mean()
        self.manual_backward(gen_loss)
        gen_opt.step()
        gen_opt.zero_grad()
        critic_loss = self.critic(fake.detach()).mean() - self.critic(batch).mean()
        self.manual_backward(critic_loss)
        critic_opt.step()
        critic_opt.zero_grad()

    def configure_optimizers(self):
        return [torch.optim.Adam(self.generator.parameters()), torch.optim.Adam(self.critic.parameters())]
"""


def test_opt101_a_manual_step_that_calls_its_own_forward_through_self():
    # ``self(z)`` runs the class's ``forward``, read like any helper: it cannot clear
    # (both clears gone: the two optimizers come from one unpacking, so either clear may be either's)
    src = GAN_MODULE.replace("        gen_opt.zero_grad()\n", "").replace("        critic_opt.zero_grad()\n", "") \
        .format(forward="return self.generator(z)")
    assert codes_at(src, ["OPT1"]) == [("OPT101", 20)]
    assert codes_at(GAN_MODULE.format(forward="return self.generator(z)"), ["OPT1"]) == []


def test_a_forward_that_may_clear_keeps_the_manual_step_silent():
    src = GAN_MODULE.replace("        gen_opt.zero_grad()\n", "").replace("        critic_opt.zero_grad()\n", "") \
        .format(forward="self.zero_grad()\n        return self.generator(z)")
    assert codes_at(src, ["OPT1"]) == []


PROBE_CALLBACK = """\
import torch
from torch import nn
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback


class LinearProbe(Callback):
    def on_fit_start(self, trainer, pl_module):
        pl_module.probe = nn.Linear(16, 10)
        self.optimizer = torch.optim.Adam(pl_module.probe.parameters(), lr=1e-4)

    def HOOK(self, trainer, pl_module, outputs, batch, batch_idx):
        x, y = batch
        with torch.no_grad():
            feats = pl_module(x)
        loss = F.cross_entropy(pl_module.probe(feats.detach()), y)
        loss.backward()
        self.optimizer.step()
CLEAR"""


def test_opt101_a_lightning_callback_training_a_probe_every_batch_without_clearing():
    src = PROBE_CALLBACK.replace("HOOK", "on_train_batch_end").replace("CLEAR", "")
    found = lint(src, ["OPT101"])
    assert [(d.code, d.location.row) for d in found] == [("OPT101", 17)]
    assert "Lightning calls `LinearProbe.on_train_batch_end()` on every training batch" in found[0].message


@pytest.mark.parametrize("hook, clear, base", [
    ("on_train_batch_end", "        self.optimizer.zero_grad()\n", "Callback"),  # clears
    ("on_train_epoch_end", "", "Callback"),  # once per epoch: no loop we can see
    ("on_train_batch_end", "", "object"),  # not a Lightning callback
])
def test_a_callback_hook_that_clears_or_is_not_per_batch_is_silent(hook, clear, base):
    src = PROBE_CALLBACK.replace("HOOK", hook).replace("CLEAR", clear).replace("LinearProbe(Callback)", f"LinearProbe({base})")
    assert codes_at(src, ["OPT101"]) == []
