"""Shapes of real bug-fix commits (benchmarks/realbugs/manifest.tsv) optimlint was silent on:
each a must-fire case and a tricky must-not-fire twin, written here in the project's own words."""

from __future__ import annotations

import json
import os

from tests.conftest import codes_at, invoke

# --------------------------------------------------------------------------- OPT503
# A learner whose update first asks a world model, fetched through a callback attribute, to
# imagine a rollout of the policy (a call on an object the analysis cannot see into), then
# backpropagates through the GradScaler and clips without unscaling. A call *before* the scaled
# backward cannot have unscaled the gradients that backward writes.
IMAGINED_ROLLOUT = """\
import torch
from torch import nn, optim


class Learner:
    def __init__(self, policy, make_world):
        self.policy = policy
        self.make_world = make_world
        self.scaler = torch.cuda.amp.GradScaler()
        self.policy_optimizer = optim.Adam(policy.parameters(), lr=3e-4)

    def update(self, batch):
        world = self.make_world()
        with torch.autocast("cuda"):
            dreams = world.imagine(self.policy, batch)
            loss = -dreams.mean()
        self.policy_optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
        self.scaler.step(self.policy_optimizer)
        self.scaler.update()
"""


def test_opt503_clip_after_an_unseen_call_that_precedes_the_backward():
    assert ("OPT503", 19) in codes_at(IMAGINED_ROLLOUT, ["OPT5"])


def test_opt503_not_when_the_unseen_call_sits_between_backward_and_clip():
    # the same callback after the backward may be the one that unscales: say nothing
    source = IMAGINED_ROLLOUT.replace(
        "        self.scaler.scale(loss).backward()\n",
        "        self.scaler.scale(loss).backward()\n        self.make_world()\n")
    assert not [c for c in codes_at(source, ["OPT5"]) if c[0] == "OPT503"]



# --------------------------------------------------------------------------- OPT101
# A training-step factory whose networks carry their own optimizers (``critic.optim``): the
# critic is cleared once, before its loop of several updates, so each update after the first
# applies the sum of every backward so far.
CRITIC_CARRIES_ITS_OPTIMIZER = """\
import torch


def make_train_step(generator, critic, settings):
    def train_step(real, noise):
        generator.optim.zero_grad()
        critic.optim.zero_grad()
        for _ in range(settings["critic_updates"]):
            for part in range(settings["micro_batches"]):
                fake = generator(noise[part]).detach()
                critic_loss = (critic(fake).mean() - critic(real[part]).mean()) / settings["micro_batches"]
                critic_loss.backward()
            critic.optim.step()
        generator.optim.zero_grad()
        generator_loss = -critic(generator(noise[0])).mean()
        generator_loss.backward()
        generator.optim.step()

    return train_step
"""


def test_opt101_optimizer_carried_by_a_parameter_cleared_once_before_its_loop():
    assert ("OPT101", 12) in codes_at(CRITIC_CARRIES_ITS_OPTIMIZER, ["OPT1"])


def test_opt101_not_when_the_carried_optimizer_is_cleared_in_its_loop():
    source = CRITIC_CARRIES_ITS_OPTIMIZER.replace(
        "        for _ in range(settings[\"critic_updates\"]):\n",
        "        for _ in range(settings[\"critic_updates\"]):\n            critic.optim.zero_grad()\n")
    assert codes_at(source, ["OPT1"]) == []


