"""Optimizers and schedulers held in containers (held-out set 2's styles, issue 13): a list of
optimizers stepped in a loop (``for opt in optimizers: opt.step()``, modded-nanogpt's speed
runs), a dict of them, a container named for them. Each must-fire case has good twins that
must stay silent; written in the project's own words."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at, lint


def row_of(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if line.strip() == text)


# --------------------------------------------------------------------------- each optimizer of a list
# A speed-run script: a torch AdamW for the embeddings and the project's own orthogonalising
# optimizer for the matrices, kept in one list and stepped together once per batch.
SPEEDRUN = """\
import torch
from torch import nn


class Orthogonal(torch.optim.Optimizer):
    def __init__(self, params, lr=0.02):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(p.grad, alpha=-group["lr"])


net = nn.Sequential(nn.Embedding(64, 16), nn.Linear(16, 64))
embed_opt = torch.optim.AdamW(net[0].parameters(), lr=0.01)
matrix_opt = Orthogonal(net[1].parameters())
optimizers = [embed_opt, matrix_opt]
for step in range(500):
    tokens = torch.randint(0, 64, (8,))
    logits = net(tokens)
    nn.functional.cross_entropy(logits, tokens).backward()
    for opt in optimizers:
        opt.step()
{clear}
"""


def test_opt101_each_optimizer_of_a_list_stepped_never_cleared():
    src = SPEEDRUN.format(clear="")
    found = lint(src, ["OPT101"])
    assert [(d.code, d.location.row) for d in found] == [
        ("OPT101", row_of(src, "nn.functional.cross_entropy(logits, tokens).backward()"))]
    # the loop's target means nothing at the top of the batch loop: no fix writes it there
    assert found[0].fix is None


@pytest.mark.parametrize("clear", [
    "    net.zero_grad(set_to_none=True)",
    "    for opt in optimizers:\n        opt.zero_grad(set_to_none=True)",
    "    for o in optimizers:\n        o.zero_grad()",
    "    embed_opt.zero_grad()\n    matrix_opt.zero_grad()",
])
def test_each_optimizer_of_a_list_cleared_is_silent(clear):
    assert codes_at(SPEEDRUN.format(clear=clear), ["OPT1"]) == []


def test_opt102_each_optimizer_cleared_between_the_backward_and_their_steps():
    src = SPEEDRUN.format(clear="").replace(
        "    for opt in optimizers:\n        opt.step()\n",
        "    for opt in optimizers:\n        opt.zero_grad()\n    for opt in optimizers:\n        opt.step()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT102", row_of(src, "opt.zero_grad()"))]


def test_opt103_each_optimizer_stepped_before_the_backward():
    src = SPEEDRUN.format(clear="").replace(
        "    logits = net(tokens)\n",
        "    for opt in optimizers:\n        opt.zero_grad()\n    logits = net(tokens)\n").replace(
        "    nn.functional.cross_entropy(logits, tokens).backward()\n    for opt in optimizers:\n        opt.step()\n",
        "    for opt in optimizers:\n        opt.step()\n    nn.functional.cross_entropy(logits, tokens).backward()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT103", row_of(src, "opt.step()"))]


def test_a_list_of_anything_else_stepped_in_a_loop_is_not_followed():
    src = SPEEDRUN.format(clear="").replace("optimizers = [embed_opt, matrix_opt]",
                                            "optimizers = [embed_opt, build_other()]")
    assert codes_at(src, ["OPT1"]) == []


# Two networks, each with its own optimizer, trained in turn inside the batch loop (each
# pair cleared, backpropagated and stepped): nothing is wrong.
TURNS = """\
import torch
from torch import nn

nets = [nn.Linear(4, 1), nn.Linear(4, 1)]
optimizers = [torch.optim.SGD(n.parameters(), lr=0.1) for n in nets]
for x, y in loader:
    for i, opt in enumerate(optimizers):
        opt.zero_grad()
        loss = nn.functional.mse_loss(nets[i](x), y)
        loss.backward()
        opt.step()
