"""OPT401-OPT403: parameter groups (missing submodules, overlapping groups, misspelt keys)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from conftest import codes_at, invoke, lint, write
from optimlint.config import Settings
from optimlint.lint import lint_source
from optimlint.fixing import fix_text

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "param_groups.py"

# A detector whose class is in the linted file; rows below count from this header.
DETECTOR = """\
import itertools

import torch
import torch.nn as nn


class Detector(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU())
        self.neck = nn.Conv2d(16, 32, 1)
        self.head = nn.Linear(32, num_classes)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.head(self.drop(self.act(self.neck(self.backbone(x)))))

"""
ROW = DETECTOR.count("\n") + 1  # the first row after the header


def rows(body: str, select=("OPT4",)) -> list[tuple[str, int]]:
    return codes_at(DETECTOR + textwrap.dedent(body), list(select))


def messages(body: str, select=("OPT4",)) -> list[str]:
    return [d.message for d in lint(DETECTOR + textwrap.dedent(body), list(select))]


# --------------------------------------------------------------------------- OPT401 fires


def test_fixture_detector_forgets_neck_and_misspells_weight_decay():
    text = FIXTURE.read_text(encoding="utf-8")
    found = lint_source(str(FIXTURE), text, Settings(select=["OPT4"]))
    assert [(d.code, d.location.row, d.location.column) for d in found] == [
        ("OPT401", 92, 17), ("OPT403", 95, 61)]
    assert found[0].message == (
        "the parameter groups leave out `model.neck`, which has trainable parameters: no optimizer "
        "updates them; add a group for them (or freeze them with `requires_grad_(False)`)")
    assert found[1].message == (
        "`SGD` has no param-group option `weight_decays` (did you mean `weight_decay`?): PyTorch keeps "
        "unknown keys in the group and ignores them, so this group uses the optimizer's default "
        "`weight_decay`")


@pytest.mark.parametrize("params", [
    '[{"params": model.backbone.parameters(), "lr": 1e-3}, {"params": model.head.parameters()}]',
    "itertools.chain(model.backbone.parameters(), model.head.parameters())",
    "list(model.backbone.parameters()) + list(model.head.parameters())",
    "[*model.backbone.parameters(), *model.head.parameters()]",
    '[dict(params=model.backbone.parameters()), dict(params=model.head.parameters(), lr=1e-2)]',
    '[{"params": filter(lambda p: p.requires_grad, model.backbone.parameters())},'
    ' {"params": [p for p in model.head.parameters() if p.requires_grad]}]',
])
def test_missing_neck_in_every_params_form(params):
    body = f"""
    model = Detector().to("cuda")
    optimizer = torch.optim.SGD({params}, lr=0.01, momentum=0.9)
    """
    assert rows(body) == [("OPT401", ROW + 2)]
    assert messages(body)[0].startswith("the parameter groups leave out `model.neck`, which has")


def test_groups_in_a_named_list_with_append_inside_a_function():
    body = """
    def main():
        model = Detector()
        model = model.cuda()
        groups = [{"params": model.backbone.parameters(), "lr": 1e-4}]
        groups.append({"params": model.head.parameters(), "lr": 1e-3})
        opt = torch.optim.AdamW(groups, weight_decay=0.05)
        return opt
    """
    assert rows(body) == [("OPT401", ROW + 6)]


def test_group_params_through_names():
    body = """
    model = Detector()
    backbone_params = model.backbone.parameters()
    head_params = list(model.head.parameters())
    opt = torch.optim.Adam([{"params": backbone_params}, {"params": head_params, "lr": 1e-3}])
    """
    assert rows(body) == [("OPT401", ROW + 4)]


def test_nested_submodule_missing_is_named_by_its_path():
    src = """
    import torch
    import torch.nn as nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = nn.Linear(8, 3)
            self.box = nn.Linear(8, 4)

        def forward(self, x):
            return self.cls(x), self.box(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Linear(8, 8)
            self.head = Head()

        def forward(self, x):
            return self.head(self.backbone(x))

    net = Net()
    optimizer = torch.optim.SGD([
        {"params": net.backbone.parameters()},
        {"params": net.head.cls.parameters(), "lr": 0.1},
    ], lr=0.01)
    """
    assert codes_at(src, ["OPT401"]) == [("OPT401", 24)]
    assert lint(src, ["OPT401"])[0].message.startswith("the parameter groups leave out `net.head.box`, which")


def test_two_missing_submodules_and_a_parameter_attribute_in_lightning_module():
    src = """
    import torch
    import torch.nn as nn
    import pytorch_lightning as pl

    class ViT(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Conv2d(3, 64, 16, stride=16)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, 64))
            self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(64, 4) for _ in range(4)])
            self.norm = nn.LayerNorm(64)
            self.head = nn.Linear(64, 10)
            self.criterion = nn.CrossEntropyLoss()

        def forward(self, x):
            x = self.patch_embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1)
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x[:, 0]))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return self.criterion(self(x), y)

        def configure_optimizers(self):
            return torch.optim.AdamW([
                {"params": self.blocks.parameters(), "lr": 1e-4},
                {"params": self.head.parameters(), "lr": 1e-3},
            ])
    """
    assert codes_at(src, ["OPT401"]) == [("OPT401", 28)]
    assert lint(src, ["OPT401"])[0].message.startswith(
        "the parameter groups leave out `self.patch_embed`, `self.cls_token`, `self.norm`, which have")


def test_inherited_submodules_and_helper_called_from_init():
    src = """
    import torch
    from torch import nn

    class Base(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(100, 16)

        def encode(self, tokens):
            return self.encoder(tokens)

    class Seq2Seq(Base):
        def __init__(self, pretrained=False):
            super().__init__()
            self._build_decoder()
            if pretrained:
                self.proj = nn.Linear(16, 16, bias=False)
            else:
                self.proj = nn.Linear(16, 16)

        def _build_decoder(self):
            self.decoder = nn.GRU(16, 16)

        def forward(self, tokens):
            out, _ = self.decoder(self.encode(tokens))
            return self.proj(out)

    model = Seq2Seq()
    opt = torch.optim.Adam([{"params": model.decoder.parameters()}, {"params": model.proj.parameters()}])
    """
    assert codes_at(src, ["OPT401"]) == [("OPT401", 30)]
    assert "`model.encoder`, which has" in lint(src, ["OPT401"])[0].message


# --------------------------------------------------------------------------- OPT401 silent


@pytest.mark.parametrize("body", [
    # the decay / no-decay split over named_parameters
    """
    model = Detector()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}])
    """,
    # a group holds the whole model (the other group re-lists a part: OPT402's business)
    """
    model = Detector()
    opt = torch.optim.SGD([{"params": model.parameters()}], lr=0.1)
    """,
    # frozen neck, three spellings
    """
    model = Detector()
    for p in model.neck.parameters():
        p.requires_grad = False
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    """
    model = Detector()
    model.neck.requires_grad_(False)
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    """
    model = Detector()
    for name, p in model.named_parameters():
        if name.startswith("neck"):
            p.requires_grad = False
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    # a frozen-parameters helper whose argument we cannot follow
    """
    def set_trainable(module, flag):
        for p in module.parameters():
            p.requires_grad = flag

    model = Detector()
    set_trainable(model.neck, False)
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    # frozen by helpers from elsewhere
    """
    from utils import set_requires_grad
    model = Detector()
    set_requires_grad([model.neck], False)
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    """
    from utils import freeze_module
    model = Detector()
    freeze_module(model.neck)
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    # the script deletes the neck
    """
    model = Detector()
    del model.neck
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    # another optimizer built from something the analysis does not reduce
    """
    from utils import trainable
    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    opt_neck = torch.optim.Adam(trainable(model.neck), lr=1e-4)
    """,
    # the neck has its own optimizer (GAN-style)
    """
    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    opt_neck = torch.optim.Adam(model.neck.parameters(), lr=1e-4)
    """,
    # model is a parameter: its class is unknown
    """
    def build_optimizer(model, cfg):
        return torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=cfg.lr)
    """,
    # model comes from a factory / is wrapped
    """
    model = build_model("detector")
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    """
    model = Detector()
    model = torch.compile(model)
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    # the script replaces the neck after construction
    """
    model = Detector()
    model.neck = nn.Identity()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
    # groups built in a loop
    """
    model = Detector()
    groups = []
    for name in ("backbone", "head"):
        groups.append({"params": getattr(model, name).parameters()})
    opt = torch.optim.SGD(groups, lr=0.1)
    """,
    # groups from different objects
    """
    model = Detector()
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}, {"params": criterion.parameters()}], lr=0.1)
    """,
    # every submodule with parameters is covered; act/drop hold none
    """
    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.neck.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """,
])
def test_opt401_silent(body):
    assert rows(body, ["OPT401"]) == []


@pytest.mark.parametrize("init", [
    # unresolved base class
    "class Net(SomeLibraryModel):\n    def __init__(self):\n        super().__init__()\n",
    # dynamic submodules
    "class Net(nn.Module):\n    def __init__(self, **blocks):\n        super().__init__()\n"
    "        for k, v in blocks.items():\n            self.add_module(k, v)\n",
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        setattr(self, 'extra', nn.Linear(4, 4))\n",
])
def test_opt401_silent_when_the_class_is_incomplete(init):
    src = ("import torch\nimport torch.nn as nn\n\n" + init +
           "        self.encoder = nn.Linear(4, 4)\n        self.decoder = nn.Linear(4, 4)\n\n"
           "model = Net()\n"
           "opt = torch.optim.Adam([{'params': model.encoder.parameters()}])\n")
    assert lint_source("train.py", src, Settings(select=["OPT401"])) == []


@pytest.mark.parametrize("extra", [
    "self.extra = extra  # injected: maybe a module, maybe None",
    "if use_extra:\n            self.extra = nn.Linear(4, 4)",
    "self.extra = nn.Sequential(*layers)",
    "self.extra = nn.InstanceNorm2d(4)",
    "self.extra = nn.BatchNorm1d(4, affine=False)",
    "self.extra = nn.Parameter(torch.ones(4), requires_grad=False)",
    "self.extra = nn.Linear(4, 4).requires_grad_(False)",
    "self.extra = copy.deepcopy(self.encoder)",
    "self.extra = nn.Linear(4, 4)\n        self.extra.weight = self.encoder.weight  # tied",
    "self.extra = self.alias = nn.Linear(4, 4)  # one module, two names\n        self.alias.eval()",
    "self.extra = nn.Linear(4, 4)\n        for p in self.extra.parameters():\n            p.requires_grad = False",
])
def test_opt401_silent_for_unproven_or_frozen_submodules(extra):
    src = textwrap.dedent("""\
    import copy
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, extra=None, use_extra=False, layers=()):
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(4, 4)
            EXTRA

        def forward(self, x):
            return self.extra(self.decoder(self.encoder(x)))

    model = Net()
    opt = torch.optim.Adam([{"params": model.encoder.parameters()}, {"params": model.decoder.parameters()}])
    """).replace("EXTRA", extra)
    assert lint_source("train.py", src, Settings(select=["OPT401"])) == []
    # and the same class fires when the extra submodule is a plain trainable layer
    plain = src.replace(extra, "self.extra = nn.Linear(4, 4)")
    assert [d.code for d in lint_source("train.py", plain, Settings(select=["OPT401"]))] == ["OPT401"]


# --------------------------------------------------------------------------- cross-file


def _project(tmp_path, train: str, models: str, init: str = ""):
    write(tmp_path / "mypkg" / "__init__.py", init)
    write(tmp_path / "mypkg" / "models.py", models)
    write(tmp_path / "mypkg" / "train.py", train)
    return tmp_path


MODELS = """
import torch.nn as nn