def test_opt101_not_when_the_attribute_is_not_named_like_an_optimizer():
    # ``critic.updater`` could be anything (an EMA, a logger): no name, no optimizer
    source = CRITIC_CARRIES_ITS_OPTIMIZER.replace("critic.optim.", "critic.updater.")
    assert codes_at(source, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT201
# An epoch loop whose scheduler step sits at its head under a flag the loop never changes
# (``if not cfg.eval_only:``): on every epoch that trains, the schedule moves before the
# epoch's first optimizer step.
GUARDED_HEAD = """\
import torch
from torch import nn


def fit(cfg, model: nn.Module, batches):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[30, 60])
    for epoch in range(cfg.epochs):
        if not cfg.eval_only:
            if cfg.schedule == "multistep":
                scheduler.step()
            for inputs, targets in batches:
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(inputs), targets).backward()
                optimizer.step()
"""


def test_opt201_scheduler_at_epoch_head_under_a_loop_invariant_flag():
    assert ("OPT201", 11) in codes_at(GUARDED_HEAD, ["OPT2"])


def test_opt201_not_when_the_guard_reads_the_epoch():
    # ``if epoch >= cfg.warmup:``: the schedule starts after epochs that already stepped
    source = GUARDED_HEAD.replace('if cfg.schedule == "multistep":', "if epoch >= cfg.warmup_epochs:")
    assert codes_at(source, ["OPT2"]) == []


def test_opt201_not_when_training_runs_under_a_flag_the_scheduler_does_not_share():
    # the scheduler steps on epochs that may not train at all (another flag guards the batches):
    # what runs first on a training epoch depends on flags the reader cannot see
    source = GUARDED_HEAD.replace(
        "            for inputs, targets in batches:\n                optimizer.zero_grad()\n"
        "                nn.functional.cross_entropy(model(inputs), targets).backward()\n"
        "                optimizer.step()\n",
        "        if cfg.train_body:\n"
        "            for inputs, targets in batches:\n                optimizer.zero_grad()\n"
        "                nn.functional.cross_entropy(model(inputs), targets).backward()\n"
        "                optimizer.step()\n")
    assert codes_at(source, ["OPT2"]) == []


def lint_files(tmp_path, files: dict[str, str], target: str, select: str) -> list[tuple[str, int]]:
    """(code, row) of the real CLI's findings on ``target``, linted beside the other files."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["check", "--no-cache", "--isolated", "--select", select, "--output-format", "json", target])
    finally:
        os.chdir(cwd)
    return [(f["code"], f["location"]["row"]) for f in json.loads(result.output)]


# The epoch's training is a function of another project file, handed the optimizer, that steps
# it once per batch; the scheduler steps before the call.
ENGINE = """\
def run_epoch(model, batches, loss_fn, optimizer):
    model.train()
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()


def report_lr(optimizer):
    return [group["lr"] for group in optimizer.param_groups]
"""
DRIVER = """\
import torch

from engine import report_lr, run_epoch


def fit(model, batches, loss_fn, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)
    for epoch in range(epochs):
        scheduler.step()
        run_epoch(model, batches, loss_fn, optimizer)
"""


def test_opt201_scheduler_before_a_helper_that_steps_over_the_batches(tmp_path):
    assert lint_files(tmp_path, {"engine.py": ENGINE, "train.py": DRIVER}, "train.py", "OPT2") == [("OPT201", 10)]


def test_opt201_not_when_the_helper_handed_the_optimizer_only_reads_it(tmp_path):
    # ``report_lr(optimizer)`` reads the rates; the epoch's training is elsewhere (unseen)
    driver = DRIVER.replace("        run_epoch(model, batches, loss_fn, optimizer)\n",
                            "        print(report_lr(optimizer))\n")
    assert lint_files(tmp_path, {"engine.py": ENGINE, "train.py": driver}, "train.py", "OPT2") == []


def test_opt201_not_when_the_scheduler_follows_the_helper(tmp_path):
    driver = DRIVER.replace("        scheduler.step()\n        run_epoch(model, batches, loss_fn, optimizer)\n",
                            "        run_epoch(model, batches, loss_fn, optimizer)\n        scheduler.step()\n")
    assert lint_files(tmp_path, {"engine.py": ENGINE, "train.py": driver}, "train.py", "OPT2") == []



# A set-up helper hands back its optimizer and a scheduler built by one of two classes, picked
# by the configuration; the per-batch loop steps that scheduler before the optimizer.
ALTERNATIVE_SCHEDULERS = """\
import torch


def build(cfg, model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    if cfg.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.total_steps)
    else:
        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, total_iters=cfg.total_steps)
    return optimizer, scheduler


def fit(cfg, model, batches):
    optimizer, scheduler = build(cfg, model)
    for inputs, targets in batches:
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        scheduler.step()
        optimizer.step()
"""


def test_opt201_scheduler_handed_back_by_either_of_two_constructions():
    assert ("OPT201", 18) in codes_at(ALTERNATIVE_SCHEDULERS, ["OPT2"])


def test_opt201_not_when_one_alternative_is_not_a_scheduler():
    # ``scheduler = None`` on one path: what the name holds is not certain
    source = ALTERNATIVE_SCHEDULERS.replace(
        "        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, total_iters=cfg.total_steps)\n",
        "        scheduler = None\n").replace("        scheduler.step()\n", "        if scheduler:\n            scheduler.step()\n")
    assert codes_at(source, ["OPT2"]) == []


# --------------------------------------------------------------------------- OPT603
# The loss is a function of another project file handed the network (under a name that does
# not say "module"); it only runs the network's forward, so it cannot put the network back in
# training mode after the periodic evaluation switched it to eval mode.
LOSSES = """\
import torch


def denoising_objective(scorer, clean, sigma):
    noisy = clean + torch.randn_like(clean) * sigma
    return ((scorer(noisy) - clean) ** 2).mean()
"""
SCORE_TRAINING = """\
import torch

from losses import denoising_objective


class Runner:
    def __init__(self, sigma, epochs):
        self.sigma = sigma
        self.epochs = epochs

    def fit(self, score, batches, probe):
        optimizer = torch.optim.Adam(score.parameters(), lr=1e-4)
        score.train()
        seen = 0
        for epoch in range(self.epochs):
            for clean in batches:
                seen += 1
                loss = denoising_objective(score, clean, self.sigma)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if seen % 500 == 0:
                    score.eval()
                    with torch.no_grad():
                        print(denoising_objective(score, probe, self.sigma).item())
"""


def test_opt603_eval_in_the_loop_when_the_project_loss_only_runs_the_forward(tmp_path):
    files = {"losses.py": LOSSES, "train.py": SCORE_TRAINING}
    assert lint_files(tmp_path, files, "train.py", "OPT6") == [("OPT603", 23)]


def test_opt603_not_when_the_project_loss_sets_training_mode(tmp_path):
    losses = LOSSES.replace("    noisy = clean", "    scorer.train()\n    noisy = clean")
    assert lint_files(tmp_path, {"losses.py": losses, "train.py": SCORE_TRAINING}, "train.py", "OPT6") == []


# A train-one-epoch function (no epoch loop in sight) validates every few hundred batches; the
# validation helper leaves the model in eval mode for the rest of the epoch's batches.
MID_EPOCH_VALIDATION = """\
import torch
from torch import nn


def validate(model, val_batches):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.cross_entropy(model(x), y).item() for x, y in val_batches)


def train_one_epoch(model, batches, val_batches, optimizer, every):
    model.train()
    for step, (x, y) in enumerate(batches):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step % every == 0:
            print(validate(model, val_batches))
