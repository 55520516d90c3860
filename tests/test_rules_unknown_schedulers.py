"""Optimizers and schedulers built by a project factory that chooses the class at run time
(held-out set 4: the diffusion fine-tuning scripts of one repository, ``_, _, optimizer =
util.get_optimizer(args, params)`` and ``lr_scheduler = util.get_scheduler_fix(args, optimizer,
n)``). The factory's class cannot be read, so the scheduler's kind is unknown: no epoch / batch
judgement (OPT202 / OPT203) is made of it. But a name that says scheduler, every value of which
is a call handed the optimizer, holds a scheduler built over that optimizer: its ``step()`` moves
a learning rate (OPT201 when it runs before the optimizer's step), and the factory call cannot
step the optimizer (OPT104 when the step is lost). Three things that hid the lost step are
also read for what they are: ``cfg.optimizer_type`` handed to a logging helper (a string, not
an optimizer), ``optimizer_train_fn()`` (a function named after the optimizer), and a helper
with an opaque recursion called before the optimizer exists. A gradient written back
transformed (``p.grad = accelerator.reduce(p.grad)``) is no clearing (OPT101)."""

from __future__ import annotations

import pytest

from tests.test_rules_heldout import lint_project

FACTORIES = """\
import importlib

import torch


def make_optimizer(cfg, params):
    module = importlib.import_module(cfg.optimizer_module)
    optimizer_class = getattr(module, cfg.optimizer_name)
    optimizer = optimizer_class(params, lr=cfg.lr)
    return cfg.optimizer_name, optimizer


def make_schedule(cfg, optimizer, world_size):
    if cfg.schedule_module:
        schedule_class = getattr(importlib.import_module(cfg.schedule_module), cfg.schedule_name)
        return schedule_class(optimizer, **cfg.schedule_args)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, s / (cfg.warmup * world_size)))


def mode_switches(cfg):
    if not cfg.schedule_free:
        return (lambda: None), (lambda: None)
    return cfg.train_mode, cfg.eval_mode


def record_rates(logs, lr_scheduler, optimizer_type):
    logs["lr"] = lr_scheduler.get_last_lr()[0]
    logs["optimizer"] = optimizer_type
"""

TRAIN = """\
import trainkit


def train(cfg, denoiser, loader):
    _, optimizer = trainkit.make_optimizer(cfg, denoiser.parameters())
    optimizer_train_fn, optimizer_eval_fn = trainkit.mode_switches(cfg)
    lr_scheduler = trainkit.make_schedule(cfg, optimizer, cfg.world_size)
    for epoch in range(cfg.epochs):
        optimizer_train_fn()
        for batch in loader:
            loss = denoiser(batch).pow(2).mean()
            loss.backward()
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            logs = {}
            trainkit.record_rates(logs, lr_scheduler, cfg.optimizer_type)
        optimizer_eval_fn()
"""


def lint(tmp_path, train: str, factories: str = FACTORIES, select: str = "OPT1,OPT2") -> list:
    return lint_project(tmp_path, {"trainkit.py": factories, "train.py": train}, select=select)


def swap(text: str, first: str, second: str) -> str:
    a, b = text.index(first), text.index(second)
    assert a < b
    return text[:a] + second + text[a + len(first):b] + first + text[b + len(second):]


def test_the_correct_loop_is_silent(tmp_path):
    assert lint(tmp_path, TRAIN, select="ALL") == []


def test_the_scheduler_stepped_before_the_optimizer(tmp_path):
    src = swap(TRAIN, "optimizer.step()", "lr_scheduler.step()")
    assert lint(tmp_path, src) == [("OPT201", 13)]


def test_the_lost_step(tmp_path):
    src = TRAIN.replace("            optimizer.step()\n", "")
    assert lint(tmp_path, src) == [("OPT104", 12)]


def test_the_lost_step_with_a_list_of_schedulers_stepped_by_index(tmp_path):
    src = TRAIN.replace("            optimizer.step()\n", "").replace(
        "    lr_scheduler = trainkit.make_schedule(cfg, optimizer, cfg.world_size)\n",
        "    lr_scheduler = trainkit.make_schedule(cfg, optimizer, cfg.world_size)\n"
        "    lr_schedulers = [lr_scheduler, trainkit.make_schedule(cfg, optimizer, 1)]\n").replace(
        "            lr_scheduler.step()\n",
        "            for i in range(len(lr_schedulers)):\n                lr_schedulers[i].step()\n")
    assert lint(tmp_path, src) == [("OPT104", 13)]


NOISE = """

class NoiseScheduler:
    def __init__(self, steps):
        self.steps = steps

    def step(self, output, t, sample):
        return sample - output / self.steps
"""


