"""Shapes found by the mutation harness and by reading every finding on the originals of the
third held-out set (benchmarks/mutation/heldout3.tsv): each a must-fire case and its
must-not-fire twin, written here in the project's own words."""

from __future__ import annotations

from tests.conftest import codes_at
from tests.test_rules_heldout import lint_project

# --------------------------------------------------------------------------- OPT201
# A hand-written warm-up schedule of the project: built on the optimizer, it writes the rate of
# the coming update into every group when stepped, and sets nothing when built. Stepping it just
# before the optimizer is its intended order; the training function knows it only as a
# parameter named `scheduler`.
RAMP_SCHEDULER = """\
class RampScheduler:
    def __init__(self, optimizer, peak, warmup):
        self.optimizer = optimizer
        self.peak = peak
        self.warmup = warmup
        self.count = 0

    def step(self):
        self.count += 1
        rate = self.peak * min(1.0, self.count / self.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = rate
"""

TRAIN_WITH_SCHEDULER = """\
import torch
from torch import nn

from ramp import RampScheduler


def run_epoch(loader, net, optimizer, scheduler):
    for inputs, targets in loader:
        net.zero_grad()
        loss = nn.functional.mse_loss(net(inputs), targets)
        loss.backward()
        if scheduler is not None:
            scheduler.step()
        optimizer.step()


def main(loader, epochs):
    net = nn.Linear(4, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    scheduler = RampScheduler(optimizer, 1e-3, 100)
    for _ in range(epochs):
        run_epoch(loader, net, optimizer, scheduler)
"""


def test_project_scheduler_that_sets_the_coming_rate_may_step_first(tmp_path):
    files = {"ramp.py": RAMP_SCHEDULER, "train.py": TRAIN_WITH_SCHEDULER}
    assert lint_project(tmp_path, files, select="OPT201") == []


def test_project_scheduler_deriving_from_torch_still_steps_after_the_optimizer(tmp_path):
    torch_based = "from torch.optim.lr_scheduler import LRScheduler\n\n\n" + RAMP_SCHEDULER.replace(
        "class RampScheduler:", "class RampScheduler(LRScheduler):")
    files = {"ramp.py": torch_based, "train.py": TRAIN_WITH_SCHEDULER}
    assert lint_project(tmp_path, files, select="OPT201") == [("OPT201", 13)]


def test_scheduler_parameter_without_a_project_class_still_reported(tmp_path):
    plain = TRAIN_WITH_SCHEDULER.replace("from ramp import RampScheduler\n", "").replace(
        "RampScheduler(optimizer, 1e-3, 100)", "torch.optim.lr_scheduler.StepLR(optimizer, 10)")
    assert lint_project(tmp_path, {"train.py": plain}, select="OPT201") == [("OPT201", 12)]


# --------------------------------------------------------------------------- OPT505
# Inside the batch loop, a loop that retrains on a hard batch: every pass of it backpropagates,
# unscales, clips, steps and updates the scaler itself, so its unscale is never repeated without
# an update, whatever the accumulation window of the batch loop around it does.
RETRY_HARD_BATCHES = """\
import torch
from torch import nn


def fit(net, loader, accum, retries):
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    scaler = torch.cuda.amp.GradScaler()
    for i, (inputs, targets) in enumerate(loader):
        for _ in range(retries):
            loss = nn.functional.mse_loss(net(inputs), targets)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
        loss = nn.functional.mse_loss(net(inputs), targets) / accum
        scaler.scale(loss).backward()
        if (i + 1) % accum == 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
"""


def test_inner_loop_that_updates_after_each_unscale_is_quiet():
    assert codes_at(RETRY_HARD_BATCHES, ["OPT505"]) == []


def test_inner_micro_batch_loop_unscaling_each_time_still_reported():
    # the update moved out of the inner loop: its unscale now repeats with no update between
    moved = RETRY_HARD_BATCHES.replace(
        "            scaler.step(optimizer)\n            scaler.update()\n            optimizer.zero_grad()\n"
        "        loss = ", "        scaler.step(optimizer)\n        scaler.update()\n        optimizer.zero_grad()\n"
        "        loss = ")
    assert moved != RETRY_HARD_BATCHES
    assert codes_at(moved, ["OPT505"]) == [("OPT505", 12)]


# --------------------------------------------------------------------------- OPT501 / OPT502
# `torch.GradScaler` is torch's own name for torch.amp.GradScaler (the spelling of recent
# tutorials: `torch.GradScaler("cuda")`, `from torch import GradScaler`).
TOP_LEVEL_SCALER = """\
import torch
from torch import nn


def fit(net, loader):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scaler = torch.GradScaler("cuda")
    for inputs, targets in loader:
        optimizer.zero_grad()
        with torch.autocast("cuda"):
            loss = nn.functional.cross_entropy(net(inputs), targets)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
"""


def test_top_level_grad_scaler_bypassed_is_reported():
    bypassed = TOP_LEVEL_SCALER.replace("scaler.step(optimizer)", "optimizer.step()")
    assert codes_at(bypassed, ["OPT5"]) == [("OPT501", 13)]


def test_top_level_grad_scaler_imported_by_name_without_update_is_reported():
    imported = TOP_LEVEL_SCALER.replace("from torch import nn", "from torch import GradScaler, nn").replace(
        'torch.GradScaler("cuda")', 'GradScaler("cuda")').replace("        scaler.update()\n", "")
    assert codes_at(imported, ["OPT5"]) == [("OPT502", 13)]


