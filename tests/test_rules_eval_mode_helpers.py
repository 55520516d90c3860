"""OPT603 where the epoch loop only calls helpers: a per-epoch training function that
evaluates at its end (``def train(epoch): ...; optimizer.step(); model.eval(); <validate>``,
called once per epoch) and a loop whose loss comes from a helper handed the model
(``loss = batch_loss(x, y, model)``) while another helper leaves the model in eval mode.
Each must-fire case has a twin that must not."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at
from tests.test_rules_eval_mode_phases import TUTORIAL

EPOCH_FUNCTION = """\
import torch

model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def run_epoch(epoch, inputs, targets, fast):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(inputs), targets)
    loss.backward()
    optimizer.step()
    if not fast:
        model.eval()
        with torch.no_grad():
            print(epoch, float(torch.nn.functional.mse_loss(model(inputs), targets)))


for epoch in range(100):
    run_epoch(epoch, x, y, args.fast)
"""

LOSS_HELPER = """\
import torch


def batch_loss(inputs, targets, net):
    return torch.nn.functional.cross_entropy(net(inputs), targets)


def accuracy(loader, net):
    net.eval()
    hits = 0
    with torch.no_grad():
        for inputs, targets in loader:
            hits += (net(inputs).argmax(-1) == targets).sum().item()
    return hits


def fit(model, optimizer, train_loader, val_loader, epochs):
    for epoch in range(epochs):
        for inputs, targets in train_loader:
            optimizer.zero_grad()
            loss = batch_loss(inputs, targets, model)
            loss.backward()
            optimizer.step()
        print(epoch, accuracy(val_loader, model))
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_opt603_an_epoch_function_that_evaluates_after_its_step_leaves_the_next_epoch_in_eval_mode():
    assert codes_at(EPOCH_FUNCTION, ["OPT603"]) == [("OPT603", row(EPOCH_FUNCTION, "model.eval()"))]


@pytest.mark.parametrize("old, new", [
    # training mode set at the top of the epoch function
    ("    optimizer.zero_grad()\n", "    model.train()\n    optimizer.zero_grad()\n"),
    # training mode restored after the evaluation
    ("            print(epoch, float(torch.nn.functional.mse_loss(model(inputs), targets)))\n",
     "            print(epoch, float(torch.nn.functional.mse_loss(model(inputs), targets)))\n        model.train()\n"),
    # eval mode before the backward: the function trains in eval mode on purpose (a linear probe)
    ("    optimizer.zero_grad()\n", "    model.eval()\n    optimizer.zero_grad()\n"),
])
def test_opt603_an_epoch_function_that_restores_or_trains_in_eval_mode_on_purpose_stays_silent(old, new):
    src = EPOCH_FUNCTION.replace(old, new, 1)
    if "model.eval()\n    optimizer" in src:  # the linear probe: no evaluation after the step
        src = src.replace("    if not fast:\n        model.eval()\n", "    if not fast:\n")
    assert src != EPOCH_FUNCTION
    assert codes_at(src, ["OPT603"]) == []


def test_opt603_a_loss_computed_by_a_helper_handed_the_model_trains_it():
    assert codes_at(LOSS_HELPER, ["OPT603"]) == [("OPT603", row(LOSS_HELPER, "net.eval()"))]


@pytest.mark.parametrize("old, new", [
    # training mode set at the top of each epoch
    ("        for inputs, targets in train_loader:\n",
     "        model.train()\n        for inputs, targets in train_loader:\n"),
    # the helper handed the model runs under no_grad: its loss is not what trains the model
    ("            loss = batch_loss(inputs, targets, model)\n",
     "            with torch.no_grad():\n                target_loss = batch_loss(inputs, targets, model)\n"
     "            loss = (student(inputs) - target_loss).pow(2).mean()\n"),
])
def test_opt603_a_loss_helper_twin_that_restores_or_does_not_train_the_model_stays_silent(old, new):
    src = LOSS_HELPER.replace(old, new)
    assert src != LOSS_HELPER
    assert codes_at(src, ["OPT603"]) == []


# the phase loop of the transfer-learning tutorial, its modes spelled through ``train(flag)``
PHASES = TUTORIAL.replace("model.train()", "model.train(True)").replace("model.eval()", "model.train(False)")


