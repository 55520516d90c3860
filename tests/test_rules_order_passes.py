"""The order rules on the shapes real training loops take (issue 13, measured by the order
operators of the mutation harness): an optimizer that a loop clears and backpropagates for
but never steps, whatever it was bound from (OPT104); a step under the same condition as its
backward (OPT102/OPT103); two optimizers in one pass, where a step cleared after the other
optimizer's backward comes before its own (OPT103, not OPT102); a manual unscale followed
by a plain step and the scaler's update (OPT501). Each must-fire case has a twin that must not."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

# --------------------------------------------------------------------------- OPT104, loop form

TRAIN_FN = """\
import torch.nn.functional as F


def train_epochs(net, batches, opt, epochs):
    for epoch in range(epochs):
        net.train()
        for inputs, labels in batches:
            opt.zero_grad()
            loss = F.cross_entropy(net(inputs), labels)
            loss.backward()
"""


def test_opt104_a_parameter_optimizer_cleared_every_batch_but_never_stepped():
    assert codes_at(TRAIN_FN, ["OPT104"]) == [("OPT104", 10)]


def test_opt104_an_optimizer_unpacked_from_a_helper_tuple():
    src = """\
    import torch


    def build(cfg):
        net = torch.nn.Linear(cfg.width, 1)
        return net, torch.optim.AdamW(net.parameters(), lr=cfg.lr), cfg.batches


    def run(cfg):
        net, opt, batches = build(cfg)
        for xb, yb in batches:
            loss = (net(xb) - yb).pow(2).mean()
            loss.backward()
            opt.zero_grad()
    """
    assert codes_at(src, ["OPT104"]) == [("OPT104", 13)]


@pytest.mark.parametrize("change", [
    # the step is there
    ("            loss.backward()\n", "            loss.backward()\n            opt.step()\n"),
    # through the scaler
    ("            loss.backward()\n", "            loss.backward()\n            scaler.step(opt)\n            scaler.update()\n"),
    # a helper handed the optimizer may step it
    ("            loss.backward()\n", "            loss.backward()\n            apply_update(opt)\n"),
    # the gradients are the result (saliency, Fisher information)
    ("            loss.backward()\n", "            loss.backward()\n            grads.append(net.weight.grad.clone())\n"),
    # a generator: its caller runs between passes
    ("            loss.backward()\n", "            loss.backward()\n            yield loss\n"),
])
def test_opt104_silent_when_something_steps_or_the_gradients_are_used(change):
    old, new = change
    assert old in TRAIN_FN
    assert codes_at(TRAIN_FN.replace(old, new), ["OPT104"]) == []


def test_opt104_silent_when_cleared_on_some_passes_and_stepped_after_the_loop():
    src = """\
    def fit(net, opt, chunks, k):
        for i, chunk in enumerate(chunks):
            if i % k == 0:
                opt.zero_grad()
            net(chunk).sum().backward()
        opt.step()
    """
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_silent_when_cleared_every_pass_and_stepped_once_after_the_loop():
    # OPT106's business (one step sees only the last pass), not "never stepped"
    src = """\
    def fit(net, opt, chunks):
        for chunk in chunks:
            opt.zero_grad()
            net(chunk).sum().backward()
        opt.step()
    """
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_another_functions_own_optimizer_being_stepped_does_not_hide_it():
    src = """\
    def baseline(net, batches, make_opt):
        optimizer = make_opt(net)
        for x in batches:
            net(x).sum().backward()
            optimizer.step()
            optimizer.zero_grad()


    def candidate(net, batches, make_opt):
        optimizer = make_opt(net)
        for x in batches:
            net(x).sum().backward()
            optimizer.zero_grad()


    if __name__ == "__main__":
        baseline(NET, BATCHES, OPT)
        candidate(NET, BATCHES, OPT)
    """
    assert codes_at(src, ["OPT104"]) == [("OPT104", 12)]


# --------------------------------------------------------------------------- OPT103 / OPT102 under a condition

REPLAY = """\
import torch.nn.functional as F


