"""OPT101-OPT107 and OPT306: exact (code, row) on realistic loops, and exact fixed text."""

from __future__ import annotations


import pytest

from tests.conftest import codes_at, fixed, lint

HEAD = """\
import torch
from torch import nn

model = nn.Linear(10, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loader = [(torch.randn(8, 10), torch.randn(8, 1)) for _ in range(4)]
"""




# --------------------------------------------------------------------------- OPT101
OPT101_LOOP = HEAD + """
for epoch in range(3):
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
"""


def test_opt101_loop_never_clears():
    assert codes_at(OPT101_LOOP, ["OPT1"]) == [("OPT101", 11)]


def test_opt101_clearing_only_once_before_the_loop():
    src = HEAD + """
optimizer.zero_grad()
for x, y in loader:
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT101", 11)]


def test_opt101_train_function_with_optimizer_parameter():
    src = """
    import torch.nn.functional as F


    def train(model, loader, optimizer, epochs):
        model.train()
        for _ in range(epochs):
            for batch, target in loader:
                output = model(batch)
                loss = F.nll_loss(output, target)
                loss.backward()
                optimizer.step()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT101", 11)]


def test_opt101_nested_train_function_uses_the_enclosing_optimizer():
    src = """
    import torch


    def test_regression(model, mll, train_x, train_y):
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)

        def train(n_iter=50):
            for _ in range(n_iter):
                loss = -mll(model(train_x), train_y)
                loss.backward()
                optimizer.step()

        train()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT101", 11)]


def test_opt101_other_module_cleared_does_not_count():
    src = """
    import torch
    from torch import nn

    encoder, decoder = nn.Linear(4, 4), nn.Linear(4, 4)
    enc_opt = torch.optim.Adam(encoder.parameters())
    dec_opt = torch.optim.Adam(decoder.parameters())
    for x in [torch.randn(2, 4)] * 3:
        encoder.zero_grad()
        loss = decoder(encoder(x)).sum()
        loss.backward()
        enc_opt.step()
        dec_opt.step()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT101", 11)]


def test_opt101_fix_inserts_zero_grad_at_top_of_loop():
    text, left = fixed(OPT101_LOOP, ["OPT101"], unsafe=True)
    assert text == HEAD + """
for epoch in range(3):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
"""
    assert left == []


def test_opt101_fix_is_unsafe_only():
    text, left = fixed(OPT101_LOOP, ["OPT101"], unsafe=False)
    assert text == OPT101_LOOP
    assert left == [("OPT101", 11)]


# --------------------------------------------------------------------------- OPT102
OPT102_LOOP = HEAD + """
for x, y in loader:
    pred = model(x)
    loss = nn.functional.mse_loss(pred, y)
    # compute gradients
    loss.backward()
    optimizer.zero_grad()  # reset
    optimizer.step()
"""


def test_opt102_clear_between_backward_and_step():
    assert codes_at(OPT102_LOOP, ["OPT1"]) == [("OPT102", 13)]


def test_opt102_module_zero_grad():
    src = HEAD + """
for x, y in loader:
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    model.zero_grad()
    optimizer.step()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT102", 11)]


def test_opt102_fix_moves_clear_before_backward_with_comments():
    text, left = fixed(OPT102_LOOP, ["OPT1"])
    assert text == HEAD + """
for x, y in loader:
    pred = model(x)
    loss = nn.functional.mse_loss(pred, y)
    optimizer.zero_grad()  # reset
    # compute gradients
    loss.backward()
    optimizer.step()
"""
    assert left == []


# --------------------------------------------------------------------------- OPT103
OPT103_LOOP = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.step()
    loss.backward()
"""


def test_opt103_step_before_backward_reported_alone():
    # cyclically the clear also sits between the previous backward and this step:
    # only OPT103 is reported
    assert codes_at(OPT103_LOOP, ["OPT1"]) == [("OPT103", 11)]


def test_opt103_with_clear_after_step():
    src = HEAD + """
for x, y in loader:
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.step()
    optimizer.zero_grad()
    loss.backward()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT103", 10)]


def test_opt103_fix_moves_step_after_backward():
    text, left = fixed(OPT103_LOOP, ["OPT1"])
    assert text == HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
"""
    assert left == []


# --------------------------------------------------------------------------- OPT104
def test_opt104_loop_clears_and_backward_but_never_steps():
    src = """
    import torch
    from torch import nn


    def train(model: nn.Module, loader, epochs: int = 5):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            for x, y in loader:
                optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
        return model
    """
    assert codes_at(src, ["OPT1"]) == [("OPT104", 12)]