def test_opt603_train_false_is_an_evaluation_not_a_flag_that_may_restore_training():
    lost = PHASES.replace("                model.train(True)\n", "                pass\n")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "model.train(False)"))]
    keyword = lost.replace("model.train(False)", "model.train(mode=False)")
    assert codes_at(keyword, ["OPT603"]) == [("OPT603", row(keyword, "model.train(mode=False)"))]


@pytest.mark.parametrize("restore", ["model.train(True)", "model.train(mode=True)", "model.train(phase == \"train\")"])
def test_opt603_a_phase_loop_that_sets_the_mode_of_each_phase_stays_silent(restore):
    src = PHASES.replace("model.train(True)", restore)
    assert codes_at(src, ["OPT603"]) == []


TWO_GENERATORS = """\
import itertools

import torch


def fit(G_AB, G_BA, D_A, loader, sample, epochs):
    optimizer_G = torch.optim.Adam(itertools.chain(G_AB.parameters(), G_BA.parameters()), lr=2e-4)
    optimizer_D = torch.optim.Adam(D_A.parameters(), lr=2e-4)
    for epoch in range(epochs):
        for real_A, real_B in loader:
            G_AB.train()
            G_BA.train()
            optimizer_G.zero_grad()
            loss_G = (G_BA(G_AB(real_A)) - real_A).abs().mean()
            loss_G.backward()
            optimizer_G.step()
            optimizer_D.zero_grad()
            loss_D = D_A(real_A).mean() - D_A(G_BA(real_B).detach()).mean()
            loss_D.backward()
            optimizer_D.step()
        G_AB.eval()
        G_BA.eval()
        with torch.no_grad():
            sample(G_AB(real_A), G_BA(real_B))
"""


def test_opt603_modules_of_an_optimizer_over_a_chain_of_parameters_are_trained():
    lost = TWO_GENERATORS.replace("            G_AB.train()\n            G_BA.train()\n", "")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "G_AB.eval()")), ("OPT603", row(lost, "G_BA.eval()"))]
    assert codes_at(TWO_GENERATORS, ["OPT603"]) == []


BOOKKEEPING = """\
import torch


def fit(model, optimizer, loader, val_loader, epochs):
    step = 0
    for epoch in range(epochs):
        model.train()
        for batch in loader:
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            model.base_model.update_and_allocate(step)
            optimizer.zero_grad()
            step += 1
        model.eval()
        with torch.no_grad():
            print(sum(model(**b).loss.item() for b in val_loader))
"""


def test_opt603_a_library_models_bookkeeping_method_does_not_restore_training_mode():
    lost = BOOKKEEPING.replace("        model.train()\n", "")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "model.eval()"))]
    assert codes_at(BOOKKEEPING, ["OPT603"]) == []


@pytest.mark.parametrize("call", ["model.base_model.run_validation(step)", "model.base_model.set_train_mode(step)",
                                  "model.base_model.fit_adapter(step)"])
def test_opt603_a_method_whose_name_says_it_may_switch_modes_may_restore(call):
    lost = BOOKKEEPING.replace("        model.train()\n", "").replace("model.base_model.update_and_allocate(step)", call)
    assert codes_at(lost, ["OPT603"]) == []


def test_opt603_a_method_the_file_defines_may_restore():
    lost = BOOKKEEPING.replace("        model.train()\n", "") + (
        "\n\nclass Adapter(torch.nn.Module):\n    def update_and_allocate(self, step):\n        self.train()\n")
    assert codes_at(lost, ["OPT603"]) == []


STEP_LOOP_ARMS = """\
import torch


def train_validate(model, optimizer, scaler, loader, valid_loader, use_amp, eval_interval):
    model.train()
    for step, batch in enumerate(loader):
        loss = model(**batch).loss
        if use_amp:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        optimizer.zero_grad()
        if step % eval_interval == 0:
            model.eval()
            with torch.no_grad():
                print(sum(model(**b).loss.item() for b in valid_loader))
            model.train()
"""


def test_opt603_a_step_loop_with_a_backward_in_each_arm_trains_on_every_pass():
    lost = STEP_LOOP_ARMS.replace("            model.train()\n", "")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "model.eval()"))]
    assert codes_at(STEP_LOOP_ARMS, ["OPT603"]) == []


def test_opt603_a_step_loop_whose_only_backward_is_conditional_stays_silent():
    lost = STEP_LOOP_ARMS.replace("            model.train()\n", "").replace(
        "        else:\n            loss.backward()\n            optimizer.step()\n", "")
    assert codes_at(lost, ["OPT603"]) == []


