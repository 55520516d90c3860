"""The weak operators of the third held-out set (benchmarks/mutation/heldout3.tsv): shapes the
mutation harness found there, each a must-fire case and its must-not-fire twin, written here in
the project's own words."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at
from tests.test_rules_heldout import lint_project

# --------------------------------------------------------------------------- OPT101
# A wrapper class (not a module) whose `fit` calls its own `train(dataset, out_dir)`: a project
# method taking data, not `nn.Module.train(mode)`. The optimizer is built over groups a config
# extends, so its parameters are not known; a call handed `self`'s attributes is then no clearing
# of those parameters just because `self.train(...)` was spelled like a module's mode switch.
WRAPPER_TRAINS_ITSELF = """\
import torch


class TextClassifier:
    def fit(self, dataset, out_dir):
        self.train(dataset, out_dir)

    def train(self, dataset, out_dir):
        net = self.net
        decay, no_decay = [], []
        for name, p in net.named_parameters():
            (no_decay if name.endswith("bias") else decay).append(p)
        groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
        groups.extend(self.extra_groups)
        optimizer = torch.optim.AdamW(groups, lr=2e-5)
        for epoch in range(3):
            for batch in dataset:
                loss = net(**batch).loss
                loss.backward()
                optimizer.step()
                self.log_progress(epoch, loss.item())
"""


def test_a_project_train_method_taking_data_is_no_module():
    assert codes_at(WRAPPER_TRAINS_ITSELF, ["OPT101"]) == [("OPT101", 19)]


def test_a_project_eval_method_taking_data_is_no_module():
    src = WRAPPER_TRAINS_ITSELF.replace("self.train(dataset, out_dir)", "self.eval(dataset)")
    assert codes_at(src, ["OPT101"]) == [("OPT101", 19)]


# The twins: a module switched to training mode (with no argument, or with its one `mode`
# argument) stays a module, and a call handed its attributes may still clear the optimizer whose
# parameters are not known.
MODULE_TRAINS_ITSELF = """\
import torch
from torch import nn

from helpers import reset_grads


class Learner(nn.Module):
    def fit(self, loader, extra_groups):
        self.train({mode})
        groups = [{{"params": self.body.parameters()}}]
        groups.extend(extra_groups)
        optimizer = torch.optim.SGD(groups, lr=0.1)
        for x, y in loader:
            loss = (self.body(x) - y).pow(2).mean()
            loss.backward()
            optimizer.step()
            reset_grads(self.head)
"""


def test_a_module_switched_to_training_mode_may_still_be_cleared_by_a_call():
    for mode in ("", "True", "mode=True", "self.training_enabled"):
        assert codes_at(MODULE_TRAINS_ITSELF.format(mode=mode), ["OPT101"]) == [], mode


# --------------------------------------------------------------------------- OPT106
# The named parameters chosen by a setting (the head alone, or the whole network), then split
# into decay / no-decay groups: the optimizer holds parameters of `net` whichever arm ran, so
# `net.zero_grad()` at the top of each micro-batch clears what the windowed step needs.
CHOSEN_PARAMETERS_WINDOW = """\
import torch


def train(net, loader, accum, head_only):
    if head_only:
        named = list(net.head.named_parameters()) + list(net.neck.named_parameters())
    else:
        named = list(net.named_parameters())
    groups = [
        {"params": [p for n, p in named if "bias" not in n], "weight_decay": 0.01},
        {"params": [p for n, p in named if "bias" in n], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=3e-4)
    for i, (x, y) in enumerate(loader):
        CLEARED.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            optimizer.step()
"""


def test_parameters_chosen_in_two_arms_are_known_in_both():
    assert codes_at(CHOSEN_PARAMETERS_WINDOW.replace("CLEARED", "net"), ["OPT106"]) == [("OPT106", 15)]


def test_an_arm_with_parameters_of_unknown_origin_keeps_the_clearing_unsure():
    src = CHOSEN_PARAMETERS_WINDOW.replace("CLEARED", "net").replace(
        "list(net.named_parameters())", "net.trainable_named")
    assert codes_at(src, ["OPT106"]) == []


def test_clearing_one_submodule_of_the_chosen_parameters_stays_unsure():
    assert codes_at(CHOSEN_PARAMETERS_WINDOW.replace("CLEARED", "net.head"), ["OPT106"]) == []


# --------------------------------------------------------------------------- OPT603
# An epoch loop that validates every other epoch through a library's inference routine handed
# the model, under `torch.no_grad()`: the routine runs the forward window by window, it does not
# put the model back in training mode, and nothing else does before the next epoch trains.
LIBRARY_INFERENCE_EVAL = """\
import torch
from monai.inferers import sliding_window_inference


def fit(model, optimizer, loss_fn, train_loader, val_loader, epochs):
    for epoch in range(epochs):
        for images, masks in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), masks)
            loss.backward()
            optimizer.step()
        if (epoch + 1) % 2 == 0:
            model.eval()
            with torch.no_grad():
                for images, masks in val_loader:
                    pred = sliding_window_inference(images, (96, 96), 4, model)
