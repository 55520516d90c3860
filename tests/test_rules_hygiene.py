"""OPT601-OPT604: exact (code, row) on realistic training code, and exact fixed text."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import codes_at, fixed

HEAD = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.2), nn.Linear(10, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.MSELoss()
"""


def row(src: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(textwrap.dedent(src).splitlines(), 1) if needle in line]
    return hits[nth - 1]




# --------------------------------------------------------------------------- OPT601
OPT601_LOOP = HEAD + """
for epoch in range(10):
    running_loss = 0.0
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        running_loss += loss
    print(running_loss / len(train_loader))
"""


def test_opt601_running_total_keeps_the_graph():
    assert codes_at(OPT601_LOOP, ["OPT6"]) == [("OPT601", row(OPT601_LOOP, "running_loss += loss"))]


def test_opt601_unsafe_fix_uses_item():
    text, remaining = fixed(OPT601_LOOP, ["OPT601"], unsafe=True)
    assert text == OPT601_LOOP.replace("running_loss += loss\n", "running_loss += loss.item()\n")
    assert remaining == []
    assert fixed(OPT601_LOOP, ["OPT601"])[0] == OPT601_LOOP


def test_opt601_weighted_by_batch_size_and_before_backward():
    src = HEAD + """
total = 0
for x, y in train_loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    total += loss * x.size(0)
    loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT6"]) == [("OPT601", row(src, "total += loss"))]


def test_opt601_scaled_backward_and_periodic_reset():
    src = HEAD + """