from .layers import FPN


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 8, 3)
        self.neck = FPN()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)))
"""
LAYERS = """
import torch.nn as nn


class FPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.lateral = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        return self.lateral(x)
"""


@pytest.mark.parametrize("imp", [
    "from mypkg.models import Detector",
    "from .models import Detector",
    "from mypkg import Detector",  # re-exported by the package
])
def test_class_imported_from_another_project_file(tmp_path, monkeypatch, imp):
    _project(tmp_path, f"""
    import torch
    {imp}

    model = Detector()
    opt = torch.optim.SGD([{{"params": model.backbone.parameters()}}, {{"params": model.head.parameters()}}], lr=0.1)
    """, MODELS, init="from .models import Detector\n")
    write(tmp_path / "mypkg" / "layers.py", LAYERS)
    monkeypatch.chdir(tmp_path)
    result = invoke(["check", "--no-cache", "--output-format", "concise", "--select", "OPT4", "mypkg"])
    assert result.stdout.splitlines()[0] == (
        "mypkg/train.py:5:7: OPT401 the parameter groups leave out `model.neck`, which has trainable "
        "parameters: no optimizer updates them; add a group for them (or freeze them with "
        "`requires_grad_(False)`)")
    assert result.exit_code == 1


def test_class_name_rebound_in_the_script_is_silent(tmp_path, monkeypatch):
    _project(tmp_path, """
    import torch
    from mypkg.models import Detector

    if torch.cuda.is_available():
        Detector = torch.jit.script(Detector)
    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """, MODELS)
    write(tmp_path / "mypkg" / "layers.py", LAYERS)
    monkeypatch.chdir(tmp_path)
    result = invoke(["check", "--no-cache", "--output-format", "concise", "--select", "OPT4", "mypkg"])
    assert "OPT401" not in result.stdout and result.exit_code == 0


def test_unresolved_import_is_silent(tmp_path):
    train = write(tmp_path / "train.py", """
    import torch
    from detectors.models import Detector

    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """)
    text = train.read_text()
    assert lint_source(str(train), text, Settings(select=["OPT401"]), project_root=str(tmp_path)) == []


def test_class_file_edited_between_runs_is_reparsed(tmp_path):
    models = write(tmp_path / "models.py", """
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lateral = nn.Conv2d(8, 8, 1)
            self.smooth = nn.Conv2d(8, 8, 3)
            self.extra = nn.Linear(8, 8)

        def forward(self, x):
            return self.extra(self.smooth(self.lateral(x)))
    """)
    train = write(tmp_path / "train.py", """
    import torch
    from models import Net

    net = Net()
    opt = torch.optim.SGD([{"params": net.lateral.parameters()}, {"params": net.smooth.parameters()}], lr=0.1)
    """)
    settings = Settings(select=["OPT401"])
    assert [d.code for d in lint_source(str(train), train.read_text(), settings, str(tmp_path))] == ["OPT401"]
    import os
    import time
    models.write_text(models.read_text().replace("nn.Linear(8, 8)", "nn.ReLU()"))
    st = os.stat(models)
    os.utime(models, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    time.sleep(0)
    assert lint_source(str(train), train.read_text(), settings, str(tmp_path)) == []


# --------------------------------------------------------------------------- OPT402


def test_whole_model_and_head_in_two_groups():
    body = """
    model = Detector()
    optimizer = torch.optim.AdamW([
        {"params": model.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ])
    """
    assert rows(body) == [("OPT402", ROW + 4)]
    assert messages(body) == [
        "this group's `model.head.parameters()` holds parameters already in an earlier group "
        "(`model.parameters()`): PyTorch raises ValueError (some parameters appear in more than one "
        "parameter group)"]


def test_same_parameters_listed_twice():
    body = """
    model = Detector()
    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters()},
        {"params": model.neck.parameters()},
        {"params": model.head.parameters()},
        {"params": model.backbone.parameters(), "lr": 0.1},
    ], lr=0.01)
    """
    assert rows(body) == [("OPT402", ROW + 6)]
    assert "holds the same parameters as an earlier group" in messages(body)[0]


@pytest.mark.parametrize("body", [
    # disjoint submodules
    """
    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.neck.parameters()},
                           {"params": model.head.parameters()}], lr=0.1)
    """,
    # named_parameters filters with different conditions
    """
    model = Detector()
    opt = torch.optim.AdamW([
        {"params": [p for n, p in model.named_parameters() if "bias" not in n], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if "bias" in n], "weight_decay": 0.0},
    ])
    """,
    # two optimizers may share parameters
    """
    model = Detector()
    opt_a = torch.optim.SGD(model.parameters(), lr=0.1)
    opt_b = torch.optim.SGD([{"params": model.head.parameters()}], lr=0.1)
    """,
    # groups that are appended under different conditions
    """
    model = Detector()
    groups = [{"params": model.backbone.parameters()}]
    if finetune_all:
        groups.append({"params": model.parameters(), "lr": 1e-5})
    else:
        groups.append({"params": model.head.parameters()})
    opt = torch.optim.SGD(groups, lr=0.1)
    """,
])
def test_opt402_silent(body):
    assert rows(body, ["OPT402"]) == []


# --------------------------------------------------------------------------- OPT403


@pytest.mark.parametrize("key, match", [
    ("weight_decays", "weight_decay"), ("momentom", "momentum"), ("Lr", "lr"), ("lr_rate", "lr"),
    ("nestrov", "nesterov"), ("weight-decay", "weight_decay"), ("maximise", "maximize"),
])
def test_misspelt_key_fires_with_the_close_match(key, match):
    src = f"""
    import torch.optim as optim
    from torch import nn

    model = nn.Linear(4, 2)
    optimizer = optim.SGD([{{"params": model.parameters(), "{key}": 0.9}}], lr=0.1)
    """
    found = lint(src, ["OPT403"])
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("OPT403", 6, 55)]
    assert found[0].message.startswith(f"`SGD` has no param-group option `{key}` (did you mean `{match}`?)")
    assert found[0].fix.applicability.value == "safe"


def test_fix_renames_the_key_keeping_quotes(tmp_path):
    src = textwrap.dedent("""\
    import torch
    from torch.optim import AdamW as A

    model = torch.nn.Linear(4, 2)
    opt = A([{'params': model.parameters(), 'bets': (0.9, 0.95)}], lr=1e-3)
    """)
    outcome = fix_text("train.py", src, Settings(select=["OPT403"]), unsafe=False)
    assert outcome.text == src.replace("'bets'", "'betas'")
    assert lint_source("train.py", outcome.text, Settings(select=["OPT403"])) == []


def test_fixture_fixed_through_the_cli(tmp_path, monkeypatch):
    target = tmp_path / "param_groups.py"
    shutil.copyfile(FIXTURE, target)
    monkeypatch.chdir(tmp_path)
    result = invoke(["check", "--no-cache", "--fix", "--select", "OPT403", "param_groups.py"])
    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == FIXTURE.read_text(encoding="utf-8").replace(
        '"weight_decays": 1e-4', '"weight_decay": 1e-4')


def test_no_fix_when_the_group_already_has_the_key():
    src = """
    import torch
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD([{"params": model.parameters(), "weight_decay": 0.0, "weight_decays": 1e-4}], lr=0.1)
    """
    found = lint(src, ["OPT403"])
    assert [d.code for d in found] == ["OPT403"] and found[0].fix is None


def test_add_param_group_keys_are_checked():
    src = """
    import torch
    backbone, head = torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(backbone.parameters(), lr=1e-4)
    opt.add_param_group({"params": head.parameters(), "lr": 1e-3, "epss": 1e-6})
    """
    assert codes_at(src, ["OPT403"]) == [("OPT403", 5)]


@pytest.mark.parametrize("group", [
    # deliberate metadata read back by the codebase's own schedulers
    '"name": "head", "lr_scale": 0.1, "layer_id": 3, "lr_mult": 10, "decay_mult": 0',
    '"weight_decay_scale": 0.5, "base_lr": 0.1, "max_lr": 1.0, "initial_lr": 0.1, "param_names": []',
    '"layer_decay": 0.75, "is_bias": True, "group": "head", "apply_decay": False',
    # close to metadata keys, not to an option: nothing the optimizer would have used
    '"names": ["fc.weight"], "initial_lrs": 0.1, "param_name": "fc"',
    # Keras names are OPT301's
    '"learning_rate": 0.1, "epsilon": 1e-8, "beta_1": 0.9',
    # a key valid for this optimizer
    '"momentum": 0.9, "nesterov": True, "dampening": 0, "foreach": None',
])
def test_opt403_silent_for_custom_and_valid_keys(group):
    src = f"""
    import torch
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD([{{"params": model.parameters(), {group}}}], lr=0.1)
    """
    assert codes_at(src, ["OPT403"]) == []


@pytest.mark.parametrize("ctor", [
    "tf.keras.optimizers.SGD",  # not torch
    "make_optimizer",  # unresolved
    "MyOptimizer",  # a project optimizer: keys unknown
])
def test_opt403_silent_when_the_optimizer_is_not_a_known_torch_class(ctor):
    src = f"""
    import tensorflow as tf
    import torch
    from mylib import make_optimizer, MyOptimizer
    model = torch.nn.Linear(4, 2)
    opt = {ctor}([{{"params": model.parameters(), "weight_decays": 0.1}}])
    """
    assert codes_at(src, ["OPT403"]) == []


def test_keras_key_in_group_is_not_reported_twice():
    src = """
    import torch
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam([{"params": model.parameters(), "learning_rate": 1e-3}])
    """
    assert [c for c, _ in codes_at(src, ["OPT4"])] == []


def test_bad_input_never_raises():
    src = """
    import torch
    opt = torch.optim.SGD()
    opt = torch.optim.SGD(*args, **kw)
    opt = torch.optim.SGD([{**base, "lr": 1}, {}], lr=0.1)
    opt = torch.optim.SGD([{"params": self.x.parameters()}], lr=0.1)
    opt = torch.optim.SGD([{1: 2}, {"params": [][0].parameters()}], lr=0.1)
    """
    assert codes_at(src, ["OPT4"]) == []


@pytest.mark.parametrize("src", [
    # a submodule the forward never uses (left over, or used through a path we cannot see)
    """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(4, 4)
            self.aux_head = nn.Linear(4, 2)

        def forward(self, x):
            return self.decoder(self.encoder(x))

    model = Net()
    opt = torch.optim.Adam([{"params": model.encoder.parameters()}, {"params": model.decoder.parameters()}])
    """,
    # a backbone only ever run without gradients
    """
    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Conv2d(3, 8, 3)
            self.proj = nn.Linear(8, 8)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            with torch.no_grad():
                feats = self.backbone(x).mean((2, 3))
            return self.head(self.proj(feats))

    model = Probe()
    opt = torch.optim.SGD([{"params": model.proj.parameters()}, {"params": model.head.parameters(), "lr": 0.1}], lr=0.01)
    """,
    """
    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Conv2d(3, 8, 3)
            self.proj = nn.Linear(8, 8)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            feats = self.backbone(x).detach().mean((2, 3))
            return self.head(self.proj(feats))

    model = Probe()
    opt = torch.optim.SGD([{"params": model.proj.parameters()}, {"params": model.head.parameters(), "lr": 0.1}], lr=0.01)
    """,
    # target networks updated by Polyak averaging, never by the optimizer
    """
    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.q1 = nn.Linear(6, 1)
            self.q2 = nn.Linear(6, 1)
            self.q1_target = nn.Linear(6, 1)
            self.q2_target = nn.Linear(6, 1)

        def forward(self, obs):
            return self.q1(obs), self.q2(obs)

        def target(self, obs):
            return self.q1_target(obs), self.q2_target(obs)

    critic = Critic()
    critic_opt = torch.optim.Adam(list(critic.q1.parameters()) + list(critic.q2.parameters()), lr=3e-4)
    """,
    """
    class Student(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.predictor = nn.Linear(4, 4)
            self.key_encoder = nn.Linear(4, 4)

        def forward(self, x):
            return self.predictor(self.encoder(x)), self.key_encoder(x)

        @torch.no_grad()
        def momentum_update(self):
            for pk, pq in zip(self.key_encoder.parameters(), self.encoder.parameters()):
                pk.mul_(0.99).add_(pq, alpha=0.01)

    model = Student()
    opt = torch.optim.SGD([{"params": model.encoder.parameters()}, {"params": model.predictor.parameters()}], lr=0.1)
    """,
    # a GAN in Lightning: each optimizer takes one part
    """
    import pytorch_lightning as pl

    class GAN(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.generator = nn.Sequential(nn.Linear(8, 16), nn.Tanh())
            self.mapping = nn.Linear(8, 8)
            self.discriminator = nn.Sequential(nn.Linear(16, 1))

        def forward(self, z):
            return self.generator(self.mapping(z))

        def training_step(self, batch, batch_idx):
            return self.discriminator(self(batch)).mean()

        def configure_optimizers(self):
            opt_g = torch.optim.Adam([{"params": self.generator.parameters()}, {"params": self.mapping.parameters(), "lr": 1e-5}])
            opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=2e-4)
            return [opt_g, opt_d]
    """,
])
def test_opt401_silent_for_parts_no_optimizer_should_update(src):
    header = "import torch\nimport torch.nn as nn\n"
    assert lint_source("train.py", header + textwrap.dedent(src), Settings(select=["OPT401"])) == []


def test_single_source_optimizer_is_not_a_group_split():
    """``Adam(model.head.parameters())`` alone trains the head on purpose (linear probing)."""
    body = """
    model = Detector()
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    """
    assert rows(body, ["OPT401"]) == []


def test_part_frozen_through_another_name_is_silent():
    """The trainer freezes ``self.model.backbone``: the same module as ``model.backbone``."""
    body = """
    class Trainer:
        def __init__(self, model, optimizer):
            self.model = model
            self.optimizer = optimizer
            for param in self.model.neck.parameters():
                param.requires_grad = False

    model = Detector()
    optimizer = torch.optim.AdamW([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}])
    trainer = Trainer(model, optimizer)
    """
    assert rows(body, ["OPT401"]) == []


def test_groups_as_names_of_dicts():
    body = """
    model = Detector()
    backbone_group = {"params": model.backbone.parameters(), "lr": 1e-4}
    head_group = {"params": model.head.parameters(), "lr": 1e-3, "weight_decays": 0.0}
    optimizer = torch.optim.AdamW([backbone_group, head_group])
    """
    assert rows(body) == [("OPT403", ROW + 3), ("OPT401", ROW + 4)]


def test_whole_model_read_by_clipping_counting_and_loops_still_fires():
    body = """
    def train(model, loader, optimizer):
        for x, y in loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    model = Detector()
    print(sum(p.numel() for p in model.parameters() if p.requires_grad))
    for p in model.parameters():
        p.data.mul_(1.0)
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """
    assert rows(body, ["OPT401"]) == [("OPT401", ROW + 12)]


@pytest.mark.parametrize("other", [
    "params = [p for p in model.parameters() if p.requires_grad]",
    "ema = ExponentialMovingAverage(model.parameters(), decay=0.999)",
    "opt2 = Lamb(model.parameters())",
])
def test_whole_model_given_elsewhere_is_silent(other):
    body = f"""
    model = Detector()
    {other}
    opt = torch.optim.SGD([{{"params": model.backbone.parameters()}}, {{"params": model.head.parameters()}}], lr=0.1)
    """
    assert rows(body, ["OPT401"]) == []


def test_model_held_by_a_trainer_attribute():
    body = """
    class Trainer:
        def __init__(self, lr=0.01):
            self.model = Detector(num_classes=5)
            self.optimizer = torch.optim.SGD(
                [
                    {"params": self.model.backbone.parameters(), "lr": lr * 0.1},
                    {"params": self.model.head.parameters()},
                ],
                lr=lr,
                momentum=0.9,
            )

        def step(self, x):
            self.optimizer.zero_grad()
            self.model(x).sum().backward()
            self.optimizer.step()
    """
    assert rows(body) == [("OPT401", ROW + 4)]
    assert messages(body)[0].startswith("the parameter groups leave out `self.model.neck`, which")


def test_model_injected_into_a_trainer_is_silent():
    body = """
    class Trainer:
        def __init__(self, model, lr=0.01):
            self.model = model
            self.optimizer = torch.optim.SGD(
                [{"params": self.model.backbone.parameters()}, {"params": self.model.head.parameters()}], lr=lr)
    """
    assert rows(body) == []


def test_sizes_read_from_a_sibling_do_not_hide_it_but_the_module_itself_does():
    src = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3)
            self.encoder = nn.Linear(8, 16)
            self.head = nn.Linear(self.encoder.out_features, 2)

        def forward(self, x):
            return self.head(self.encoder(self.stem(x).mean((2, 3))))

    model = Net()
    opt = torch.optim.Adam([{"params": model.stem.parameters()}, {"params": model.head.parameters()}])
    """)
    settings = Settings(select=["OPT401"])
    assert [(d.code, d.location.row) for d in lint_source("train.py", src, settings)] == [("OPT401", 15)]
    shared = src.replace("nn.Linear(self.encoder.out_features, 2)", "nn.Sequential(self.encoder, nn.Linear(16, 2))")
    assert lint_source("train.py", shared, settings) == []


