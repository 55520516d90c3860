"""A GradScaler and optimizers a project helper hands back in a tuple (held-out set 6, group P):
``scaler, autocast_kwargs = get_autocast_scaler(args)`` whose helper builds ``GradScaler()`` on
one precision and ``None`` on the others, and ``optimizer, msg = build_optimizer(params, cfg)``
whose helper builds the optimizer over the parameters it is handed. Before, the scaler was not
followed (its unpacked name was read only for optimizers, schedulers and accelerators), so
``scaler.step(optimizer)`` in the ``if scaler:`` arm was an opaque call; and two optimizers built
by one helper were "maybe the same object", so clearing the critic's counted as maybe clearing
the generator's: every order and AMP rule stayed silent on the loop. Each arm of ``if scaler:``
is read as its own pass. A helper that cannot be read leaves a variable named ``scaler`` to
the name rule, as a parameter of that name already was."""

from __future__ import annotations

import pytest

from tests.test_rules_heldout import lint_project

HELPERS = """\
import torch
from torch.cuda.amp import GradScaler


def get_autocast_scaler(args):
    if args.precision == "fp16":
        scaler = GradScaler()
        autocast_kwargs = dict(enabled=True, dtype=torch.float16)
    elif args.precision == "bf16":
        scaler = None
        autocast_kwargs = dict(enabled=True, dtype=torch.bfloat16)
    else:
        scaler = None
        autocast_kwargs = dict(enabled=False)
    return scaler, autocast_kwargs


def build_optimizer(parameters, cfg):
    optimizer = torch.optim.AdamW(parameters, lr=cfg["lr"], weight_decay=cfg["wd"])
    return optimizer, f"AdamW lr={cfg['lr']}"
"""

TRAIN = """\
import torch
from torch.cuda.amp import autocast

from train_utils import *


def main(args, cfg, decoder, critic, loader, clip, critic_steps):
    optimizer, _ = build_optimizer(decoder.parameters(), cfg)
    critic_optimizer, _ = build_optimizer(critic.parameters(), cfg)
    scaler, autocast_kwargs = get_autocast_scaler(args)
    for epoch in range(args.epochs):
        decoder.train()
        for step, images in enumerate(loader):
            train_critic = step >= args.critic_start
            optimizer.zero_grad(set_to_none=True)
            critic.eval()
            with autocast(**autocast_kwargs):
                loss = (decoder(images) - images).abs().mean() - critic(decoder(images)).mean()
            if scaler:
                scaler.scale(loss).backward()
                if clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(decoder.parameters(), clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(decoder.parameters(), clip)
                optimizer.step()
            if train_critic:
                critic.train()
                for _ in range(critic_steps):
                    critic_optimizer.zero_grad(set_to_none=True)
                    with autocast(**autocast_kwargs):
                        with torch.no_grad():
                            fake = decoder(images)
                        c_loss = critic(fake).mean() - critic(images).mean()
                    if scaler:
                        scaler.scale(c_loss).backward()
                        scaler.step(critic_optimizer)
                        scaler.update()
                    else:
                        c_loss.backward()
                        critic_optimizer.step()
                critic.eval()
"""

# the same helper, but its GradScaler never imported (or from a package not read): the name rule
UNREADABLE = HELPERS.replace("from torch.cuda.amp import GradScaler\n", "")


def lint(tmp_path, train: str = TRAIN, helpers: str = HELPERS, select: str = "ALL") -> list:
    return lint_project(tmp_path, {"train_utils.py": helpers, "train.py": train}, select=select)


@pytest.mark.parametrize("helpers", [HELPERS, UNREADABLE], ids=["helper-read", "name-rule"])
def test_the_correct_loop_is_silent(tmp_path, helpers):
    # (the critic is put in eval mode every pass and back in training mode only on the passes
    # that train it: ``if train_critic: critic.train(); ... critic_optimizer.step()``)
    assert lint(tmp_path, helpers=helpers) == []