"""


def test_a_library_inference_routine_under_no_grad_sets_no_mode():
    assert codes_at(LIBRARY_INFERENCE_EVAL, ["OPT603"]) == [("OPT603", 13)]


def test_the_same_call_with_gradients_on_may_still_set_the_mode():
    src = LIBRARY_INFERENCE_EVAL.replace("            with torch.no_grad():\n", "            if True:\n")
    assert codes_at(src, ["OPT603"]) == []


def test_the_epoch_head_restoring_training_mode_stays_silent():
    src = LIBRARY_INFERENCE_EVAL.replace("    for epoch in range(epochs):\n",
                                         "    for epoch in range(epochs):\n        model.train()\n")
    assert codes_at(src, ["OPT603"]) == []


# A helper of the project under no_grad is not a library's: one that cannot be read (a relative
# import of a file not there) may hand the model back in training mode.
def test_a_project_helper_under_no_grad_may_still_set_the_mode():
    src = LIBRARY_INFERENCE_EVAL.replace(
        "from monai.inferers import sliding_window_inference", "from .evaluation import sliding_window_inference")
    assert codes_at(src, ["OPT603"]) == []


# --------------------------------------------------------------------------- OPT104
# The step lost between a backward and the clearing that ends the pass: each pass computes the
# gradients and throws them away. Another function of the file steps the same (module-level)
# optimizer, which does not save this loop: whatever steps it later finds its gradients cleared.
THROWN_AWAY = """\
import torch

net = torch.nn.Linear(8, 1)
optimizer = torch.optim.SGD(net.parameters(), lr=0.01)


def fit(loader, loss_fn, epochs):
    for _ in range(epochs):
        for x, y in loader:
            loss = loss_fn(net(x), y)
            loss.backward()
            BETWEEN
            optimizer.zero_grad()


def finetune(loader, loss_fn):
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(net(x), y).backward()
        optimizer.step()
"""


def test_gradients_cleared_before_any_step_in_the_same_pass():
    src = THROWN_AWAY.replace("            BETWEEN\n", "")
    assert codes_at(src, ["OPT104"]) == [("OPT104", 11)]


def test_a_step_between_the_backward_and_the_clearing_stays_silent():
    assert codes_at(THROWN_AWAY.replace("BETWEEN", "optimizer.step()"), ["OPT104"]) == []


def test_gradients_read_between_the_backward_and_the_clearing_are_the_result():
    src = THROWN_AWAY.replace("BETWEEN", "saliency = x.grad.abs().sum()")
    assert codes_at(src, ["OPT104"]) == []


def test_a_call_that_may_step_between_the_two_stays_silent():
    src = "from updates import apply_update\n\n\n" + THROWN_AWAY.replace("BETWEEN", "apply_update(optimizer)")
    assert codes_at(src, ["OPT104"]) == []



# A penalty built from per-sample gradients: a helper clears, backpropagates and reads the
# gradients it made (``inputs=``/``create_graph=True``, or an extension's ``grad_batch``); the
# training update then clears again before its own backward and step. Nothing is thrown away.
# The runner of another file calls the update in its loop.
PENALISED = """\
import torch


class Regularised(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(8, 4)
        self.head = torch.nn.Linear(4, 2)
        self.optimizer = torch.optim.Adam(list(self.body.parameters()) + list(self.head.parameters()))

    def per_sample_gradients(self, logits, y):
        self.optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits, y, reduction="none").sum()
        loss.backward(BACKWARD_ARGS)
        return [READ for w in self.head.parameters()]

    def update(self, x, y):
        logits = self.head(self.body(x))
        grads = self.per_sample_gradients(logits, y)
        penalty = torch.var(torch.cat([torch.flatten(g) for g in grads]))
        objective = torch.nn.functional.cross_entropy(logits, y) + penalty
        self.optimizer.zero_grad()
        objective.backward()
        self.optimizer.step()
"""

RUNNER = """\
import torch
from algorithms import Regularised


def main(batches):
    algorithm = Regularised()
    for x, y in batches:
        algorithm.update(x, y)
"""


def _penalised(tmp_path, backward_args: str, read: str) -> list:
    algorithms = PENALISED.replace("BACKWARD_ARGS", backward_args).replace("READ", read)
    return lint_project(tmp_path, {"algorithms.py": algorithms, "train.py": RUNNER}, "algorithms.py", "OPT104")


def test_gradients_made_and_cleared_unread_in_a_helper_are_thrown_away(tmp_path):
    assert _penalised(tmp_path, "", "w") == [("OPT104", 14)]


def test_a_penalty_backward_into_chosen_inputs_is_not_thrown_away(tmp_path):
    args = "inputs=list(self.head.parameters()), create_graph=True"
    assert _penalised(tmp_path, args, "w") == []


@pytest.mark.parametrize("attribute", ["grad", "grad_batch", "grad_sample"])
def test_gradients_read_in_the_helper_are_the_result(tmp_path, attribute):
    assert _penalised(tmp_path, "", f"w.{attribute}") == []


def test_a_clear_between_the_backward_and_the_step_is_opt102_alone():
    src = THROWN_AWAY.replace("            BETWEEN\n", "").replace(
        "            optimizer.zero_grad()\n\n\ndef", "            optimizer.zero_grad()\n            optimizer.step()\n\n\ndef")
    assert codes_at(src, ["OPT102", "OPT104"]) == [("OPT102", 12)]
