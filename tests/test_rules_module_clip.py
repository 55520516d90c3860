"""A wrapped module's own clip (FSDP, fairscale: ``model.clip_grad_norm_(max_norm)``) is a clip of
that module's gradients, placed and unscaled like ``torch.nn.utils.clip_grad_norm_``."""

from __future__ import annotations

from tests.conftest import codes_at

HEAD = """\
import torch
from torch.cuda.amp import GradScaler


def train(model, optimizer, loader, max_norm):
    scaler = GradScaler()
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
"""

SCALED = HEAD + """\
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        model.clip_grad_norm_(max_norm)
        scaler.step(optimizer)
        scaler.update()
"""


def test_opt105_the_module_clips_after_the_step():
    src = HEAD + """\
        loss.backward()
        optimizer.step()
        model.clip_grad_norm_(max_norm)
"""
    assert codes_at(src, ["OPT105"]) == [("OPT105", 13)]


def test_opt105_the_module_clips_before_the_backward():
    src = HEAD + """\
        model.clip_grad_norm_(max_norm)
        loss.backward()
        optimizer.step()
"""
    assert codes_at(src, ["OPT105"]) == [("OPT105", 11)]


def test_opt503_the_module_clips_scaled_gradients():
    src = SCALED.replace("        scaler.unscale_(optimizer)\n", "")
    assert codes_at(src, ["OPT5", "OPT105"]) == [("OPT503", 12)]


def test_the_module_clips_unscaled_gradients_between_backward_and_step_silent():
    assert codes_at(SCALED, ["OPT1", "OPT5"]) == []


def test_a_clip_method_of_something_never_used_as_a_module_is_not_a_clip():
    # ``tracker`` is no module of this file: its method is the project's own, not a clip
    src = HEAD.replace("max_norm):", "max_norm, tracker):") + """\
        loss.backward()
        optimizer.step()
        tracker.clip_grad_norm_(max_norm)
"""
    assert codes_at(src, ["OPT1", "OPT5"]) == []


def test_a_module_method_of_self_is_not_read_as_the_module_clip():
    src = """\
import torch


class Trainer(torch.nn.Module):
    def clip_grad_norm_(self, max_norm):
        return max_norm

    def fit(self, optimizer, loader):
        self.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = self(x).sum()
            loss.backward()
            optimizer.step()
            self.clip_grad_norm_(1.0)
"""
    assert codes_at(src, ["OPT1"]) == []