"""


def test_opt603_periodic_validation_inside_the_batch_loop():
    assert ("OPT603", 6) in codes_at(MID_EPOCH_VALIDATION, ["OPT6"])


def test_opt603_not_when_validation_restores_training_mode():
    source = MID_EPOCH_VALIDATION.replace(
        "            print(validate(model, val_batches))\n",
        "            print(validate(model, val_batches))\n            model.train()\n")
    assert codes_at(source, ["OPT6"]) == []


def test_opt603_not_when_validation_runs_on_the_last_batch_only():
    source = MID_EPOCH_VALIDATION.replace("if step % every == 0:", "if step == len(batches) - 1:")
    assert codes_at(source, ["OPT6"]) == []


# --------------------------------------------------------------------------- OPT106 / OPT107
# An accumulation window written as a countdown: the passes that only accumulate leave the
# body early with ``continue`` before the step. The clearing at the top of every pass throws
# away what the earlier micro-batches accumulated.
COUNTDOWN_WINDOW = """\
import torch
from torch import nn


def train(model, batches, optimizer, window):
    left = window
    for images, labels in batches:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels) / window
        loss.backward()
        if left > 1:
            left -= 1
            continue
        optimizer.step()
        left = window
"""


def test_opt106_clear_every_pass_of_a_countdown_window():
    assert codes_at(COUNTDOWN_WINDOW, ["OPT1"]) == [("OPT106", 8)]


def test_opt106_not_when_the_countdown_window_clears_after_its_step():
    source = COUNTDOWN_WINDOW.replace("        optimizer.zero_grad()\n", "").replace(
        "        optimizer.step()\n", "        optimizer.step()\n        optimizer.zero_grad()\n")
    assert codes_at(source, ["OPT1"]) == []


def test_opt106_not_for_a_guard_that_skips_bad_batches():
    # ``if not torch.isfinite(loss): continue``: a skipped batch, not a window (and the clear
    # at the top is what such a loop needs)
    source = COUNTDOWN_WINDOW.replace("        if left > 1:\n            left -= 1\n            continue\n",
                                      "        if not torch.isfinite(loss):\n            continue\n")
    assert codes_at(source, ["OPT1"]) == []


# The same window written with a remainder: ``if (step + 1) % k != 0: continue``; the loss of
# each micro-batch is backpropagated whole.
REMAINDER_WINDOW = """\
import torch
from torch import nn


def train(model, batches, optimizer, accumulation_steps):
    for step, (images, labels) in enumerate(batches):
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        if (step + 1) % accumulation_steps != 0:
            continue
        optimizer.step()
        optimizer.zero_grad()
"""


def test_opt107_undivided_loss_in_a_window_written_with_continue():
    assert codes_at(REMAINDER_WINDOW, ["OPT1"]) == [("OPT107", 8)]


def test_opt107_not_when_the_loss_is_divided_by_the_window():
    source = REMAINDER_WINDOW.replace("(model(images), labels)\n", "(model(images), labels) / accumulation_steps\n")
    assert codes_at(source, ["OPT1"]) == []


def test_opt106_and_opt107_in_one_window_that_clears_every_pass_and_never_divides():
    # the countdown window with both mistakes: the clearing on every pass, and the whole loss of
    # each micro-batch backpropagated (moving the clearing alone would make the steps grow)
    source = COUNTDOWN_WINDOW.replace("labels) / window\n", "labels)\n")
    found = codes_at(source, ["OPT1"])
    assert found == [("OPT106", 8), ("OPT107", 10)]


def test_opt107_not_after_opt106_when_each_loss_is_divided():
    # the twin: the same clearing mistake, losses divided by the window - OPT106 alone
    assert codes_at(COUNTDOWN_WINDOW, ["OPT1"]) == [("OPT106", 8)]
    source = COUNTDOWN_WINDOW.replace("labels) / window\n", "labels)\n").replace(
        "        loss.backward()\n", "        (loss / window).backward()\n")
    assert codes_at(source, ["OPT1"]) == [("OPT106", 8)]


def test_opt106_not_for_a_skip_guard_before_the_backward():
    # the guard skips whole passes (backward included): every step sees one backward
    source = REMAINDER_WINDOW.replace(
        "        loss = nn.functional", "        if (step + 1) % accumulation_steps != 0:\n            continue\n"
        "        loss = nn.functional").replace(
        "        loss.backward()\n        if (step + 1) % accumulation_steps != 0:\n            continue\n",
        "        optimizer.zero_grad()\n        loss.backward()\n")
    assert codes_at(source, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT505
# Accelerate's clip inside its accumulation context, on every micro-batch, with an Accelerator
# that may run fp16 and accumulate: each clip unscales the GradScaler's gradients, which
# Accelerate only steps and updates on a window's last micro-batch.
ACCELERATE_CLIP = """\
import torch
from accelerate import Accelerator


def main(args, model, batches):
    accelerator = Accelerator(gradient_accumulation_steps=args.accumulation, mixed_precision=args.precision)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model, optimizer, batches = accelerator.prepare(model, optimizer, batches)
    for inputs, targets in batches:
        with accelerator.accumulate(model):
            loss = torch.nn.functional.mse_loss(model(inputs), targets)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