def test_opt104_optimizer_built_and_never_used():
    src = """
    import torch
    from torch.optim.lr_scheduler import StepLR


    def fit(model, x, y, steps=100):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = StepLR(opt, step_size=10)
        for _ in range(steps):
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
        return model
    """
    assert codes_at(src, ["OPT1"]) == [("OPT104", 7)]


def test_opt104_not_when_returned_or_passed_on():
    src = """
    import torch


    def build(model, x, y):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = model(x).sum()
        loss.backward()
        return opt


    def fit(model, x, y, trainer):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = model(x).sum()
        loss.backward()
        trainer.run(model, opt)
    """
    assert codes_at(src, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT105
OPT105_LOOP = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    loss.backward()
    optimizer.step()
"""


def test_opt105_clip_before_backward():
    assert codes_at(OPT105_LOOP, ["OPT1"]) == [("OPT105", 11)]


def test_opt105_clip_after_step():
    src = HEAD + """
from torch.nn.utils import clip_grad_value_

for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    clip_grad_value_(model.parameters(), 0.5)
"""
    assert codes_at(src, ["OPT1"]) == [("OPT105", 15)]


def test_opt105_clip_under_a_config_flag_after_the_step():
    # ``if args.clip > 0:`` never changes inside the loop: whenever the clip runs, it is late
    src = HEAD + """
clip = 0.5

for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    if clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
"""
    assert codes_at(src, ["OPT1"]) == [("OPT105", 16)]


def test_opt105_clip_after_the_step_inside_the_accumulation_window():
    src = HEAD + """
accumulate = 4

for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y) / accumulate
    loss.backward()
    if (i + 1) % accumulate == 0:
        optimizer.step()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT105", 15)]


def test_opt105_clip_in_the_window_before_its_step_is_fine():
    src = HEAD + """
accumulate = 4

for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y) / accumulate
    loss.backward()
    if (i + 1) % accumulate == 0:
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT1"]) == []


def test_opt105_clip_every_pass_after_a_windowed_step():
    # the clip runs on every micro-batch, after the step that ends a window: the step uses
    # clip(partial sum) + the last micro-batch's gradient, which nothing bounds
    src = HEAD + """
accumulate = 4

for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y) / accumulate
    loss.backward()
    if (i + 1) % accumulate == 0:
        optimizer.step()
        optimizer.zero_grad()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
"""
    assert codes_at(src, ["OPT105"]) == [("OPT105", 16)]
    (finding,) = lint(src, ["OPT105"])
    assert "after a step it is not under the condition of" in finding.message
    assert finding.fix is None  # the step is inside the window's block: moving is the author's call


def test_opt105_clip_after_a_flagged_step():
    src = HEAD + """
use_optimizer = True

for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    if use_optimizer:
        optimizer.step()
    else:
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    nn.utils.clip_grad_norm_(model.parameters(), 0.25)
"""
    assert codes_at(src, ["OPT105"]) == [("OPT105", 20)]


def test_opt105_clip_in_the_other_arm_of_the_step_is_silent():
    src = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    if loss.item() < 100:
        optimizer.step()
    else:
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
"""
    assert codes_at(src, ["OPT105"]) == []


def test_opt105_clip_under_a_flag_before_the_backward():
    src = HEAD + """
use_clip = True

for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    if use_clip:
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT105", 14)]


def test_opt105_clip_before_the_backward_of_its_own_arm():
    # the other arm (mixed precision) backpropagates before its clip; this arm clips first
    src = HEAD + """
use_amp = False
scaler = torch.cuda.amp.GradScaler(enabled=use_amp)

for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    if use_amp:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
    else:
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        loss.backward()
        optimizer.step()
"""
    assert codes_at(src, ["OPT1", "OPT5"]) == [("OPT105", 21)]
    # both arms in order: silent
    right = src.replace("""        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        loss.backward()""", """        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)""")
    assert codes_at(right, ["OPT1", "OPT5"]) == []


def test_opt105_clip_in_a_nested_loop_is_not_claimed():
    src = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    for group in optimizer.param_groups:
        nn.utils.clip_grad_norm_(group["params"], 1.0)
"""
    assert codes_at(src, ["OPT105"]) == []


