"""OPT505 (unscale-per-micro-batch): exact (code, row), the unsafe fix's exact text, and the
shapes that must stay silent."""

from __future__ import annotations

import pytest

from optimlint.config import Settings
from optimlint.fixing import fix_text
from tests.conftest import codes_at

HEAD = """\
import torch
from torch import nn

model = nn.Linear(16, 4)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
scaler = torch.amp.GradScaler("cuda")
loader = [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(8)]
accum = 4
"""

WINDOW = HEAD + """
for i, (x, y) in enumerate(loader):
    loss = nn.functional.cross_entropy(model(x), y) / accum
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    # clip the window's gradients
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    if (i + 1) % accum == 0:
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
"""


def test_unscale_outside_the_window_fires_at_the_unscale():
    assert codes_at(WINDOW, ["OPT5"]) == [("OPT505", 13)]


def test_unsafe_fix_moves_unscale_and_clip_under_the_window():
    out = fix_text("train.py", WINDOW, Settings(select=["OPT5"]), True)
    assert out.text == HEAD + """
for i, (x, y) in enumerate(loader):
    loss = nn.functional.cross_entropy(model(x), y) / accum
    scaler.scale(loss).backward()
    if (i + 1) % accum == 0:
        scaler.unscale_(optimizer)
        # clip the window's gradients
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
"""
    assert out.remaining == []
    again = fix_text("train.py", out.text, Settings(select=["OPT5"]), True)
    assert again.text == out.text


def test_no_safe_fix():
    out = fix_text("train.py", WINDOW, Settings(select=["OPT5"]), False)
    assert out.text == WINDOW
    assert [(d.code, d.location.row) for d in out.remaining] == [("OPT505", 13)]


def test_unscale_under_a_clipping_option_in_a_function_fires():
    src = """\
import torch


def train(model, loader, optimizer, args):
    scaler = torch.amp.GradScaler("cuda", enabled=args.fp16)
    for step, batch in enumerate(loader):
        loss = model(batch).mean() / args.accum
        scaler.scale(loss).backward()
        if args.max_grad_norm > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        if step % args.accum == 0:
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT5"]) == [("OPT505", 10)]
    # the unscale and clip are the whole block: moving them would empty it, so no fix
    out = fix_text("train.py", src, Settings(select=["OPT5"]), True)
    assert out.text == src


def test_unscale_inside_an_inner_loop_of_micro_batches_fires():
    src = HEAD + """
for chunks in [loader[:4], loader[4:]]:
    for x, y in chunks:
        loss = nn.functional.cross_entropy(model(x), y) / len(chunks)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad()
"""
    assert codes_at(src, ["OPT5"]) == [("OPT505", 14)]


SILENT = {
    "unscale under the window": WINDOW.replace(
        "    scaler.unscale_(optimizer)\n    # clip the window's gradients\n"
        "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n", "").replace(
        "        scaler.step(optimizer)\n",
        "        scaler.unscale_(optimizer)\n        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        "        scaler.step(optimizer)\n"),
    "update every iteration, step skipped on a non-finite norm": HEAD + """
for x, y in loader:
    scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    if torch.isfinite(norm):
        scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad()
""",
    "one unscale per optimizer": HEAD + """
critic = nn.Linear(4, 1)
optimizers = [optimizer, torch.optim.Adam(critic.parameters())]
for x, y in loader:
    scaler.scale(critic(model(x)).mean()).backward()
    for opt in optimizers:
        scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    for opt in optimizers:
        scaler.step(opt)
    scaler.update()
    for opt in optimizers:
        opt.zero_grad()
""",
    "backward under the window too": HEAD + """
for i, (x, y) in enumerate(loader):
    loss = nn.functional.cross_entropy(model(x), y)
    if i % 2 == 0:
        scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if i % 2 == 0:
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
""",
    "disabled scaler": WINDOW.replace('GradScaler("cuda")', 'GradScaler("cuda", enabled=False)'),
    "a helper handed the scaler updates it": WINDOW.replace(
        "    if (i + 1) % accum == 0:", "    finish(scaler, optimizer)\n    if (i + 1) % accum == 0:"),
    "inner loop that is the training loop": HEAD + """
for epoch in range(3):
    for x, y in loader:
        scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
""",
}


@pytest.mark.parametrize("name", sorted(SILENT))
def test_silent(name):
    assert codes_at(SILENT[name], ["OPT5"]) == []
