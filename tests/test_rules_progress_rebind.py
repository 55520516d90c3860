"""A batch loop over a name rebound to a progress bar around itself (``pbar =
enumerate(loader)`` then ``pbar = tqdm(pbar, total=nb)``: yolov5/yolov7's trainers, held-out
set 2, issue 13) iterates the loader: the epoch loop around it is an epoch loop. Written in
the project's own words."""

from __future__ import annotations

from tests.conftest import codes_at

DETECTOR = """\
import torch
from tqdm import tqdm


def train(model, loader, epochs, show_bar):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: 1 - e / epochs)
    for epoch in range(epochs):
        model.train()
        pbar = enumerate(loader)
        if show_bar:
            pbar = tqdm(pbar, total=len(loader))
        optimizer.zero_grad()
        for i, (images, targets) in pbar:
            loss = model(images, targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()
"""


def test_scheduler_after_the_batch_loop_over_a_rebound_progress_bar_is_silent():
    assert codes_at(DETECTOR) == []


def test_opt201_scheduler_at_the_epoch_head_before_a_rebound_progress_bar():
    src = DETECTOR.replace("        scheduler.step()\n", "").replace(
        "        optimizer.zero_grad()\n        for i,", "        optimizer.zero_grad()\n        scheduler.step()\n        for i,")
    assert codes_at(src, ["OPT201"]) == [("OPT201", 14)]


def test_a_rebinding_to_something_else_still_trains_in_its_loop():
    # ``pbar`` rebound to a list of something else: no loader, but the inner loop backpropagates
    # and steps, so it is the epoch's batch loop all the same (test_rules_scheduler_conditional_steps)
    src = DETECTOR.replace("pbar = tqdm(pbar, total=len(loader))", "pbar = list(range(10))").replace(
        "        scheduler.step()\n", "").replace(
        "        optimizer.zero_grad()\n        for i,", "        optimizer.zero_grad()\n        scheduler.step()\n        for i,")
    assert codes_at(src, ["OPT201"]) == [("OPT201", 14)]
