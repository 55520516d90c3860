"""Training functions handed their optimizers (issue 13): by callers that hand each call another
optimizer, packed in a list the function unpacks, or wrapped by Horovod; and project helpers
that clip gradients in place. A step written in a function that is no caller of the loop's
function (or one that runs before the call, or after the caller rebinds the name it handed)
is no step of the handed optimizer. Exact (code, row) for the mistakes; silence where a
caller or a closure may step."""

from __future__ import annotations


from tests.conftest import cli_codes, codes_at

# -- a step elsewhere is another call's optimizer ----------------------------------------

# Notebook cells: each redefines the loop and runs it with a fresh optimizer; the first
# version lost its step. The later cells' steps are of their own optimizers.
CELLS_FIRST_WITHOUT_STEP = """\
import torch
from torch import nn, optim

params = torch.zeros(2, requires_grad=True)
optimizer = optim.SGD([params], lr=0.1)
loss = (params ** 2).sum()
optimizer.zero_grad()
loss.backward()
optimizer.step()


def fit(n_epochs, optimizer, params):
    for epoch in range(n_epochs):
        loss = (params - 1).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
{first_step}    return params


params = torch.zeros(2, requires_grad=True)
optimizer = optim.SGD([params], lr=0.01)
fit(100, optimizer, params)


def fit(n_epochs, optimizer, params):
    for epoch in range(n_epochs):
        loss = (params - 1).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return params


params = torch.zeros(2, requires_grad=True)
optimizer = optim.Adam([params], lr=0.1)
fit(100, optimizer, params)
"""


def test_a_redefined_loop_without_step_fires_though_later_cells_step():
    assert codes_at(CELLS_FIRST_WITHOUT_STEP.format(first_step=""), ["OPT104"]) == [("OPT104", 16)]


def test_the_redefined_loop_with_its_step_is_silent():
    text = CELLS_FIRST_WITHOUT_STEP.format(first_step="        optimizer.step()\n")
    assert codes_at(text, ["OPT104", "OPT101"]) == []


TWO_FUNCTIONS = """\
import torch
from torch import nn


def warm_up(model, optimizer, loader):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()


def train(model, optimizer, loader):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


model = nn.Linear(4, 2)
loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
warm_up(model, optimizer, loader)
{between}train(model, optimizer, loader)
"""


def test_a_step_in_another_function_after_the_name_is_rebound_is_another_optimizer():
    text = TWO_FUNCTIONS.format(between="optimizer = torch.optim.Adam(model.parameters(), lr=0.001)\n")
    assert codes_at(text, ["OPT104"]) == [("OPT104", 8)]


def test_a_step_of_the_same_optimizer_after_the_call_keeps_the_loop_silent():
    # warm_up's gradients reach train's first step only partly, but the author may step the
    # handed optimizer after the call: silence, as for a step after a loop
    assert codes_at(TWO_FUNCTIONS.format(between=""), ["OPT104"]) == []


def test_a_step_before_the_only_call_is_no_step_of_the_loop():
    text = TWO_FUNCTIONS.replace("warm_up(model, optimizer, loader)\n{between}train(model, optimizer, loader)\n",
                                 "train(model, optimizer, loader)\noptimizer = torch.optim.SGD(model.parameters())\n"
                                 "warm_up(model, optimizer, loader)\n")
    assert codes_at(text, ["OPT104"]) == [("OPT104", 8)]


CALLER_STEPS = """\
import torch
from torch import nn


def micro_batches(model, optimizer, chunks):
    for x, y in chunks:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()


def main():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(10):
        chunks = [(torch.randn(8, 4), torch.randn(8, 2))]
        micro_batches(model, optimizer, chunks)
        optimizer.step()
"""


def test_a_caller_that_steps_after_each_call_keeps_the_loop_silent():
    assert codes_at(CALLER_STEPS, ["OPT104"]) == []