"""


def test_opt505_accelerate_clip_on_every_micro_batch():
    assert codes_at(ACCELERATE_CLIP, ["OPT5"]) == [("OPT505", 13)]


def test_opt505_not_when_the_clip_waits_for_synced_gradients():
    source = ACCELERATE_CLIP.replace(
        "            accelerator.clip_grad_norm_(model.parameters(), 1.0)\n",
        "            if accelerator.sync_gradients:\n                accelerator.clip_grad_norm_(model.parameters(), 1.0)\n")
    assert codes_at(source, ["OPT5"]) == []


def test_opt505_not_in_bf16():
    # bf16 needs no GradScaler: nothing is unscaled
    source = ACCELERATE_CLIP.replace("mixed_precision=args.precision", 'mixed_precision="bf16"')
    assert codes_at(source, ["OPT5"]) == []


def test_opt505_not_without_accumulation_steps():
    source = ACCELERATE_CLIP.replace("gradient_accumulation_steps=args.accumulation, ", "")
    assert codes_at(source, ["OPT5"]) == []


# --------------------------------------------------------------------------- OPT104
# An autoencoder trained against a critic, with Accelerate. The optimizers' class is chosen
# first (an 8-bit AdamW from bitsandbytes behind a flag, torch's AdamW otherwise) and held in
# a name; both optimizers are built from that name, scheduled (the scheduler takes the
# optimizer by keyword) and prepared. The critic's branch computes its loss and logs it, but
# nothing runs its backward or steps its optimizer: the critic never learns.
CLASS_IN_A_NAME = """\
import torch
from accelerate import Accelerator
from diffusers.optimization import get_scheduler


def main(args, autoencoder, critic, batches):
    accelerator = Accelerator()
    if args.use_8bit_adam:
        import bitsandbytes as bnb

        optimizer_cls = bnb.optim.AdamW8bit
    else:
        optimizer_cls = torch.optim.AdamW
    optimizer = optimizer_cls(autoencoder.parameters(), lr=args.lr)
    critic_optimizer = optimizer_cls(critic.parameters(), lr=args.critic_lr)
    schedule = get_scheduler(args.schedule, optimizer=optimizer, num_warmup_steps=100)
    critic_schedule = get_scheduler(args.schedule, optimizer=critic_optimizer, num_warmup_steps=100)
    autoencoder, critic, optimizer, critic_optimizer, schedule, critic_schedule = accelerator.prepare(
        autoencoder, critic, optimizer, critic_optimizer, schedule, critic_schedule)
    for step, images in enumerate(batches):
        if step % 2 == 0:
            loss = (autoencoder(images) - images).abs().mean() - critic(autoencoder(images)).mean()
            accelerator.backward(loss)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        else:
            critic_loss = torch.relu(1 - critic(images)).mean() + torch.relu(1 + critic(autoencoder(images))).mean()
            accelerator.log({"critic_loss": critic_loss.item(), "critic_lr": critic_schedule.get_last_lr()[0]})
"""


def test_opt104_optimizer_built_from_a_class_held_in_a_name_never_stepped():
    assert codes_at(CLASS_IN_A_NAME, ["OPT104"]) == [("OPT104", 15)]


def test_opt104_not_when_the_critic_branch_steps_its_optimizer():
    source = CLASS_IN_A_NAME.replace(
        '            accelerator.log({"critic_loss"',
        "            accelerator.backward(critic_loss)\n            critic_optimizer.step()\n"
        "            critic_schedule.step()\n            critic_optimizer.zero_grad()\n"
        '            accelerator.log({"critic_loss"')
    assert codes_at(source, ["OPT1"]) == []


def test_opt104_not_when_the_name_may_hold_something_that_is_no_optimizer_class():
    # one branch holds a project factory (a call of it may build anything, a wrapper that
    # steps itself included): the name holds no known class
    source = CLASS_IN_A_NAME.replace("optimizer_cls = bnb.optim.AdamW8bit", "optimizer_cls = bnb.make_optimizer")
    assert codes_at(source, ["OPT104"]) == []


def test_opt104_not_when_the_name_is_a_parameter():
    source = CLASS_IN_A_NAME.replace("def main(args, autoencoder, critic, batches):",
                                     "def main(args, autoencoder, critic, batches, optimizer_cls=None):")
    source = source.replace("    if args.use_8bit_adam:\n        import bitsandbytes as bnb\n\n"
                            "        optimizer_cls = bnb.optim.AdamW8bit\n    else:\n"
                            "        optimizer_cls = torch.optim.AdamW\n", "")
    assert codes_at(source, ["OPT104"]) == []


# The same critic built by torch's AdamW by name, with an adaptive weight for the generator's
# loss computed by ``torch.autograd.grad`` (the ratio of two gradient norms at the decoder's
# last layer): that call returns gradients, it reads no parameter's ``.grad``, so it does not
# make the script one whose gradients are its result.
ADAPTIVE_WEIGHT = """\
import torch