ENCODER_DECODER = """\
import torch


def train(loader, encoder, decoder, criterion, decoder_optimizer, encoder_optimizer):
    decoder.train()
    encoder.train()
    for images, captions in loader:
        features = encoder(images)
        scores = decoder(features, captions)
        loss = criterion(scores, captions)
        decoder_optimizer.zero_grad()
        if encoder_optimizer is not None:
            encoder_optimizer.zero_grad()
        loss.backward()
        decoder_optimizer.step()
        if encoder_optimizer is not None:
            encoder_optimizer.step()


def validate(loader, encoder, decoder):
    decoder.eval()
    encoder.eval()
    with torch.no_grad():
        return sum(decoder(encoder(images), captions).sum().item() for images, captions in loader)


def main(checkpoint, loader, val_loader, criterion, epochs):
    decoder_optimizer = checkpoint["decoder_optimizer"]
    encoder_optimizer = checkpoint["encoder_optimizer"]
    encoder, decoder = checkpoint["encoder"], checkpoint["decoder"]
    for epoch in range(epochs):
        train(loader, encoder=encoder, decoder=decoder, criterion=criterion,
              decoder_optimizer=decoder_optimizer, encoder_optimizer=encoder_optimizer)
        print(validate(val_loader, encoder, decoder))
"""


def test_opt603_models_whose_forward_computes_the_loss_are_trained_when_the_optimizers_are_unknown():
    lost = ENCODER_DECODER.replace("    decoder.train()\n    encoder.train()\n", "")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "decoder.eval()")), ("OPT603", row(lost, "encoder.eval()"))]
    assert codes_at(ENCODER_DECODER, ["OPT603"]) == []


@pytest.mark.parametrize("old, new", [
    # the encoder is frozen: kept in eval mode on purpose, only the decoder is restored
    ("def main(checkpoint, loader, val_loader, criterion, epochs):\n",
     "def main(checkpoint, loader, val_loader, criterion, epochs):\n    checkpoint['encoder'].requires_grad_(False)\n"),
    # the encoder runs under no_grad: a fixed feature extractor
    ("        features = encoder(images)\n", "        with torch.no_grad():\n            features = encoder(images)\n"),
])
def test_opt603_a_frozen_or_no_grad_second_model_kept_in_eval_mode_stays_silent(old, new):
    without_restore = ENCODER_DECODER.replace("    encoder.train()\n", "")
    src = without_restore.replace(old, new)
    assert src != without_restore
    assert codes_at(src, ["OPT603"]) == []


TRAINER_METHODS = """\
import torch


class Trainer:
    def __init__(self, model, optimizer, loaders, validate_after):
        self.model = model
        self.optimizer = optimizer
        self.loaders = loaders
        self.validate_after = validate_after
        self.step = 0

    def fit(self, epochs):
        for epoch in range(epochs):
            self.train()

    def train(self):
        for x, y in self.loaders["train"]:
            output, loss = self._forward_pass(x, y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if self.step % self.validate_after == 0:
                self.model.eval()
                self.validate()
            self.step += 1

    def _forward_pass(self, x, y):
        output = self.model(x)
        return output, torch.nn.functional.mse_loss(output, y)

    def validate(self):
        with torch.no_grad():
            return sum(self._forward_pass(x, y)[1].item() for x, y in self.loaders["val"])
"""


def test_opt603_a_loss_returned_by_a_method_that_runs_the_model_trains_it():
    assert codes_at(TRAINER_METHODS, ["OPT603"]) == [("OPT603", row(TRAINER_METHODS, "self.model.eval()"))]
    restored = TRAINER_METHODS.replace("                self.validate()\n",
                                       "                self.validate()\n                self.model.train()\n")
    assert codes_at(restored, ["OPT603"]) == []


def test_opt603_a_method_running_the_model_under_no_grad_is_no_evidence_it_trains():
    frozen = TRAINER_METHODS.replace(
        "        output = self.model(x)\n        return output, torch.nn.functional.mse_loss(output, y)\n",
        "        with torch.no_grad():\n            features = self.model(x)\n"
        "        output = self.head(features)\n        return output, torch.nn.functional.mse_loss(output, y)\n")
    assert frozen != TRAINER_METHODS
    assert codes_at(frozen, ["OPT603"]) == []