LBFGS_CLOSURE = """\
import torch
from torch import nn


def fit(model, optimizer, x, y):
    for it in range(20):
        def closure():
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss
        optimizer.step(closure)


def train(model, optimizer, x, y):
    for it in range(20):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


model = nn.Linear(4, 2)
x, y = torch.randn(8, 4), torch.randn(8, 2)
fit(model, torch.optim.LBFGS(model.parameters()), x, y)
train(model, torch.optim.SGD(model.parameters(), lr=0.1), x, y)
"""


def test_a_closure_step_of_the_handed_optimizer_is_silent():
    assert codes_at(LBFGS_CLOSURE, ["OPT104", "OPT101", "OPT103"]) == []


# -- optimizers unpacked from a parameter ------------------------------------------------

PACKED = """\
import torch
from torch import nn


def train(models, loader, optimizers):
    encoder, head = models
    opt_encoder, opt_head = optimizers
    for x, y in loader:
        opt_encoder.zero_grad()
        opt_head.zero_grad()
        nn.functional.mse_loss(head(encoder(x)), y).backward()
        opt_encoder.step()
        opt_head.step()


def main():
    encoder, head = nn.Linear(4, 8), nn.Linear(8, 2)
    loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
    opt_encoder = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    opt_head = torch.optim.Adam(head.parameters(), lr=1e-3)
    optimizers = [opt_encoder, opt_head]
    for epoch in range(10):
        train([encoder, head], loader, optimizers)
"""


def test_an_optimizer_unpacked_from_a_list_parameter_and_never_stepped_fires():
    text = PACKED.replace("        opt_encoder.step()\n", "")
    assert codes_at(text, ["OPT104"]) == [("OPT104", 11)]


def test_both_unpacked_optimizers_stepped_is_silent():
    assert codes_at(PACKED, ["OPT104", "OPT101", "OPT103"]) == []


def test_callers_that_pack_other_lists_leave_the_elements_unknown():
    # one call hands the optimizers in the other order: which is which is not known
    text = PACKED.replace("        opt_encoder.step()\n", "") + \
        "    train([encoder, head], loader, [opt_head, opt_encoder])\n"
    assert codes_at(text, ["OPT104"]) == []


GAN = """\
import torch
from torch import nn
from torch.cuda.amp import GradScaler, autocast


def train_epoch(nets, optims, scaler, loader):
    net_g, net_d = nets
    optim_g, optim_d = optims
    for x in loader:
        with autocast():
            fake = net_g(x)
            loss_d = net_d(fake.detach()).mean() - net_d(x).mean()
        optim_d.zero_grad()
        scaler.scale(loss_d).backward()
        scaler.unscale_(optim_d)
        torch.nn.utils.clip_grad_norm_(net_d.parameters(), 1.0)
        scaler.step(optim_d)
        with autocast():
            loss_g = -net_d(fake).mean()
        optim_g.zero_grad()
        scaler.scale(loss_g).backward()
        scaler.unscale_(optim_g)
        torch.nn.utils.clip_grad_norm_(net_g.parameters(), 1.0)
        scaler.step(optim_g)
        scaler.update()


def run(loader, epochs):
    net_g, net_d = nn.Linear(4, 4), nn.Linear(4, 1)
    optim_g = torch.optim.AdamW(net_g.parameters(), 2e-4)
    optim_d = torch.optim.AdamW(net_d.parameters(), 2e-4)
    scaler = GradScaler()
    for epoch in range(epochs):
        train_epoch([net_g, net_d], [optim_g, optim_d], scaler, loader)
"""


def test_the_unpacked_gan_optimizers_are_silent_when_right():
    assert codes_at(GAN) == []


def test_a_step_before_the_backward_of_an_unpacked_optimizer_fires():
    text = GAN.replace("        scaler.scale(loss_d).backward()\n        scaler.unscale_(optim_d)\n"
                       "        torch.nn.utils.clip_grad_norm_(net_d.parameters(), 1.0)\n        scaler.step(optim_d)\n",
                       "        scaler.step(optim_d)\n        scaler.scale(loss_d).backward()\n"
                       "        scaler.unscale_(optim_d)\n        torch.nn.utils.clip_grad_norm_(net_d.parameters(), 1.0)\n")
    assert codes_at(text, ["OPT103"]) == [("OPT103", 14)]