BAD = [
    ("clear-deleted", "            optimizer.zero_grad(set_to_none=True)\n", "", [("OPT101", 19)]),
    ("step-bypassed", "                scaler.step(optimizer)\n", "                optimizer.step()\n",
     [("OPT501", 24)]),
    ("unscale-dropped", "                    scaler.unscale_(optimizer)\n", "", [("OPT503", 22)]),
    ("critic-step-first",
     "                        scaler.scale(c_loss).backward()\n                        scaler.step(critic_optimizer)\n",
     "                        scaler.step(critic_optimizer)\n                        scaler.scale(c_loss).backward()\n",
     [("OPT103", 40)]),
]


@pytest.mark.parametrize("helpers", [HELPERS, UNREADABLE], ids=["helper-read", "name-rule"])
@pytest.mark.parametrize(("old", "new", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_mistakes_in_the_scaler_arm_are_reported(tmp_path, helpers, old, new, expected):
    assert old in TRAIN
    assert lint(tmp_path, TRAIN.replace(old, new, 1), helpers) == expected


def test_no_update_in_either_arm_is_reported(tmp_path):
    src = TRAIN.replace("        scaler.update()\n", "        pass\n")
    assert lint(tmp_path, src, select="OPT502") == [("OPT502", 41)]


def test_the_critic_left_in_eval_mode_is_reported(tmp_path):
    # nothing puts the critic back in training mode before its optimizer steps
    src = TRAIN.replace("            if train_critic:\n                critic.train()\n",
                        "            if train_critic:\n")
    assert lint(tmp_path, src, select="OPT603") == [("OPT603", 16), ("OPT603", 45)]


def test_a_helper_that_returns_another_object_leaves_the_name_unknown(tmp_path):
    # ``scaler`` here is a number (a loss weight), never ``.scale(loss)``-ed: nothing to read
    helpers = HELPERS.replace("scaler = GradScaler()", "scaler = 2.0 ** 16").replace("scaler = None", "scaler = 1.0")
    assert lint(tmp_path, helpers=helpers) == []


def test_one_helper_call_run_for_several_models_may_build_the_same_object(tmp_path):
    # one call node run on each pass of a loop: the optimizers it builds are not told apart, so
    # one cleared in a loop over them may be the one stepped
    src = """\
from train_utils import build_optimizer


def fit(cfg, models, loader):
    optimizers = []
    for m in models:
        opt, _ = build_optimizer(m.parameters(), cfg)
        optimizers.append(opt)
    for x in loader:
        for opt in optimizers:
            opt.zero_grad()
        sum(m(x).mean() for m in models).backward()
        for opt in optimizers:
            opt.step()
"""
    assert lint(tmp_path, src) == []


CRITIC_UNDER_FLAG = """\
import torch


def fit(args, decoder, critic, loader):
    optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-4)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=1e-4)
    for epoch in range(args.epochs):
        decoder.train()
        for step, images in enumerate(loader):
            optimizer.zero_grad()
            critic.eval()
            (decoder(images) - images).abs().mean().backward()
            optimizer.step()
            if step >= args.critic_start:
                critic.train()
                critic_optimizer.zero_grad()
                critic(decoder(images).detach()).mean().backward()
                critic_optimizer.step()
            critic.eval()
"""


def test_a_module_put_back_in_training_mode_on_the_passes_that_train_it_is_silent(tmp_path):
    # the critic's optimizer steps only under ``if step >= args.critic_start:``, after its
    # ``critic.train()``: the decoder's unconditional backward does not train it
    assert lint(tmp_path, CRITIC_UNDER_FLAG, select="OPT603") == []


def test_a_module_trained_on_passes_its_restore_does_not_cover_is_reported(tmp_path):
    # the critic's optimizer also steps on every pass, in eval mode when the flag is off
    src = CRITIC_UNDER_FLAG.replace("            optimizer.step()\n",
                                    "            optimizer.step()\n            critic_optimizer.step()\n", 1)
    assert lint(tmp_path, src, select="OPT603") == [("OPT603", 11), ("OPT603", 20)]
