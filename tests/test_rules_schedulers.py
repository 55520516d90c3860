"""OPT201-OPT205: exact (code, row) on realistic training scripts, and exact fixed text."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import codes_at, fixed

HEAD = """\
import torch
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader

model = nn.Linear(10, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
train_loader = DataLoader(dataset, batch_size=32, shuffle=True)
"""


def row(src: str, needle: str, nth: int = 1) -> int:
    """1-based row of the ``nth`` line of ``src`` containing ``needle``."""
    hits = [i for i, line in enumerate(textwrap.dedent(src).splitlines(), 1) if needle in line]
    return hits[nth - 1]




def per_batch(construct: str, step: str = "scheduler.step()") -> str:
    return HEAD + f"""scheduler = {construct}

for epoch in range(90):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        {step}
"""


def per_epoch(construct: str, step: str = "scheduler.step()") -> str:
    return HEAD + f"""scheduler = {construct}

for epoch in range(90):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    {step}
"""


# --------------------------------------------------------------------------- OPT201
def test_opt201_scheduler_before_step_in_batch_loop():
    src = HEAD + """
scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10 * len(train_loader))
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        scheduler.step()
        optimizer.step()
"""
    assert codes_at(src, ["OPT2"]) == [("OPT201", row(src, "scheduler.step()"))]


def test_opt201_fix_moves_after_the_optimizer_step_keeping_comments():
    src = HEAD + """
scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1000)
for x, y in train_loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    # advance the one-cycle policy
    scheduler.step()  # per batch
    optimizer.step()
    print(loss.item())
"""
    text, remaining = fixed(src, ["OPT201"])
    assert text == HEAD + """
scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1000)
for x, y in train_loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    # advance the one-cycle policy
    scheduler.step()  # per batch
    print(loss.item())
"""
    assert remaining == []


def test_opt201_head_of_epoch_loop():
    src = HEAD + """
scheduler = lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
for epoch in range(90):
    scheduler.step()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
"""
    assert codes_at(src, ["OPT2"]) == [("OPT201", row(src, "scheduler.step()"))]
    text, remaining = fixed(src, ["OPT201"])
    assert text == textwrap.dedent(src)  # no sibling to move after: no fix
    assert remaining == [("OPT201", row(src, "scheduler.step()"))]


def test_opt201_with_grad_scaler_step():
    src = HEAD + """
scaler = torch.amp.GradScaler()
scheduler = lr_scheduler.CyclicLR(optimizer, base_lr=0.01, max_lr=0.1)
for x, y in train_loader:
    optimizer.zero_grad()
    with torch.autocast("cuda"):
        loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scheduler.step()
    scaler.step(optimizer)
    scaler.update()
"""
    assert codes_at(src, ["OPT201"]) == [("OPT201", row(src, "scheduler.step()"))]


def test_opt201_helper_train_function_with_scheduler_parameter():
    src = """
    import torch.nn.functional as F


    def train(model, loader, optimizer, scheduler):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            scheduler.step()
            optimizer.step()
    """
    assert codes_at(src, ["OPT2"]) == [("OPT201", row(src, "scheduler.step()"))]


@pytest.mark.parametrize("name", ["warmup_scheduler", "lr_sched", "train_schedule", "cosine_scheduler"])
def test_opt201_parameter_named_like_any_schedule(name):
    # one answer to "does this name say scheduler": the iteration model already took
    # ``warmup_scheduler.step()`` for a schedule's; the bindings now take the parameter for one
    src = f"""
    import torch.nn.functional as F


    def train(model, loader, optimizer, {name}):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            {name}.step()
            optimizer.step()
    """
    assert codes_at(src, ["OPT2"]) == [("OPT201", row(src, f"{name}.step()"))]


def test_opt201_not_on_a_noise_scheduler_parameter():
    # named like a schedule, used like diffusers' noise scheduler (``step(out, t, x)``)
    src = """
    import torch.nn.functional as F


    def train(unet, loader, optimizer, noise_scheduler):
        for x, t in loader:
            optimizer.zero_grad()
            out = unet(x, t)
            F.mse_loss(out, x).backward()
            x = noise_scheduler.step(out, t, x).prev_sample
            optimizer.step()
    """
    assert codes_at(src, ["OPT2"]) == []


@pytest.mark.parametrize("tail", [
    # after the inner loop: the usual per-epoch schedule
    """
for epoch in range(90):
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    scheduler.step()
""",
    # after the step in the same iteration
    """
for x, y in train_loader:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    scheduler.step()
""",
    # at the head of the epoch loop, but only from the second epoch on
    """
