"""OPT501-OPT504 (GradScaler): exact (code, row), exact fixed text, clean after fixing."""

from __future__ import annotations

from optimlint.config import Settings
from optimlint.fixing import fix_text
from tests import conftest
from tests.conftest import codes_at

HEAD = """\
import torch
from torch import nn

model = nn.Linear(16, 4)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
scaler = torch.amp.GradScaler("cuda")
loader = [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(4)]
"""


def fixed(source: str, select=("OPT5",), unsafe: bool = False):
    return conftest.fixed(source, list(select), unsafe)


# --------------------------------------------------------------------------- OPT501
OPT501_LOOP = HEAD + """
for x, y in loader:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.float16):
        loss = nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    optimizer.step()
    scaler.update()
"""


def test_opt501_plain_step_after_scaled_backward():
    assert codes_at(OPT501_LOOP, ["OPT5"]) == [("OPT501", 14)]


def test_opt501_scaled_loss_in_a_variable():
    src = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    scaled = scaler.scale(nn.functional.cross_entropy(model(x), y))
    scaled.backward()
    optimizer.step()
    scaler.update()
"""
    assert codes_at(src, ["OPT5"]) == [("OPT501", 13)]


def test_opt501_fix_uses_scaler_step():
    text, left = fixed(OPT501_LOOP)
    assert text == OPT501_LOOP.replace("    optimizer.step()\n", "    scaler.step(optimizer)\n")
    assert left == []


def test_opt501_not_with_disabled_scaler():
    src = HEAD.replace('GradScaler("cuda")', 'GradScaler("cuda", enabled=False)') + """
for x, y in loader:
    optimizer.zero_grad()
    scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
    optimizer.step()
"""
    assert codes_at(src, ["OPT5"]) == []


# --------------------------------------------------------------------------- OPT502
OPT502_LOOP = HEAD + """
for epoch in range(2):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # unscales and steps
    print(epoch)
"""


def test_opt502_scaler_step_without_update():
    assert codes_at(OPT502_LOOP, ["OPT5"]) == [("OPT502", 14)]


def test_opt502_fix_inserts_update_after_step():
    text, left = fixed(OPT502_LOOP)
    assert text == HEAD + """
for epoch in range(2):
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # unscales and steps
        scaler.update()
    print(epoch)
"""
    assert left == []


def test_opt502_two_optimizers_reported_at_last_step():
    src = HEAD + """disc = nn.Linear(4, 1)
d_opt = torch.optim.Adam(disc.parameters())

for x, y in loader:
    optimizer.zero_grad()
    d_opt.zero_grad()
    loss = disc(model(x)).mean()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.step(d_opt)
"""
    assert codes_at(src, ["OPT5"]) == [("OPT502", 17)]


def test_opt502_not_when_update_is_in_a_called_helper():
    src = HEAD + """

def finish_step():
    scaler.step(optimizer)
    scaler.update()


for x, y in loader:
    optimizer.zero_grad()
    scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
    finish_step()
"""
    assert codes_at(src, ["OPT5"]) == []


# --------------------------------------------------------------------------- OPT503
OPT503_LOOP = HEAD + """
for x, y in loader:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.float16):
        loss = nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    # keep updates bounded
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
"""


def test_opt503_clip_on_scaled_gradients():
    assert codes_at(OPT503_LOOP, ["OPT5"]) == [("OPT503", 15)]


def test_opt503_fix_inserts_unscale_before_clip():
    text, left = fixed(OPT503_LOOP)
    # the comment above the clip stays with the clip
    assert text == HEAD + """
for x, y in loader:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.float16):
        loss = nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    # keep updates bounded
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
"""
    assert left == []


def test_opt503_not_after_unscale():
    src = OPT503_LOOP.replace("    # keep updates bounded\n", "    scaler.unscale_(optimizer)\n")
    assert codes_at(src, ["OPT5"]) == []


# --------------------------------------------------------------------------- OPT504
def test_opt504_scaler_step_after_unscaled_backward():
    src = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    with torch.autocast("cuda", dtype=torch.float16):
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    scaler.step(optimizer)
    scaler.update()
"""
    assert codes_at(src, ["OPT5"]) == [("OPT504", 14)]


