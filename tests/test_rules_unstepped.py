"""OPT104 on the shapes where a deleted ``step()`` went unnoticed in real training code
(measured by the mutation harness's delete-step operator): set-up calls made before the
optimizer exists, a scheduler stepped over an optimizer nothing steps (cleared through the
model, built from a class the analysis does not know), apex's ``amp.initialize``, schedule
classes and checkpoint loaders handed the optimizer, and agents' update methods whose loop is
in a caller. Each must-fire case has a twin that must not."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

# ----------------------------------------------------------- set-up calls before the optimizer

SETUP_FIRST = """\
import torch
from accelerate import Accelerator


def fit(cfg, batches):
    accelerator = Accelerator()
    net = torch.nn.Sequential(torch.nn.Linear(cfg.width, cfg.width), torch.nn.ReLU(), torch.nn.Linear(cfg.width, 1))
    net.enable_activation_checkpointing()
    net.apply(cfg.init_weights)
    opt = cfg.optimizer_class(net.parameters(), lr=cfg.lr)
    net, opt, batches = accelerator.prepare(net, opt, batches)
    for inputs, targets in batches:
        loss = torch.nn.functional.mse_loss(net(inputs), targets)
        accelerator.backward(loss)
        opt.zero_grad()


def evaluate(net, batches):
    net.eval()
    return sum(float(net(inputs).mean()) for inputs, _ in batches)
"""


def test_opt104_calls_on_the_model_before_the_optimizer_is_built_cannot_step_it():
    assert codes_at(SETUP_FIRST, ["OPT104"]) == [("OPT104", 14)]


@pytest.mark.parametrize("change", [
    # the same call after the optimizer exists, on an object that may hold it (an engine)
    ("    net.enable_activation_checkpointing()\n    net.apply(cfg.init_weights)\n"
     "    opt = cfg.optimizer_class(net.parameters(), lr=cfg.lr)\n",
     "    opt = cfg.optimizer_class(net.parameters(), lr=cfg.lr)\n    engine = cfg.wrap(net, opt)\n"
     "    engine.finish_setup()\n"),
    # the step is there
    ("        opt.zero_grad()\n", "        opt.step()\n        opt.zero_grad()\n"),
])
def test_opt104_calls_after_the_optimizer_or_a_real_step_stay_silent(change):
    old, new = change
    assert old in SETUP_FIRST
    assert codes_at(SETUP_FIRST.replace(old, new), ["OPT104"]) == []


# ------------------------------------------------- a scheduler over an optimizer nothing steps

SCHEDULED = """\
from fancy_optimizers import LayerwiseAdam
from transformers import get_cosine_schedule_with_warmup


def finetune(model, loader, total):
    optimizer = LayerwiseAdam(model.parameters(), lr=2e-5)
    scheduler = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=100, num_training_steps=total)
    model.zero_grad()
    for batch in loader:
        loss = model(**batch).loss
        loss.backward()
        scheduler.step()
        model.zero_grad()
"""


def test_opt104_a_scheduler_stepped_every_batch_over_an_optimizer_never_stepped():
    found = codes_at(SCHEDULED, ["OPT104"])
    assert found == [("OPT104", 11)]


def test_opt104_names_the_scheduler_and_its_optimizer(lint_fn):
    (diag,) = lint_fn(SCHEDULED, ["OPT104"])
    assert "steps `scheduler`, a scheduler of `optimizer`, but never calls `optimizer.step()`" in diag.message


@pytest.mark.parametrize("change", [
    # stepped every few micro-batches
    ("        scheduler.step()\n",
     "        if (batch.index + 1) % 4 == 0:\n            optimizer.step()\n            scheduler.step()\n"),
    # stepped by another function of the file the loop calls
    ("        scheduler.step()\n", "        apply_update(optimizer, scheduler)\n"),
    # a scheduler handed in: what it drives is not known
    ("    scheduler = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=100, num_training_steps=total)\n",
     ""),
])
def test_opt104_scheduler_loops_that_step_or_cannot_tell_stay_silent(change):
    old, new = change
    src = SCHEDULED.replace(old, new)
    if "apply_update" in new:
        src += "\n\ndef apply_update(opt, sched):\n    opt.step()\n    sched.step()\n"
    if not new:
        src = src.replace("def finetune(model, loader, total):", "def finetune(model, loader, total, scheduler):")
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_apex_initialize_hands_the_optimizer_back_without_stepping_it():
    src = """\
    import torch
    from apex import amp


    def train(model, loader, lr):
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        model, optimizer = amp.initialize(model, optimizer, opt_level="O1")
        for x, y in loader:
            optimizer.zero_grad()
            with amp.scale_loss(model(x, y), optimizer) as scaled:
                scaled.backward()
    """
    assert codes_at(src, ["OPT104"]) == [("OPT104", 11)]
    stepped = src.replace("                scaled.backward()\n",
                          "                scaled.backward()\n            optimizer.step()\n")
    assert codes_at(stepped, ["OPT104"]) == []


@pytest.mark.parametrize("call", [
    "    schedule = WarmupLinearSchedule(opt, warmup_steps=10, t_total=1000)\n",
    "    ckpt.load_optim(net, opt)\n",
])
def test_opt104_schedule_classes_and_state_loaders_handed_the_optimizer_cannot_step_it(call):
    src = f"""\
