"""Shapes of real training scripts that hid the order, scheduler and accumulation rules
(issue 13; each shape was a miss of the mutation harness on public repositories, described
here in our own words):

- an epoch loop over a progress bar bound to a name (``epochs = trange(0, num_epochs)``) and a
  batch loop over ``enumerate(bar)`` where ``bar = tqdm(train_loader)``;
- a scheduler built before ``accelerator.prepare`` hands it back in a tuple;
- diffusers' ``get_scheduler`` (a copy of transformers');
- an optimizer of another library built from grouped parameters
  (``AdamW(grouped, ...)`` with ``grouped = [{"params": [p for n, p in model.named_parameters()
  if ...]}, ...]``), cleared through ``model.zero_grad()``;
- apex's ``with amp.scale_loss(loss, optimizer) as scaled:`` and ``amp.master_params(optimizer)``;
- a backward under a mixed-precision flag (``if fp16: ... else: loss.backward()``);
- accelerate with a hand-written accumulation window (no ``accelerator.accumulate``);
- ``accelerator.accumulate`` with no clear at all.
"""

from __future__ import annotations

import textwrap

from tests.conftest import codes_at


def rows(source: str, line: str) -> list[int]:
    """1-based rows of every line of ``source`` that reads ``line`` (stripped)."""
    text = textwrap.dedent(source).splitlines()
    return [i + 1 for i, t in enumerate(text) if t.strip() == line]


HF_LOOP = """
import torch
from tqdm import tqdm, trange
from transformers import AdamW, get_linear_schedule_with_warmup


def train(args, model, train_loader):
    no_decay = ["bias", "LayerNorm.weight"]
    grouped = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)],
         "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = AdamW(grouped, lr=args.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, 100, len(train_loader) * args.epochs)
    if args.fp16:
        from apex import amp
        model, optimizer = amp.initialize(model, optimizer, opt_level="O1")
    model.zero_grad()
    epochs = trange(0, int(args.num_train_epochs), desc="Epoch")
    for _ in epochs:
        bar = tqdm(train_loader, desc="Iteration")
        for step, batch in enumerate(bar):
            <clear_top>loss = model(**batch)[0] / args.accumulation
            if args.fp16:
                with amp.scale_loss(loss, optimizer) as scaled_loss:
                    scaled_loss.backward()
            else:
                loss.backward()
            if (step + 1) % args.accumulation == 0:
                if args.fp16:
                    torch.nn.utils.clip_grad_norm_(amp.master_params(optimizer), args.max_grad_norm)
                else:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                <window_sched>
                <clear_window>
        <epoch_sched>
"""


def hf(clear_top="", window_sched="scheduler.step()", clear_window="model.zero_grad()", epoch_sched="pass"):
    return (HF_LOOP.replace("<clear_top>", clear_top).replace("<window_sched>", window_sched)
            .replace("<clear_window>", clear_window).replace("<epoch_sched>", epoch_sched))


def test_the_correct_transformers_loop_is_silent():
    assert codes_at(hf(), ["OPT"]) == []


def test_clear_moved_into_every_micro_batch():
    src = hf(clear_top="model.zero_grad()\n            ", clear_window="pass")
    assert codes_at(src, ["OPT1"]) == [("OPT106", rows(src, "model.zero_grad()")[1])]


def test_iteration_schedule_moved_to_the_epoch_loop():
    src = hf(window_sched="pass", epoch_sched="scheduler.step()")
    assert codes_at(src, ["OPT2"]) == [("OPT203", rows(src, "scheduler.step()")[0])]


def test_iteration_schedule_stepped_before_the_optimizer_in_the_window():
    src = hf().replace("                optimizer.step()\n                scheduler.step()",
                       "                scheduler.step()\n                optimizer.step()")
    assert codes_at(src, ["OPT2"]) == [("OPT201", rows(src, "scheduler.step()")[0])]