def test_opt105_clip_before_an_inner_loop_of_micro_batches():
    src = HEAD + """
for step in range(100):
    nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y) / len(loader)
        loss.backward()
    optimizer.step()
    optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT105", 9)]


def test_opt105_fix_moves_clip_before_step():
    text, left = fixed(OPT105_LOOP, ["OPT1"])
    assert text == HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
"""
    assert left == []


def test_opt105_lightning_training_step_automatic_optimization():
    src = """
    import lightning as L
    import torch
    from torch import nn


    class Classifier(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(32, 4)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)
    """
    assert codes_at(src, ["OPT1"]) == [("OPT105", 15)]


def test_opt105_lightning_manual_optimization_clip_in_place_is_fine():
    src = """
    import pytorch_lightning as pl
    import torch


    class GAN(pl.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.automatic_optimization = False
            self.net = net

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            opt.zero_grad()
            loss = self.net(batch).mean()
            self.manual_backward(loss)
            self.clip_gradients(opt, gradient_clip_val=0.5, gradient_clip_algorithm="norm")
            opt.step()

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=2e-4)
    """
    assert codes_at(src, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT106
OPT106_LOOP = HEAD + """accum_steps = 4

for i, (x, y) in enumerate(loader):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y) / accum_steps
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
"""


def test_opt106_clear_every_micro_batch():
    assert codes_at(OPT106_LOOP, ["OPT1"]) == [("OPT106", 10)]


def test_opt106_inner_loop_window():
    src = HEAD + """
micro_batches = 4
for batch in loader:
    for micro in range(micro_batches):
        optimizer.zero_grad()
        x, y = batch
        loss = nn.functional.mse_loss(model(x), y) / micro_batches
        loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT106", 11)]


def test_opt106_fix_moves_clear_under_the_step():
    text, left = fixed(OPT106_LOOP, ["OPT1"], unsafe=True)
    assert text == HEAD + """accum_steps = 4

for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y) / accum_steps
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
"""
    assert left == []


def test_opt106_fix_deletes_clear_when_window_already_clears():
    src = HEAD + """accum_steps = 4

for i, (x, y) in enumerate(loader):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y) / accum_steps
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT106", 10)]
    text, left = fixed(src, ["OPT1"], unsafe=True)
    assert text == HEAD + """accum_steps = 4

for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y) / accum_steps
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
"""
    assert left == []


def test_opt106_not_for_sanity_guarded_step():
    src = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    if torch.isfinite(norm):
        optimizer.step()
"""
    assert codes_at(src, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT107
def test_opt107_modulo_window_not_averaged():
    src = HEAD + """grad_accum = 8

for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    if (i + 1) % grad_accum == 0:
        optimizer.step()
        optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT107", 11)]


def test_opt107_inner_loop_window_not_averaged():
    src = HEAD + """
for chunks in loader:
    optimizer.zero_grad()
    for micro in range(4):
        x, y = chunks
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT1"]) == [("OPT107", 13)]


def test_opt107_not_when_divided():
    src = HEAD + """grad_accum = 8

for i, (x, y) in enumerate(loader):
    loss = nn.functional.mse_loss(model(x), y)
    loss = loss / grad_accum
    loss.backward()
    if (i + 1) % grad_accum == 0:
        optimizer.step()
        optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT1"]) == []


# --------------------------------------------------------------------------- OPT306
def test_opt306_lbfgs_step_without_closure():
    src = """
    import torch
    from torch.optim import LBFGS

    w = torch.zeros(3, requires_grad=True)
    opt = LBFGS([w], lr=1.0)
    for _ in range(5):
        opt.zero_grad()
        loss = (w - 1).pow(2).sum()
        loss.backward()
        opt.step()
    """
    assert codes_at(src, ["OPT306"]) == [("OPT306", 11)]


def test_opt306_not_with_closure_or_other_optimizer():
    src = """
    import torch

    w = torch.zeros(3, requires_grad=True)
    lbfgs = torch.optim.LBFGS([w])
    sgd = torch.optim.SGD([w], lr=0.1)


    def closure():
        lbfgs.zero_grad()
        loss = (w - 1).pow(2).sum()
        loss.backward()
        return loss


    for _ in range(5):
        lbfgs.step(closure)
        sgd.zero_grad()
        (w - 2).pow(2).sum().backward()
        sgd.step()
    """
    assert codes_at(src, ["OPT1", "OPT306"]) == []