def test_gradient_penalty_input_requiring_grad_does_not_hide_a_missing_part():
    body = """
    def gradient_penalty(critic, real, fake):
        alpha = torch.rand(real.size(0), 1, 1, 1)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        images = mixed.detach()
        images.requires_grad = True
        grads = torch.autograd.grad(critic(images).sum(), images, create_graph=True)[0]
        return ((grads.norm(2, dim=1) - 1) ** 2).mean()

    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """
    assert rows(body, ["OPT401"]) == [("OPT401", ROW + 10)]


def test_one_module_under_two_names_built_in_a_setup_helper():
    src = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import lightning.pytorch as L

    class MultiTask(L.LightningModule):
        def __init__(self, lr=1e-3, with_depth=True):
            super().__init__()
            self.lr = lr
            self.with_depth = with_depth
            self.setup("")

        def setup(self, stage):
            self.backbone = self.encoder = nn.Conv2d(3, 16, 3)
            self.seg_model = nn.Conv2d(16, 4, 1)
            self.kps_model = nn.Conv2d(16, 68, 1)
            self.aux = nn.Conv2d(16, 1, 1)

        def forward(self, x):
            feats = self.encoder(x)
            return self.seg_model(feats), self.kps_model(feats), self.aux(feats)

        def configure_optimizers(self):
            return torch.optim.AdamW([
                {"params": self.backbone.parameters(), "lr": self.lr * 0.1},
                {"params": self.seg_model.parameters()},
                {"params": self.kps_model.parameters()},
            ], lr=self.lr)
    """)
    found = lint_source("module.py", src, Settings(select=["OPT401"]))
    assert [(d.code, d.location.row) for d in found] == [("OPT401", 23)]
    assert found[0].message.startswith("the parameter groups leave out `self.aux`, which has")


def test_added_group_overlapping_the_constructed_ones():
    body = """
    def finetune(epochs, unfreeze_at):
        model = Detector()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        for epoch in range(epochs):
            if epoch == unfreeze_at:
                optimizer.add_param_group({"params": model.head.parameters(), "lr": 0.1})
    """
    assert rows(body) == [("OPT402", ROW + 6)]


def test_added_group_disjoint_or_on_a_rebuilt_optimizer_is_silent():
    body = """
    def finetune(epochs, unfreeze_at, fresh):
        model = Detector()
        optimizer = torch.optim.SGD(model.head.parameters(), lr=0.01)
        optimizer.add_param_group({"params": model.backbone.parameters(), "lr": 1e-4})
        other = torch.optim.SGD(model.parameters(), lr=0.01)
        if fresh:
            other = torch.optim.SGD(model.neck.parameters(), lr=0.01)
        other.add_param_group({"params": model.head.parameters()})
    """
    assert rows(body) == []


@pytest.mark.parametrize("head, call", [
    ("import torch", "torch.optim.{}"),
    ("from torch.optim import {} as Opt", "Opt"),
    ("from torch import optim", "optim.{}"),
    ("import torch.optim as O", "O.{}"),
    ("from torch.optim.adam import {}", "{}"),
])
def test_every_spelling_of_every_torch_optimizer_is_a_candidate(head, call):
    from optimlint import prefilter
    from optimlint.analysis.symbols import OPTIMIZER_KEYS

    for name in OPTIMIZER_KEYS:
        text = f"{head.format(name)}\nopt = {call.format(name)}(model.parameters(), lr=0.1)\n"
        assert prefilter.may_fire(text.encode(), {"OPT401", "OPT402", "OPT403"}), text


def test_a_keras_optimizer_is_not_a_candidate():
    from optimlint import prefilter

    text = b"import tensorflow as tf\nopt = tf.keras.optimizers.Adam(learning_rate=1e-3)\n"
    assert not prefilter.may_fire(text, {"OPT401", "OPT402", "OPT403"})


def test_bert_style_decay_split_with_a_misspelt_weight_decay():
    src = """
    import torch

    def build_optimizer(model, lr):
        param_optimizer = list(model.named_parameters())
        no_decay = ["bias", "LayerNorm.bias", "LayerNorm.weight"]
        grouped = [
            {"params": [p for n, p in param_optimizer if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
            {"params": [p for n, p in param_optimizer if any(nd in n for nd in no_decay)], "weight_deacy": 0.0},
        ]
        return torch.optim.AdamW(params=grouped, lr=lr)
    """
    found = lint(src, ["OPT4"])
    assert [(d.code, d.location.row) for d in found] == [("OPT403", 9)]
    assert "(did you mean `weight_decay`?)" in found[0].message


@pytest.mark.parametrize("code, subjects, unknown", [
    ("set_requires_grad([model.neck, aux], False)", {"model.neck", "aux"}, False),
    ("freeze_module(model.neck)", {"model.neck"}, False),
    ("model.neck.requires_grad_(False)", {"model.neck"}, False),
    ("for p in model.head.cls.parameters():\n    p.requires_grad = False", {"model.head.cls"}, False),
    ("for n, p in model.named_parameters():\n    p.requires_grad = 'neck' not in n", {"model"}, False),
    ("def f(m):\n    for p in m.parameters():\n        p.requires_grad = False", set(), True),
    ("x = torch.randn(3).requires_grad_()", set(), False),
])
def test_freeze_subjects(code, subjects, unknown):
    import libcst as cst

    from optimlint.analysis.modules import freeze_subjects

    assert freeze_subjects(cst.parse_module(code + "\n")) == (subjects, unknown)


@pytest.mark.parametrize("name", ["discriminator", "critic", "net_d", "value_head", "policy"])
def test_parts_usually_trained_by_their_own_optimizer_are_not_reported(name):
    src = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    class GAN(nn.Module):
        def __init__(self):
            super().__init__()
            self.mapping = nn.Linear(8, 8)
            self.synthesis = nn.Linear(8, 16)
            self.NAME = nn.Linear(16, 1)

        def forward(self, z):
            fake = self.synthesis(self.mapping(z))
            return fake, self.NAME(fake)

    gan = GAN()
    opt_g = torch.optim.Adam([{"params": gan.mapping.parameters(), "lr": 1e-5}, {"params": gan.synthesis.parameters()}])
    """).replace("NAME", name)
    settings = Settings(select=["OPT401"])
    assert lint_source("train.py", src, settings) == []
    # the same part under a plain name is reported
    plain = src.replace(f"self.{name}", "self.scorer")
    assert [d.code for d in lint_source("train.py", plain, settings)] == ["OPT401"]


def test_class_with_its_own_parameters_method_is_not_analysed():
    body = """
    class Wrapped(Detector):
        def parameters(self, recurse=True):
            return self.head.parameters()

    model = Wrapped()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """
    assert rows(body, ["OPT401"]) == []
    inherited = body.replace("def parameters(self, recurse=True):", "def head_parameters(self):")
    assert rows(inherited, ["OPT401"]) == [("OPT401", ROW + 6)]


def test_self_in_another_class_is_another_object():
    """Two LightningModule-like classes in one file: class A's `self.net` is not class B's,
    and B's groups over injected submodules (unknown to the class analysis) are unproven."""
    source = '''
        import torch
        from torch import nn


        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(2, 2)

            def configure_optimizers(self):
                return torch.optim.Adam(self.net.parameters())


        class B(nn.Module):
            def __init__(self, encoder, head):
                super().__init__()
                self.encoder = encoder
                self.head = head

            def configure_optimizers(self):
                return torch.optim.AdamW([{"params": self.encoder.parameters()},
                                          {"params": self.head.parameters()}])
    '''
    assert codes_at(source, ["OPT4"]) == []


def test_a_project_file_too_deep_for_libcst_is_not_resolved_and_nothing_crashes(tmp_path):
    """Resolving ``Detector`` parses models.py; 5,000 nested brackets there would overflow
    LibCST's native parser (a segmentation fault). Only what CPython parses reaches LibCST."""
    import subprocess
    import sys

    deep = "\nDEPTH = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    _project(tmp_path, """
    import torch
    from mypkg.models import Detector

    model = Detector()
    opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}], lr=0.1)
    """, MODELS + deep)
    write(tmp_path / "mypkg" / "layers.py", LAYERS)
    proc = subprocess.run([sys.executable, "-m", "optimlint", "check", "--no-cache", "--jobs", "1",
                           "--output-format", "concise", "--select", "OPT4", "mypkg/train.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "All checks passed!\n", "")


# ------------------------------------------------- model.apply(fn): initialising or changing
INIT_FN = '''
def init_weights(m):
    if isinstance(m, nn.Conv2d):
        nn.init.normal_(m.weight.data, 0.0, 0.02)

'''
FREEZE_FN = '''
def freeze_norms(m):
    if isinstance(m, nn.BatchNorm2d):
        m.requires_grad_(False)

'''


def _applied(fn: str, defs: str = INIT_FN) -> str:
    return DETECTOR + defs + f"""