ACCELERATE_LOOP = """
import torch
from accelerate import Accelerator
from diffusers.optimization import get_scheduler


def main(args, model, loader):
    accelerator = Accelerator({accelerator_args})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    lr_scheduler = get_scheduler("cosine", optimizer=optimizer, num_warmup_steps=10,
                                 num_training_steps=args.max_train_steps)
    model, optimizer, loader, lr_scheduler = accelerator.prepare(model, optimizer, loader, lr_scheduler)
    for epoch in range(args.num_train_epochs):
        for step, batch in enumerate(loader):
            {body}
"""

ACCUMULATE_CONTEXT = """with accelerator.accumulate(model):
                loss = model(batch).mean()
                accelerator.backward(loss)
                optimizer.step()
                lr_scheduler.step()
                {clear}"""

MANUAL_WINDOW = """{clear_top}loss = model(batch).mean(){divide}
            accelerator.backward(loss)
            if step % args.accumulation == 0:
                optimizer.step()
                lr_scheduler.step()
                {clear_window}"""


def accelerate(body: str, accelerator_args: str = "") -> str:
    return ACCELERATE_LOOP.format(body=body, accelerator_args=accelerator_args)


def test_accumulate_context_with_its_clear_is_silent():
    assert codes_at(accelerate(ACCUMULATE_CONTEXT.format(clear="optimizer.zero_grad()")), ["OPT"]) == []


def test_accumulate_context_that_never_clears():
    src = accelerate(ACCUMULATE_CONTEXT.format(clear="pass"))
    assert codes_at(src, ["OPT1"]) == [("OPT101", rows(src, "accelerator.backward(loss)")[0])]


def test_diffusers_get_scheduler_stepped_before_the_optimizer():
    body = ACCUMULATE_CONTEXT.format(clear="optimizer.zero_grad()").replace(
        "optimizer.step()\n                lr_scheduler.step()", "lr_scheduler.step()\n                optimizer.step()")
    src = accelerate(body)
    assert codes_at(src, ["OPT2"]) == [("OPT201", rows(src, "lr_scheduler.step()")[0])]


def test_hand_written_window_under_accelerate_is_silent_when_right():
    body = MANUAL_WINDOW.format(clear_top="", divide=" / args.accumulation", clear_window="optimizer.zero_grad()")
    assert codes_at(accelerate(body), ["OPT1"]) == []


def test_hand_written_window_under_accelerate_clears_every_micro_batch():
    body = MANUAL_WINDOW.format(clear_top="optimizer.zero_grad()\n            ", divide=" / args.accumulation",
                                clear_window="pass")
    src = accelerate(body)
    assert codes_at(src, ["OPT1"]) == [("OPT106", rows(src, "optimizer.zero_grad()")[0])]


def test_hand_written_window_under_accelerate_with_an_undivided_loss():
    body = MANUAL_WINDOW.format(clear_top="", divide="", clear_window="optimizer.zero_grad()")
    src = accelerate(body)
    assert codes_at(src, ["OPT1"]) == [("OPT107", rows(src, "accelerator.backward(loss)")[0])]


def test_an_accelerator_that_accumulates_divides_the_loss_itself():
    body = MANUAL_WINDOW.format(clear_top="", divide="", clear_window="optimizer.zero_grad()")
    src = accelerate(body, accelerator_args="gradient_accumulation_steps=args.accumulation")
    assert codes_at(src, ["OPT1"]) == []


DECORATED_NESTED = """
import torch
from torch import nn


def profile_run(profiled):
    model = nn.Linear(8, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    @profiled
    def train(x):
        optimizer.zero_grad()
        model(x).sum().backward()

    for epoch in range(5):
        stats = train(torch.randn(4, 8))
"""


def test_a_decorated_nested_function_is_not_inlined():
    # the decorator may call it any number of times (profiling): no claim about the loop
    assert codes_at(DECORATED_NESTED, ["OPT1"]) == []
