"""OPT604 forward-called-directly only where skipping ``__call__`` does harm: a DDP/FSDP
module, a wrapper bypassed through ``.module``, hooks registered in the file, a training or
evaluation loop. Never ``self.<sub>.forward(...)`` inside a module's own methods."""

from __future__ import annotations

import textwrap

import pytest

from optimlint.config import Settings
from optimlint.fixing import fix_text

from conftest import codes_at, lint

SEL = ["OPT604"]

NET = """\
import torch
from torch import nn


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head.forward(torch.tanh(self.body.forward(x)))

"""

FIRES = {
    "a DDP wrapper": ("""\
    from torch.nn.parallel import DistributedDataParallel as DDP
    tower = DDP(Tower())
    y = tower.forward(torch.ones(2, 8))
    """, "y = tower.forward("),
    "a module wrapped by DDP later in the file": ("""\
    from torch.nn.parallel import DistributedDataParallel
    tower = Tower()
    warm = tower.forward(torch.ones(2, 8))
    ddp = DistributedDataParallel(tower)
    """, "warm = tower.forward("),
    "a wrapper bypassed through .module": ("""\
    wrapped = nn.DataParallel(Tower())
    y = wrapped.module.forward(torch.ones(2, 8))
    """, "y = wrapped.module.forward("),
    "forward hooks registered on it": ("""\
    tower = Tower()
    tower.register_forward_hook(lambda mod, inp, out: print(out.shape))
    y = tower.forward(torch.ones(2, 8))
    """, "y = tower.forward("),
    "weight norm on the module itself": ("""\
    from torch.nn.utils import weight_norm
    layer = nn.Linear(8, 8)
    weight_norm(layer)
    y = layer.forward(torch.ones(2, 8))
    """, "y = layer.forward("),
    "a training loop": ("""\
    tower = Tower()
    opt = torch.optim.SGD(tower.parameters(), lr=0.1)
    for x in batches:
        opt.zero_grad()
        tower.forward(x).pow(2).mean().backward()
        opt.step()
    """, "tower.forward(x).pow(2)"),
    "an evaluation loop under no_grad": ("""\
    tower = Tower()
    with torch.no_grad():
        for x in batches:
            scores.append(tower.forward(x))
    """, "scores.append(tower.forward(x))"),
    "a DataParallel wrapper in a training loop": ("""\
    tower = nn.DataParallel(Tower())
    opt = torch.optim.SGD(tower.parameters(), lr=0.1)
    for x in batches:
        opt.zero_grad()
        tower.forward(x).pow(2).mean().backward()
        opt.step()
    """, "tower.forward(x).pow(2)"),
    "a trainer's own model in its loop": ("""\
    class Trainer:
        def __init__(self):
            self.tower = Tower()

        def fit(self, batches):
            for x in batches:
                self.tower.forward(x).sum().backward()
    """, "self.tower.forward(x)"),
}


@pytest.mark.parametrize("name", list(FIRES))
def test_opt604_fires_where_skipping_call_does_harm(name):
    tail, line = FIRES[name]
    src = NET + textwrap.dedent(tail)
    row = next(i for i, text in enumerate(src.splitlines(), 1) if line in text)
    assert codes_at(src, SEL) == [("OPT604", row)]


def test_opt604_message_says_why_and_fix_calls_the_module():
    src = NET + textwrap.dedent(FIRES["forward hooks registered on it"][0])
    (d,) = lint(src, SEL)
    assert d.message == ("`tower.forward(...)` calls the module's `forward` directly, skipping `__call__` "
                         "where it matters: hooks are registered on the module in this file; call `tower(...)`")
    out = fix_text("train.py", src, Settings(select=SEL), False).text
    assert out == src.replace("y = tower.forward(", "y = tower(")
    assert codes_at(out, SEL) == []
    assert fix_text("train.py", out, Settings(select=SEL), False).text == out


def test_opt604_on_a_data_parallel_wrapper_says_the_loop_not_a_synchronisation():
    # ``nn.DataParallel.forward`` scatters and replicates by itself: the harm is the loop's hooks
    (d,) = lint(NET + textwrap.dedent(FIRES["a DataParallel wrapper in a training loop"][0]), SEL)
    assert d.message.endswith("skipping `__call__` where it matters: the call runs in a training loop "
                              "(a backward in the same loop); "
                              "call `tower(...)`")


def test_opt604_bypass_has_no_fix():
    (d,) = lint(NET + textwrap.dedent(FIRES["a wrapper bypassed through .module"][0]), SEL)
    assert "bypasses the wrapper" in d.message and d.fix is None


SILENT = {
    # the submodules inside Tower.forward above, and:
    "a notebook cell with no hooks, no wrapper, no loop": """\
    tower = Tower()
    y = tower.forward(torch.ones(2, 8))
    """,
    "a loop with neither backward nor no_grad": """\
    tower = Tower()
    shapes = [tower.forward(x).shape for x in batches]
    for x in batches:
        print(tower.forward(x).shape)
    """,
    "hooks on another module": """\
    tower, probe = Tower(), nn.Linear(8, 8)
    probe.register_forward_hook(lambda mod, inp, out: None)
    y = tower.forward(torch.ones(2, 8))
    """,
    "a submodule called in the parent's own training method": """\
    class Student(nn.Module):
        def __init__(self):
            super().__init__()
            self.tower = Tower()

        def forward(self, x):
            return self.tower(x)

        def distill(self, batches):
            for x in batches:
                self.tower.forward(x).sum().backward()
    """,
    "a DataParallel wrapper outside any loop (its forward scatters by itself)": """\
    tower = nn.DataParallel(Tower())
    y = tower.forward(torch.ones(2, 8))
    """,
    "a module DataParallel wraps, called directly outside any loop": """\
    tower = Tower()
    replicas = nn.DataParallel(tower)
    y = tower.forward(torch.ones(2, 8))
    """,
    ".module of something that is not a wrapper": """\
    class Holder:
        pass
    box = Holder()
    box.module = Tower()
    y = box.module.forward(torch.ones(2, 8))
    """,
}


