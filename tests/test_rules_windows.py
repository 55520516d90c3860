"""OPT106 on the accumulation windows of real scripts (issue 13, clear-inside-window misses in
transformers' legacy examples): the clear moved to the top of every micro-batch is reported
even when the model has a local alias for saving, when the optimizer's groups are built in two
branches, and when the window logs gradient statistics; gradients changed by hand keep it
silent."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

WINDOW = """\
import torch
from torch import nn


def train(args, model, loader):
    if args.freeze_head:
        groups = [{{"params": [p for n, p in model.named_parameters() if "head" not in n]}}]
    else:
        groups = [{{"params": [p for n, p in model.named_parameters()], "weight_decay": 0.0}}]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    for step, (x, y) in enumerate(loader):
        model.zero_grad()
        loss = nn.functional.mse_loss(model(x), y) / args.accum
        loss.backward()
        if (step + 1) % args.accum == 0:
            {in_window}
            optimizer.step()
        if step % 1000 == 0:
            to_save = model.module if hasattr(model, "module") else model
            to_save.save_pretrained(args.out)
"""


@pytest.mark.parametrize("in_window", [
    "pass",
    "for n, p in model.named_parameters(): print(n, p.grad.data.mean(), p.grad.norm())",
    "print([p.grad is None for p in model.parameters()])",
])
def test_opt106_clear_on_every_micro_batch(in_window):
    assert codes_at(WINDOW.format(in_window=in_window), ["OPT106"]) == [("OPT106", 12)]


@pytest.mark.parametrize("in_window", [
    "for p in model.parameters(): p.grad.data.mul_(args.accum)",
    "for p in model.parameters(): p.grad = p.grad / args.accum",
    "saved = [p.grad.clone() for p in model.parameters()]",
])
def test_gradients_handled_by_hand_keep_it_silent(in_window):
    assert codes_at(WINDOW.format(in_window=in_window), ["OPT106"]) == []


DISTANCE = """\
import torch
from torch import nn

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
accumulate = 4
last_opt_step = -1
loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(16)]
for ni, (x, y) in enumerate(loader):
    {top}
    (nn.functional.mse_loss(model(x), y) / accumulate).backward()
    if ni - last_opt_step >= accumulate:
        optimizer.step()
        {bottom}
        last_opt_step = ni
"""


def test_opt106_window_counted_from_the_last_step():
    src = DISTANCE.format(top="optimizer.zero_grad()", bottom="pass")
    assert codes_at(src, ["OPT1"]) == [("OPT106", 10)]


def test_window_counted_from_the_last_step_cleared_after_its_step_is_silent():
    src = DISTANCE.format(top="pass", bottom="optimizer.zero_grad()")
    assert codes_at(src, ["OPT1"]) == []


def test_a_distance_test_whose_body_does_not_move_the_mark_is_no_window():
    # ``if epoch - start >= warmup:`` steps on every pass once past the warm-up
    src = DISTANCE.format(top="optimizer.zero_grad()", bottom="pass").replace(
        "        last_opt_step = ni\n", "")
    assert codes_at(src, ["OPT106"]) == []
