"""Trainer loops whose mixed-precision flag splits the update into two arms, ``if use_amp:``
(scale, backward, scaler step, update) and ``else:`` (plain backward and step): one arm runs per
pass, so the arms are alternatives, never a sequence. Shapes met in trainer classes of held-out
sets 3 and 4 (forecasting experiment classes, TTS and diffusion training scripts, DDP
accumulation windows); each mistake must fire and its correct twin must stay silent. Written
in the project's own words."""

from __future__ import annotations

from tests.conftest import codes_at, lint
from tests.test_rules_heldout import lint_project

# --------------------------------------------------------------------------- OPT103 in one arm
# An experiment class: the optimizer from a method of its own, the scaler only under the flag.
EXPERIMENT = """\
import torch
from torch import optim


class Forecast:
    def _optimizer(self):
        return optim.Adam(self.model.parameters(), lr=1e-4)

    def fit(self, loader):
        opt = self._optimizer()
        if self.args.amp:
            scaler = torch.cuda.amp.GradScaler()
        for epoch in range(self.args.epochs):
            for x, y in loader:
                opt.zero_grad()
                loss = (self.model(x) - y).abs().mean()
                if self.args.amp:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
"""


def test_scaler_step_moved_before_its_backward_in_the_amp_arm():
    src = EXPERIMENT.replace("                    scaler.scale(loss).backward()\n                    scaler.step(opt)\n",
                             "                    scaler.step(opt)\n                    scaler.scale(loss).backward()\n")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 18)]


def test_plain_step_moved_before_its_backward_in_the_other_arm():
    src = EXPERIMENT.replace("                    loss.backward()\n                    opt.step()\n",
                             "                    opt.step()\n                    loss.backward()\n")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 22)]


def test_both_arms_in_order_are_silent():
    # the plain arm's step comes after the amp arm's backward in the text, not in any pass
    assert codes_at(EXPERIMENT, ["OPT1", "OPT5"]) == []


# ---------------------------------------------------------------- a backward in each arm, one step
# The loss backpropagated through apex-style scaling or plainly, then one unconditional step.
ONE_STEP = """\
import torch


def train(net, opt, loader, fp16):
    for x, y in loader:
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        if fp16:
            with amp_scale(loss, opt) as scaled:
                scaled.backward()
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
"""


def test_step_before_a_backward_that_each_arm_runs():
    src = ONE_STEP.replace("        opt.step()\n", "").replace("        if fp16:\n", "        opt.step()\n        if fp16:\n")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 8)]


def test_clear_after_the_arms_and_before_the_step():
    src = ONE_STEP.replace("        opt.zero_grad()\n", "").replace("        opt.step()\n",
                                                                    "        opt.zero_grad()\n        opt.step()\n")
    found = lint(src, ["OPT102"])
    assert [(d.code, d.location.row) for d in found] == [("OPT102", 13)]
    # moving the clearing before one arm's backward would mend only that arm: no fix offered
    assert found[0].fix is None


def test_one_step_after_both_arms_is_silent():
    assert codes_at(ONE_STEP, ["OPT1"]) == []


def test_a_backward_in_one_arm_only_does_not_cover_the_pass():
    # no ``else``: on a pass where the flag is off no backward follows; the step may be meant
    # to apply the previous pass's gradients
    src = """\
    def train(net, opt, loader, warm):
        for i, (x, y) in enumerate(loader):
            opt.step()
            opt.zero_grad()
            if i >= warm:
                (net(x) - y).pow(2).mean().backward()
    """
    assert codes_at(src, ["OPT103"]) == []


def test_a_guarded_step_before_an_unconditional_backward_stays_delayed():
    src = """\
    def train(net, opt, loader, fp16, scaler):
        for i, (x, y) in enumerate(loader):
            if i > 0:
                opt.step()
                opt.zero_grad()
            loss = (net(x) - y).pow(2).mean()
            if fp16:
                scaler.scale(loss).backward()
            else:
                loss.backward()
    """
    assert codes_at(src, ["OPT103"]) == []


# ----------------------------------------------------------- two optimizers, each with its arms
SEARCH = """\
import torch


def search(model, space, loader, amp):
    w_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    a_opt = torch.optim.Adam(space.parameters(), lr=0.01)
    scaler = torch.cuda.amp.GradScaler()
    for x in loader:
        w_opt.zero_grad()
        if amp:
            scaler.scale(model(x).mean()).backward()
            scaler.step(w_opt)
            scaler.update()
        else:
            model(x).mean().backward()
            w_opt.step()
        a_opt.zero_grad()
        if amp:
            scaler.scale(space(x).mean()).backward()
            scaler.step(a_opt)
            scaler.update()
        else:
            space(x).mean().backward()
            a_opt.step()
"""