@pytest.mark.parametrize("name", list(SILENT))
def test_opt604_stays_silent_where_nothing_is_skipped(name):
    assert codes_at(NET + textwrap.dedent(SILENT[name]), SEL) == []


# FSDP2's ``fully_shard`` under every path torch defines it at (``vocabulary.FULLY_SHARD``): the
# public ``torch.distributed.fsdp`` name and the private ``_fully_shard`` modules it comes from.
SHARDED = """\
{import_line}
tower = Tower()
warm = tower.forward(torch.ones(2, 8))
fully_shard(tower)
"""


@pytest.mark.parametrize("import_line", [
    "from torch.distributed.fsdp import fully_shard",
    "from torch.distributed._composable.fsdp import fully_shard",
    "from torch.distributed.fsdp._fully_shard import fully_shard",
    "from torch.distributed.fsdp._fully_shard._fully_shard import fully_shard",
])
def test_opt604_fires_on_a_module_sharded_by_fully_shard(import_line):
    src = NET + SHARDED.format(import_line=import_line)
    row = next(i for i, text in enumerate(src.splitlines(), 1) if "warm = tower.forward(" in text)
    assert codes_at(src, SEL) == [("OPT604", row)]


SHARDED_SILENT = {
    "a project's own fully_shard": """\
    from mesh_tools import fully_shard
    tower = Tower()
    warm = tower.forward(torch.ones(2, 8))
    fully_shard(tower)
    """,
    "torch's fully_shard on another module": """\
    from torch.distributed.fsdp._fully_shard import fully_shard
    tower, other = Tower(), nn.Linear(8, 8)
    warm = tower.forward(torch.ones(2, 8))
    fully_shard(other)
    """,
}


@pytest.mark.parametrize("name", list(SHARDED_SILENT))
def test_opt604_silent_when_fully_shard_is_not_torchs_or_shards_another_module(name):
    assert codes_at(NET + textwrap.dedent(SHARDED_SILENT[name]), SEL) == []


# An evaluation loop is one whose gradients are off, read as OPT602 reads it
# (``vocabulary.grad_mode``): every no-grad context torch has, ``set_grad_enabled(False)``, and
# not ``inference_mode(False)`` / ``set_grad_enabled(True)``, which leave gradients on.
EVAL_LOOP = """\
tower = Tower()
{header}
    for x in batches:
        scores.append(tower.forward(x))
"""


@pytest.mark.parametrize("header", [
    "with torch.set_grad_enabled(False):",
    "with torch.autograd.inference_mode():",
    "with torch.autograd.grad_mode.no_grad():",
    "with torch.inference_mode(True):",
])
def test_opt604_fires_in_a_loop_with_gradients_off(header):
    src = NET + EVAL_LOOP.format(header=header)
    row = next(i for i, text in enumerate(src.splitlines(), 1) if "scores.append(tower.forward(x))" in text)
    assert codes_at(src, SEL) == [("OPT604", row)]


def test_opt604_fires_in_a_loop_of_a_function_decorated_no_grad():
    src = NET + textwrap.dedent("""\
    tower = Tower()


    @torch.autograd.grad_mode.inference_mode()
    def evaluate(batches):
        return [tower.forward(x) for x in batches] + [tower.forward(x) for x in batches if x is not None]


    @torch.set_grad_enabled(False)
    def score(batches):
        for x in batches:
            yield tower.forward(x)
    """)
    row = next(i for i, text in enumerate(src.splitlines(), 1) if "yield tower.forward(x)" in text)
    assert codes_at(src, SEL) == [("OPT604", row)]


@pytest.mark.parametrize("header", [
    "with torch.inference_mode(False):",
    "with torch.inference_mode(mode=False):",
    "with torch.set_grad_enabled(True):",
    "with torch.set_grad_enabled(training):",
])
def test_opt604_silent_in_a_loop_with_gradients_on_or_unknown(header):
    assert codes_at(NET + EVAL_LOOP.format(header=header), SEL) == []


# A parameter container of torch.nn is no module that computes (``vocabulary.torch_module_class``):
# its forward raises NotImplementedError either way, so calling it through ``__call__`` is no fix.
def test_opt604_silent_on_a_parameter_list_in_a_training_loop():
    src = NET + textwrap.dedent("""\
    bank = nn.ParameterList([nn.Parameter(torch.ones(8))])
    opt = torch.optim.SGD(bank.parameters(), lr=0.1)
    for x in batches:
        bank.forward(x).sum().backward()
        opt.step()
    """)
    assert codes_at(src, SEL) == []


def test_opt604_fires_on_a_quantization_aware_layer_in_a_training_loop():
    src = NET + textwrap.dedent("""\
    import torch.nn.qat as nnqat
    layer = nnqat.Linear(8, 8, qconfig=qconfig)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    for x in batches:
        layer.forward(x).sum().backward()
        opt.step()
    """)
    row = next(i for i, text in enumerate(src.splitlines(), 1) if "layer.forward(x)" in text)
    assert codes_at(src, SEL) == [("OPT604", row)]