for epoch in range(90):
    if epoch > 0:
        scheduler.step()
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
""",
    # accumulation: step and scheduler under the same window condition, scheduler after
    """
for i, (x, y) in enumerate(train_loader):
    (nn.functional.mse_loss(model(x), y) / 4).backward()
    if (i + 1) % 4 == 0:
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
""",
    # the training step happens in a function we cannot see
    """
for epoch in range(90):
    scheduler.step()
    trainer.train_epoch(model, optimizer, train_loader)
""",
])
def test_opt201_must_not_fire(tail):
    src = HEAD + "scheduler = lr_scheduler.StepLR(optimizer, step_size=30)\n" + tail
    assert codes_at(src, ["OPT201"]) == []


def test_opt201_not_for_a_custom_scheduler_class_in_the_file():
    src = """
    import torch.nn.functional as F


    class WarmupScheduler:
        def __init__(self, optimizer, warmup):
            self.optimizer, self.warmup, self.n = optimizer, warmup, 0

        def step(self):
            self.n += 1
            for g in self.optimizer.param_groups:
                g["lr"] = min(1.0, self.n / self.warmup) * 1e-3


    def train(model, loader, optimizer, scheduler):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            scheduler.step()
            optimizer.step()
    """
    assert codes_at(src, ["OPT2"]) == []


def test_opt201_diffusers_noise_scheduler_is_not_a_scheduler():
    src = """
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, UNet2DModel

    model = UNet2DModel(sample_size=32)
    noise_scheduler = DDPMScheduler(num_train_timesteps=1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    for epoch in range(10):
        for batch in train_dataloader:
            noise = torch.randn_like(batch)
            t = torch.randint(0, 1000, (batch.shape[0],))
            noisy = noise_scheduler.add_noise(batch, noise, t)
            loss = F.mse_loss(model(noisy, t).sample, noise)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()


    def sample(model, scheduler, shape):
        x = torch.randn(shape)
        scheduler.set_timesteps(50)
        for t in scheduler.timesteps:
            out = model(x, t).sample
            x = scheduler.step(out, t, x).prev_sample
        return x


    def train_step(model, batch, optimizer, scheduler):
        scheduler.step()
        F.mse_loss(model(batch), batch).backward()
        optimizer.step()
    """
    assert codes_at(src, ["OPT2"]) == []


# --------------------------------------------------------------------------- OPT202
@pytest.mark.parametrize("construct", [
    "lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)",
    "lr_scheduler.MultiStepLR(optimizer, milestones=[30, 60, 80], gamma=0.1)",
    "lr_scheduler.ExponentialLR(optimizer, gamma=0.9)",
    "lr_scheduler.CosineAnnealingLR(optimizer, T_max=90)",
    "lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)",
    "lr_scheduler.PolynomialLR(optimizer, total_iters=90, power=2.0)",
    "lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2)",
    "lr_scheduler.MultiStepLR(optimizer, milestones=[int(0.5 * num_epochs), int(0.75 * num_epochs)])",
])
def test_opt202_epoch_scheduler_stepped_per_batch(construct):
    src = per_batch(construct)
    assert codes_at(src, ["OPT2"]) == [("OPT202", row(src, "scheduler.step()"))]


def test_opt202_plateau_stepped_per_batch():
    src = per_batch("lr_scheduler.ReduceLROnPlateau(optimizer, patience=5)", "scheduler.step(loss)")
    assert codes_at(src, ["OPT2"]) == [("OPT202", row(src, "scheduler.step(loss)"))]


def test_opt202_fix_moves_after_the_batch_loop():
    src = per_batch("lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)")
    text, remaining = fixed(src, ["OPT202"], unsafe=True)
    assert text == per_epoch("lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)")
    assert remaining == []
    # not applied without --unsafe-fixes
    assert fixed(src, ["OPT202"])[0] == src


def test_opt202_with_accumulation_window():
    src = HEAD + """scheduler = lr_scheduler.StepLR(optimizer, step_size=30)

for epoch in range(90):
    for i, (x, y) in enumerate(train_loader):
        loss = nn.functional.mse_loss(model(x), y) / 4
        loss.backward()
        if (i + 1) % 4 == 0:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT2"]) == [("OPT202", row(src, "scheduler.step()"))]


@pytest.mark.parametrize("construct", [
    "lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))",
    "lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)",
    "lr_scheduler.StepLR(optimizer, step_size=num_iters // 3)",
    "lr_scheduler.MultiStepLR(optimizer, milestones=[m * steps_per_epoch for m in (30, 60)])",
    "lr_scheduler.StepLR(optimizer, step_size=5000)",  # a long literal: iterations, most likely
    "lr_scheduler.ExponentialLR(optimizer, gamma=0.9999)",
    "lr_scheduler.StepLR(optimizer, step_size=args.lr_step)",  # unknown: silent
    "lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, step / 1000))",
    "lr_scheduler.MultiplicativeLR(optimizer, lambda e: 0.95)",
    "lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=5)",
    "lr_scheduler.ConstantLR(optimizer, factor=0.5, total_iters=4)",
    "lr_scheduler.SequentialLR(optimizer, [warm, cos], milestones=[5])",
    "lr_scheduler.ChainedScheduler([warm, cos])",
    "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=90, steps_per_epoch=len(train_loader))",
    "make_scheduler(optimizer)",  # unknown class
])
def test_opt202_must_not_fire_per_batch(construct):
    assert codes_at(per_batch(construct), ["OPT202", "OPT203"]) == []


def test_opt202_cosine_warm_restarts_with_fractional_epochs():
    src = HEAD + """scheduler = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2)
iters = len(train_loader)
for epoch in range(90):
    for i, (x, y) in enumerate(train_loader):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        scheduler.step(epoch + i / iters)
"""
    assert codes_at(src, ["OPT2"]) == []


def test_opt202_silent_without_a_proven_epoch_loop():
    # a single loop over batches: which loop is the epoch loop is not known
    src = HEAD + """scheduler = lr_scheduler.StepLR(optimizer, step_size=30)
for x, y in train_loader:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    scheduler.step()
"""
    assert codes_at(src, ["OPT2"]) == []


def test_opt202_silent_when_stepped_every_n_batches():
    src = HEAD + """scheduler = lr_scheduler.StepLR(optimizer, step_size=30)
for epoch in range(90):
    for i, (x, y) in enumerate(train_loader):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        if i % 1000 == 999:
            scheduler.step()
"""
    assert codes_at(src, ["OPT2"]) == []


def test_opt202_silent_when_the_class_depends_on_a_branch():
    src = HEAD + """if args.plateau:
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer)
else:
    scheduler = lr_scheduler.StepLR(optimizer, step_size=30)
for epoch in range(90):
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    scheduler.step(loss)
"""
    assert codes_at(src, ["OPT2"]) == []


def test_opt202_batch_loop_in_a_helper_called_per_epoch():
    src = HEAD + """scheduler = lr_scheduler.StepLR(optimizer, step_size=30)


def train_one_epoch(loader):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        scheduler.step()


for epoch in range(90):
    train_one_epoch(train_loader)
"""
    assert codes_at(src, ["OPT2"]) == [("OPT202", row(src, "scheduler.step()"))]
    text, remaining = fixed(src, ["OPT202"], unsafe=True)
    assert text == src.replace("        optimizer.step()\n        scheduler.step()\n",
                               "        optimizer.step()\n    scheduler.step()\n")
    assert remaining == []


# --------------------------------------------------------------------------- OPT203
@pytest.mark.parametrize("construct", [
    "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=90, steps_per_epoch=len(train_loader))",
    "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=90 * len(train_loader))",
    "lr_scheduler.CyclicLR(optimizer, base_lr=1e-3, max_lr=0.1, step_size_up=2000)",
    "lr_scheduler.CosineAnnealingLR(optimizer, T_max=90 * len(train_loader))",
    "get_linear_schedule_with_warmup(optimizer, num_warmup_steps=500, num_training_steps=total_steps)",
    "get_cosine_schedule_with_warmup(optimizer, 100, len(train_loader) * 90)",
    "get_scheduler('linear', optimizer=optimizer, num_warmup_steps=0, num_training_steps=max_steps)",
    # a schedule named at run time: every choice but "constant" counts the steps it is given
    "get_scheduler(args.lr_scheduler, optimizer=optimizer, num_warmup_steps=args.lr_warmup_steps, "
    "num_training_steps=args.max_train_steps)",
])
def test_opt203_iteration_scheduler_stepped_per_epoch(construct):
    src = "from transformers import get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup, " \
          "get_scheduler\n" + per_epoch(construct)
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, "    scheduler.step()"))]