def fit(autoencoder, critic, batches, epochs):
    optimizer = torch.optim.AdamW(autoencoder.parameters(), lr=1e-4)
    critic_optimizer = torch.optim.AdamW(critic.parameters(), lr=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(critic_optimizer, lambda s: 1.0)
    for epoch in range(epochs):
        for images in batches:
            rebuilt = autoencoder(images)
            rec = (rebuilt - images).abs().mean()
            adv = -critic(rebuilt).mean()
            last = autoencoder.decoder.weight
            rec_grad = torch.autograd.grad(rec, last, retain_graph=True)[0]
            adv_grad = torch.autograd.grad(adv, last, retain_graph=True)[0]
            weight = (rec_grad.norm() / (adv_grad.norm() + 1e-4)).detach()
            optimizer.zero_grad()
            (rec + weight * adv).backward()
            optimizer.step()
            critic_loss = torch.relu(1 - critic(images)).mean()
            print(critic_loss.item(), schedule.get_last_lr())
"""


def test_opt104_unstepped_critic_beside_an_autograd_grad_weight():
    assert codes_at(ADAPTIVE_WEIGHT, ["OPT104"]) == [("OPT104", 6)]


def test_opt104_not_when_a_parameter_gradient_is_read():
    # a script whose result is a parameter's gradient (a saliency probe) may build an
    # optimizer only to clear gradients: still silent
    source = ADAPTIVE_WEIGHT.replace("            print(critic_loss.item()",
                                     "            print(last.grad.norm())\n            print(critic_loss.item()")
    assert codes_at(source, ["OPT104"]) == []


def test_opt104_scheduler_given_the_optimizer_by_keyword():
    source = ADAPTIVE_WEIGHT.replace("LambdaLR(critic_optimizer, lambda s: 1.0)",
                                     "LambdaLR(optimizer=critic_optimizer, lr_lambda=lambda s: 1.0)")
    assert codes_at(source, ["OPT104"]) == [("OPT104", 6)]


def test_opt104_not_when_the_optimizer_is_passed_on_by_keyword():
    # handed by keyword to a project helper, which may step it
    source = ADAPTIVE_WEIGHT.replace("            print(critic_loss.item(), schedule.get_last_lr())",
                                     "            train_critic(loss=critic_loss, optimizer=critic_optimizer)")
    assert codes_at(source, ["OPT104"]) == []


# --------------------------------------------------------------------------- OPT201
# A small object that owns an optimizer and its schedule and whose ``step()`` is the one
# update call of the caller's loop. It advances the schedule first: every update runs at the
# next rate, and the first rate of the schedule is never used. Neither step is in a loop and
# the method runs no backward of its own.
UPDATE_OBJECT = """\
import torch


class Updater:
    def __init__(self, optimizer, schedule):
        self.optimizer = optimizer
        self.schedule = schedule

    def step(self):
        self.schedule.step()
        self.optimizer.step()

    def zero_grad(self):
        self.optimizer.zero_grad()


def make_updater(model, warmup):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda n: min(1.0, (n + 1) / warmup))
    return Updater(optimizer, schedule)
"""


def test_opt201_update_method_steps_the_schedule_first():
    assert codes_at(UPDATE_OBJECT, ["OPT2"]) == [("OPT201", 10)]


def test_opt201_not_when_the_update_method_steps_the_optimizer_first():
    source = UPDATE_OBJECT.replace("        self.schedule.step()\n        self.optimizer.step()\n",
                                   "        self.optimizer.step()\n        self.schedule.step()\n")
    assert codes_at(source, ["OPT2"]) == []


def test_opt201_not_when_the_schedule_drives_another_optimizer():
    # the method steps the schedule of one optimizer and then another optimizer
    source = UPDATE_OBJECT.replace("    def __init__(self, optimizer, schedule):\n",
                                   "    def __init__(self, optimizer, schedule, other):\n        self.other = other\n")
    source = source.replace("        self.optimizer.step()\n\n    def zero_grad", "        self.other.step()\n\n    def zero_grad")
    source = source.replace("return Updater(optimizer, schedule)",
                            "other = torch.optim.SGD(model.head.parameters(), lr=0.1)\n"
                            "    return Updater(optimizer, schedule, other)")
    assert codes_at(source, ["OPT2"]) == []


def test_opt201_not_for_an_epoch_hook_that_only_steps_the_schedule():
    # a method that steps the schedule alone (an end-of-epoch hook) judges no order
    source = UPDATE_OBJECT.replace("        self.schedule.step()\n        self.optimizer.step()\n",
                                   "        self.optimizer.step()\n\n    def end_epoch(self):\n"
                                   "        self.schedule.step()\n")
    assert codes_at(source, ["OPT2"]) == []


# --------------------------------------------------------------------------- OPT106 / OPT107
# Two networks trained in one pass (an autoencoder and the critic that judges it), each with
# its own accumulation window under the same ``(i + 1) % accumulate_steps == 0`` test. Each
# optimizer is cleared on every pass right before its own backward, and neither loss is
# divided by the window: both windows carry both mistakes.
TWO_WINDOWS = """\
import torch


def train(autoencoder, critic, batches, ae_opt, critic_opt, accumulate_steps):
    for i, images in enumerate(batches):
        rebuilt = autoencoder(images)
        ae_loss = (rebuilt - images).abs().mean() - critic(rebuilt).mean()
        ae_opt.zero_grad()
        ae_loss.backward()
        if (i + 1) % accumulate_steps == 0:
            ae_opt.step()

        critic_loss = torch.relu(1 - critic(images)).mean() + torch.relu(1 + critic(rebuilt.detach())).mean()
        critic_opt.zero_grad()
        critic_loss.backward()
        if (i + 1) % accumulate_steps == 0:
            critic_opt.step()
"""


def test_opt106_opt107_two_optimizers_each_with_its_own_window():
    assert codes_at(TWO_WINDOWS, ["OPT1"]) == [("OPT106", 8), ("OPT107", 9), ("OPT106", 14), ("OPT107", 15)]


def test_opt106_not_when_each_window_clears_after_its_step_and_divides():
    source = TWO_WINDOWS.replace("        ae_opt.zero_grad()\n", "").replace(
        "        critic_opt.zero_grad()\n", "").replace(
        "            ae_opt.step()\n", "            ae_opt.step()\n            ae_opt.zero_grad()\n").replace(
        "            critic_opt.step()\n", "            critic_opt.step()\n            critic_opt.zero_grad()\n").replace(
        "ae_loss.backward()", "(ae_loss / accumulate_steps).backward()").replace(
        "critic_loss.backward()", "(critic_loss / accumulate_steps).backward()")
    assert codes_at(source, ["OPT1"]) == []


def test_opt106_not_for_a_generator_stepped_every_n_critic_passes():
    # one generator update per n critic updates, its gradient from the last batch on purpose:
    # the guard's length is no accumulation window
    source = TWO_WINDOWS.replace("accumulate_steps", "n_critic").replace(
        "        if (i + 1) % n_critic == 0:\n            critic_opt.step()\n", "        critic_opt.step()\n")
    assert codes_at(source, ["OPT1"]) == []


def test_opt106_not_when_the_update_runs_wholly_under_the_guard():
    # the classic alternation: the autoencoder's clear, backward and step all under the test
    source = TWO_WINDOWS.replace(
        "        ae_opt.zero_grad()\n        ae_loss.backward()\n        if (i + 1) % accumulate_steps == 0:\n"
        "            ae_opt.step()\n",
        "        if (i + 1) % accumulate_steps == 0:\n            ae_opt.zero_grad()\n            ae_loss.backward()\n"
        "            ae_opt.step()\n").replace(
        "        critic_opt.zero_grad()\n        critic_loss.backward()\n        if (i + 1) % accumulate_steps == 0:\n"
        "            critic_opt.step()\n",
        "        critic_opt.zero_grad()\n        critic_loss.backward()\n        critic_opt.step()\n")
    assert codes_at(source, ["OPT1"]) == []


# The same two windows in a LightningModule under manual optimization, whose schedulers come
# from ``self.lr_schedulers()`` (names that do not say "scheduler"): their steps are schedule
# steps, not calls that might step the optimizers.
LIGHTNING_TWO_WINDOWS = """\
import torch
import pytorch_lightning as pl


