"""The three fixes of issue 14, through the real CLI: OPT105 (a clip after the step moves
between the backward and the step), OPT201 (a scheduler step at the head of the epoch loop
moves after the batch loop), OPT203 (a Lightning per-iteration scheduler declared without an
interval gets ``"interval": "step"``).

Each round-trips on its must-fire shapes: ``--fix`` then re-lint leaves none of its
findings and adds none; a second ``--fix`` changes nothing; the fixed script runs clean
under ``optimlint run``. And every rule page's Example, fixed, is its "Use instead".
"""

from __future__ import annotations

import json
import textwrap

import pytest

from conftest import invoke, write
from optimlint.catalogue import pages_dir, parse_page
from optimlint.config import Settings
from optimlint.lint import lint_source
from optimlint.fixing import fix_text
from optimlint.registry import RULES


def dedent(text: str) -> str:
    """What ``write`` puts in the file."""
    return textwrap.dedent(text).lstrip("\n")


def codes(path) -> list[tuple[str, int]]:
    result = invoke(["check", "--no-cache", "--select", "OPT", "--output-format", "json", str(path)])
    return [(d["code"], d["location"]["row"]) for d in json.loads(result.stdout or "[]")]


def round_trip(tmp_path, source: str, code: str, unsafe: bool) -> str:
    """Fix ``source`` with the CLI and check the round trip; returns the fixed text."""
    path = tmp_path / "train.py"
    write(path, source)
    before = codes(path)
    assert code in {c for c, _ in before}, before
    flags = ["--fix", "--unsafe-fixes"] if unsafe else ["--fix"]
    invoke(["check", "--no-cache", "--select", "OPT", *flags, str(path)])
    text = path.read_text(encoding="utf-8")
    after = codes(path)
    assert code not in {c for c, _ in after}, after  # no finding left
    assert {c for c, _ in after} <= {c for c, _ in before} - {code}  # none added
    invoke(["check", "--no-cache", "--select", "OPT", *flags, str(path)])
    assert path.read_text(encoding="utf-8") == text  # a second --fix changes nothing
    return text


# =========================================================================== OPT105
CLIP_AFTER_STEP = """
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    data = [(torch.randn(8, 6), torch.randn(8, 1)) for _ in range(4)]

    for epoch in range(2):
        for x, y in data:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            # keep the update small
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
"""


def test_opt105_clip_after_step_moves_before_the_step(tmp_path):
    text = round_trip(tmp_path, CLIP_AFTER_STEP, "OPT105", unsafe=False)
    assert text == dedent(CLIP_AFTER_STEP).replace(
        "        optimizer.step()\n"
        "        # keep the update small\n"
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)\n",
        "        # keep the update small\n"
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)\n"
        "        optimizer.step()\n")


def test_opt105_same_params_expression_and_value_clip(tmp_path):
    src = """
        import torch

        params = [torch.zeros(3, requires_grad=True)]
        optimizer = torch.optim.Adam(params, lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            (params[0] ** 2).sum().backward()
            optimizer.step()
            torch.nn.utils.clip_grad_value_(params, 1.0)
    """
    text = round_trip(tmp_path, src, "OPT105", unsafe=False)
    assert text.index("clip_grad_value_") < text.index("optimizer.step()")


CLIP_LOOP_HEAD = """
    import torch
    from torch import nn

    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5)
    for x in batches:
        model(x).sum().backward()
        optimizer.step()
"""


@pytest.mark.parametrize("after_step, clip", [
    # the clearing right after the step: the clip goes before the step, not before the clearing
    ("        optimizer.zero_grad()\n", "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"),
    # a scheduler step between them stays after the optimizer step
    ("        scheduler.step()\n", "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"),
    # the parameters read back from the optimizer's own groups are the optimizer's
    ("", 'torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], 1.0)'),
    ("", 'torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 1.0)'),
])
def test_opt105_clip_moves_before_the_step_past_what_follows_it(tmp_path, after_step, clip):
    src = CLIP_LOOP_HEAD + after_step + "        " + clip + "\n"
    text = round_trip(tmp_path, src, "OPT105", unsafe=False)
    assert text == dedent(CLIP_LOOP_HEAD).replace(
        "    optimizer.step()\n", f"    {clip}\n    optimizer.step()\n") + after_step[4:]