# --------------------------------------------------------------------------- through the CLI
def test_cli_fix_unsafe_rewrites_the_file_and_exits_clean(tmp_path):
    from tests.conftest import invoke

    path = tmp_path / "train.py"
    path.write_text(OPT101_LOOP + OPT102_LOOP[len(HEAD):], encoding="utf-8")
    result = invoke(["check", "--no-cache", "--select", "OPT1", "--fix", "--unsafe-fixes", str(path)])
    assert result.exit_code == 0, result.stdout
    assert path.read_text(encoding="utf-8") == HEAD + """
for epoch in range(3):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()

for x, y in loader:
    pred = model(x)
    loss = nn.functional.mse_loss(pred, y)
    optimizer.zero_grad()  # reset
    # compute gradients
    loss.backward()
    optimizer.step()
"""


def test_cli_without_unsafe_fixes_leaves_opt101(tmp_path):
    from tests.conftest import invoke

    path = tmp_path / "train.py"
    path.write_text(OPT101_LOOP, encoding="utf-8")
    result = invoke(["check", "--no-cache", "--select", "OPT1", "--fix", "--output-format", "concise", str(path)])
    assert result.exit_code == 1
    assert path.read_text(encoding="utf-8") == OPT101_LOOP
    assert f"{path}:11:9: OPT101 " in result.stdout


def test_opt101_profiler_and_env_steps_do_not_hide_the_missing_clear():
    src = """
    import torch


    def train(policy, env, optimizer, profiler, steps):
        obs = env.reset()
        for t in range(steps):
            action = policy(obs)
            obs, reward, done, info = env.step(action)
            loss = -(reward * action).mean()
            loss.backward()
            optimizer.step()
            profiler.step()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT101", 11)]


def test_opt105_lightning_automatic_optimization_reading_the_lr():
    # self.optimizers() only to read the learning rate: still automatic optimization
    src = """
    import pytorch_lightning as pl
    import torch


    class Model(pl.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def training_step(self, batch, batch_idx):
            loss = self.net(batch).mean()
            torch.nn.utils.clip_grad_value_(self.net.parameters(), 0.5)
            self.log("lr", self.optimizers().param_groups[0]["lr"])
            return loss
    """
    assert codes_at(src, ["OPT1"]) == [("OPT105", 13)]


def test_opt101_unittest_asserts_and_model_attributes_do_not_hide_it():
    src = """
    import unittest

    import torch


    class TestGP(unittest.TestCase):
        def _train(self, model, mll, optimizer: torch.optim.Optimizer, epochs=30):
            for _ in range(epochs):
                output = model(*model.train_inputs)
                loss = -mll(output, model.train_targets)
                self.assertFalse(torch.isnan(loss).item())
                loss.backward()
                optimizer.step()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT101", 13)]


def test_opt101_optimizer_from_a_factory_the_analysis_cannot_see():
    src = """
    from mmengine import build_optimizer

    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg.optimizer)
    for data in loader:
        loss = model(data).mean()
        loss.backward()
        optimizer.step()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT101", 8)]


# --------------------------------------------------------------------------- OPT101 and aliases
# Found in a sweep of real trainers (fedml's my_model_trainer.py): the module is cleared under
# another spelling of the same object than the optimizer was built from.
ALIASED_TRAINER = """
import torch
import torch.nn as nn


class ModelTrainer:
    def __init__(self, model):
        self.model = model

    def train(self, train_data, device, args):
        model = self.model
        model.to(device)
        model.train()
        criterion = nn.CrossEntropyLoss()
        if args.client_optimizer == "sgd":
            optimizer = torch.optim.SGD(self.model.parameters(), lr=args.lr)
        else:
            optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, self.model.parameters()), lr=args.lr)
        for epoch in range(args.epochs):
            for x, labels in train_data:
                {clear}
                loss = criterion(model(x), labels)
                loss.backward()
                optimizer.step()