@pytest.mark.parametrize("construct", [
    "get_scheduler(args.lr_scheduler, optimizer=optimizer, num_warmup_steps=1, num_training_steps=args.num_epochs)",
    "get_scheduler(args.lr_scheduler, optimizer=optimizer, num_warmup_steps=args.warmup)",
    "get_scheduler(args.lr_scheduler, optimizer)",
])
def test_opt203_run_time_schedule_names_that_do_not_count_steps_are_silent(construct):
    src = "from transformers import get_scheduler\n" + per_epoch(construct)
    assert codes_at(src, ["OPT2"]) == []


def test_opt203_hf_schedule_by_module_path():
    src = "import transformers\n" + per_epoch(
        "transformers.optimization.get_linear_schedule_with_warmup(optimizer, 0, 10 * len(train_loader))")
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, "    scheduler.step()"))]


def test_opt203_fix_moves_into_the_batch_loop_after_the_step():
    construct = "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=90, steps_per_epoch=len(train_loader))"
    text, remaining = fixed(per_epoch(construct), ["OPT203"], unsafe=True)
    assert text == per_batch(construct)
    assert remaining == []


@pytest.mark.parametrize("construct", [
    "get_linear_schedule_with_warmup(optimizer, num_warmup_steps=500, num_training_steps=total_steps)",
    "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=90, steps_per_epoch=len(train_loader))",
])
def test_opt203_per_batch_is_fine(construct):
    src = "from transformers import get_linear_schedule_with_warmup\n" + per_batch(construct)
    assert codes_at(src, ["OPT2"]) == []