def test_opt105_accelerate_clip_moves_before_the_step(tmp_path):
    src = """
        import torch
        from accelerate import Accelerator

        accelerator = Accelerator()
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model, optimizer = accelerator.prepare(model, optimizer)
        for x in batches:
            accelerator.backward(model(x).sum())
            optimizer.step()
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.zero_grad()
    """
    text = round_trip(tmp_path, src, "OPT105", unsafe=False)
    assert "    accelerator.clip_grad_norm_(model.parameters(), 1.0)\n    optimizer.step()\n" \
           "    optimizer.zero_grad()\n" in text


@pytest.mark.parametrize("src", [
    # the clip's parameters are another module's than the optimizer's
    """
    import torch
    from torch import nn
    model, aux = nn.Linear(2, 1), nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in batches:
        optimizer.zero_grad()
        (model(x) + aux(x)).sum().backward()
        optimizer.step()
        torch.nn.utils.clip_grad_norm_(aux.parameters(), 1.0)
    """,
    # a GradScaler step: moved before it, the clip would need an unscale first
    """
    import torch
    from torch import nn
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler()
    for x in batches:
        optimizer.zero_grad()
        scaler.scale(model(x).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    """,
    # not siblings: the clip is under a condition
    """
    import torch
    from torch import nn
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in batches:
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
        if True:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    """,
    # a function given the model and the optimizer: nothing says the optimizer holds the model's parameters
    """
    import torch
    def train_step(model, optimizer, x):
        model(x).sum().backward()
        optimizer.step()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.zero_grad()
    """,
    # the step and the clip share a line: no statement of its own to move
    """
    import torch
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in batches:
        model(x).sum().backward()
        optimizer.step(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    """,
])
def test_opt105_no_fix_when_unsure(src):
    found = [d for d in lint_source("train.py", dedent(src), Settings(select=["OPT105"]))
             if d.code == "OPT105"]
    assert all(d.fix is None for d in found)


# =========================================================================== OPT201
HEAD_OF_EPOCH = """
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    train_loader = [(torch.randn(4, 5), torch.randn(4, 1)) for _ in range(3)]

    for epoch in range(4):
        scheduler.step()  # decay per epoch
        for x, y in train_loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        print(epoch, scheduler.get_last_lr())
"""


def test_opt201_head_of_epoch_loop_moves_after_the_batch_loop(tmp_path):
    path = tmp_path / "train.py"
    write(path, HEAD_OF_EPOCH)
    invoke(["check", "--no-cache", "--select", "OPT", "--fix", str(path)])
    assert path.read_text(encoding="utf-8") == dedent(HEAD_OF_EPOCH)  # unsafe: not by --fix alone
    text = round_trip(tmp_path, HEAD_OF_EPOCH, "OPT201", unsafe=True)
    assert text == dedent(HEAD_OF_EPOCH).replace(
        "    scheduler.step()  # decay per epoch\n", "").replace(
        "        optimizer.step()\n",
        "        optimizer.step()\n    scheduler.step()  # decay per epoch\n")


EPOCH_SHAPES = """
    import torch
    from tqdm import tqdm

    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 3)
"""


@pytest.mark.parametrize("loop, fixed", [
    # other statements between the scheduler step and the batch loop, and after the loop
    ("""
    for epoch in range(10):
        scheduler.step()
        model.train()
        for x in tqdm(train_loader):
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        evaluate(model)
    """, """
    for epoch in range(10):
        model.train()
        for x in tqdm(train_loader):
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        scheduler.step()
        evaluate(model)
    """),
    # a while epoch loop
    ("""
    epoch = 0
    while epoch < 10:
        scheduler.step()
        for x in train_loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        epoch += 1
    """, """
    epoch = 0
    while epoch < 10:
        for x in train_loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        scheduler.step()
        epoch += 1
    """),
    # a validation loop after the batch loop: the step goes after the training loop, before it
    ("""
    for epoch in range(10):
        scheduler.step()
        for x in train_loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        with torch.no_grad():
            for x in val_loader:
                model(x)
    """, """
    for epoch in range(10):
        for x in train_loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        scheduler.step()
        with torch.no_grad():
            for x in val_loader:
                model(x)
    """),
    # the epoch loop in a function given the objects
    ("""
    def train(model, optimizer, scheduler, train_loader):
        for epoch in range(10):
            scheduler.step()
            for x in train_loader:
                optimizer.zero_grad()
                model(x).sum().backward()
                optimizer.step()
    """, """
    def train(model, optimizer, scheduler, train_loader):
        for epoch in range(10):
            for x in train_loader:
                optimizer.zero_grad()
                model(x).sum().backward()
                optimizer.step()
            scheduler.step()
    """),
])
def test_opt201_head_of_epoch_shapes(tmp_path, loop, fixed):
    text = round_trip(tmp_path, EPOCH_SHAPES + loop, "OPT201", unsafe=True)
    assert text == dedent(EPOCH_SHAPES + fixed)