import torch
from project.schedules import WarmupLinearSchedule


def fit(net, ckpt, batches):
    opt = torch.optim.Adam(net.parameters())
{call}    for inputs, targets in batches:
        opt.zero_grad()
        loss = (net(inputs) - targets).abs().mean()
        loss.backward()
"""
    assert codes_at(src, ["OPT104"]) == [("OPT104", 11)]
    helper = src.replace(call, "    ckpt.restore_and_update(net, opt)\n")
    assert codes_at(helper, ["OPT104"]) == []  # an unknown call handed the optimizer may step it


# --------------------------------------------------- agents' update methods (loop in a caller)

AGENT = """\
import torch
import torch.nn.functional as F


class Agent:
    def __init__(self, actor, critic, lr):
        self.actor = actor
        self.critic = critic
        self.actor_opt = torch.optim.Adam(actor.parameters(), lr=lr)
        self.critic_opt = torch.optim.Adam(critic.parameters(), lr=lr)

    def update(self, batch):
        states, actions, returns = batch
        critic_loss = F.mse_loss(self.critic(states, actions), returns)
        self.critic_opt.zero_grad()
        critic_loss.backward()

        actor_loss = -self.critic(states, self.actor(states)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
"""


def test_opt104_an_update_method_clears_and_backpropagates_but_never_steps_one_optimizer():
    assert codes_at(AGENT, ["OPT104"]) == [("OPT104", 16)]


def test_opt104_update_method_message_says_function(lint_fn):
    (diag,) = lint_fn(AGENT, ["OPT104"])
    assert diag.message.startswith("this function runs backward and clears `self.critic_opt` but never calls "
                                   "`self.critic_opt.step()`")


@pytest.mark.parametrize("change", [
    # another method steps it
    ("        actor_loss = -self.critic",
     "        self.apply_critic()\n        actor_loss = -self.critic"),
    # its gradients are the result (copied to a shared model by a worker)
    ("        critic_loss.backward()\n",
     "        critic_loss.backward()\n        self.grads = [p.grad for p in self.critic.parameters()]\n"),
])
def test_opt104_update_methods_stepped_elsewhere_or_reading_gradients_stay_silent(change):
    old, new = change
    src = AGENT.replace(old, new)
    if "apply_critic" in new:
        src += "\n    def apply_critic(self):\n        self.critic_opt.step()\n"
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_a_step_function_handed_its_optimizer_is_left_to_its_caller():
    src = """\
    def backprop(model, optimizer, batch):
        optimizer.zero_grad()
        loss = model(batch).mean()
        loss.backward()
        return loss
    """
    assert codes_at(src, ["OPT104"]) == []


PRIVATE = """\
import torch
from opacus import PrivacyEngine
from opacus.utils.batch_memory_manager import BatchMemoryManager


def train_private(model, loader, epochs, noise):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    engine = PrivacyEngine()
    model, optimizer, loader = engine.make_private(
        module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=noise, max_grad_norm=1.0)
    for epoch in range(epochs):
        with BatchMemoryManager(data_loader=loader, max_physical_batch_size=64, optimizer=optimizer) as batches:
            for x, y in batches:
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
"""


def test_opt104_opacus_wraps_the_optimizer_and_splits_batches_without_stepping_it():
    assert codes_at(PRIVATE, ["OPT104"]) == [("OPT104", 15)]


@pytest.mark.parametrize("change", [
    ("                torch.nn.functional.cross_entropy(model(x), y).backward()\n",
     "                torch.nn.functional.cross_entropy(model(x), y).backward()\n                optimizer.step()\n"),
    # an unknown wrapper handed the optimizer may step it
    ("engine.make_private(", "engine.make_trainer("),
])
def test_opt104_opacus_twins_stay_silent(change):
    old, new = change
    assert old in PRIVATE
    src = PRIVATE.replace(old, new)
    if "make_trainer" in new:
        src = src.replace("BatchMemoryManager(data_loader=loader, max_physical_batch_size=64, optimizer=optimizer)",
                          "engine.batches(loader, optimizer)")
    assert codes_at(src, ["OPT104"]) == []


LEARNER = """\
import torch


class QLearner:
    def __init__(self, net, lr):
        self.net = net
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr)

    def learn(self, states, targets):
        loss = torch.nn.functional.smooth_l1_loss(self.net(states), targets)
        self.optimizer.zero_grad()
        loss.backward()