model = Detector()
model.apply({fn})
optimizer = torch.optim.SGD([{{"params": model.backbone.parameters()}},
                             {{"params": model.head.parameters(), "lr": 0.1}}], lr=0.01)
"""


def test_opt401_after_an_apply_that_only_initialises():
    src = _applied("init_weights")
    assert codes_at(src, ["OPT401"]) == [("OPT401", src.splitlines().index("model.apply(init_weights)") + 2)]


@pytest.mark.parametrize("fn, defs", [
    ("freeze_norms", FREEZE_FN),  # freezes: the class's parameters are no longer all trained
    ("imported_init", ""),  # cannot be read
    ("lambda m: m", ""),
])
def test_an_apply_that_may_change_the_model_keeps_opt401_silent(fn, defs):
    src = _applied(fn, defs).replace("import itertools\n", "import itertools\nfrom helpers import imported_init\n")
    assert codes_at(src, ["OPT401"]) == []



MOVED_TOGETHER = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.neck = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.neck(self.body(x)))


model = Net()
data = torch.randn(3, 4)
data, model = data.to("cpu"), model.to("cpu")
optimizer = torch.optim.Adam([{"params": model.body.parameters()}, {"params": model.neck.parameters()}], lr=1e-3)
for _ in range(3):
    optimizer.zero_grad()
    model(data).sum().backward()
    optimizer.step()
"""


def test_a_model_moved_in_a_tuple_assignment_keeps_its_class():
    # ``data, model = data.to(device), model.to(device)`` pairs element by element
    assert codes_at(MOVED_TOGETHER, ["OPT401"]) == [("OPT401", 19)]


def test_a_model_rebound_from_an_unpacked_call_stays_unknown():
    # ``data, model = prepare(data, model)``: what ``model`` holds now cannot be read
    src = MOVED_TOGETHER.replace('data, model = data.to("cpu"), model.to("cpu")', "data, model = prepare(data, model)")
    assert codes_at(src, ["OPT401"]) == []