@pytest.mark.parametrize("construct", [
    "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=num_epochs)",  # deliberately per epoch
    "get_linear_schedule_with_warmup(optimizer, 2, num_epochs)",
    "get_constant_schedule(optimizer)",
    "lr_scheduler.MultiStepLR(optimizer, milestones=args.lr_steps, gamma=0.1)",  # torchvision: epochs
    "lr_scheduler.StepLR(optimizer, step_size=30)",
])
def test_opt203_must_not_fire_per_epoch(construct):
    src = "from transformers import get_linear_schedule_with_warmup, get_constant_schedule\n" + \
        per_epoch(construct)
    assert codes_at(src, ["OPT203"]) == []


def test_opt203_helper_runs_the_batch_loop():
    src = """
import torch
import torch.nn.functional as F
from transformers import get_linear_schedule_with_warmup


def train_epoch(model, loader, optimizer):
    model.train()
    for batch in loader:
        loss = F.cross_entropy(model(batch["x"]), batch["y"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def main(model, train_dataloader, epochs):
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    scheduler = get_linear_schedule_with_warmup(optimizer, 100, epochs * len(train_dataloader))
    for epoch in range(epochs):
        train_epoch(model, train_dataloader, optimizer)
        scheduler.step()
"""
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, "scheduler.step()"))]


# --------------------------------------------------------------------------- Lightning
LIGHTNING = """
import lightning as L
import torch
from torch.optim.lr_scheduler import OneCycleLR, StepLR, CosineAnnealingLR


class LitModel(L.LightningModule):
    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
{body}
"""


def lightning(body: str) -> str:
    return LIGHTNING.format(body=textwrap.indent(textwrap.dedent(body), " " * 8))


def test_opt203_lightning_onecycle_with_default_epoch_interval():
    src = lightning("""
        scheduler = OneCycleLR(optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
    """)
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, "OneCycleLR(optimizer"))]


def test_opt203_lightning_explicit_epoch_interval_fix():
    src = lightning("""
        scheduler = OneCycleLR(optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
    """)
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, '"interval": "epoch"'))]
    text, remaining = fixed(src, ["OPT203"], unsafe=True)
    assert text == textwrap.dedent(src).replace('"interval": "epoch"', '"interval": "step"')
    assert remaining == []


def test_opt202_lightning_steplr_with_step_interval():
    src = lightning("""
        scheduler = StepLR(optimizer, step_size=30)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }
    """)
    assert codes_at(src, ["OPT2"]) == [("OPT202", row(src, '"interval": "step"'))]
    text, remaining = fixed(src, ["OPT202"], unsafe=True)
    assert text == textwrap.dedent(src).replace('"interval": "step"', '"interval": "epoch"')
    assert remaining == []


def test_opt203_lightning_lists_of_optimizers_and_schedulers():
    src = lightning("""
        return [optimizer], [OneCycleLR(optimizer, max_lr=1e-2, total_steps=10 * len(self.train_loader))]
    """)
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, "OneCycleLR(optimizer, max_lr"))]


@pytest.mark.parametrize("body", [
    """
    scheduler = StepLR(optimizer, step_size=30)
    return {"optimizer": optimizer, "lr_scheduler": scheduler}
    """,
    """
    scheduler = OneCycleLR(optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
    """,
    """
    scheduler = CosineAnnealingLR(optimizer, T_max=self.hparams.max_epochs)
    return [optimizer], [scheduler]
    """,
    """
    scheduler = {"scheduler": StepLR(optimizer, step_size=30), "interval": self.hparams.interval}
    return [optimizer], [scheduler]
    """,
    """
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": StepLR(optimizer, 10), "interval": "step",
                                                     "frequency": 1000}}
    """,
])
def test_lightning_must_not_fire(body):
    assert codes_at(lightning(body), ["OPT2"]) == []