class AutoencoderWithCritic(pl.LightningModule):
    def __init__(self, autoencoder, critic, accumulate_grad_batches):
        super().__init__()
        self.autoencoder = autoencoder
        self.critic = critic
        self.accumulate_grad_batches = accumulate_grad_batches
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        ae_opt, critic_opt = self.optimizers()
        ae_sch, critic_sch = self.lr_schedulers()
        rebuilt = self.autoencoder(batch)
        ae_loss = (rebuilt - batch).abs().mean()
        ae_opt.zero_grad()
        self.manual_backward(ae_loss)
        if (batch_idx + 1) % self.accumulate_grad_batches == 0:
            ae_opt.step()
            ae_sch.step()
        critic_loss = torch.relu(1 - self.critic(batch)).mean()
        critic_opt.zero_grad()
        self.manual_backward(critic_loss)
        if (batch_idx + 1) % self.accumulate_grad_batches == 0:
            critic_opt.step()
            critic_sch.step()

    def configure_optimizers(self):
        ae_opt = torch.optim.Adam(self.autoencoder.parameters(), lr=1e-4)
        critic_opt = torch.optim.Adam(self.critic.parameters(), lr=1e-4)
        return [ae_opt, critic_opt], [torch.optim.lr_scheduler.StepLR(ae_opt, 1000),
                                      torch.optim.lr_scheduler.StepLR(critic_opt, 1000)]
"""


def test_opt106_opt107_lightning_manual_windows_with_lr_schedulers():
    assert codes_at(LIGHTNING_TWO_WINDOWS, ["OPT1"]) == [
        ("OPT106", 18), ("OPT107", 19), ("OPT106", 24), ("OPT107", 25)]


def test_opt106_not_in_lightning_when_each_window_is_right():
    source = LIGHTNING_TWO_WINDOWS.replace("        ae_opt.zero_grad()\n", "").replace(
        "        critic_opt.zero_grad()\n", "").replace(
        "            ae_sch.step()\n", "            ae_sch.step()\n            ae_opt.zero_grad()\n").replace(
        "            critic_sch.step()\n", "            critic_sch.step()\n            critic_opt.zero_grad()\n").replace(
        "self.manual_backward(ae_loss)", "self.manual_backward(ae_loss / self.accumulate_grad_batches)").replace(
        "self.manual_backward(critic_loss)", "self.manual_backward(critic_loss / self.accumulate_grad_batches)")
    assert codes_at(source, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT106
# A policy trainer handed its accelerator (annotated with the project's subclass of
# Accelerate's class) accumulates each update over several micro-batches with
# ``accelerator.accumulate(policy)``. It clears through the module, not the prepared
# optimizer: Accelerate holds back only the optimizer's ``zero_grad`` until the gradients
# sync, so the module's clear on every micro-batch throws the window away.
MODULE_CLEARED_IN_ACCUMULATE = """\
import torch
from project.patches import PatchedAccelerator


class PolicyTrainer:
    def __init__(self, policy, optimizer, accelerator: PatchedAccelerator):
        self.policy = policy
        self.optimizer = optimizer
        self.accelerator = accelerator

    def update(self, batches, epochs):
        for epoch in range(epochs):
            for batch in batches:
                with self.accelerator.accumulate(self.policy):
                    loss = -self.policy(batch).mean()
                    self.accelerator.backward(loss)
                    self.optimizer.step()
                    self.policy.zero_grad(set_to_none=True)
"""


def test_opt106_module_cleared_on_every_micro_batch_of_accumulate():
    assert codes_at(MODULE_CLEARED_IN_ACCUMULATE, ["OPT1"]) == [("OPT106", 18)]


def test_opt106_not_when_the_prepared_optimizer_clears():
    source = MODULE_CLEARED_IN_ACCUMULATE.replace("self.policy.zero_grad(", "self.optimizer.zero_grad(")
    assert codes_at(source, ["OPT1"]) == []


def test_opt106_not_when_the_module_clear_waits_for_synced_gradients():
    source = MODULE_CLEARED_IN_ACCUMULATE.replace(
        "                    self.policy.zero_grad(set_to_none=True)\n",
        "                    if self.accelerator.sync_gradients:\n"
        "                        self.policy.zero_grad(set_to_none=True)\n")
    assert codes_at(source, ["OPT1"]) == []


def test_opt106_not_for_a_module_outside_the_accumulated_one():
    # a frozen reference network whose stray gradients are dropped: not the window's module
    source = MODULE_CLEARED_IN_ACCUMULATE.replace(
        "        self.accelerator = accelerator\n", "        self.accelerator = accelerator\n        self.reference = None\n"
    ).replace("self.policy.zero_grad(set_to_none=True)", "self.reference.zero_grad(set_to_none=True)")
    assert codes_at(source, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT101
# A fine-tuning recipe whose base class (another package) gives it an optimizers container
# (``self.optimizers``, one ``step()`` / ``zero_grad()`` for every model part). The forward
# runs inside a context the base class provides; the recipe clears once, before its step
# loop, and never again: every step adds this batch's gradients to all earlier ones.
CONTAINER_CLEARED_ONCE = """\
import torch
from engine import Engine