def test_an_unpacked_optimizer_never_cleared_fires():
    text = GAN.replace("        optim_d.zero_grad()\n", "")
    assert codes_at(text, ["OPT101"]) == [("OPT101", 13)]


def test_a_clip_after_another_optimizers_unscale_is_on_scaled_gradients():
    # the discriminator's unscale leaves the generator's gradients scaled
    text = GAN.replace("        scaler.unscale_(optim_g)\n", "")
    assert codes_at(text, ["OPT503"]) == [("OPT503", 22)]


# -- Horovod's wrapper -------------------------------------------------------------------

HOROVOD = """\
import horovod.torch as hvd
import torch
from torch import nn

hvd.init()
model = nn.Linear(4, 2)
loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
optimizer = hvd.DistributedOptimizer(optimizer, named_parameters=model.named_parameters())
for x, y in loader:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
{step}
"""


def test_a_horovod_wrapped_optimizer_never_stepped_fires():
    assert codes_at(HOROVOD.format(step=""), ["OPT104"]) == [("OPT104", 12)]


def test_a_horovod_wrapped_optimizer_stepped_is_silent():
    assert codes_at(HOROVOD.format(step="    optimizer.step()"), ["OPT104"]) == []


# -- project helpers that clip in place --------------------------------------------------

CLIP_HELPER = """\
import torch
from torch import nn


def clip_grad_value_(parameters, clip_value):
    parameters = list(filter(lambda p: p.grad is not None, parameters))
    total = 0.0
    for p in parameters:
        total += p.grad.data.norm(2).item() ** 2
        if clip_value is not None:
            p.grad.data.clamp_(min=-clip_value, max=clip_value)
    return total ** 0.5


def main():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 10:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
{body}
"""


def test_a_project_clip_helper_after_the_step_fires():
    body = "        optimizer.step()\n        clip_grad_value_(model.parameters(), 1.0)"
    assert codes_at(CLIP_HELPER.format(body=body), ["OPT105"]) == [("OPT105", 22)]


def test_a_project_clip_helper_before_the_step_is_silent():
    body = "        clip_grad_value_(model.parameters(), 1.0)\n        optimizer.step()"
    assert codes_at(CLIP_HELPER.format(body=body), ["OPT105"]) == []


def test_a_project_clip_helper_given_no_bound_only_measures():
    # ``clip_value=None``: the clamp never runs, the call returns the norm (for a log)
    body = "        optimizer.step()\n        norm = clip_grad_value_(model.parameters(), None)"
    assert codes_at(CLIP_HELPER.format(body=body), ["OPT105"]) == []


def test_a_helper_named_for_clipping_that_clamps_no_gradient_is_no_clip():
    text = CLIP_HELPER.replace("p.grad.data.clamp_(min=-clip_value, max=clip_value)", "print(clip_value)")
    body = "        optimizer.step()\n        clip_grad_value_(model.parameters(), 1.0)"
    assert codes_at(text.format(body=body), ["OPT105"]) == []


UTILS = """\
def clip_gradient(optimizer, grad_clip):
    for group in optimizer.param_groups:
        for param in group["params"]:
            if param.grad is not None:
                param.grad.data.clamp_(-grad_clip, grad_clip)
"""

TRAIN = """\
import torch
from torch import nn

from tools.grads import clip_gradient


def main():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 10:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
{body}
"""


def _lint_project(tmp_path, body: str) -> list[tuple[str, int]]:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "grads.py").write_text(UTILS)
    (tmp_path / "train.py").write_text(TRAIN.format(body=body))
    return cli_codes(tmp_path, "train.py", "OPT105")


def test_a_clip_helper_of_another_file_after_the_step_fires(tmp_path):
    body = "        optimizer.step()\n        clip_gradient(optimizer, 5.0)"
    assert _lint_project(tmp_path, body) == [("OPT105", 14)]


def test_a_clip_helper_of_another_file_between_backward_and_step_is_silent(tmp_path):
    body = "        clip_gradient(optimizer, 5.0)\n        optimizer.step()"
    assert _lint_project(tmp_path, body) == []