"""


def test_each_optimizer_trained_in_turn_is_silent():
    assert codes_at(TURNS, ["OPT1"]) == []


def test_opt101_each_optimizer_of_a_comprehension_trained_in_turn_never_cleared():
    src = TURNS.replace("        opt.zero_grad()\n", "")
    assert codes_at(src, ["OPT101"]) == [("OPT101", row_of(src, "loss.backward()"))]


# A GAN trainer class keeping its two optimizers in a dict attribute.
GAN = """\
import torch
from torch import nn


class Trainer:
    def __init__(self):
        self.gen = nn.Linear(8, 16)
        self.disc = nn.Linear(16, 1)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=2e-4)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=2e-4)
        self.optimizers = {"gen": self.opt_g, "disc": self.opt_d}

    def fit(self, loader):
        for noise, real in loader:
            for name, opt in self.optimizers.items():
                opt.zero_grad()
            loss = self.disc(self.gen(noise)).mean() - self.disc(real).mean()
            loss.backward()
            for opt in self.optimizers.values():
                opt.step()
"""


def test_each_optimizer_of_a_dict_attribute_cleared_is_silent():
    assert codes_at(GAN, ["OPT1"]) == []


def test_opt101_each_optimizer_of_a_dict_attribute_never_cleared():
    src = GAN.replace("            for name, opt in self.optimizers.items():\n                opt.zero_grad()\n", "")
    assert codes_at(src, ["OPT101"]) == [("OPT101", row_of(src, "loss.backward()"))]


# A step function handed its optimizers in a container whose name says what it holds.
HANDED = """\
import torch


def train(model, optimizers, loader):
    for batch in loader:
        for optimizer in optimizers:
            optimizer.zero_grad()
        model(batch).mean().backward()
        for optimizer in optimizers:
            optimizer.step()
"""


def test_each_optimizer_of_a_named_parameter_cleared_in_order_is_silent():
    assert codes_at(HANDED, ["OPT1"]) == []


def test_opt102_each_optimizer_of_a_named_parameter_cleared_after_the_backward():
    src = HANDED.replace(
        "        for optimizer in optimizers:\n            optimizer.zero_grad()\n        model(batch).mean().backward()\n",
        "        model(batch).mean().backward()\n        for optimizer in optimizers:\n            optimizer.zero_grad()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT102", row_of(src, "optimizer.zero_grad()"))]


def test_a_loop_over_optimizer_names_that_trains_inside_is_no_container_of_optimizers():
    # a sweep over optimizer *names*: each pass builds its own optimizer and trains a model
    src = """\
import torch

optimizers = ["sgd", "adam"]
for optimizer in optimizers:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1) if optimizer == "sgd" else \\
        torch.optim.Adam(model.parameters())
    for x, y in loader:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
"""
    assert codes_at(src) == []


# --------------------------------------------------------------------------- schedulers in a list
SCHEDULED = """\
import torch
from torch import nn

net = nn.Sequential(nn.Embedding(64, 16), nn.Linear(16, 64))
optimizers = [torch.optim.AdamW(net[0].parameters()), torch.optim.SGD(net[1].parameters(), lr=0.1)]
schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: min(1.0, s / 100)) for o in optimizers]
for tokens in batches:
    nn.functional.cross_entropy(net(tokens), tokens).backward()
    for sched in schedulers:
        sched.step()
    for opt in optimizers:
        opt.step()
    net.zero_grad(set_to_none=True)
"""


def test_opt201_each_scheduler_of_a_list_stepped_before_the_optimizers():
    assert codes_at(SCHEDULED, ["OPT201"]) == [("OPT201", row_of(SCHEDULED, "sched.step()"))]


def test_each_scheduler_of_a_list_stepped_after_the_optimizers_is_silent():
    after = SCHEDULED.replace("    for sched in schedulers:\n        sched.step()\n", "") + \
        "    for sched in schedulers:\n        sched.step()\n"
    assert codes_at(after, ["OPT2"]) == []


# --------------------------------------------------------------------------- micro-batches, model-wide clear
# The speed-run loop: micro-batch backward passes summed into one step of every optimizer,
# gradients all-reduced by hand, the whole model cleared after the steps. The optimizers'
# parameters are read from their groups (``dict(params=[net.head.weight])``, a list named
# once), so the model-wide clear is known to clear them all.
MICRO = """\
import torch
import torch.distributed as dist
from torch import nn