def test_second_optimizer_stepped_before_its_own_backward_after_the_first_arms():
    src = SEARCH.replace("            scaler.scale(space(x).mean()).backward()\n            scaler.step(a_opt)\n",
                         "            scaler.step(a_opt)\n            scaler.scale(space(x).mean()).backward()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT103", 19)]


def test_two_optimizers_each_in_order_are_silent():
    assert codes_at(SEARCH, ["OPT1", "OPT5"]) == []


# ------------------------------------------------------------------ OPT201 over nested arms
# The scheduler stepped before the optimizer step written three ways: under the scaler, by
# torch_xla on a TPU, plainly.
WINDOW_STEPS = """\
import torch
import torch_xla.core.xla_model as xm


class Trainer:
    def __init__(self, model, fp16, tpu):
        self.model = model
        self.fp16, self.tpu = fp16, tpu
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, 10)
        self.scaler = torch.cuda.amp.GradScaler()

    def fit(self, loader):
        for x, y in loader:
            self.optimizer.zero_grad()
            loss = (self.model(x) - y).pow(2).mean()
            if self.fp16:
                self.scaler.scale(loss).backward()
            else:
                loss.backward()
            if self.fp16:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                if self.tpu:
                    xm.optimizer_step(self.optimizer, barrier=True)
                else:
                    self.optimizer.step()
            self.scheduler.step()
"""


def test_scheduler_before_steps_written_in_nested_arms():
    src = WINDOW_STEPS.replace("            self.scheduler.step()\n", "").replace(
        "            if self.fp16:\n                self.scaler.step",
        "            self.scheduler.step()\n            if self.fp16:\n                self.scaler.step")
    assert codes_at(src, ["OPT201"]) == [("OPT201", 21)]


def test_scheduler_after_steps_in_nested_arms_is_silent():
    assert codes_at(WINDOW_STEPS, ["OPT1", "OPT2", "OPT5"]) == []


def test_torch_xla_optimizer_step_is_a_step_of_what_it_is_handed():
    # the clearing lost: every arm steps, nothing clears
    src = WINDOW_STEPS.replace("            self.optimizer.zero_grad()\n", "")
    assert codes_at(src, ["OPT101"]) == [("OPT101", 17)]


# --------------------------------------------------- a conditional scaler: ``X() if flag else None``
COND_SCALER = """\
import torch


def train(model, loader, use_amp):
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    scaler = torch.cuda.amp.GradScaler() if use_amp else None
    for x, y in loader:
        optimizer.zero_grad()
        loss = (model(x) - y).abs().mean()
        if use_amp:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
"""


def test_conditional_scaler_is_a_scaler():
    src = COND_SCALER.replace("            scaler.scale(loss).backward()\n            scaler.step(optimizer)\n",
                              "            scaler.step(optimizer)\n            scaler.scale(loss).backward()\n")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 11)]
    assert codes_at(COND_SCALER.replace("            scaler.update()\n", ""), ["OPT502"]) == [("OPT502", 12)]


def test_conditional_scaler_used_right_is_silent():
    assert codes_at(COND_SCALER, ["OPT1", "OPT5"]) == []


# ------------------------------------------- opaque callbacks before a clearing, then the step
LEARNER = """\
class Learner:
    def __init__(self, model, opt, loss_func, cbs):
        self.model, self.opt, self.loss_func, self.cbs = model, opt, loss_func, cbs

    def __call__(self, event):
        for cb in self.cbs:
            getattr(cb, event)(self)

    def one_batch(self, batch):
        self("before_batch")
        x, y = batch
        self.loss = self.loss_func(self.model(x), y)
        self.opt.zero_grad()
        self.loss.backward()
        self.opt.step()
        self("after_batch")

    def fit(self, loader):
        for batch in loader:
            self.one_batch(batch)
"""


def test_step_right_after_a_clearing_before_the_backward():
    src = LEARNER.replace("        self.loss.backward()\n        self.opt.step()\n",
                          "        self.opt.step()\n        self.loss.backward()\n")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 14)]


def test_callbacks_then_clear_backward_step_is_silent():
    assert codes_at(LEARNER, ["OPT1"]) == []


def test_a_callback_between_the_clearing_and_the_step_keeps_it_silent():
    # a callback after the clearing may run a backward of its own (gradient-based hooks)
    src = LEARNER.replace("        self.loss.backward()\n        self.opt.step()\n",
                          "        self('before_step')\n        self.opt.step()\n        self.loss.backward()\n")
    assert codes_at(src, ["OPT103"]) == []


# ------------------------------------------------------------------ DDP no_sync windows (OPT106)
NO_SYNC = """\
def train(model, loader, optimizer, accum):
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = (model(x) - y).pow(2).mean() / accum
        if (i + 1) % accum == 0:
            loss.backward()
            optimizer.step()
        else:
            with model.no_sync():
                loss.backward()
"""


