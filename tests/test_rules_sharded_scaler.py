"""FSDP's ``ShardedGradScaler`` (``torch.distributed.fsdp.sharded_grad_scaler``, and fairscale's
that it was taken from) is a ``GradScaler``: a subclass with the same ``scale`` / ``unscale_`` /
``step`` / ``update``, so the OPT5xx rules read it as one. Before, it was an object of unknown
kind, and a fine-tuning loss scaler built on it (held-out set 5: an FSDP ``NativeScaler``-style
``__call__``) was silent when its ``update`` was lost or the step bypassed it."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

SCALER = """\
import torch
from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler


class LossScaler:
    def __init__(self, enabled):
        self._scaler = ShardedGradScaler(enabled=enabled)

    def __call__(self, loss, optimizer, parameters, max_norm=1.0):
        self._scaler.scale(loss).backward()
        self._scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)
        self._scaler.step(optimizer)
        self._scaler.update()
"""


def row(src: str, needle: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("imports", [
    "from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler",
    "from fairscale.optim.grad_scaler import ShardedGradScaler",
])
def test_the_correct_scaler_is_silent(imports):
    src = SCALER.replace("from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler", imports)
    assert codes_at(src) == []


def test_update_lost_fires_opt502():
    src = SCALER.replace("        self._scaler.update()\n", "")
    assert codes_at(src, ["OPT5"]) == [("OPT502", row(src, "self._scaler.step(optimizer)"))]


def test_step_bypassing_the_scaler_fires_opt501():
    src = SCALER.replace("self._scaler.step(optimizer)", "optimizer.step()")
    assert ("OPT501", row(src, "optimizer.step()")) in codes_at(src, ["OPT5"])


def test_a_project_class_of_the_same_name_stays_unknown():
    src = SCALER.replace("from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler",
                         "from mytraining.scaling import ShardedGradScaler")
    assert codes_at(src.replace("        self._scaler.update()\n", ""), ["OPT5"]) == []
