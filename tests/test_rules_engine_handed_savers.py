"""OPT101 in a Fabric training loop that saves checkpoints through a project helper handed the
Fabric object and the model (``save_model_checkpoint(fabric, model, path)``): a helper named for
saving whose own body clears, steps and backpropagates nothing reads the model, even though the
Fabric it is handed wraps the optimizer. Each must-fire case has a twin that must not."""

from __future__ import annotations

from tests.test_rules_heldout import lint_project

UTILS = """\
import torch


def save_model_checkpoint(fabric, model, path):
    state = model.state_dict()
    if fabric.global_rank == 0:
        torch.save(state, path)
    fabric.barrier()
"""

PRETRAIN = """\
import torch
import lightning as L

from utils import save_model_checkpoint


def train(fabric: L.Fabric, model, optimizer, batches, max_iters, save_every):
    for step, (x, y) in enumerate(batches):
        if step % save_every == 0:
            save_model_checkpoint(fabric, model, f"iter-{step}.pth")
        loss = torch.nn.functional.cross_entropy(model(x), y)
        fabric.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        if step > max_iters:
            break


def main(fabric: L.Fabric, model, batches):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    model, optimizer = fabric.setup(model, optimizer)
    train(fabric, model, optimizer, batches, max_iters=1000, save_every=100)
"""


def test_opt101_a_save_helper_handed_fabric_and_the_model_cannot_clear(tmp_path):
    lost = PRETRAIN.replace("        optimizer.zero_grad()\n", "")
    assert lint_project(tmp_path, {"utils.py": UTILS, "train.py": lost}) == [("OPT101", 12)]


def test_opt101_a_save_helper_that_backpropagates_or_is_named_for_training_may_clear(tmp_path):
    lost = PRETRAIN.replace("        optimizer.zero_grad()\n", "")
    stepping = UTILS.replace("    fabric.barrier()\n", "    fabric.barrier()\n    fabric.backward(model(torch.ones(1)).sum())\n")
    assert lint_project(tmp_path / "backprop", {"utils.py": stepping, "train.py": lost}) == []
    training = UTILS.replace("def save_model_checkpoint", "def save_and_step")
    src = lost.replace("save_model_checkpoint", "save_and_step")
    assert lint_project(tmp_path / "trains", {"utils.py": training, "train.py": src}) == []


def test_opt101_the_fabric_loop_that_clears_stays_silent(tmp_path):
    assert lint_project(tmp_path, {"utils.py": UTILS, "train.py": PRETRAIN}) == []