def test_ddp_no_sync_window_cleared_every_micro_batch():
    # ``no_sync`` only skips the all-reduce: unlike Accelerate's ``accumulate`` it skips no
    # clearing, so the clearing at the top wipes the window
    assert codes_at(NO_SYNC, ["OPT106"]) == [("OPT106", 3)]


def test_ddp_no_sync_window_cleared_after_its_step_is_silent():
    src = NO_SYNC.replace("        optimizer.zero_grad()\n", "").replace(
        "            optimizer.step()\n", "            optimizer.step()\n            optimizer.zero_grad()\n")
    assert codes_at(src, ["OPT1"]) == []


# A window whose micro-batch runs several backward passes in an inner loop (one per tuple).
TUPLES = """\
def train(model, loader, criterion, optimizer, update_every):
    optimizer.zero_grad()
    for i, (inputs, targets) in enumerate(loader):
        for q in range(len(inputs)):
            loss = criterion(model(inputs[q]), targets[q])
            loss.backward()
        if (i + 1) % update_every == 0:
            optimizer.step()
            optimizer.zero_grad()
"""


def test_window_of_inner_backward_loops_cleared_every_pass():
    src = TUPLES.replace("    optimizer.zero_grad()\n    for i,", "    for i,").replace(
        "        for q in", "        optimizer.zero_grad()\n        for q in").replace(
        "            optimizer.step()\n            optimizer.zero_grad()\n", "            optimizer.step()\n")
    assert codes_at(src, ["OPT106"]) == [("OPT106", 3)]


def test_window_of_inner_backward_loops_cleared_after_the_step_is_silent():
    assert codes_at(TUPLES, ["OPT1"]) == []


# ------------------------------------------------ calls that read the model, named for it
DIFFUSION = """\
import torch


def train(unet, inferer, loader, scaler):
    optimizer = torch.optim.Adam(unet.parameters(), lr=1e-4)
    for images in loader:
        optimizer.zero_grad(set_to_none=True)
        noise = torch.randn_like(images)
        with torch.autocast("cuda"):
            pred = inferer(inputs=images, diffusion_model=unet, noise=noise)
            loss = torch.nn.functional.mse_loss(pred, noise)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
"""


def test_an_inferer_handed_the_network_neither_clears_nor_steps():
    assert codes_at(DIFFUSION.replace("        optimizer.zero_grad(set_to_none=True)\n", ""),
                    ["OPT101"]) == [("OPT101", 11)]
    src = DIFFUSION.replace("        scaler.scale(loss).backward()\n        scaler.step(optimizer)\n",
                            "        scaler.step(optimizer)\n        scaler.scale(loss).backward()\n")
    assert codes_at(src, ["OPT103"]) == [("OPT103", 12)]


def test_diffusion_loop_in_order_is_silent():
    assert codes_at(DIFFUSION, ["OPT1", "OPT5"]) == []


LOSS_ATTRIBUTE = """\
import torch


class Algo:
    loss_function = torch.nn.L1Loss()

    def train(self, loader, model, optimizer):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = self.loss_function(model(x), y)
            loss.backward()
            optimizer.step()
"""


def test_a_loss_function_of_the_class_is_a_forward():
    assert codes_at(LOSS_ATTRIBUTE.replace("            optimizer.zero_grad()\n", ""),
                    ["OPT101"]) == [("OPT101", 11)]


def test_a_loss_function_of_the_class_in_order_is_silent():
    assert codes_at(LOSS_ATTRIBUTE, ["OPT1"]) == []


# ------------------------------------- a project helper that reads the scheduler's rate
TOOLS = """\
def adjust_learning_rate(optimizer, scheduler, epoch, args):
    if args.lradj == "schedule":
        lr = scheduler.get_last_lr()[0]
    else:
        lr = args.learning_rate * (0.5 ** epoch)
    for group in optimizer.param_groups:
        group["lr"] = lr
"""

EXP = """\
import torch
from torch.optim import lr_scheduler

from tools import adjust_learning_rate


def fit(model, loader, args):
    opt = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=args.learning_rate, total_steps=100)
    for epoch in range(args.epochs):
        for x, y in loader:
            opt.zero_grad()
            loss = (model(x) - y).pow(2).mean()
            loss.backward()
            opt.step()
            adjust_learning_rate(opt, sched, epoch + 1, args)
            sched.step()
"""


def test_a_helper_reading_the_schedulers_rate_never_clears(tmp_path):
    src = EXP.replace("            opt.zero_grad()\n", "")
    assert lint_project(tmp_path, {"tools.py": TOOLS, "train.py": src}) == [("OPT101", 13)]


def test_a_helper_reading_the_schedulers_rate_in_order_is_silent(tmp_path):
    assert lint_project(tmp_path, {"tools.py": TOOLS, "train.py": EXP}, select="OPT1,OPT2") == []