def test_opt504_in_a_step_function():
    src = """
    import torch
    from torch.cuda.amp import GradScaler

    scaler = GradScaler()


    def train_step(model, optimizer, batch):
        optimizer.zero_grad()
        loss = model(batch).mean()
        loss.backward()
        scaler.step(optimizer)
        scaler.update()
        return loss.item()
    """
    assert codes_at(src, ["OPT5"]) == [("OPT504", 12)]


def test_opt5_clean_amp_loop():
    src = HEAD + """
for x, y in loader:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.float16):
        loss = nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
"""
    assert codes_at(src, ["OPT"]) == []


# --------------------------------------------------------------------------- scaler by name
PARAM_SCALER = """\
import torch
from torch.nn.utils import clip_grad_norm_


def train(model, loader, optimizer, scaler, max_norm=1.0):
    for inputs, labels in loader:
        optimizer.zero_grad()
        with torch.autocast("cuda"):
            loss = model(inputs, labels)
        scaler.scale(loss).backward()
        clip_grad_norm_(model.parameters(), max_norm)
        scaler.step(optimizer)
        scaler.update()
"""


def test_scaler_parameter_named_scaler_is_a_grad_scaler():
    assert codes_at(PARAM_SCALER, ["OPT5"]) == [("OPT503", 11)]
    text, left = fixed(PARAM_SCALER)
    assert text == PARAM_SCALER.replace("        clip_grad_norm_(", "        scaler.unscale_(optimizer)\n"
                                                                    "        clip_grad_norm_(")
    assert left == []


def test_sklearn_scaler_is_not_a_grad_scaler():
    src = """
    import torch
    from sklearn.preprocessing import StandardScaler


    def train(model, loader, optimizer, scaler: StandardScaler):
        for x, y in loader:
            optimizer.zero_grad()
            x = torch.as_tensor(scaler.transform(x))
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
    """
    assert codes_at(src, ["OPT"]) == []


# --------------------------------------------------------------------------- the demo script
def test_demo_script_findings_and_fixes():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "train_loop.py"
    text = path.read_text(encoding="utf-8")
    settings = Settings(select=["OPT1", "OPT5"])
    out = fix_text(str(path), text, settings, unsafe=True)
    assert sorted(d.code for d in out.fixed) == ["OPT101", "OPT501", "OPT502", "OPT503"]
    assert out.remaining == []
    loop = out.text.split("        for images, labels in loader:\n", 1)[1].split("        scheduler.step()")[0]
    assert loop == """\
            optimizer.zero_grad()
            images, labels = images.to(device), labels.to(device)
            with torch.autocast(device_type=device, enabled=device == "cuda"):
                loss = nn.functional.cross_entropy(model(images), labels)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            scaler.step(optimizer)
            scaler.update()
            running += loss.item()
"""


def test_fix_offered_when_the_loop_is_also_reached_through_main():
    # ``main()`` at module level inlines the function: the finding keeps its fix
    src = '''\
import torch


def main(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler()
    for x in loader:
        optimizer.zero_grad()
        scaler.scale(model(x).mean()).backward()
        scaler.step(optimizer)


if __name__ == "__main__":
    main(torch.nn.Linear(2, 2), [torch.randn(2)])
'''
    assert codes_at(src, ["OPT5"]) == [("OPT502", 10)]
    text, left = fixed(src)
    assert text == src.replace("        scaler.step(optimizer)\n",
                               "        scaler.step(optimizer)\n        scaler.update()\n")
    assert left == []