# --------------------------------------------------------------------------- OPT204
def test_opt204_plateau_without_metric():
    src = HEAD + """scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", patience=3)
for epoch in range(90):
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    val_loss = evaluate(model)
    scheduler.step()
"""
    assert codes_at(src, ["OPT2"]) == [("OPT204", row(src, "scheduler.step()"))]


def test_opt204_plateau_with_metric_is_fine():
    src = HEAD + """scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", patience=3)
for epoch in range(90):
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    acc = evaluate(model)
    scheduler.step(acc)
    scheduler.step(metrics=acc)
"""
    assert codes_at(src, ["OPT2"]) == []


def test_opt204_self_attribute_in_a_trainer_class():
    src = """
    import torch
    from torch.optim.lr_scheduler import ReduceLROnPlateau


    class Trainer:
        def __init__(self, model):
            self.model = model
            self.optimizer = torch.optim.Adam(model.parameters())
            self.scheduler = ReduceLROnPlateau(self.optimizer)

        def end_epoch(self, val_loss):
            self.scheduler.step()
    """
    assert codes_at(src, ["OPT2"]) == [("OPT204", row(src, "self.scheduler.step()"))]


# --------------------------------------------------------------------------- OPT205
def test_opt205_epoch_argument_and_unsafe_fix():
    src = HEAD + """scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[30, 60], gamma=0.1)
for epoch in range(90):
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    scheduler.step(epoch)
"""
    assert codes_at(src, ["OPT2"]) == [("OPT205", row(src, "scheduler.step(epoch)"))]
    text, remaining = fixed(src, ["OPT205"], unsafe=True)
    assert text == textwrap.dedent(src).replace("scheduler.step(epoch)", "scheduler.step()")
    assert remaining == []
    assert fixed(src, ["OPT205"])[0] == textwrap.dedent(src)


def test_opt205_keyword_epoch():
    src = per_epoch("lr_scheduler.StepLR(optimizer, step_size=30)", "scheduler.step(epoch=epoch + 1)")
    assert codes_at(src, ["OPT2"]) == [("OPT205", row(src, "scheduler.step(epoch="))]


@pytest.mark.parametrize("construct,step", [
    ("lr_scheduler.ReduceLROnPlateau(optimizer)", "scheduler.step(val_loss)"),
    ("lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10)", "scheduler.step(epoch)"),
    ("lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10)", "scheduler.step(epoch + 0.5)"),
    ("create_scheduler(args, optimizer)", "scheduler.step(epoch)"),  # timm-style: unknown class
    ("lr_scheduler.StepLR(optimizer, step_size=30)", "scheduler.step()"),
])
def test_opt205_must_not_fire(construct, step):
    assert codes_at(per_epoch(construct, step), ["OPT205"]) == []


def test_opt205_not_on_a_parameter_known_only_by_name():
    # timm's schedulers take the epoch: a bare parameter named lr_scheduler is not proof of torch's class
    src = """
    def train(model, loader, optimizer, lr_scheduler, epochs):
        for epoch in range(epochs):
            for x, y in loader:
                optimizer.zero_grad()
                model(x).mean().backward()
                optimizer.step()
            lr_scheduler.step(epoch + 1)
    """
    assert codes_at(src, ["OPT2"]) == []


def test_imagenet_example_shape_is_clean():
    """pytorch/examples imagenet: train()/validate() helpers, StepLR after them, per epoch."""
    src = """
    import torch
    import torch.nn as nn
    from torch.optim.lr_scheduler import StepLR


    def train(train_loader, model, criterion, optimizer, epoch):
        model.train()
        for i, (images, target) in enumerate(train_loader):
            output = model(images)
            loss = criterion(output, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


    def validate(val_loader, model, criterion):
        model.eval()
        total = 0.0
        with torch.no_grad():
            for images, target in val_loader:
                total += criterion(model(images), target)
        return total


    def main(model, train_loader, val_loader, epochs):
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=1e-4)
        scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
        for epoch in range(epochs):
            train(train_loader, model, criterion, optimizer, epoch)
            acc1 = validate(val_loader, model, criterion)
            scheduler.step()
    """
    assert codes_at(src, ["OPT2", "OPT6"]) == []