"""


def test_opt101_silent_when_the_module_is_cleared_through_an_alias():
    assert codes_at(ALIASED_TRAINER.format(clear="model.zero_grad()"), ["OPT101"]) == []


def test_opt101_silent_when_the_optimizer_is_built_through_an_alias():
    src = """
    import torch
    import torch.nn.functional as F


    class Trainer:
        def __init__(self, model):
            self.model = model

        def fit(self, loader, epochs):
            model = self.model
            self.model.train()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for epoch in range(epochs):
                for x, y in loader:
                    self.model.zero_grad()
                    loss = F.mse_loss(model(x), y)
                    loss.backward()
                    optimizer.step()
    """
    assert codes_at(src, ["OPT101"]) == []


def test_opt101_silent_for_a_local_alias_of_the_module():
    src = """
    import torch
    import torch.nn.functional as F


    def train(model, loader, epochs):
        net = model
        net.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(epochs):
            for x, y in loader:
                net.zero_grad()
                loss = F.mse_loss(net(x), y)
                loss.backward()
                optimizer.step()
    """
    assert codes_at(src, ["OPT101"]) == []


def test_opt101_still_fires_when_the_aliased_module_is_never_cleared():
    assert codes_at(ALIASED_TRAINER.format(clear="pass"), ["OPT101"]) == [("OPT101", 23)]


def test_opt101_an_alias_bound_to_two_objects_is_unsure_and_silent():
    src = ALIASED_TRAINER.format(clear="model.zero_grad()").replace(
        "        model.train()\n", "        model.train()\n        if args.ema:\n            model = self.ema_model\n")
    assert "model = self.ema_model" in src
    assert codes_at(src, ["OPT101"]) == []


# An alias that is not a plain name: the DDP-unwrapping conditional and the wrapper itself share
# the module's parameters (sweep repros /tmp/ml/fp_repros/OPT101_4.py, OPT101_5.py).
def test_opt101_silent_when_cleared_through_the_unwrapped_module():
    src = """
    import torch
    import torch.nn.functional as F


    def fit(model, loader, epochs):
        net = model.module if hasattr(model, "module") else model
        net.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(epochs):
            for x, y in loader:
                net.zero_grad()
                loss = F.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
    """
    assert codes_at(src, ["OPT1"]) == []


def test_opt101_silent_when_the_optimizer_holds_the_ddp_wrapper_and_the_module_is_cleared():
    src = """
    import torch
    import torch.nn.functional as F


    def fit(model, loader, epochs):
        model.train()
        ddp_model = torch.nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp_model.parameters(), lr=0.1)
        for epoch in range(epochs):
            for x, y in loader:
                model.zero_grad()
                loss = F.mse_loss(ddp_model(x), y)
                loss.backward()
                optimizer.step()
    """
    assert codes_at(src, ["OPT1"]) == []


def test_opt101_a_module_reassigned_from_itself_is_no_alias_of_another():
    # ``netG = netG.to(device)`` links netG only with itself: clearing netD still leaves
    # optG's gradients accumulating
    src = """
    import torch
    import torch.nn.functional as F


    def fit(netG, netD, loader, epochs, device):
        netG = netG.to(device)
        netD = netD.to(device)
        netG.train()
        optG = torch.optim.Adam(netG.parameters(), lr=2e-4)
        optD = torch.optim.Adam(netD.parameters(), lr=2e-4)
        for epoch in range(epochs):
            for real in loader:
                netD.zero_grad()
                fake = netG(torch.randn(8, 100))
                lossD = F.softplus(netD(fake.detach())).mean() + F.softplus(-netD(real)).mean()
                lossD.backward()
                optD.step()
                lossG = F.softplus(-netD(fake)).mean()
                lossG.backward()
                optG.step()
    """
    assert codes_at(src, ["OPT101"]) == [("OPT101", 17)]


# --------------------------------------------------------------------------- OPT102, two optimizers
# Found in a sweep (deeprobust graph/defense/prognn.py, Pro-GNN): SGD steps on the gradients, then a
# proximal optimizer over the same parameters (its step() never reads them) is cleared and stepped.
PROXIMAL_AFTER_SGD = """
import torch
from torch.optim import Optimizer


class PGD(Optimizer):
    def __init__(self, params, proxs, lr=0.01):
        super().__init__(params, dict(lr=lr, proxs=proxs))

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                for prox in group["proxs"]:
                    p.data = prox(p.data, alpha=group["lr"])


def prox_l1(data, alpha):
    return torch.sign(data) * torch.clamp(data.abs() - alpha, min=0)


def fit(estimator, loss_fn, epochs):
    optimizer_adj = torch.optim.SGD(estimator.parameters(), lr=0.01, momentum=0.9)
    optimizer_l1 = PGD(estimator.parameters(), proxs=[prox_l1], lr=0.01)
    for epoch in range(epochs):
        optimizer_adj.zero_grad()
        loss = loss_fn(estimator())
        loss.backward()
        optimizer_adj.step()
        optimizer_l1.zero_grad()
        optimizer_l1.step()