scaler = torch.amp.GradScaler()
running = 0.0
for i, (x, y) in enumerate(train_loader):
    optimizer.zero_grad()
    with torch.autocast("cuda"):
        loss = criterion(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    running += loss
    if i % 100 == 99:
        print(running / 100)
        running = 0.0
"""
    assert codes_at(src, ["OPT601"]) == [("OPT601", row(src, "running += loss"))]


@pytest.mark.parametrize("tail", [
    # .item() / .detach()
    """
total = 0.0
for x, y in train_loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    total += loss.item()
    total += loss.detach()
""",
    # building the loss itself before the backward
    """
for x, y in train_loader:
    optimizer.zero_grad()
    out, aux_loss = model(x)
    loss = criterion(out, y)
    loss += 0.1 * aux_loss
    loss += aux_loss
    loss.backward()
    optimizer.step()
""",
    # validation under no_grad
    """
model.eval()
val_loss = 0
with torch.no_grad():
    for x, y in val_loader:
        loss = criterion(model(x), y)
        val_loss += loss
""",
    # the summed losses are backpropagated once: the total is the loss
    """
for x, y in train_loader:
    optimizer.zero_grad()
    total = 0
    for head in heads:
        loss = criterion(head(x), y)
        total += loss
    total.backward()
    optimizer.step()
""",
    # a total reset on every pass does not outlive the iteration
    """
for x, y in train_loader:
    optimizer.zero_grad()
    step_loss = 0
    loss = criterion(model(x), y)
    loss.backward()
    step_loss += loss
    optimizer.step()
""",
    # a per-optimizer-step total (accumulation window), reset when the optimizer steps (torchtune)
    """
running_loss = 0
for idx, batch in enumerate(train_loader):
    current_loss = criterion(model(batch), batch) / 4
    running_loss += current_loss
    current_loss.backward()
    if (idx + 1) % 4 == 0:
        optimizer.step()
        optimizer.zero_grad()
        print(running_loss.item())
        running_loss = 0
""",
    # reassigned to a float between the backward and the sum
    """
epoch_loss = 0.0
for x, y in train_loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    loss = loss.item()
    epoch_loss += loss
""",
    # not backpropagated in this loop
    """
epoch_loss = 0.0
for x, y in train_loader:
    loss = train_step(model, x, y)
    epoch_loss += loss
""",
    # a list of losses, not a numeric running total
    """
losses = []
for x, y in train_loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    losses += [loss.item()]
""",
])
def test_opt601_must_not_fire(tail):
    assert codes_at(HEAD + tail, ["OPT601"]) == []


def test_opt601_decorated_no_grad_evaluation():
    src = HEAD + """

@torch.no_grad()
def evaluate(model, loader):
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        total += loss
    return total
"""
    assert codes_at(src, ["OPT601"]) == []


# --------------------------------------------------------------------------- OPT602
def test_opt602_backward_of_a_loss_computed_under_no_grad():
    src = HEAD + """
for x, y in train_loader:
    optimizer.zero_grad()
    with torch.no_grad():
        loss = criterion(model(x), y)
        loss.backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT6"]) == [("OPT602", row(src, "loss.backward()"))]


def test_opt602_inference_mode_and_decorated_function():
    src = HEAD + """

@torch.inference_mode()
def finetune_step(x, y):
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()


def other_step(x, y):
    with torch.inference_mode():
        criterion(model(x), y).backward()
"""
    assert codes_at(src, ["OPT602"]) == [("OPT602", row(src, "loss.backward()")),
                                         ("OPT602", row(src, "criterion(model(x), y).backward()"))]


def test_opt602_scaled_backward_under_no_grad():
    src = HEAD + """
scaler = torch.amp.GradScaler()
loss = criterion(model(x), y)
with torch.no_grad():
    scaler.scale(loss).backward()
"""
    assert codes_at(src, ["OPT602"]) == [("OPT602", row(src, "scaler.scale(loss).backward()"))]


@pytest.mark.parametrize("tail", [
    # enable_grad nested inside no_grad (test-time adaptation, adversarial examples)
    """
with torch.no_grad():
    feats = model(x)
    with torch.enable_grad():
        x_adv = x.clone().requires_grad_()
        loss = criterion(model(x_adv), y)
        loss.backward()
""",
    # a function defined inside the block runs later, outside it
    """
with torch.no_grad():
    def closure():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        return loss
optimizer.step(closure)
""",
    # the loss was computed with grad before the block: the backward works
    """
loss = criterion(model(x), y)
with torch.no_grad():
    loss.backward()
    for p in model.parameters():
        p -= 0.1 * p.grad
""",
    # a test of the error itself
    """
def test_backward_in_no_grad_raises():
    with torch.no_grad():
        loss = criterion(model(x), y)
        with pytest.raises(RuntimeError):
            loss.backward()
""",
    # inference_mode(False) does not disable grad
    """
with torch.inference_mode(False):
    loss = criterion(model(x), y)
    loss.backward()
""",
])
def test_opt602_must_not_fire(tail):
    assert codes_at(HEAD + tail, ["OPT602"]) == []


# A test of the error (``analysis.expected_errors``, the one answer the construction rules read
# too): pytest's and unittest's assertion contexts, a helper defined inside one; not a context that
# only looks like one, and not a helper defined after the block.
EXPECTING = """
class BackwardTests(unittest.TestCase):
    def test_backward_in_no_grad_raises(self):
        with {context}:
            def step():
                with torch.no_grad():
                    loss = criterion(model(x), y)
                    loss.backward()
            step()
"""


@pytest.mark.parametrize("context", [
    'self.assertRaisesRegexp(RuntimeError, "does not require grad")',  # unittest's alias before 3.12
    "self.assertRaisesRegex(RuntimeError, \"does not require grad\")",
    "pytest.raises(RuntimeError)",
])
def test_opt602_silent_in_a_helper_defined_inside_a_test_of_the_error(context):
    assert codes_at(HEAD + EXPECTING.format(context=context), ["OPT602"]) == []


@pytest.mark.parametrize("context", [
    "recorder.raises_regex(RuntimeError)",  # neither pytest's nor unittest's
    "torch.autograd.set_detect_anomaly(True)",
])
def test_opt602_fires_under_a_context_that_expects_no_error(context):
    src = HEAD + EXPECTING.format(context=context)
    row = next(i for i, text in enumerate(src.splitlines(), 1) if "loss.backward()" in text)
    assert codes_at(src, ["OPT602"]) == [("OPT602", row)]


def test_opt602_enable_grad_decorator_inside_a_no_grad_class_method():
    src = HEAD + """

@torch.enable_grad()
def attack(model, x, y):
    x = x.clone().requires_grad_()
    loss = criterion(model(x), y)
    loss.backward()
    return x.grad.sign()


with torch.no_grad():
    x_adv = attack(model, x, y)
"""
    assert codes_at(src, ["OPT602"]) == []


# --------------------------------------------------------------------------- OPT603
OPT603_LOOP = HEAD + """
model.train()
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val = sum(criterion(model(x), y).item() for x, y in val_loader)
"""


def test_opt603_eval_never_undone():
    assert codes_at(OPT603_LOOP, ["OPT6"]) == [("OPT603", row(OPT603_LOOP, "model.eval()"))]


def test_opt603_unsafe_fix_inserts_train_at_the_top_of_the_epoch_loop():
    text, remaining = fixed(OPT603_LOOP, ["OPT603"], unsafe=True)
    assert text == OPT603_LOOP.replace("for epoch in range(10):\n",
                                       "for epoch in range(10):\n    model.train()\n")
    assert remaining == []


def test_opt603_eval_in_a_validation_helper():
    src = HEAD + """

def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(criterion(model(x), y).item() for x, y in loader)


for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    validate(model, val_loader)
"""
    assert codes_at(src, ["OPT6"]) == [("OPT603", row(src, "model.eval()"))]


@pytest.mark.parametrize("tail", [
    # train() at the top of the epoch loop
    """
for epoch in range(10):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    model.eval()
""",
    # train() right after validation
    """
model.train()
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    model.eval()
    evaluate()
    model.train()
""",
    # train() inside the training helper called from the loop
    """
def train_one_epoch(model, loader):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()


for epoch in range(10):
    train_one_epoch(model, train_loader)
    model.eval()
""",
    # a frozen teacher: never trained, eval is right
    """
teacher = nn.Linear(10, 1)
for epoch in range(10):
    teacher.eval()
    for x, y in train_loader:
        optimizer.zero_grad()
        with torch.no_grad():
            target = teacher(x)
        criterion(model(x), target).backward()
        optimizer.step()
""",
    # training mode set through a flag
    """
for epoch in range(10):
    for phase in ("train", "val"):
        model.train(phase == "train")
        for x, y in loaders[phase]:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            if phase == "train":
                loss.backward()
                optimizer.step()
    model.eval()
""",
    # an unknown function receives the model: it may call train()
    """
for epoch in range(10):
    engine.run_epoch(model, train_loader)
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    model.eval()
""",
    # eval only in the last epoch: no training follows
    """
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    if epoch == 9:
        model.eval()
""",
    # eval after the epoch loop
    """
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
model.eval()
""",
])
def test_opt603_must_not_fire(tail):
    assert codes_at(HEAD + tail, ["OPT603"]) == []


# --------------------------------------------------------------------------- OPT604
OPT604_SRC = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(10, 10)

    def forward(self, x):
        return torch.relu(self.proj(x))


class Classifier(Encoder):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(10, 2)

    def forward(self, x):
        h = super().forward(x)
        return self.head.forward(h)

    def features(self, x):
        return self.forward(x)


model = Classifier().to("cuda")
out = model.forward(torch.randn(4, 10))
lin = nn.Linear(3, 3)
y = lin.forward(torch.randn(2, 3))
"""


def test_opt604_harmless_forward_calls_stay_silent():
    # a submodule called from its parent's forward, and top-level calls with no hooks, no
    # wrapper and no loop: nothing is skipped (harmful shapes: test_rule_opt604_harm.py)
    assert codes_at(OPT604_SRC, ["OPT6"]) == []


def test_opt604_annotated_parameter_in_an_evaluation_loop():
    src = """
    import torch
    import torch.nn as nn


    @torch.no_grad()
    def predict(net: nn.Module, batches):
        return [net.forward(x) for x in batches] + [net.forward(x) for x in ()]


    @torch.no_grad()
    def evaluate(net: nn.Module, batches):
        outs = []
        for x in batches:
            outs.append(net.forward(x))
        return outs
    """
    assert codes_at(src, ["OPT604"]) == [("OPT604", row(src, "outs.append(net.forward(x))"))]


# A parameter annotated with a module class (``vocabulary.MODULE_BASES``: torch's ``Module`` at each
# path, Lightning's module) holds a module; a string annotation is not read.
ANNOTATED = """
import torch
{import_line}


@torch.no_grad()
def evaluate(net: {annotation}, batches):
    outs = []
    for x in batches:
        outs.append(net.forward(x))
    return outs
"""


@pytest.mark.parametrize("import_line, annotation", [
    ("import torch.nn as nn", "nn.Module"),
    ("from torch.nn.modules import Module", "Module"),
    ("from lightning.pytorch import LightningModule", "LightningModule"),
    ("import pytorch_lightning as pl", "pl.LightningModule"),
])
def test_opt604_parameter_annotated_with_a_module_class(import_line, annotation):
    src = ANNOTATED.format(import_line=import_line, annotation=annotation)
    assert codes_at(src, ["OPT604"]) == [("OPT604", row(src, "outs.append(net.forward(x))"))]


@pytest.mark.parametrize("import_line, annotation", [
    ("import torch.nn as nn", '"nn.Module"'),
    ("from mylib import Module", "Module"),
    ("import torch.nn as nn", "nn.Parameter"),
])
def test_opt604_parameter_annotated_with_something_else(import_line, annotation):
    assert codes_at(ANNOTATED.format(import_line=import_line, annotation=annotation), ["OPT604"]) == []


@pytest.mark.parametrize("src", [
    # unknown receivers: many libraries have .forward on non-modules
    """
    def run(model, x):
        return model.forward(x)
    """,
    """
    from transformers import AutoModel
    model = AutoModel.from_pretrained("bert-base-uncased")
    out = model.forward(input_ids)
    """,
    """
    import torch.nn as nn

    class Wrapper(nn.Module):
        def __call__(self, x):
            return self.forward(x)

        def forward(self, x):
            return x

    w = Wrapper()
    w.forward(1)
    """,
    """
    import torch.nn as nn
    model = nn.Linear(2, 2)
    if use_jit:
        model = torch.jit.script(model)
    model.forward(x)
    """,
    """
    class Pipeline:
        def forward(self, x):
            return x

    p = Pipeline()
    p.forward(1)
    """,
])
def test_opt604_must_not_fire(src):
    assert codes_at(src, ["OPT604"]) == []


def test_opt603_train_function_with_unannotated_optimizer():
    src = """
    import torch
    import torch.nn.functional as F


    def fit(model, train_loader, val_loader, optimizer, epochs):
        model.train()
        for epoch in range(epochs):
            for x, y in train_loader:
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                acc = sum((model(x).argmax(1) == y).sum().item() for x, y in val_loader)
    """
    assert codes_at(src, ["OPT6"]) == [("OPT603", row(src, "model.eval()"))]


def test_opt603_frozen_model_passed_unannotated():
    src = """
    import torch
    import torch.nn.functional as F


    def distill(student, teacher, loader, optimizer, epochs):
        teacher.requires_grad_(False)
        for epoch in range(epochs):
            teacher.eval()
            student.train()
            for x, y in loader:
                optimizer.zero_grad()
                loss = F.kl_div(student(x).log_softmax(-1), teacher(x).softmax(-1))
                loss.backward()
                optimizer.step()
    """
    assert codes_at(src, ["OPT6"]) == []


def test_opt603_periodic_evaluation_still_fires():
    src = HEAD + """
model.train()
for epoch in range(10):
    for x, y in train_loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
    if epoch % 2 == 0:
        model.eval()
"""
    assert codes_at(src, ["OPT603"]) == [("OPT603", row(src, "model.eval()"))]


def test_opt601_spelled_as_an_assignment():
    src = HEAD + """
epoch_loss = 0.0
for x, y in train_loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    epoch_loss = epoch_loss + loss
"""
    assert codes_at(src, ["OPT601"]) == [("OPT601", row(src, "epoch_loss = epoch_loss + loss"))]
    text, remaining = fixed(src, ["OPT601"], unsafe=True)
    assert text == src.replace("epoch_loss + loss\n", "epoch_loss + loss.item()\n")
    assert remaining == []


def test_opt603_silent_when_train_mode_is_restored_through_an_alias():
    # sweep repro /tmp/ml/fp_repros/OPT603_1.py: ``model = self.model``; the epoch loop starts
    # with ``self.model.train()`` and ends with ``model.eval()``: the same module
    src = """
    import torch
    import torch.nn.functional as F


    class Trainer:
        def __init__(self, model):
            self.model = model

        def fit(self, loader, val_loader, epochs):
            model = self.model
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for epoch in range(epochs):
                self.model.train()
                for x, y in loader:
                    optimizer.zero_grad()
                    loss = F.mse_loss(model(x), y)
                    loss.backward()
                    optimizer.step()
                model.eval()
                with torch.no_grad():
                    for x, y in val_loader:
                        model(x)
    """
    assert codes_at(src, ["OPT6"]) == []


@pytest.mark.parametrize("init", ["running_loss, correct = 0.0, 0", "running_loss = correct = 0.0",
                                  "[running_loss, correct] = [0.0, 0]"])
def test_opt601_total_initialised_with_another_counter(init):
    src = OPT601_LOOP.replace("    running_loss = 0.0\n", f"    {init}\n")
    assert codes_at(src, ["OPT6"]) == [("OPT601", row(src, "running_loss += loss"))]


@pytest.mark.parametrize("init", ["running_loss, correct = zeros()", "running_loss, correct = 0.0, 0\n    "
                                  "running_loss = model.new_loss_buffer()"])
def test_opt601_silent_when_the_unpacked_start_is_not_zero(init):
    src = OPT601_LOOP.replace("    running_loss = 0.0\n", f"    {init}\n")
    assert codes_at(src, ["OPT6"]) == []


# ------------------------------------------- OPT601 on real shapes (issue 13, loss-without-item)
PPO_LIKE = """\
import torch
from torch import nn

policy = nn.Linear(4, 3)
optimizer = torch.optim.Adam(policy.parameters(), lr=3e-4)
batches = [(torch.randn(8, 4), torch.randn(8)) for _ in range(4)]
value_total, action_total = 0.0, 0.0
for obs, ret in batches:
    out = policy(obs)
    value_loss = (out[:, 0] - ret).pow(2).mean()
    action_loss = -out[:, 1].mean()
    entropy = out[:, 2].exp().mean()
    optimizer.zero_grad()
    (value_loss * 0.5 + action_loss - entropy * 0.01).backward()
    optimizer.step()
    value_total += {value}
    action_total += action_loss.item()
"""


def test_opt601_a_term_of_the_backpropagated_sum():
    assert codes_at(PPO_LIKE.format(value="value_loss"), ["OPT601"]) == [("OPT601", 16)]


def test_opt601_a_term_read_with_item_is_silent():
    assert codes_at(PPO_LIKE.format(value="value_loss.item()"), ["OPT601"]) == []


def test_opt601_not_a_term_of_what_is_backpropagated():
    src = PPO_LIKE.format(value="value_loss").replace(
        "(value_loss * 0.5 + action_loss - entropy * 0.01).backward()", "(action_loss - entropy * 0.01).backward()")
    assert codes_at(src, ["OPT601"]) == []


def test_opt601_an_element_of_the_backpropagated_loss():
    """Old code summed ``loss.data[0]``; ``total += loss[0]`` indexes the graph tensor itself."""
    src = OPT601_LOOP.replace("running_loss += loss\n", "running_loss += loss[0]\n")
    assert codes_at(src, ["OPT601"]) == [("OPT601", row(src, "running_loss += loss[0]"))]
    text, _ = fixed(src, ["OPT601"], unsafe=True)
    assert "running_loss += loss[0].item()\n" in text
    weighted = OPT601_LOOP.replace("running_loss += loss\n", "running_loss += loss[0] * x.size(0)\n")
    assert codes_at(weighted, ["OPT601"]) == [("OPT601", row(weighted, "running_loss += loss[0]"))]


@pytest.mark.parametrize("added", ["loss.data[0]", "losses[0]", "loss[0].item()"])
def test_opt601_an_element_detached_or_of_another_tensor_is_silent(added):
    src = OPT601_LOOP.replace("running_loss += loss\n", f"running_loss += {added}\n").replace(
        "        loss.backward()\n", "        losses = loss.detach().view(1)\n        loss.backward()\n")
    assert codes_at(src, ["OPT601"]) == []


def test_opt601_an_element_of_a_tuple_whose_first_item_is_backpropagated_is_silent():
    src = OPT601_LOOP.replace("loss = criterion(model(x), y)", "loss = (criterion(model(x), y), 0.0)").replace(
        "loss.backward()", "loss[0].backward()").replace("running_loss += loss\n", "running_loss += loss[1]\n")
    assert codes_at(src, ["OPT601"]) == []


DETACH_WHEN_DISTRIBUTED = """\
import torch
import torch.distributed as dist
from torch import nn

model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loader = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)]
epoch_loss = 0
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    {rebind}
    epoch_loss += loss
"""


def test_opt601_a_rebinding_under_a_condition_leaves_the_other_path():
    rebind = "if dist.is_initialized():\n        loss = loss.detach().clone()"
    assert codes_at(DETACH_WHEN_DISTRIBUTED.format(rebind=rebind), ["OPT601"]) == [("OPT601", 16)]


def test_opt601_an_unconditional_rebinding_is_silent():
    rebind = "loss = loss.detach()"
    assert codes_at(DETACH_WHEN_DISTRIBUTED.format(rebind=rebind), ["OPT601"]) == []
