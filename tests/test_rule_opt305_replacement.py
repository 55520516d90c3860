"""OPT305 optimizer-before-param-replacement: every replacing operation fires at its call,
plain moves and casts stay silent (with torch's proof), and rebinding is followed."""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

from optimlint.config import Settings
from optimlint.fixing import fix_text

from conftest import codes_at, invoke, lint

SEL = ["OPT305"]


def fixed(source: str) -> str:
    text = textwrap.dedent(source)
    out = fix_text("train.py", text, Settings(select=SEL), True).text
    assert fix_text("train.py", out, Settings(select=SEL), True).text == out
    return out


# --------------------------------------------------------------------------- must fire
FIRES = {
    "fsdp wrap": ("""\
    import torch
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    def fit(net, batches):
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        net = FSDP(net, device_id=0)
        for inputs in batches:
            net(inputs).mean().backward()
            opt.step()
    """, 6),
    "fsdp with use_orig_params=False": ("""\
    import torch
    import torch.distributed.fsdp as fsdp
    encoder = build_encoder()
    opt = torch.optim.SGD(encoder.parameters(), lr=0.1)
    sharded = fsdp.FullyShardedDataParallel(encoder, use_orig_params=False)
    opt.step()
    """, 5),
    "fully_shard": ("""\
    import torch
    from torch.distributed.fsdp import fully_shard

    def fit(net, batches):
        opt = torch.optim.AdamW(net.parameters())
        fully_shard(net)
        for inputs in batches:
            net(inputs).sum().backward()
            opt.step()
    """, 6),
    "fully_shard of a submodule": ("""\
    import torch
    from torch.distributed._composable.fsdp import fully_shard
    opt = torch.optim.AdamW(net.parameters())
    fully_shard(net.trunk)
    opt.step()
    """, 4),
    "to_empty": ("""\
    import torch
    with torch.device("meta"):
        net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.to_empty(device="cpu")
    opt.step()
    """, 5),
    "load_state_dict assign": ("""\
    import torch
    net = Tower()
    opt = torch.optim.Adam(net.parameters())
    net.load_state_dict(torch.load("weights.pt"), assign=True)
    opt.step()
    """, 4),
    "xla device from xm": ("""\
    import torch
    import torch_xla.core.xla_model as xm
    dev = xm.xla_device()
    net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net = net.to(dev)
    opt.step()
    """, 6),
    "xla device string": ("""\
    import torch
    net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.to(torch.device("xla"))
    opt.step()
    """, 4),
    "cast under the overwrite flag": ("""\
    import torch
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.double()
    opt.step()
    """, 5),
    "model rebound to a deep copy": ("""\
    import copy
    import torch

    def fit(net, batches):
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net = copy.deepcopy(net)
        for inputs in batches:
            opt.zero_grad()
            net(inputs).sum().backward()
            opt.step()
    """, 6),
    "self attributes in a trainer": ("""\
    import torch
    from torch.distributed.fsdp import FullyShardedDataParallel

    class Runner:
        def __init__(self, tower):
            self.tower = tower
            self.opt = torch.optim.AdamW(self.tower.parameters())
            self.tower = FullyShardedDataParallel(self.tower)
    """, 8),
}


@pytest.mark.parametrize("name", list(FIRES))
def test_opt305_fires_at_the_replacing_call(name):
    src, row = FIRES[name]
    assert codes_at(src, SEL) == [("OPT305", row)]


def test_opt305_message_names_the_operation():
    (d,) = lint(FIRES["fsdp wrap"][0], SEL)
    assert d.message == (
        "`FSDP(net, device_id=0)` runs after `opt` was built from `net`'s parameters: wrapping in FSDP "
        "without `use_orig_params=True` replaces the module's parameters with flattened FlatParameters, "
        "so the optimizer updates tensors the model no longer uses; build the optimizer after wrapping, "
        "from the wrapped module's parameters (or pass `use_orig_params=True`)")
    (d,) = lint(FIRES["load_state_dict assign"][0], SEL)
    assert "`load_state_dict(..., assign=True)` makes the state dict's tensors" in d.message


def test_opt305_fix_builds_the_optimizer_after_the_wrap():
    assert fixed(FIRES["fsdp wrap"][0]) == textwrap.dedent("""\
    import torch
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    def fit(net, batches):
        net = FSDP(net, device_id=0)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        for inputs in batches:
            net(inputs).mean().backward()
            opt.step()
    """)
    assert codes_at(fixed(FIRES["fsdp wrap"][0]), SEL) == []