def test_a_list_of_schedulers_taken_apart_keeps_its_factory(tmp_path):
    # the file also builds a project noise scheduler (a class with its own step): the name
    # ``lr_scheduler`` holds what the factory handed the optimizer builds, not one of those
    src = swap(TRAIN, "optimizer.step()", "lr_scheduler.step()").replace(
        "    for epoch in range(cfg.epochs):\n",
        "    noise_scheduler = trainkit.NoiseScheduler(1000)\n    for epoch in range(cfg.epochs):\n").replace(
        "    lr_scheduler = trainkit.make_schedule(cfg, optimizer, cfg.world_size)\n",
        "    if cfg.per_block:\n"
        "        lr_schedulers = [trainkit.make_schedule(cfg, optimizer, 1) for optimizer in cfg.optimizers]\n"
        "        lr_scheduler = lr_schedulers[0]\n"
        "    else:\n"
        "        lr_scheduler = trainkit.make_schedule(cfg, optimizer, cfg.world_size)\n")
    assert lint(tmp_path, src, FACTORIES + NOISE) == [("OPT201", 18)]


def test_the_lost_step_after_a_recursive_helper_ran_before_the_optimizer(tmp_path):
    src = TRAIN.replace("            optimizer.step()\n", "").replace(
        "def train(cfg, denoiser, loader):\n",
        "def train(cfg, denoiser, loader):\n"
        "    def set_flag(module, value):\n"
        "        def visit(m):\n"
        "            m.use_flash = value\n"
        "            for child in m.children():\n"
        "                visit(child)\n"
        "        visit(module)\n"
        "\n"
        "    set_flag(denoiser, True)\n")
    assert lint(tmp_path, src) == [("OPT104", 20)]


# --------------------------------------------------------------------------- silent twins
def test_a_scheduler_named_call_not_handed_the_optimizer_stays_unknown(tmp_path):
    # built from the configuration alone: what it steps is not known
    src = swap(TRAIN, "optimizer.step()", "lr_scheduler.step()").replace(
        "trainkit.make_schedule(cfg, optimizer, cfg.world_size)", "trainkit.make_schedule(cfg, None, 1)")
    assert lint(tmp_path, src) == []


def test_a_project_step_class_built_over_the_optimizer_may_lead(tmp_path):
    # a schedule object of the project whose step() writes the rate of the step about to run
    factories = FACTORIES + """

class CycleSchedule:
    def __init__(self, optimizer, total):
        self.optimizer, self.total, self.n = optimizer, total, 0

    def step(self):
        for group in self.optimizer.param_groups:
            group["lr"] = 0.1 * (1 - self.n / self.total)
        self.n += 1
"""
    src = swap(TRAIN, "optimizer.step()", "lr_scheduler.step()").replace(
        "trainkit.make_schedule(cfg, optimizer, cfg.world_size)", "trainkit.CycleSchedule(optimizer, cfg.steps)")
    assert lint(tmp_path, src, factories) == []


def test_a_metric_step_of_an_unknown_scheduler_may_lead(tmp_path):
    src = swap(TRAIN, "optimizer.step()", "lr_scheduler.step()").replace(
        "lr_scheduler.step()", "lr_scheduler.step(loss.item())")
    assert lint(tmp_path, src) == []


def test_no_granularity_is_guessed_for_an_unknown_kind(tmp_path):
    # stepped once per epoch while the optimizer steps per batch: right for some kinds
    src = TRAIN.replace("            lr_scheduler.step()\n", "").replace(
        "        optimizer_eval_fn()\n", "        optimizer_eval_fn()\n        lr_scheduler.step()\n")
    assert lint(tmp_path, src) == []


def test_a_function_named_for_stepping_may_still_step(tmp_path):
    src = TRAIN.replace("            optimizer.step()\n", "            opt_step_fn()\n").replace(
        "    lr_scheduler = ", "    opt_step_fn = trainkit.stepper(optimizer)\n    lr_scheduler = ")
    assert lint(tmp_path, src) == []


@pytest.mark.parametrize("name", ["optimizer_type", "optimizer_name", "opt_level"])
def test_names_describing_an_optimizer_hold_none(name):
    from optimlint.analysis.symbols import name_says_optimizer

    assert not name_says_optimizer(name)
    assert name_says_optimizer(name.replace("_type", "_g").replace("_name", "_d").replace("_level", "_gen"))


# --------------------------------------------------------------------------- OPT101
SYNCED = """\
import torch
from accelerate import Accelerator


class Trainer:
    def sync(self, accelerator, network):
        for param in network.parameters():
            if param.grad is not None:
                param.grad = accelerator.reduce(param.grad, reduction="mean")

    def fit(self, network, loader):
        accelerator = Accelerator()
        optimizer = torch.optim.AdamW(network.parameters(), lr=1e-4)
        for batch in loader:
            loss = network(batch).mean()
            accelerator.backward(loss)
            self.sync(accelerator, network)
            optimizer.step()
            optimizer.zero_grad()
"""


def test_a_gradient_written_back_synchronised_is_no_clearing(tmp_path):
    src = SYNCED.replace("            optimizer.zero_grad()\n", "")
    assert lint(tmp_path, src, select="OPT101") == [("OPT101", 16)]


def test_a_gradient_replaced_by_zeros_is_a_clearing(tmp_path):
    src = SYNCED.replace("accelerator.reduce(param.grad, reduction=\"mean\")", "torch.zeros_like(param.grad)") \
        .replace("            optimizer.zero_grad()\n", "")
    assert lint(tmp_path, src, select="OPT101") == []
    assert lint(tmp_path, SYNCED, select="ALL") == []