class FineTune(Engine):
    def forward_backward(self, batch, labels):
        with self.train_context():
            loss = self.loss_fn(self.model(batch), labels)
        loss.backward()
        return loss

    def train_step(self, batch, labels):
        loss = self.forward_backward(batch, labels)
        self.optimizers.step()
        self.lr_schedulers.step()
        return loss

    def train(self):
        batches = iter(self.loader)
        self.optimizers.zero_grad()
        while self.current_step < self.total_steps:
            batch, labels = next(batches)
            self.train_step(batch, labels)
            self.current_step += 1
"""


def test_opt101_optimizers_container_cleared_once_before_the_step_loop():
    assert codes_at(CONTAINER_CLEARED_ONCE, ["OPT101"]) == [("OPT101", 9)]


def test_opt101_not_when_each_step_clears_the_container():
    source = CONTAINER_CLEARED_ONCE.replace("        loss = self.forward_backward(batch, labels)\n",
                                            "        self.optimizers.zero_grad()\n"
                                            "        loss = self.forward_backward(batch, labels)\n")
    assert codes_at(source, ["OPT101"]) == []


def test_opt101_not_when_an_unseen_method_of_the_step_may_clear():
    # a plain call of a method the file cannot see (not a ``with`` context) may clear
    source = CONTAINER_CLEARED_ONCE.replace("        loss = self.forward_backward(batch, labels)\n",
                                            "        self.prepare_step()\n"
                                            "        loss = self.forward_backward(batch, labels)\n")
    assert codes_at(source, ["OPT101"]) == []


# --------------------------------------------------------------------------- OPT202
# A traffic-forecasting script in the style of d2l: the parser's ``--decay_every`` defaults
# to 10 (epochs, as the epoch loop's size suggests), a helper of the file builds the model,
# optimizer and StepLR and hands them back in one tuple, and ``fit`` (called once, from the
# script's main block) steps the schedule inside the batch loop over ``train_iter``. Another
# function of the file has a local ``fit`` too (a split of the data), passed to a transform.
SCHEDULE_FROM_A_HELPER = """\
import argparse

import torch
from torch import nn, optim


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--decay_every", type=int, default=10)
    parser.add_argument("--gamma", type=float, default=0.9)
    return parser.parse_args()


def split(series, transform):
    fit, rest = series[:1000], series[1000:]
    return transform(fit), rest


def build(args, n_nodes):
    model = nn.Linear(n_nodes, n_nodes)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=args.decay_every, gamma=args.gamma)
    return model, optimizer, scheduler


def fit(args, model, optimizer, scheduler, train_iter):
    loss_fn = nn.MSELoss()
    for epoch in range(args.epochs):
        for x, y in train_iter:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()


if __name__ == "__main__":
    args = get_args()
    model, optimizer, scheduler = build(args, 207)
    fit(args, model, optimizer, scheduler, torch.utils.data.DataLoader(range(10)))
"""


def test_opt202_step_lr_from_a_helper_stepped_every_batch_with_an_argparse_period():
    assert codes_at(SCHEDULE_FROM_A_HELPER, ["OPT2"]) == [("OPT202", 35)]


def test_opt202_not_when_the_option_says_it_counts_iterations():
    source = SCHEDULE_FROM_A_HELPER.replace('"--decay_every", type=int, default=10)',
                                            '"--decay_every", type=int, default=10, help="decay every N steps")')
    assert codes_at(source, ["OPT2"]) == []


def test_opt202_not_when_the_default_is_an_iteration_count():
    source = SCHEDULE_FROM_A_HELPER.replace("default=10)", "default=20000)")
    assert codes_at(source, ["OPT2"]) == []


def test_opt202_not_when_the_script_sets_the_period_itself():
    source = SCHEDULE_FROM_A_HELPER.replace("    args = get_args()\n",
                                            "    args = get_args()\n    args.decay_every = 10 * 1000\n")
    assert codes_at(source, ["OPT2"]) == []


def test_opt202_not_when_the_training_function_is_handed_to_unseen_callers():
    # ``fit`` itself passed as a value (a launcher calls it): its parameters are unknown
    source = SCHEDULE_FROM_A_HELPER.replace(
        "    fit(args, model, optimizer, scheduler, torch.utils.data.DataLoader(range(10)))\n",
        "    fit(args, model, optimizer, scheduler, torch.utils.data.DataLoader(range(10)))\n"
        "    launch(fit, args)\n")
    assert codes_at(source, ["OPT2"]) == []


# --------------------------------------------------------------------------- OPT107
# A sparse-autoencoder trainer names its window once at the top of the pass (an annotated flag
# set from ``(batch_idx + 1) % accumulate_every == 0``) and tests the flag where it clips and
# steps. The loss, unpacked from an imported helper's tuple, is backpropagated whole on every batch.
WINDOW_NAMED_BY_A_FLAG = """\
import torch

