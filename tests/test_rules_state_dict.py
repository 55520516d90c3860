"""An optimizer or scheduler taken out of the state dict a training script hands its loop
(``optimizer = state["optimizer"]``: held-out set 2's Fabric fine-tuning scripts, issue 13),
with Fabric's backward, clip and ``no_backward_sync`` known through the parameter's annotation
and the accumulation window named by a flag (``if not is_accumulating:``). Each must-fire case
has good twins that must stay silent; written in the project's own words."""

from __future__ import annotations

from tests.conftest import codes_at


def row_of(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if line.strip() == text)


# --------------------------------------------------------------------------- taken out of a state dict
# A Fabric fine-tuning script: the setup function builds the model, optimizer and scheduler
# into a state dict (also what the checkpoints save) and hands it to the loop.
FABRIC = """\
import lightning as L
import torch


def fit(fabric: L.Fabric, state: dict, batches, accum: int):
    model = state["model"]
    optimizer = state["optimizer"]
    scheduler = state["scheduler"]
    while state["step_count"] < 1000:
        state["iter_num"] += 1
        batch = next(batches)
        is_accumulating = state["iter_num"] % accum != 0
        with fabric.no_backward_sync(model, enabled=is_accumulating):
            loss = model(batch).mean()
            fabric.backward(loss / accum)
        if not is_accumulating:
            fabric.clip_gradients(model, optimizer, max_norm=1.0)
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
            state["step_count"] += 1
"""


def test_fabric_loop_on_a_state_dict_in_order_is_silent():
    assert codes_at(FABRIC) == []


def test_opt101_optimizer_taken_out_of_the_state_never_cleared():
    src = FABRIC.replace("            optimizer.zero_grad()\n", "")
    assert codes_at(src, ["OPT1"]) == [("OPT101", row_of(src, "fabric.backward(loss / accum)"))]


def test_opt106_clear_of_every_micro_batch_with_a_window_named_by_a_flag():
    src = FABRIC.replace("            optimizer.zero_grad()\n", "").replace(
        "        batch = next(batches)\n", "        optimizer.zero_grad()\n        batch = next(batches)\n")
    assert codes_at(src, ["OPT1"]) == [("OPT106", row_of(src, "optimizer.zero_grad()"))]


def test_opt201_scheduler_taken_out_of_the_state_stepped_first():
    src = FABRIC.replace("            optimizer.step()\n            optimizer.zero_grad()\n            scheduler.step()\n",
                         "            scheduler.step()\n            optimizer.step()\n            optimizer.zero_grad()\n")
    assert codes_at(src, ["OPT2"]) == [("OPT201", row_of(src, "scheduler.step()"))]


def test_opt105_fabric_clip_after_the_step():
    src = FABRIC.replace("            fabric.clip_gradients(model, optimizer, max_norm=1.0)\n            optimizer.step()\n",
                         "            optimizer.step()\n            fabric.clip_gradients(model, optimizer, max_norm=1.0)\n")
    assert codes_at(src, ["OPT1"]) == [("OPT105", row_of(src, "fabric.clip_gradients(model, optimizer, max_norm=1.0)"))]


def test_a_flag_set_before_the_loop_is_no_window():
    # the flag is fixed for the whole run (a mode, not a window): the clear at the top is fine
    src = FABRIC.replace("        is_accumulating = state[\"iter_num\"] % accum != 0\n", "").replace(
        "    while state", "    is_accumulating = accum > 1\n    while state").replace(
        "            optimizer.zero_grad()\n", "").replace(
        "        batch = next(batches)\n", "        optimizer.zero_grad()\n        batch = next(batches)\n")
    assert codes_at(src, ["OPT106"]) == []


def test_a_state_dict_optimizer_known_by_another_name_is_not_guessed():
    # ``state["algo"]`` holds something named for nothing: its step is no optimizer's
    src = FABRIC.replace('optimizer = state["optimizer"]', 'algo = state["algo"]').replace(
        "optimizer.step()", "algo.step()").replace("            optimizer.zero_grad()\n", "").replace(
        "fabric.clip_gradients(model, optimizer, max_norm=1.0)", "fabric.clip_gradients(model, algo, max_norm=1.0)")
    assert codes_at(src, ["OPT101"]) == []


def test_a_scheduler_from_an_opaque_helper_is_not_followed():
    # a helper of another package may build a scheduler of its own kind (stepped per epoch
    # with an argument, or on updates): only one taken out of the state is followed
    src = FABRIC.replace('scheduler = state["scheduler"]', "scheduler = build_scheduler(optimizer)").replace(
        "            optimizer.step()\n            optimizer.zero_grad()\n            scheduler.step()\n",
        "            scheduler.step()\n            optimizer.step()\n            optimizer.zero_grad()\n")
    assert codes_at(src, ["OPT201"]) == []


# An optimizer per training objective, picked by index in the loop over objectives.
OBJECTIVES = """\
import torch


def fit(models, loaders, optimizers, schedulers, steps):
    iterators = [iter(dl) for dl in loaders]
    for _ in range(steps):
        for idx in range(len(models)):
            optimizer = optimizers[idx]
            scheduler = schedulers[idx]
            loss = models[idx](next(iterators[idx])).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
"""


def test_optimizer_picked_by_index_in_order_is_silent():
    assert codes_at(OBJECTIVES) == []


def test_opt101_optimizer_picked_by_index_never_cleared_has_no_fix_before_its_binding():
    from tests.conftest import lint

    src = OBJECTIVES.replace("            optimizer.zero_grad()\n", "")
    found = lint(src, ["OPT101"])
    assert [(d.code, d.location.row) for d in found] == [("OPT101", row_of(src, "loss.backward()"))]
    assert found[0].fix is None  # the top of the loop body runs before ``optimizer = optimizers[idx]``


# The mixed-precision arm and the plain arm each step the optimizer: one of them runs
# whenever the scheduler does.
ARMS = """\
import torch


def fit(model, loader, optimizers, schedulers, use_amp, steps):
    scaler = torch.cuda.amp.GradScaler()
    skip_scheduler = False
    for _ in range(steps):
        for idx in range(2):
            optimizer = optimizers[idx]
            scheduler = schedulers[idx]
            if use_amp:
                scaler.scale(model(next(loader)).mean()).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                model(next(loader)).mean().backward()
                optimizer.step()
            optimizer.zero_grad()
            if not skip_scheduler:
                scheduler.step()
"""


def test_scheduler_after_the_step_of_either_arm_is_silent():
    assert codes_at(ARMS) == []


def test_opt201_scheduler_before_the_steps_of_both_arms():
    src = ARMS.replace("            if not skip_scheduler:\n                scheduler.step()\n", "").replace(
        "            if use_amp:\n", "            if not skip_scheduler:\n                scheduler.step()\n            if use_amp:\n")
    assert codes_at(src, ["OPT201"]) == [("OPT201", row_of(src, "scheduler.step()"))]


def test_a_scheduler_before_a_step_of_one_arm_only_is_silent():
    # the other arm steps nothing: on that path the scheduler runs alone
    src = ARMS.replace("            if not skip_scheduler:\n                scheduler.step()\n", "").replace(
        "            if use_amp:\n", "            if not skip_scheduler:\n                scheduler.step()\n            if use_amp:\n").replace(
        "                optimizer.step()\n", "                pass\n")
    assert codes_at(src, ["OPT201"]) == []
