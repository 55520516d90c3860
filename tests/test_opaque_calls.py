"""Calls the analysis cannot read, and whether they may clear the gradients (issue 13,
delete-clear misses in diffusers' training scripts): a loop that never clears is reported
unless something in it could clear. Questions (``is_*``), getters (``get_*``), object
constructions, torch's tensor functions and an EMA's ``step`` cannot; nor can a method of a
module of unknown class (``model.loss(z)``), a function handed the model whose name says it
computes a loss or evaluates (``compute_loss(out, y, model)``), an EMA's update or a collective
over the gradients. A call handed the optimizer, a call named for training (``train_step``,
``compute_grads``), or an unknown function handed the model or its parameters, still may."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

LOOP = """\
import torch
from torch import nn
from helpers import (Pipeline, compute_weighting, get_state, is_compiled_module, prepare_step,
                     tidy, get_lr, compute_loss, evaluate_model, train_one_batch, compute_grads, ema)

model = nn.Linear(4, 2)
ema_model = nn.Linear(4, 2)
params = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(params, lr=1e-3)
weight_dtype = torch.float32
loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]

for x, y in loader:
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    {call}
    optimizer.step()
"""

CANNOT_CLEAR = [
    "compiled = is_compiled_module(model)",
    "pipe = Pipeline(unet=model, scheduler=None)",
    "state = get_state(model)",
    "noise = torch.randn((8,), dtype=weight_dtype)",
    "w = compute_weighting(weighting_scheme='logit_normal', dtype=weight_dtype)",
    "ema_unet.step(params)",
    # a method of a module of unknown class is the module's own computation
    "aux = model.loss(x, y)",
    "out = model.forward(x)",
    "model.unshard()",
    # a function handed the model whose name says it computes a loss or evaluates
    "aux = compute_loss(model(x), y, model)",
    "evaluate_model(model, loader)",
    # an average of the model written into a copy
    "ema.update_attr(model)",
    "ema_model.update_parameters(model)",
    # a collective over the gradients sums them, never clears them
    "torch.distributed.all_reduce(grads)",
    # ... and so does a project's own, named for averaging the gradients across processes
    "mpi_avg_grads(model)",
    "average_gradients(model)",
    "sync_grads(params)",
    # functional gradients (a gradient penalty) are returned, never written into ``.grad``
    "penalty = torch.autograd.grad(outputs=loss, inputs=params, create_graph=True)",
    # a scheduler built where the file cannot see (``lr_scheduler`` from a config) moves a rate
    "lr_scheduler.step()",
    "self_schedule = warmup_schedule.step()",
    # a state dict of the model is read off it
    "weights = lora.lora_state_dict(model)",
]


@pytest.mark.parametrize("call", CANNOT_CLEAR)
def test_a_call_that_cannot_clear_does_not_hide_the_missing_clear(call):
    assert codes_at(LOOP.format(call=call), ["OPT101"]) == [("OPT101", 15)]


MAY_CLEAR = [
    "tidy(model)",  # an unknown function handed the model
    "tidy(params)",  # ... or its parameters
    "prepare_step(optimizer)",  # handed the optimizer
    "get_lr(optimizer)",  # a getter, but handed the optimizer
    "Pipeline(optimizer=optimizer)",  # a construction handed the optimizer
    "torch._foreach_zero_(params)",  # torch's in-place function
    "model.train_step(x, y)",  # a method of the model whose name says it trains
    "model.optimize_parameters()",
    "train_one_batch(model, x)",  # a function handed the model, named for training
    "compute_grads(model)",  # named for a computation, but of gradients
    "evaluate_model(model, optimizer)",  # named for an evaluation, but handed the optimizer
    "average_gradients(model, optimizer)",  # a collective, but handed the optimizer
    "reset_grads(model)",  # named for the gradients, not for a collective
    "stepper.step()",  # an unknown object's step, not named for a schedule
    "lr_scheduler.step(optimizer)",  # named for a schedule, but handed the optimizer
]


@pytest.mark.parametrize("call", MAY_CLEAR)
def test_a_call_that_may_clear_keeps_the_loop_silent(call):
    assert codes_at(LOOP.format(call=call), ["OPT101"]) == []