@pytest.mark.parametrize("loop", [
    # the batch loop has an else clause: after the loop would mean after the else
    """
    for epoch in range(10):
        scheduler.step()
        for x in train_loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
        else:
            print("epoch done")
    """,
    # the scheduler step shares its line: no statement of its own to move
    """
    for epoch in range(10):
        scheduler.step(); model.train()
        for x in train_loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
    """,
])
def test_opt201_no_fix_for_other_shapes(loop):
    found = [d for d in lint_source("train.py", dedent(EPOCH_SHAPES + loop), Settings(select=["OPT201"]))]
    assert [d.code for d in found] == ["OPT201"] and found[0].fix is None


def test_opt201_no_fix_when_the_batch_loop_is_not_a_sibling(tmp_path):
    src = """
        import torch
        model = torch.nn.Linear(5, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)
        for epoch in range(4):
            scheduler.step()
            if epoch > 0:
                for x, y in train_loader:
                    optimizer.zero_grad()
                    torch.nn.functional.mse_loss(model(x), y).backward()
                    optimizer.step()
    """
    found = [d for d in lint_source("train.py", dedent(src), Settings(select=["OPT201"]))]
    assert [d.code for d in found] in ([], ["OPT201"])
    assert all(d.fix is None for d in found)


# =========================================================================== OPT203 (Lightning)
LIGHTNING = """
    import torch
    import lightning.pytorch as pl


    class Model(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(4, 1)

        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=1000)
            return {RETURN}
"""


@pytest.mark.parametrize("returned, fixed", [
    ('{"optimizer": optimizer, "lr_scheduler": scheduler}',
     '{"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}'),
    ("[optimizer], [scheduler]",
     '[optimizer], [{"scheduler": scheduler, "interval": "step"}]'),
    ("(optimizer,), (scheduler,)",
     '(optimizer,), ({"scheduler": scheduler, "interval": "step"},)'),
    ("{'optimizer': optimizer, 'lr_scheduler': {'scheduler': scheduler, 'frequency': 1}}",
     "{'optimizer': optimizer, 'lr_scheduler': {'scheduler': scheduler, 'interval': 'step', 'frequency': 1}}"),
    ('[{"optimizer": optimizer, "lr_scheduler": scheduler}]',
     '[{"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}]'),
    # other keys of the dict stay where they are
    ('{"optimizer": optimizer, "lr_scheduler": scheduler, "monitor": "val_loss"}',
     '{"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}, "monitor": "val_loss"}'),
    # a scheduler config in the list pair, without an interval
    ('[optimizer], [{"scheduler": scheduler, "frequency": 1}]',
     '[optimizer], [{"scheduler": scheduler, "interval": "step", "frequency": 1}]'),
    # two per-iteration schedulers: each gets its declaration
    ("[optimizer], [scheduler, torch.optim.lr_scheduler.CyclicLR(optimizer, 1e-4, 1e-2)]",
     '[optimizer], [{"scheduler": scheduler, "interval": "step"}, '
     '{"scheduler": torch.optim.lr_scheduler.CyclicLR(optimizer, 1e-4, 1e-2), "interval": "step"}]'),
])
def test_opt203_lightning_declaration_gets_a_step_interval(tmp_path, returned, fixed):
    src = LIGHTNING.replace("{RETURN}", returned)
    text = round_trip(tmp_path, src, "OPT203", unsafe=False)
    assert text == dedent(LIGHTNING.replace("{RETURN}", fixed))