def test_top_level_grad_scaler_used_right_is_quiet():
    assert codes_at(TOP_LEVEL_SCALER, ["OPT5"]) == []


# --------------------------------------------------------------------------- OPT601
# Course-style bookkeeping: one running total per epoch in a list built before training, or a
# tensor of (sum, count) built once; the backpropagated loss added into a slot keeps every
# iteration's graph alive just as a scalar total does.
PER_EPOCH_HISTORY = """\
import torch
from torch import nn


def fit(net, loader, epochs):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    history = [0] * epochs
    for epoch in range(epochs):
        for inputs, targets in loader:
            loss = nn.functional.mse_loss(net(inputs), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            history[epoch] += loss.item() * inputs.size(0)
    return history
"""


def test_history_slot_summed_with_item_is_quiet():
    assert codes_at(PER_EPOCH_HISTORY, ["OPT601"]) == []


def test_history_slot_summed_with_the_graph_is_reported():
    kept = PER_EPOCH_HISTORY.replace("loss.item() * inputs.size(0)", "loss * inputs.size(0)")
    assert codes_at(kept, ["OPT601"]) == [("OPT601", 14)]


def test_tensor_of_totals_summed_with_the_graph_is_reported():
    tensor = PER_EPOCH_HISTORY.replace("history = [0] * epochs", "history = torch.zeros(2)").replace(
        "history[epoch] += loss.item() * inputs.size(0)", "history[0] += loss")
    assert codes_at(tensor, ["OPT601"]) == [("OPT601", 14)]


def test_dict_of_totals_summed_with_the_graph_is_reported():
    named = PER_EPOCH_HISTORY.replace("history = [0] * epochs", 'history = {"fit": 0.0, "seen": 0}').replace(
        "history[epoch] += loss.item() * inputs.size(0)", 'history["fit"] += loss')
    assert codes_at(named, ["OPT601"]) == [("OPT601", 14)]


def test_history_rebuilt_on_every_pass_is_quiet():
    # a fresh holder each pass: the graph it keeps lives one iteration, like a local
    fresh = PER_EPOCH_HISTORY.replace("history[epoch] += loss.item() * inputs.size(0)",
                                      "history = [0.0]\n            history[0] += loss")
    assert codes_at(fresh, ["OPT601"]) == []


def test_numpy_history_is_left_to_numpy():
    # numpy refuses a tensor that requires grad at once: no silent growth to report
    numpy = PER_EPOCH_HISTORY.replace("import torch\n", "import numpy as np\nimport torch\n").replace(
        "history = [0] * epochs", "history = np.zeros(epochs)").replace(
        "loss.item() * inputs.size(0)", "loss")
    assert codes_at(numpy, ["OPT601"]) == []


# --------------------------------------------------------------------------- OPT501
# The fine-tuning script style where mixed precision is a flag tested again at each use: the
# scaled backward under one `if fp16:`, the scaler's step and update under another. A plain
# step on that arm of the same flag is on the scaled backward's path: it bypasses the scaler.
# The `else:` arm's plain step is the scaler-off path and stays quiet, and so does a step under
# another flag, which says nothing about the scaler.
FLAG_AT_EACH_USE = """\
import torch
from torch import nn


def fine_tune(net, loader, args):
    optimizer = torch.optim.AdamW(net.parameters(), lr=2e-5)
    scaler = torch.cuda.amp.GradScaler()
    for step, (inputs, labels) in enumerate(loader):
        loss = nn.functional.cross_entropy(net(inputs), labels)
        if args.fp16:
            scaler.scale(loss).backward()
        else:
            loss.backward()
        if (step + 1) % args.accumulation == 0:
            if args.fp16:
                scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            if args.fp16:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            net.zero_grad()
"""


def test_flag_tested_at_each_use_stepping_through_the_scaler_is_quiet():
    assert codes_at(FLAG_AT_EACH_USE, ["OPT501"]) == []


def test_plain_step_on_the_arm_that_updates_the_scaler_is_reported():
    bypassed = FLAG_AT_EACH_USE.replace("scaler.step(optimizer)", "optimizer.step()")
    assert codes_at(bypassed, ["OPT501"]) == [("OPT501", 19)]


def test_scaler_updated_after_both_arms_of_a_disabled_scaler_is_quiet():
    # GradScaler(enabled=flag): off, its update is a no-op after the plain arm too
    shared = FLAG_AT_EACH_USE.replace("torch.cuda.amp.GradScaler()", "torch.cuda.amp.GradScaler(enabled=args.fp16)").replace(
        "                scaler.step(optimizer)\n                scaler.update()\n            else:\n"
        "                optimizer.step()\n",
        "                scaler.step(optimizer)\n            else:\n                optimizer.step()\n"
        "            scaler.update()\n")
    assert "            scaler.update()\n            net.zero_grad()" in shared
    assert codes_at(shared, ["OPT501"]) == []


def test_plain_step_under_another_flag_is_quiet():
    other = FLAG_AT_EACH_USE.replace("scaler.step(optimizer)", "optimizer.step()").replace(
        "            if args.fp16:\n                optimizer.step()", "            if args.fast:\n                optimizer.step()")
    assert "if args.fast:" in other
    assert codes_at(other, ["OPT501"]) == []
