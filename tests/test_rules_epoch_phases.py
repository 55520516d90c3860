"""OPT201 in a loop over an epoch's phases (issue 13): ``for phase in ["train", "val"]:`` inside
the epoch loop, the training phase's batch loop steps the optimizer, and the scheduler steps
under ``if phase == "train":``. Stepped at the head of the training phase, before its batch
loop, it skips the schedule's first learning rate; stepped after the batch loop, or at the head
of a later phase (the training phase has stepped by then), it is where it belongs."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

PHASES = """\
import torch
from torch import nn


def train_model(model, loaders, optimizer, scheduler, num_epochs=25):
    criterion = nn.CrossEntropyLoss()
    for epoch in range(num_epochs):
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
{head}            for inputs, labels in loaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    loss = criterion(model(inputs), labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
{tail}    return model


model = nn.Linear(8, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
train_model(model, {{"train": [], "val": []}}, optimizer, scheduler)
"""

AT_HEAD = """\
            if phase == "{phase}":
                scheduler.step()
"""
AFTER = """\
            if phase == "train":
                scheduler.step()
"""


def test_opt201_the_scheduler_at_the_head_of_the_training_phase():
    source = PHASES.format(head=AT_HEAD.format(phase="train"), tail="")
    assert codes_at(source, ["OPT201"]) == [("OPT201", 14)]


@pytest.mark.parametrize("head, tail", [
    ("", AFTER),  # after the training phase's batch loop: where it belongs
    (AT_HEAD.format(phase="val"), ""),  # at the head of the later phase: the training phase has stepped
])
def test_opt201_silent(head, tail):
    assert codes_at(PHASES.format(head=head, tail=tail), ["OPT201"]) == []