"""


def test_opt104_a_learn_method_that_steps_nothing_at_all():
    assert codes_at(LEARNER, ["OPT104"]) == [("OPT104", 12)]


def test_opt104_a_learn_method_stepped_by_another_method_stays_silent():
    src = LEARNER + "\n    def apply(self):\n        self.optimizer.step()\n"
    assert codes_at(src, ["OPT104"]) == []


# ------------------------- optimizers a notebook builds where no backward can come after them

LESSON = """\
import torch

width = 4
regressor = torch.nn.Linear(width, 1)
sgd = torch.optim.SGD(regressor.parameters(), lr=0.05)
inputs, targets = torch.randn(32, width), torch.randn(32, 1)
for epoch in range(200):
    sgd.zero_grad()
    loss = torch.nn.functional.mse_loss(regressor(inputs), targets)
    loss.backward()
    sgd.step()

# other optimizers, shown for comparison
momentum = torch.optim.SGD(regressor.parameters(), lr=0.05, momentum=0.9)
adam = torch.optim.Adam(regressor.parameters(), lr=1e-3)
"""


def test_opt104_optimizers_shown_after_the_training_loop_stay_silent():
    assert codes_at(LESSON, ["OPT104"]) == []


EXERCISE = LESSON + """\

critic = torch.nn.Linear(width, 1)
critic_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
for epoch in range(200):
    noise = torch.randn(32, width)
    # write the critic's update here
"""


def test_opt104_an_exercise_loop_left_empty_after_a_trained_one_stays_silent():
    assert codes_at(EXERCISE, ["OPT104"]) == []


TRAINED_THEN_CRITIC = """\
import torch

width = 4
regressor = torch.nn.Linear(width, 1)
sgd = torch.optim.SGD(regressor.parameters(), lr=0.05)
for epoch in range(200):
    sgd.zero_grad()
    torch.nn.functional.mse_loss(regressor(torch.randn(32, width)), torch.randn(32, 1)).backward()
    sgd.step()

critic = torch.nn.Linear(width, 1)
critic_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
for epoch in range(200):
    noise = torch.randn(32, width)
    UPDATE
"""


@pytest.mark.parametrize("update, helper", [
    # the loop after the construction runs a backward and steps only the first optimizer
    ("loss = critic(noise).mean()\n    sgd.zero_grad()\n    loss.backward()\n    sgd.step()", ""),
    # a helper written before the construction, called in a loop after it
    ("critic_update(noise)", "def critic_update(noise):\n    critic(noise).mean().backward()\n\n\n"),
])
def test_opt104_a_backward_that_runs_after_the_construction_still_fires(update, helper):
    src = TRAINED_THEN_CRITIC.replace("UPDATE", update).replace("critic = ", helper + "critic = ")
    assert codes_at(src, ["OPT104"]) == [("OPT104", 12 + helper.count("\n"))]


def test_opt104_an_optimizer_built_inside_the_loop_after_its_backward_still_fires():
    src = """\
import torch

net = torch.nn.Linear(4, 1)
batches = [torch.randn(8, 4) for _ in range(3)]
for epoch in range(10):
    for x in batches:
        net(x).mean().backward()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
"""
    assert codes_at(src, ["OPT104"]) == [("OPT104", 8)]


# ----------------------------------------------------- a clip written by hand is not a gradient read
# A DQN-style update clamps each gradient in place before the step; with the step lost, the
# clamped gradients are thrown away. Reading the gradients as a result stays silent.
HAND_CLAMPED = """\
import torch


def fit(net, loader, epochs):
    optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        for x, y in loader:
            loss = torch.nn.functional.smooth_l1_loss(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            for param in net.parameters():
                CLAMP
"""


@pytest.mark.parametrize("clamp", [
    "param.grad.data.clamp_(-1, 1)", "param.grad.clamp_(min=-1.0, max=1.0)",
    # non-finite values replaced where they lie (a diffusion trainer's sanitising before its step)
    "param.grad.nan_to_num_(nan=0.0)", "torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)",
    "torch.clamp(param.grad, -1, 1, out=param.grad)",
])
def test_opt104_a_hand_clamp_of_the_gradients_is_a_clip_not_their_use(clamp):
    assert codes_at(HAND_CLAMPED.replace("CLAMP", clamp), ["OPT104"]) == [("OPT104", 10)]


@pytest.mark.parametrize("read", [
    "norms.append(param.grad.norm())",  # the gradients measured: they are the result
    "param.data.add_(param.grad, alpha=-1e-3)",  # a step written by hand
    "param.grad.data.clamp_(-param.grad.std(), param.grad.std())",  # bounds read from the gradient
    "norms.append(torch.nan_to_num(param.grad, nan=0.0))",  # a sanitised copy kept
    "torch.nan_to_num(param.grad, nan=0.0, out=norms[-1])",  # written elsewhere
])
def test_opt104_gradients_read_otherwise_stay_the_result(read):
    src = HAND_CLAMPED.replace("CLAMP", read).replace("    for _ in range", "    norms = []\n    for _ in range")
    assert codes_at(src, ["OPT104"]) == []