def learn(qnet, opt, buffer, total_steps, every):
    for t in range(total_steps):
        if t % every == 0:
            obs, target = buffer.sample()
            loss = F.smooth_l1_loss(qnet(obs), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
"""


def test_replay_loop_in_order_is_silent():
    assert codes_at(REPLAY, ["OPT1"]) == []


def test_opt103_step_before_backward_under_the_same_condition():
    src = REPLAY.replace("            loss.backward()\n            opt.step()\n",
                         "            opt.step()\n            loss.backward()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT103", 10)]


def test_opt102_clear_between_backward_and_step_under_the_same_condition():
    src = REPLAY.replace("            opt.zero_grad()\n            loss.backward()\n",
                         "            loss.backward()\n            opt.zero_grad()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT102", 10)]


def test_opt103_silent_for_a_step_delayed_to_the_next_pass_on_purpose():
    src = """\
    def pipelined(net, opt, batches):
        for i, (x, y) in enumerate(batches):
            if i > 0:
                opt.step()
                opt.zero_grad()
            (net(x) - y).pow(2).mean().backward()
    """
    assert codes_at(src, ["OPT1"]) == []


def test_opt103_a_step_at_the_loop_head_before_the_micro_batch_backward_passes():
    src = """\
    def fit(net, opt, scaler, windows):
        for window in windows:
            scaler.step(opt)
            scaler.update()
            for xb, yb in window:
                scaler.scale((net(xb) - yb).abs().mean()).backward()
            opt.zero_grad(set_to_none=True)
    """
    assert codes_at(src, ["OPT103"]) == [("OPT103", 3)]


# --------------------------------------------------------------------------- two optimizers in one pass

GAN = """\
def adversarial(gen, disc, opt_gen, opt_disc, batches, noise):
    for real in batches:
        opt_disc.zero_grad()
        fake = gen(noise(len(real)))
        d_loss = disc(fake.detach()).mean() - disc(real).mean()
        d_loss.backward()
        opt_disc.step()

        opt_gen.zero_grad()
        g_loss = -disc(fake).mean()
        g_loss.backward()
        opt_gen.step()
"""


def test_gan_pass_in_order_is_silent():
    assert codes_at(GAN, ["OPT1"]) == []


def test_opt103_generator_stepped_after_its_clear_and_before_its_own_backward():
    src = GAN.replace("        g_loss.backward()\n        opt_gen.step()\n",
                      "        opt_gen.step()\n        g_loss.backward()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT103", 11)]


def test_opt102_when_the_backward_after_the_step_is_the_other_optimizers():
    src = """\
    def adversarial(gen, disc, opt_gen, opt_disc, batches, noise):
        for real in batches:
            fake = gen(noise(len(real)))
            d_loss = disc(fake.detach()).mean() - disc(real).mean()
            d_loss.backward()
            opt_disc.zero_grad()
            opt_disc.step()
            opt_gen.zero_grad()
            g_loss = -disc(fake).mean()
            g_loss.backward()
            opt_gen.step()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT102", 6)]


# --------------------------------------------------------------------------- OPT501 after a manual unscale

AMP = """\
import torch


def fit(net, opt, batches, clip):
    scaler = torch.amp.GradScaler("cuda")
    for x, y in batches:
        opt.zero_grad()
        scaler.scale(torch.nn.functional.mse_loss(net(x), y)).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        scaler.update()
"""


def test_opt501_plain_step_after_unscale_while_the_scaler_keeps_updating():
    assert codes_at(AMP, ["OPT501"]) == [("OPT501", 11)]


@pytest.mark.parametrize("change", [
    # the author checks the gradients for inf/NaN and skips the step
    ("        opt.step()\n", "        if all(torch.isfinite(p.grad).all() for p in net.parameters()):\n"
                             "            opt.step()\n"),
    # no update: the scaler is used as a fixed multiplier
    ("        scaler.update()\n", ""),
])
def test_opt501_silent_after_unscale_when_the_author_handles_inf(change):
    old, new = change
    assert codes_at(AMP.replace(old, new), ["OPT501"]) == []


# --------------------------------------------------------------------------- a second optimizer every k-th pass

ACTOR_CRITIC = """\
def update(actor, critic, actor_opt, critic_opt, buffer, steps, delay):
    for t in range(steps):
        obs, act, target = buffer.sample()
        critic_loss = (critic(obs, act) - target).pow(2).mean()
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        if t % delay == 0:
            actor_loss = -critic(obs, actor(obs)).mean()
            actor_opt.zero_grad()
            actor_loss.backward()
            actor_opt.step()
"""


def test_delayed_actor_update_in_order_is_silent():
    assert codes_at(ACTOR_CRITIC, ["OPT1"]) == []


def test_opt103_delayed_actor_stepped_before_its_own_backward():
    src = ACTOR_CRITIC.replace("            actor_loss.backward()\n            actor_opt.step()\n",
                               "            actor_opt.step()\n            actor_loss.backward()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT103", 11)]


def test_opt104_a_global_optimizer_is_not_local_to_the_function():
    src = """\
    optimizer = None


    def setup(make_opt, net):
        global optimizer
        optimizer = make_opt(net)


    def fit(net, batches):
        global optimizer
        for x in batches:
            optimizer.zero_grad()
            net(x).sum().backward()
        step_all()


    def step_all():
        optimizer.step()
    """
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_an_optimizer_handed_to_accelerator_prepare_and_never_stepped():
    src = """\
    import torch
    from accelerate import Accelerator


    def training_function(net, batches, lr):
        accelerator = Accelerator()
        optimizer = torch.optim.AdamW(net.parameters(), lr=lr)
        net, optimizer, batches = accelerator.prepare(net, optimizer, batches)
        for step, batch in enumerate(batches):
            loss = net(**batch).loss
            accelerator.backward(loss)
            optimizer.zero_grad()
    """
    assert codes_at(src, ["OPT104"]) == [("OPT104", 11)]


def test_opt501_plain_step_in_an_accumulation_window_after_scaled_backward_passes():
    src = """\
    import torch


    def fit(net, opt, batches, accum):
        scaler = torch.amp.GradScaler("cuda")
        for i, (x, y) in enumerate(batches):
            scaler.scale(torch.nn.functional.mse_loss(net(x), y) / accum).backward()
            if (i + 1) % accum == 0:
                opt.step()
                scaler.update()
                opt.zero_grad()
    """
    assert codes_at(src, ["OPT501"]) == [("OPT501", 9)]