class Orthogonal(torch.optim.Optimizer):
    def __init__(self, params, lr=0.02):
        super().__init__(params, dict(lr=lr))


net = nn.Sequential(nn.Embedding(64, 16), nn.Linear(16, 64))
matrix_params = sorted((p for p in net[1].parameters() if p.ndim >= 2), key=lambda p: p.numel())
embed_opt = torch.optim.AdamW([dict(params=[net[0].weight], lr=0.3), dict(params=[net[1].bias], lr=0.01)])
matrix_opt = Orthogonal(matrix_params, lr=0.05)
optimizers = [embed_opt, matrix_opt]
for step in range(500):
    tokens = next(batches)
    for i in range(len(tokens) // 8):
        nn.functional.cross_entropy(net(tokens[i * 8:(i + 1) * 8]), tokens[i * 8:(i + 1) * 8]).backward()
    for p in net.parameters():
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
    for opt in optimizers:
        opt.step()
    net.zero_grad(set_to_none=True)
"""


def test_micro_batches_then_each_step_then_a_model_wide_clear_is_silent():
    assert codes_at(MICRO) == []


def test_opt106_model_wide_clear_moved_into_the_micro_batch_loop():
    src = MICRO.replace("    net.zero_grad(set_to_none=True)\n", "").replace(
        "    for i in range(len(tokens) // 8):\n",
        "    for i in range(len(tokens) // 8):\n        net.zero_grad(set_to_none=True)\n")
    found = lint(src, ["OPT1"])
    assert [(d.code, d.location.row) for d in found] == [("OPT106", row_of(src, "net.zero_grad(set_to_none=True)"))]
    # no fix moves the clear into the loop over the optimizers (it would clear between their steps)
    assert found[0].fix is None


def test_opt102_model_wide_clear_between_the_micro_batch_loop_and_the_steps():
    src = MICRO.replace("    net.zero_grad(set_to_none=True)\n", "").replace(
        "    for opt in optimizers:\n", "    net.zero_grad(set_to_none=True)\n    for opt in optimizers:\n")
    found = lint(src, ["OPT1"])
    assert [(d.code, d.location.row) for d in found] == [("OPT102", row_of(src, "net.zero_grad(set_to_none=True)"))]
    assert found[0].fix is None  # "before the backward" would put it inside the micro-batch loop


def test_a_clear_of_another_module_between_the_micro_batches_and_the_steps_is_silent():
    # the discriminator's gradients, not the optimizers': nothing of theirs is wiped
    src = MICRO.replace("    net.zero_grad(set_to_none=True)\n", "").replace(
        "net = nn.Sequential(", "critic = nn.Linear(64, 1)\nnet = nn.Sequential(").replace(
        "    for opt in optimizers:\n", "    critic.zero_grad()\n    for opt in optimizers:\n") + \
        "    net.zero_grad()\n    critic.train()\n"
    assert codes_at(src, ["OPT102", "OPT106"]) == []


def test_a_clear_through_the_loop_variable_of_a_container_of_modules_is_no_other_module():
    # ``net`` drawn from ``nets`` may be any of them: its clear may clear each optimizer's
    src = """\
import torch
from torch import nn

nets = [nn.Linear(4, 1), nn.Linear(4, 1)]
optimizers = [torch.optim.SGD(nets[0].parameters(), lr=0.1), torch.optim.SGD(nets[1].parameters(), lr=0.1)]
for x, y in loader:
    for net, opt in zip(nets, optimizers):
        net.train()
        net.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        opt.step()
"""
    assert codes_at(src, ["OPT1"]) == []