"""


def test_opt102_silent_when_another_optimizer_of_the_same_parameters_stepped_first():
    assert codes_at(PROXIMAL_AFTER_SGD, ["OPT1"]) == []


def test_opt102_still_fires_when_the_optimizer_that_stepped_holds_other_parameters():
    src = """
    import torch


    def fit(netG, netD, loader, epochs):
        optD = torch.optim.Adam(netD.parameters(), lr=2e-4)
        optG = torch.optim.Adam(netG.parameters(), lr=2e-4)
        for epoch in range(epochs):
            for real in loader:
                optD.zero_grad()
                loss = netD(netG(real)).mean()
                loss.backward()
                optD.step()
                optG.zero_grad()
                optG.step()
    """
    assert codes_at(src, ["OPT102"]) == [("OPT102", 14)]


# ------------------------------------------------ OPT104 through accelerator.prepare
PREPARED = """\
import torch
from torch import nn
from accelerate import Accelerator


def main():
    accelerator = Accelerator()
    generator, critic = nn.Linear(4, 4), nn.Linear(4, 1)
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4)
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4)
    loader = [torch.randn(8, 4) for _ in range(4)]
    generator, critic, opt_g, opt_c, loader = accelerator.prepare(generator, critic, opt_g, opt_c, loader)
    for epoch in range(3):
        for x in loader:
            opt_g.zero_grad()
            opt_c.zero_grad()
            accelerator.backward(critic(generator(x)).mean())
            opt_g.step()
"""


def test_opt104_an_optimizer_prepared_and_cleared_but_never_stepped():
    assert codes_at(PREPARED, ["OPT104"]) == [("OPT104", 10)]


@pytest.mark.parametrize("change", [
    ("            opt_g.step()\n", "            opt_g.step()\n            opt_c.step()\n"),
    ("            opt_g.step()\n", "            opt_g.step()\n            if epoch % 5 == 0:\n                opt_c.step()\n"),
    ("    for epoch in range(3):\n", "    train_critic(critic, opt_c, loader)\n    for epoch in range(3):\n"),
    ("accelerator.prepare(", "accelerator.unwrap(")])
def test_opt104_silent_when_the_prepared_optimizer_is_stepped_or_handed_on(change):
    assert codes_at(PREPARED.replace(*change), ["OPT104"]) == []


# ------------------------------------------- optimizers iterated from a literal list (issue 13)
SEVERAL = HEAD + """
nets = [nn.Linear(10, 1) for _ in range(3)]
opt_sgd = torch.optim.SGD(nets[0].parameters(), lr=0.1)
opt_momentum = torch.optim.SGD(nets[1].parameters(), lr=0.1, momentum=0.9)
opt_adam = torch.optim.Adam(nets[2].parameters(), lr=1e-3)
optimizers = [opt_sgd, opt_momentum, opt_adam]

for x, y in loader:
    for net, opt in zip(nets, optimizers):
        loss = nn.functional.mse_loss(net(x), y)
        {clear}
        loss.backward()
        opt.step()
"""


def test_opt101_an_optimizer_drawn_from_a_literal_list_is_never_cleared():
    src = SEVERAL.format(clear="pass")
    assert codes_at(src, ["OPT101"]) == [("OPT101", src.splitlines().index("        loss.backward()") + 1)]


@pytest.mark.parametrize("clear", ["opt.zero_grad()", "net.zero_grad()"])
def test_an_optimizer_drawn_from_a_literal_list_that_is_cleared_is_silent(clear):
    assert codes_at(SEVERAL.format(clear=clear), ["OPT101"]) == []


def test_a_list_with_something_else_than_optimizers_is_not_followed():
    src = SEVERAL.format(clear="pass").replace("[opt_sgd, opt_momentum, opt_adam]", "[opt_sgd, opt_momentum, make()]")
    assert codes_at(src, ["OPT101"]) == []


def test_opt105_torch_reached_through_a_star_import():
    # ``torch`` itself comes from ``from helpers import *``; the file imports torch's
    # submodules, so the name is the package (TCN's scripts)
    src = """\
import torch.nn as nn
import torch.optim as optim
from helpers import *

model = nn.Linear(10, 1)
optimizer = optim.SGD(model.parameters(), lr=0.1)

for x, y in batches():
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT105"]) == [("OPT105", 11)]
    # a name the star import may bind to anything stays unknown
    other = src.replace("torch.nn.utils.clip_grad_norm_", "tools.nn.utils.clip_grad_norm_")
    assert codes_at(other, ["OPT105"]) == []
