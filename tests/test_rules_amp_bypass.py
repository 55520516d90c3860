"""OPT501 on the shapes where a scaler bypassed by ``optimizer.step()`` went unnoticed in real
code (scaler-step-bypassed operator): a step in a window counted by the distance from the
last step (``if it - last_step >= accumulate:``), and a project scaler class whose
``__call__`` unscales and steps only when asked to (``if update_grad:``). Each must-fire case
has a twin that must not."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

DISTANCE_WINDOW = """\
import torch


def train(model, optimizer, loader, accumulate):
    scaler = torch.cuda.amp.GradScaler()
    last_step = -1
    for it, (x, y) in enumerate(loader):
        with torch.autocast("cuda"):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        if it - last_step >= accumulate:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
            optimizer.step()
            scaler.update()
            optimizer.zero_grad()
            last_step = it
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_opt501_a_step_in_a_distance_window_after_a_hand_unscale():
    assert codes_at(DISTANCE_WINDOW, ["OPT501"]) == [("OPT501", row(DISTANCE_WINDOW, "optimizer.step()"))]


def test_opt501_distance_window_through_the_scaler_is_silent():
    src = DISTANCE_WINDOW.replace("            optimizer.step()\n", "            scaler.step(optimizer)\n")
    assert codes_at(src, ["OPT501"]) == []


SCALER_CLASS = """\
import torch


class LossScaler:
    def __init__(self):
        self._scaler = torch.cuda.amp.GradScaler()

    def __call__(self, loss, optimizer, parameters, clip=None, update_grad=True):
        self._scaler.scale(loss).backward()
        if update_grad:
            self._scaler.unscale_(optimizer)
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(parameters, clip)
            optimizer.step()
            self._scaler.update()
"""


def test_opt501_a_scaler_class_that_steps_plainly_when_asked_to_update():
    assert codes_at(SCALER_CLASS, ["OPT501"]) == [("OPT501", row(SCALER_CLASS, "optimizer.step()"))]


@pytest.mark.parametrize("change", [
    # through the scaler
    ("            optimizer.step()\n", "            self._scaler.step(optimizer)\n"),
    # a plain step on the path where no unscale ran: the scaler may be off there
    ("        if update_grad:\n            self._scaler.unscale_(optimizer)\n",
     "        if update_grad:\n            pass\n"),
])
def test_opt501_scaler_class_twins_stay_silent(change):
    old, new = change
    assert old in SCALER_CLASS
    assert codes_at(SCALER_CLASS.replace(old, new), ["OPT501"]) == []