def test_opt203_inline_scheduler_in_the_return(tmp_path):
    src = LIGHTNING.replace(
        "            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=1000)\n", "").replace(
        "{RETURN}", "[optimizer], [torch.optim.lr_scheduler.CyclicLR(optimizer, 1e-4, 1e-2)]")
    text = round_trip(tmp_path, src, "OPT203", unsafe=False)
    assert 'return [optimizer], [{"scheduler": torch.optim.lr_scheduler.CyclicLR(optimizer, 1e-4, 1e-2), ' \
           '"interval": "step"}]' in text


def test_opt203_dict_built_then_returned(tmp_path):
    src = LIGHTNING.replace("return {RETURN}", 'config = {"optimizer": optimizer, "lr_scheduler": scheduler}\n'
                                               "            return config")
    text = round_trip(tmp_path, src, "OPT203", unsafe=False)
    assert text == dedent(src).replace('"lr_scheduler": scheduler}',
                                       '"lr_scheduler": {"scheduler": scheduler, "interval": "step"}}')


@pytest.mark.parametrize("returned", [
    # an epoch scheduler needs no step interval
    '[optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 10)]',
    # already declared per step
    '{"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}',
])
def test_opt203_nothing_to_fix(tmp_path, returned):
    path = tmp_path / "m.py"
    write(path, LIGHTNING.replace("{RETURN}", returned))
    assert "OPT203" not in {c for c, _ in codes(path)}
    result = invoke(["check", "--no-cache", "--select", "OPT", "--fix", str(path)])
    assert path.read_text(encoding="utf-8") == dedent(LIGHTNING.replace("{RETURN}", returned))
    assert "OPT203" not in result.stdout


def test_opt203_declared_epoch_interval_stays_unsafe():
    src = dedent(LIGHTNING.replace(
        "{RETURN}", '{"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}'))
    (d,) = [d for d in lint_source("m.py", src, Settings(select=["OPT203"]))]
    assert d.fix is not None and d.fix.applicability.value == "unsafe"


# =========================================================================== runtime-clean
@pytest.mark.parametrize("source, code, unsafe", [
    (CLIP_AFTER_STEP, "OPT105", False),
    (HEAD_OF_EPOCH, "OPT201", True),
])
def test_fixed_script_runs_clean(tmp_path, monkeypatch, source, code, unsafe):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    text = round_trip(tmp_path, source, code, unsafe)
    report = tmp_path / "report.json"
    result = invoke(["run", "--output-format", "json", "--output-file", str(report), "train.py"])
    assert result.exit_code == 0, result.stderr
    assert text == (tmp_path / "train.py").read_text(encoding="utf-8")
    assert [d["code"] for d in json.loads(report.read_text(encoding="utf-8"))] == []


# =========================================================================== the rule pages
# Pages whose "Use instead" shows more than the fix writes (a retuned value, an added
# ``model.train()`` placed elsewhere, the clearing written once per loop).
FULLER_USE_INSTEAD = {"OPT101", "OPT302", "OPT603"}


@pytest.mark.parametrize("code", [c for c, info in RULES.items() if info.fix != "none" and c != "OPT000"])
def test_fixed_example_is_use_instead(code):
    page = parse_page(code, (pages_dir() / f"{code}.md").read_text(encoding="utf-8"))
    examples, use = page.code_blocks("Example"), page.code_blocks("Use instead")
    # A noqa is unused only for a rule that runs: the noqa rules' examples need the others on.
    settings = Settings(select=["OPT"] if code in ("OPT001", "OPT002") else [code])
    for i, block in enumerate(examples):
        out = fix_text(f"{code}.py", block, settings, True)
        assert [d.code for d in out.remaining if d.code == code] == [], f"{code} example {i}: the fix leaves it"
        assert fix_text(f"{code}.py", out.text, settings, True).text == out.text
        if code not in FULLER_USE_INSTEAD:
            assert out.text == use[i], f"{code} example {i}: fixed text is not the Use instead block"