def test_accelerate_no_trainer_shape_is_clean():
    """transformers' run_*_no_trainer.py: get_scheduler by a configured name, prepared by accelerate."""
    src = """
    import torch
    from accelerate import Accelerator
    from transformers import get_scheduler


    def main(args, model, train_dataloader, eval_dataloader):
        accelerator = Accelerator()
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
        lr_scheduler = get_scheduler(
            name=args.lr_scheduler_type,
            optimizer=optimizer,
            num_warmup_steps=args.num_warmup_steps,
            num_training_steps=args.max_train_steps,
        )
        model, optimizer, train_dataloader, eval_dataloader, lr_scheduler = accelerator.prepare(
            model, optimizer, train_dataloader, eval_dataloader, lr_scheduler
        )
        for epoch in range(args.num_train_epochs):
            model.train()
            total_loss = 0
            for step, batch in enumerate(train_dataloader):
                with accelerator.accumulate(model):
                    outputs = model(**batch)
                    loss = outputs.loss
                    total_loss += loss.detach().float()
                    accelerator.backward(loss)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad()
            model.eval()
            for step, batch in enumerate(eval_dataloader):
                with torch.no_grad():
                    outputs = model(**batch)
    """
    assert codes_at(src, ["OPT2", "OPT6"]) == []


def test_torchvision_reference_warmup_sequential_is_clean():
    src = HEAD + """
main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs - args.lr_warmup_epochs)
warm = lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=args.lr_warmup_epochs)
scheduler = lr_scheduler.SequentialLR(optimizer, schedulers=[warm, main], milestones=[args.lr_warmup_epochs])
for epoch in range(args.start_epoch, args.epochs):
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    scheduler.step()
"""
    assert codes_at(src, ["OPT2"]) == []


def test_opt201_self_attribute_from_an_unknown_factory_is_not_trusted():
    src = """
    from mylib import build_scheduler


    class Trainer:
        def __init__(self, model, optimizer, cfg):
            self.model, self.optimizer = model, optimizer
            self.scheduler = build_scheduler(cfg, optimizer)

        def train_step(self, batch):
            self.scheduler.step()
            loss = self.model(batch)
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad()
    """
    assert codes_at(src, ["OPT2"]) == []


def test_opt201_self_attribute_set_from_a_scheduler_parameter():
    src = """
    class Trainer:
        def __init__(self, model, optimizer, scheduler=None):
            self.model, self.optimizer = model, optimizer
            self.scheduler = scheduler

        def train_step(self, batch):
            loss = self.model(batch)
            loss.backward()
            self.scheduler.step()
            self.optimizer.step()
            self.optimizer.zero_grad()
    """
    assert codes_at(src, ["OPT2"]) == [("OPT201", row(src, "self.scheduler.step()"))]


def test_opt202_batch_loop_over_a_loader_method():
    src = """
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR


    class Trainer:
        def __init__(self, model, epochs):
            self.model = model
            self.epochs = epochs
            self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            self.scheduler = CosineAnnealingLR(self.optimizer, T_max=epochs)

        def fit(self):
            for epoch in range(self.epochs):
                for batch in self.train_dataloader():
                    self.optimizer.zero_grad()
                    self.model(batch).mean().backward()
                    self.optimizer.step()
                    self.scheduler.step()
    """
    assert codes_at(src, ["OPT2"]) == [("OPT202", row(src, "self.scheduler.step()"))]


def test_opt201_configured_scheduler_factory():
    src = """
    import torch
    from mylib.optim import make_scheduler

    model = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters())
    sched = make_scheduler(opt, warmup=100)
    for x, y in loader:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        sched.step()
        opt.step()
        sched.step(5)
    """
    assert codes_at(src, ["OPT2"]) == []  # not configured: an unknown object
    assert codes_at(src, ["OPT2"], scheduler_factories=["mylib.optim.make_scheduler"]) == [
        ("OPT201", row(src, "sched.step()"))]  # configured: a scheduler, OPT205 needs a known class


# ------------------------------------------------ a scheduler stepped when it exists
GUARDED = """\
import torch
from torch import nn


def train(model, loader, optimizer, scheduler=None, epochs=10):
    for epoch in range(epochs):
        if scheduler is not None:
            scheduler.step()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()


model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train(model, [], optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 10))
"""


def test_opt201_a_scheduler_stepped_whenever_it_exists_counts_as_always():
    assert codes_at(GUARDED, ["OPT2"]) == [("OPT201", 8)]
    # ``if scheduler:`` is the same test
    assert codes_at(GUARDED.replace("if scheduler is not None:", "if scheduler:"), ["OPT2"]) == [("OPT201", 8)]