def test_opt501_after_an_inner_loop_of_scaled_micro_batches():
    src = HEAD + """
for it in range(100):
    for micro in range(4):
        loss = nn.functional.cross_entropy(model(torch.randn(8, 16)), torch.randint(0, 4, (8,))) / 4
        scaler.scale(loss).backward()
    optimizer.step()
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
"""
    assert codes_at(src, ["OPT5"]) == [("OPT501", 13)]


# ------------------------------------------------------- duplicated arms (fp16 / accumulation)
ARMS = HEAD + """
accumulate = 2
for i, (x, y) in enumerate(loader):
    loss = nn.functional.cross_entropy(model(x), y)
    if accumulate > 1:
        scaler.scale(loss / accumulate).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if (i + 1) % accumulate == 0:
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
    else:
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
"""


def test_arms_each_complete_are_silent():
    assert codes_at(ARMS, ["OPT5"]) == []


def test_opt502_update_only_in_the_other_arm():
    src = ARMS.replace("        scaler.step(optimizer)\n        scaler.update()\n", "        scaler.step(optimizer)\n")
    assert codes_at(src, ["OPT5"]) == [("OPT502", 25)]


def test_opt503_unscale_only_in_the_other_arm():
    lines = ARMS.splitlines(keepends=True)
    assert lines[22].strip() == "scaler.unscale_(optimizer)"
    del lines[22]  # the plain arm's unscale_
    assert codes_at("".join(lines), ["OPT5"]) == [("OPT503", 23)]


def test_opt502_update_after_both_arms_is_silent():
    src = HEAD + """
for x, y in loader:
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    if loss.item() > 10:
        scaler.scale(loss * 0.1).backward()
        scaler.step(optimizer)
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
    scaler.update()
"""
    assert codes_at(src, ["OPT5"]) == []


# ------------------------------------------------- a project class that owns the scaler
SCALER_CLASS = """\
import torch


class ScaledStep:
    def __init__(self):
        self._scaler = torch.amp.GradScaler("cuda")

    def __call__(self, loss, optimizer, parameters, clip=None):
        self._scaler.scale(loss).backward()
        if clip is not None:
            self._scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(parameters, clip)
        self._scaler.step(optimizer)
        self._scaler.update()

    def state_dict(self):
        return self._scaler.state_dict()
"""


def test_scaler_class_call_complete_is_silent():
    assert codes_at(SCALER_CLASS, ["OPT5"]) == []


def test_opt502_scaler_class_call_never_updates():
    src = SCALER_CLASS.replace("        self._scaler.update()\n", "")
    assert codes_at(src, ["OPT5"]) == [("OPT502", 13)]


def test_scaler_class_with_an_update_method_is_silent():
    src = SCALER_CLASS.replace("        self._scaler.update()\n", "") + """
    def update(self):
        self._scaler.update()
"""
    assert codes_at(src, ["OPT5"]) == []


def test_step_function_whose_caller_updates_is_silent():
    src = HEAD + """

def train_step(x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)


for x, y in loader:
    train_step(x, y)
    scaler.update()
"""
    assert codes_at(src, ["OPT5"]) == []


def test_clip_after_the_scaler_step_is_opt105_not_opt503_across_passes():
    # an epoch loop running two passes of one batch function: the clip after one pass's
    # scaler.step comes before the next pass's step, but that pass backpropagates first
    src = HEAD + """

def run_pass(batches):
    for x, y in batches:
        optimizer.zero_grad()
        scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
        scaler.step(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.update()


for epoch in range(3):
    run_pass(loader)
    run_pass(loader[:2])
"""
    assert codes_at(src, ["OPT105", "OPT5"]) == [("OPT105", 15)]


def test_opt502_reading_the_scale_is_not_an_update():
    src = HEAD + """
scales = []
for x, y in loader:
    optimizer.zero_grad()
    scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
    scaler.step(optimizer)
    scales.append(scaler.get_scale())
"""
    assert codes_at(src, ["OPT5"]) == [("OPT502", 13)]
