"""OPT603 on the shapes where a deleted ``model.train()`` went unnoticed in real training
code (measured by the mutation harness's delete-train-mode operator): a step loop that
evaluates every few steps (``for step in tqdm(range(total_steps))``), and an epoch loop
whose evaluation helper restores training mode only on the passes it runs while another
evaluation runs on all of them. Each must-fire case has a twin that must not."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import codes_at, fixed

STEP_LOOP = """\
import torch
import tqdm


def run(model, optimizer, batches, val_batch, total_steps, val_every):
    for step in tqdm.tqdm(range(total_steps)):
        loss = model(next(batches))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % val_every == 0:
            model.eval()
            with torch.no_grad():
                print(float(model(val_batch)))
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_opt603_a_step_loop_that_evaluates_every_few_steps_and_never_restores():
    assert codes_at(STEP_LOOP, ["OPT603"]) == [("OPT603", row(STEP_LOOP, "model.eval()"))]


def test_opt603_step_loop_message_and_fix_name_the_training_loop(lint_fn):
    (diag,) = lint_fn(STEP_LOOP, ["OPT603"])
    assert "runs in the training loop" in diag.message
    assert "every later pass trains with dropout and batch norm in eval mode" in diag.message
    text, remaining = fixed(STEP_LOOP, ["OPT603"], unsafe=True)
    assert text == STEP_LOOP.replace("        loss = model(next(batches))\n",
                                     "        model.train()\n        loss = model(next(batches))\n")


@pytest.mark.parametrize("change", [
    # training mode set at the top of each pass
    ("        loss = model(next(batches))\n", "        model.train()\n        loss = model(next(batches))\n"),
    # restored in the same branch as the evaluation
    ("                print(float(model(val_batch)))\n",
     "                print(float(model(val_batch)))\n            model.train()\n"),
    # evaluation only after the last step
    ("        if step % val_every == 0:\n", "        if step == total_steps - 1:\n"),
])
def test_opt603_step_loops_that_restore_or_stop_stay_silent(change):
    old, new = change
    assert old in STEP_LOOP
    assert codes_at(STEP_LOOP.replace(old, new), ["OPT603"]) == []


EPOCH_LOOP = """\
import torch


def estimate_loss(model, batches):
    model.eval()
    with torch.no_grad():
        total = sum(float(model(b)) for b in batches)
    model.train()
    return total


def accuracy(model, batches):
    model.eval()
    with torch.no_grad():
        return sum(float(model.score(b)) for b in batches)


def fit(model, optimizer, train_batches, val_batches, epochs, eval_every):
    seen = 0
    for epoch in range(epochs):
        for batch in train_batches:
            optimizer.zero_grad()
            model(batch).backward()
            optimizer.step()
            seen += 1
            if seen % eval_every == 0:
                print(estimate_loss(model, val_batches))
        print(accuracy(model, val_batches))
"""


def test_opt603_a_restore_on_some_passes_does_not_cover_an_evaluation_on_every_pass():
    # reported at the ``model.eval()`` of ``accuracy``, the helper that does not restore
    assert codes_at(EPOCH_LOOP, ["OPT603"]) == [("OPT603", 13)]


@pytest.mark.parametrize("change", [
    # the epoch starts in training mode
    ("        for batch in train_batches:\n", "        model.train()\n        for batch in train_batches:\n"),
    # the helper that restores runs every epoch, after the one that does not
    ("        print(accuracy(model, val_batches))\n",
     "        print(accuracy(model, val_batches))\n        print(estimate_loss(model, val_batches))\n"),
])
def test_opt603_epoch_loops_restored_on_every_pass_stay_silent(change):
    old, new = change
    assert old in EPOCH_LOOP
    assert codes_at(EPOCH_LOOP.replace(old, new), ["OPT603"]) == []


HELPERS = """\
import torch


def train_epoch(loader, model, criterion, optimizer):
    for inputs, targets in loader:
        optimizer.zero_grad()
        criterion(model(inputs), targets).backward()
        optimizer.step()


def validate(loader, model):
    model.eval()
    with torch.no_grad():
        return [model(inputs) for inputs, _ in loader]


def main(cfg, build, make_optimizer, save_checkpoint):
    model = build(cfg)
    optimizer = make_optimizer(cfg, model)
    criterion = torch.nn.CrossEntropyLoss()
    for epoch in range(cfg.epochs):
        train_epoch(cfg.train_loader, model, criterion, optimizer)
        validate(cfg.val_loader, model)
        save_checkpoint(model, optimizer, epoch)
"""


def test_opt603_the_model_handed_to_the_helper_that_trains_it_is_trained():
    # the optimizer comes from a helper (its parameters unknown), the backward is in
    # train_epoch: the model handed to it is the one trained; saving a checkpoint does not
    # switch modes
    assert codes_at(HELPERS, ["OPT603"]) == [("OPT603", row(HELPERS, "model.eval()"))]