@pytest.mark.parametrize("guard", ["if epoch > 0:", "if scheduler is None:", "if warmup_done:"])
def test_opt201_silent_under_a_real_condition(guard):
    src = GUARDED.replace("if scheduler is not None:", guard).replace(
        "    for epoch in range(epochs):", "    warmup_done = False\n    for epoch in range(epochs):")
    assert codes_at(src, ["OPT2"]) == []


def test_opt201_silent_when_the_guarded_step_follows_the_batch_loop():
    src = GUARDED.replace("""        if scheduler is not None:
            scheduler.step()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
""", """        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
""")
    assert codes_at(src, ["OPT2"]) == []


# ------------------------------------------------ vendored schedule factories (SPEC §1)
VENDORED = """\
import torch
from torch import nn

from mypackage.optimization import AdamW, get_linear_schedule_with_warmup

model = nn.Linear(4, 2)
loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
optimizer = AdamW(model.parameters(), lr=1e-3)
scheduler = get_linear_schedule_with_warmup(optimizer, 10, 100)
for epoch in range(3):
    for x, y in loader:
        nn.functional.mse_loss(model(x), y).backward()
        scheduler.step()
        optimizer.step()
        optimizer.zero_grad()
"""


@pytest.mark.parametrize("factory", ["get_linear_schedule_with_warmup", "get_cosine_schedule_with_warmup",
                                     "get_inverse_sqrt_schedule", "get_foo_schedule_with_warmup"])
def test_opt201_a_vendored_transformers_factory_is_a_scheduler(factory):
    src = VENDORED.replace("get_linear_schedule_with_warmup", factory)
    assert codes_at(src, ["OPT2"]) == [("OPT201", 13)]


def test_opt203_a_vendored_factory_stepped_per_epoch():
    src = VENDORED.replace("""        scheduler.step()
        optimizer.step()
        optimizer.zero_grad()
""", """        optimizer.step()
        optimizer.zero_grad()
    scheduler.step()
""").replace("(optimizer, 10, 100)", "(optimizer, 10, len(loader) * 3)")
    assert codes_at(src, ["OPT2"]) == [("OPT203", 15)]


@pytest.mark.parametrize("factory", ["get_scheduler", "get_beta_schedule", "build_lr_schedule"])
def test_silent_on_project_functions_not_named_like_the_factories(factory):
    src = VENDORED.replace("get_linear_schedule_with_warmup", factory)
    assert codes_at(src, ["OPT2"]) == []


PLAIN_LIST_EPOCHS = """
import torch
from torch import nn

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
data = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(10)]
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10 * len(data))
for epoch in range(10):
    for i, (x, y) in enumerate(data):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
{sched}
"""


def test_opt203_batches_from_a_plain_list_running_the_backward():
    # the inner loop runs the backward passes: it is the batch loop, whatever it iterates
    assert codes_at(PLAIN_LIST_EPOCHS.format(sched="    scheduler.step()"), ["OPT2"]) == [("OPT203", 14)]


def test_opt203_plain_list_stepped_per_batch_is_fine():
    src = PLAIN_LIST_EPOCHS.format(sched="").replace(
        "        optimizer.step()\n", "        optimizer.step()\n        scheduler.step()\n")
    assert codes_at(src, ["OPT2"]) == []


# ------------------------------------------- OPT201: what may step the optimizer before it
SWAPPED = HEAD + """scheduler = lr_scheduler.StepLR(optimizer, step_size=30)

for epoch in range(90):
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        {call}
        scheduler.step()
        optimizer.step()
"""


@pytest.mark.parametrize("call", ["log_gradients(model)", "params = unwrap(model).parameters()"])
def test_opt201_a_call_handed_only_the_model_cannot_step_the_optimizer(call):
    src = SWAPPED.format(call=call)
    assert codes_at(src, ["OPT201"]) == [("OPT201", row(src, "scheduler.step()"))]


@pytest.mark.parametrize("call", ["trainer.step(optimizer)", "model.apply_update()"])
def test_opt201_a_call_that_may_step_keeps_it_silent(call):
    assert codes_at(SWAPPED.format(call=call), ["OPT201"]) == []


def test_opt201_a_guarded_warmup_scheduler_before_an_unconditional_step():
    src = HEAD + """warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=500)
warm_epochs = 1

for epoch in range(90):
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        if epoch < warm_epochs:
            warmup.step()
        optimizer.step()
"""
    assert codes_at(src, ["OPT201"]) == [("OPT201", row(src, "warmup.step()"))]
    text, remaining = fixed(src, ["OPT201"], unsafe=True)
    assert text == src  # different blocks: moving is the author's call
    assert remaining == [("OPT201", row(src, "warmup.step()"))]