from sae.losses import objective


def fit(model, loader, optimizer, accumulate_every, clip):
    for batch_idx, tokens in enumerate(loader):
        is_update: bool = (batch_idx + 1) % accumulate_every == 0
        is_report = batch_idx % 100 == 0
        loss, parts = objective(model, tokens)
        loss.backward()
        if is_update:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            optimizer.zero_grad()
        if is_report:
            print(parts)
"""


def test_opt107_window_named_by_a_flag_set_in_the_pass():
    assert codes_at(WINDOW_NAMED_BY_A_FLAG, ["OPT1"]) == [("OPT107", 11)]


def test_opt107_window_named_by_a_plain_flag_tested_negated():
    source = WINDOW_NAMED_BY_A_FLAG.replace(
        "        is_update: bool = (batch_idx + 1) % accumulate_every == 0\n",
        "        still_accumulating = (batch_idx + 1) % accumulate_every != 0\n").replace(
        "        if is_update:\n", "        if not still_accumulating:\n")
    assert codes_at(source, ["OPT1"]) == [("OPT107", 11)]


def test_opt107_not_when_the_flagged_window_divides_the_loss():
    source = WINDOW_NAMED_BY_A_FLAG.replace(
        "        loss.backward()\n", "        loss = loss / accumulate_every\n        loss.backward()\n")
    assert codes_at(source, ["OPT1"]) == []


def test_opt107_not_when_the_flag_is_no_window_test():
    # a flag set from a warm-up threshold: the step is skipped early on, nothing accumulates by design
    source = WINDOW_NAMED_BY_A_FLAG.replace("(batch_idx + 1) % accumulate_every == 0",
                                            "batch_idx >= accumulate_every")
    assert codes_at(source, ["OPT1"]) == []


def test_opt107_not_when_the_flag_is_set_twice_in_the_pass():
    # reassigned later in the pass (forced on the last batch): which test holds at the step is unsure
    source = WINDOW_NAMED_BY_A_FLAG.replace(
        "        loss.backward()\n",
        "        loss.backward()\n        if batch_idx == len(loader) - 1:\n            is_update = True\n")
    assert codes_at(source, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT201
# A prototype network trained in phases chosen by the epoch: warm-up epochs train a few layers
# with their own optimizer, the later ones train everything with the joint optimizer, whose
# StepLR steps in that arm before the epoch's training. The phase helper of another file hands
# the optimizer on to the batch loop of its own file.
PHASES = """\
def _one_pass(model, batches, optimizer=None):
    for inputs, targets in batches:
        loss = model(inputs, targets)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def fit_epoch(model, batches, optimizer):
    model.train()
    return _one_pass(model, batches, optimizer=optimizer)


def freeze_backbone(model):
    for p in model.backbone.parameters():
        p.requires_grad = False
"""
PHASED_DRIVER = """\
import torch

import phases


def run(model, batches, epochs, warm_epochs):
    warm_optimizer = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    joint_optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    joint_scheduler = torch.optim.lr_scheduler.StepLR(joint_optimizer, step_size=5, gamma=0.2)
    for epoch in range(epochs):
        if epoch < warm_epochs:
            phases.freeze_backbone(model)
            phases.fit_epoch(model=model, batches=batches, optimizer=warm_optimizer)
        else:
            joint_scheduler.step()
            phases.fit_epoch(model=model, batches=batches, optimizer=joint_optimizer)
"""


def test_opt201_scheduler_in_an_epoch_phase_arm_before_a_helper_that_hands_the_optimizer_on(tmp_path):
    found = lint_files(tmp_path, {"phases.py": PHASES, "train.py": PHASED_DRIVER}, "train.py", "OPT2")
    assert found == [("OPT201", 15)]


def test_opt201_not_when_the_phase_arm_steps_the_scheduler_after_training(tmp_path):
    driver = PHASED_DRIVER.replace(
        "            joint_scheduler.step()\n            phases.fit_epoch(model=model, batches=batches, "
        "optimizer=joint_optimizer)\n",
        "            phases.fit_epoch(model=model, batches=batches, optimizer=joint_optimizer)\n"
        "            joint_scheduler.step()\n")
    assert lint_files(tmp_path, {"phases.py": PHASES, "train.py": driver}, "train.py", "OPT2") == []


def test_opt201_not_when_an_epoch_arm_only_fast_forwards_the_schedule(tmp_path):
    # a resumed run replays the schedule for the epochs already done, then goes on to train
    driver = PHASED_DRIVER.replace(
        "            joint_scheduler.step()\n            phases.fit_epoch(model=model, batches=batches, "
        "optimizer=joint_optimizer)\n",
        "            joint_scheduler.step()\n            continue\n"
        "        phases.fit_epoch(model=model, batches=batches, optimizer=joint_optimizer)\n"
        "        joint_scheduler.step()\n")
    assert lint_files(tmp_path, {"phases.py": PHASES, "train.py": driver}, "train.py", "OPT2") == []


def test_opt201_not_when_the_arm_is_chosen_by_the_scheduler_itself(tmp_path):
    driver = PHASED_DRIVER.replace("        else:\n", "        elif joint_scheduler is not None:\n")
    assert lint_files(tmp_path, {"phases.py": PHASES, "train.py": driver}, "train.py", "OPT2") == []


def test_opt201_not_when_the_handed_on_function_only_reads_the_optimizer(tmp_path):
    helpers = PHASES.replace("            optimizer.step()\n", "            print(optimizer.param_groups[0]['lr'])\n")
    assert lint_files(tmp_path, {"phases.py": helpers, "train.py": PHASED_DRIVER}, "train.py", "OPT2") == []