@pytest.mark.parametrize("change", [
    # the training helper sets training mode itself
    ("    for inputs, targets in loader:\n        optimizer.zero_grad()\n",
     "    model.train()\n    for inputs, targets in loader:\n        optimizer.zero_grad()\n"),
    # an unknown helper handed the model may restore it
    ("        save_checkpoint(model, optimizer, epoch)\n", "        cfg.after_epoch(model)\n"),
])
def test_opt603_helpers_that_restore_or_may_restore_stay_silent(change):
    old, new = change
    assert old in HELPERS
    assert codes_at(HELPERS.replace(old, new), ["OPT603"]) == []


def test_opt603_a_training_helper_that_sets_eval_mode_itself_trains_in_eval_mode_on_purpose():
    # a linear probe: the frozen backbone's batch norm statistics must not move, so the
    # training function switches to eval mode before its backward; validation does too
    src = HELPERS.replace("    for inputs, targets in loader:\n        optimizer.zero_grad()\n",
                          "    model.eval()\n    for inputs, targets in loader:\n        optimizer.zero_grad()\n")
    assert codes_at(src, ["OPT603"]) == []


def test_opt603_training_mode_set_in_both_arms_of_an_if_covers_every_pass():
    src = HELPERS.replace(
        "    for inputs, targets in loader:\n        optimizer.zero_grad()\n",
        "    model.train()\n    for inputs, targets in loader:\n        optimizer.zero_grad()\n").replace(
        "        train_epoch(cfg.train_loader, model, criterion, optimizer)\n",
        "        if epoch == cfg.epochs - 1:\n            with cfg.timer():\n"
        "                train_epoch(cfg.train_loader, model, criterion, optimizer)\n"
        "        else:\n            train_epoch(cfg.train_loader, model, criterion, optimizer)\n")
    assert codes_at(src, ["OPT603"]) == []
    # one arm only: the other arm trains in eval mode after the first validation
    one_arm = src.replace("        else:\n            train_epoch(cfg.train_loader, model, criterion, optimizer)\n",
                          "        else:\n            for inputs, targets in cfg.train_loader:\n"
                          "                optimizer.zero_grad()\n"
                          "                criterion(model(inputs), targets).backward()\n"
                          "                optimizer.step()\n")
    assert codes_at(one_arm, ["OPT603"]) == [("OPT603", row(one_arm, "model.eval()"))]


def test_opt603_a_restore_under_the_same_condition_as_all_training_covers_it():
    # the first epoch only evaluates the untrained model; every later one sets training mode
    # before its batch loop, and nothing trains outside that condition
    src = """\
    import torch


    def fit(model, optimizer, train_batches, val_batches, epochs):
        for epoch in range(epochs):
            if epoch > 0:
                model.train()
                for batch in train_batches:
                    optimizer.zero_grad()
                    model(batch).backward()
                    optimizer.step()
            model.eval()
            with torch.no_grad():
                print(sum(float(model(b)) for b in val_batches))
    """
    assert codes_at(src, ["OPT603"]) == []
    # training outside the restore's condition: those passes train in eval mode
    unguarded = src.replace("                model.train()\n", "                pass\n").replace(
        "        for epoch in range(epochs):\n", "        for epoch in range(epochs):\n            if epoch == 1:\n                model.train()\n")
    assert codes_at(unguarded, ["OPT603"]) == [("OPT603", row(textwrap.dedent(unguarded), "model.eval()"))]


# A linear-evaluation script chooses the backbone's mode at each epoch's head from its
# settings (fine-tune: training mode; frozen: eval mode on purpose), then evaluates.
MODE_CHOSEN = """\
import torch


def main(args, model, optimizer, train_loader, val_loader):
    for epoch in range(args.epochs):
        if args.weights == "finetune":
            model.train()
        elif args.weights == "freeze":
            model.eval()
        else:
            assert False
        for images, target in train_loader:
            loss = torch.nn.functional.cross_entropy(model(images), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for images, target in val_loader:
                print(float((model(images).argmax(1) == target).float().mean()))
"""


def test_opt603_a_mode_chosen_by_settings_at_the_epoch_head_is_no_evaluation_left_on():
    assert codes_at(MODE_CHOSEN, ["OPT603"]) == []


@pytest.mark.parametrize("old, new", [
    # no final else: a setting that is neither leaves the evaluation's eval mode on
    ("        else:\n            assert False\n", ""),
    # a final arm that goes on without choosing a mode
    ("            assert False\n", "            print('unknown weights')\n"),
    # the other arm evaluates instead of choosing a mode: its eval mode is left on next epoch
    ("            model.eval()\n        else:",
     "            model.eval()\n            print(float(model(next(iter(val_loader))[0]).sum()))\n        else:"),
])
def test_opt603_mode_choice_twins_that_can_train_in_eval_mode(old, new):
    src = MODE_CHOSEN.replace(old, new)
    assert src != MODE_CHOSEN
    found = codes_at(src, ["OPT603"])
    assert ("OPT603", src.splitlines().index("        model.eval()") + 1) in found