def test_opt201_a_windowed_step_the_scheduler_is_not_under_fires():
    # the first micro-batches step the scheduler before any optimizer step (see
    # test_rules_scheduler_conditional_steps.py)
    src = HEAD + """scheduler = lr_scheduler.StepLR(optimizer, step_size=30)

for epoch in range(90):
    for i, (x, y) in enumerate(train_loader):
        nn.functional.mse_loss(model(x), y).backward()
        scheduler.step()
        if (i + 1) % 4 == 0:
            optimizer.step()
            optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT201"]) == [("OPT201", row(src, "scheduler.step()"))]


# ``dict(...)`` spelled with keywords declares like a dict literal (issue 13: a sweep's
# LightningModule returned ``dict(optimizer=..., lr_scheduler=...)`` and was not read).
def test_opt203_lightning_dict_call_without_interval_is_fixed_in_place():
    src = lightning("""
        scheduler = OneCycleLR(optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
        return dict(optimizer=optimizer, lr_scheduler=scheduler)
    """)
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, "OneCycleLR(optimizer"))]
    text, remaining = fixed(src, ["OPT203"])
    assert text == textwrap.dedent(src).replace(
        "lr_scheduler=scheduler)", 'lr_scheduler={"scheduler": scheduler, "interval": "step"})')
    assert remaining == []


def test_opt203_lightning_nested_dict_call_gets_its_interval_keyword():
    src = lightning("""
        scheduler = OneCycleLR(optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
        return dict(optimizer=optimizer, lr_scheduler=dict(scheduler=scheduler, monitor="val_loss"))
    """)
    assert codes_at(src, ["OPT2"]) == [("OPT203", row(src, "OneCycleLR(optimizer"))]
    text, remaining = fixed(src, ["OPT203"])
    assert text == textwrap.dedent(src).replace("dict(scheduler=scheduler,", 'dict(scheduler=scheduler, interval="step",')
    assert remaining == []


@pytest.mark.parametrize("entry", [
    'dict(scheduler=scheduler, interval="step")',  # declared per step: right
    "dict(scheduler=scheduler, **extra)",  # unpacked: unknown
])
def test_opt203_lightning_dict_call_that_declares_or_hides_stays_silent(entry):
    src = lightning(f"""
        scheduler = OneCycleLR(optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
        return dict(optimizer=optimizer, lr_scheduler={entry})
    """)
    assert codes_at(src, ["OPT2"]) == []


# ``with tqdm(loader) as bar: for batch in bar:`` is a batch loop over the loader.
PROGRESS_BAR = HEAD + """scheduler = lr_scheduler.StepLR(optimizer, step_size=30)

for epoch in range(90):
    scheduler.step()
    with tqdm(loader) as bar:
        for x, y in bar:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
"""


def test_opt201_epoch_head_step_before_a_batch_loop_over_a_progress_bar():
    src = PROGRESS_BAR.replace("import torch\n", "import torch\nfrom tqdm import tqdm\n", 1)
    assert codes_at(src, ["OPT2"]) == [("OPT201", row(src, "scheduler.step()"))]


def test_opt201_a_batch_loop_over_anything_that_backpropagates_counts():
    # (batches read from a file: the inner loop trains, so it is the epoch's batch loop)
    src = PROGRESS_BAR.replace("import torch\n", "import torch\nfrom tqdm import tqdm\n", 1).replace(
        "with tqdm(loader) as bar:", "with open('log.txt') as bar:")
    assert codes_at(src, ["OPT2"]) == [("OPT201", row(src, "scheduler.step()"))]


# ``for i in range(0, n, batch_size)``: minibatches sliced by hand are a batch loop.
SLICED = """\
import torch
from torch import nn

head = nn.Linear(16, 4)
feats, labels = torch.randn(512, 16), torch.randint(0, 4, (512,))
opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30)
batch_size = 64
for epoch in range(30):
    perm = torch.randperm(feats.shape[0])
    for i in range(0, feats.shape[0], batch_size):
        idx = perm[i:i + batch_size]
        loss = nn.functional.cross_entropy(head(feats[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
"""


def test_opt202_epoch_scheduler_in_a_loop_slicing_minibatches_by_hand():
    assert codes_at(SLICED, ["OPT2"]) == [("OPT202", row(SLICED, "sched.step()"))]


def test_a_strided_range_that_is_not_a_batch_size_is_not_a_batch_loop():
    src = SLICED.replace("range(0, feats.shape[0], batch_size)", "range(0, feats.shape[0], 2)")
    assert codes_at(src, ["OPT2"]) == []