# --------------------------------------------------------------------------- must not fire
SILENT = {
    # the moves and casts of today's PyTorch keep the Parameter objects
    "plain moves and casts": """\
    import torch
    net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.to(device)
    net = net.cuda()
    net.half()
    net.to(torch.bfloat16)
    opt.step()
    """,
    "fsdp keeping the original parameters": """\
    import torch
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    opt = torch.optim.AdamW(net.parameters())
    net = FSDP(net, use_orig_params=True)
    opt.step()
    """,
    "fsdp flag read from a config": """\
    import torch
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    opt = torch.optim.AdamW(net.parameters())
    net = FSDP(net, use_orig_params=cfg.orig)
    opt.step()
    """,
    "optimizer built again after the wrap": """\
    import torch
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    opt = torch.optim.AdamW(net.parameters())
    net = FSDP(net)
    opt = torch.optim.AdamW(net.parameters())
    opt.step()
    """,
    "optimizer built again in a trainer": """\
    import torch
    from torch.distributed.fsdp import fully_shard

    class Runner:
        def setup(self):
            self.opt = torch.optim.AdamW(self.tower.parameters())
            fully_shard(self.tower)
            self.opt = torch.optim.AdamW(self.tower.parameters())
    """,
    "assign load before building": """\
    import torch
    net = Tower()
    net.load_state_dict(state, assign=True)
    opt = torch.optim.Adam(net.parameters())
    opt.step()
    """,
    "load without assign": """\
    import torch
    net = Tower()
    opt = torch.optim.Adam(net.parameters())
    net.load_state_dict(state)
    opt.load_state_dict(opt_state)
    opt.step()
    """,
    "a copy kept beside the model (EMA, best weights)": """\
    import copy
    import torch
    opt = torch.optim.Adam(net.parameters())
    ema = copy.deepcopy(net)
    best = copy.deepcopy(net)
    opt.step()
    """,
    "a copy taken after training, the optimizer only saved": """\
    import copy
    import torch
    opt = torch.optim.Adam(net.parameters())
    for batch in loader:
        opt.step()
    net = copy.deepcopy(net)
    """,
    "to_empty of another module": """\
    import torch
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    teacher.to_empty(device="cuda")
    opt.step()
    """,
    "a move to an accelerator that is not XLA": """\
    import torch
    net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.to(torch.device("cuda:0"))
    opt.step()
    """,
    "the swap flag keeps the objects": """\
    import torch
    torch.__future__.set_swap_module_params_on_conversion(True)
    net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.double()
    opt.step()
    """,
    "the overwrite flag switched off": """\
    import torch
    torch.__future__.set_overwrite_module_params_on_conversion(False)
    net = Tower()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.double()
    opt.step()
    """,
    "the optimizer never used again": """\
    import torch
    from torch.distributed.fsdp import fully_shard
    opt = torch.optim.AdamW(net.parameters())
    fully_shard(net)
    """,
}


@pytest.mark.parametrize("name", list(SILENT))
def test_opt305_stays_silent(name):
    assert codes_at(SILENT[name], SEL) == []


def _steps_update_the_module(change) -> bool:
    """Build SGD, apply ``change`` to the module, take one step: did the module's weights move,
    and does the optimizer still hold the module's Parameter objects?"""
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net = change(net) or net
    before = net.weight.detach().clone()
    net(torch.ones(4, 3, dtype=net.weight.dtype)).sum().backward()
    opt.step()
    same = all(a is b for a, b in zip(opt.param_groups[0]["params"], net.parameters()))
    return same and not torch.equal(before, net.weight.detach())


@pytest.mark.parametrize("change", [
    lambda m: m.to("cpu"), lambda m: m.cpu(), lambda m: m.double(), lambda m: m.float(),
    lambda m: m.to(torch.float64),
])
def test_torch_keeps_parameter_objects_on_plain_moves(change):
    # why the plain-move shapes above stay silent: the step still trains the model
    assert _steps_update_the_module(change)


def test_torch_replaces_parameter_objects_on_flagged_operations():
    import copy
    assert not _steps_update_the_module(
        lambda m: m.load_state_dict(nn.Linear(3, 2).state_dict(), assign=True) and None)
    assert not _steps_update_the_module(lambda m: copy.deepcopy(m))
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        assert not _steps_update_the_module(lambda m: m.double())
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(False)
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        assert _steps_update_the_module(lambda m: m.double())  # swap keeps the objects
    finally:
        torch.__future__.set_swap_module_params_on_conversion(False)


def test_opt305_old_name_is_an_alias():
    result = invoke(["rule", "optimizer-before-device-move"])
    assert result.exit_code == 0
    assert result.stdout.startswith("# OPT305 (optimizer-before-param-replacement)")
