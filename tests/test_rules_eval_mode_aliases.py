"""OPT603 when the evaluated module and the trained one are spelled differently: a
distributed script keeps ``net_plain = net.module`` (or ``bare = net.module if wrapped else
net``) and evaluates through one name while the training helper sets training mode through
the other. A wrapper and its ``.module`` switch modes together, so the two names are one module
for OPT603: a lost ``.train()`` is reported through either name, and a restore through either
name covers the other."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

WRAPPED = """\
import torch
from torch.nn.parallel import DistributedDataParallel


def one_epoch(net, batches, opt):
    net.train()
    for inputs, labels in batches:
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(inputs), labels).backward()
        opt.step()


@torch.no_grad()
def score(net, batches):
    net.eval()
    return sum(float(net(inputs).sub(labels).abs().mean()) for inputs, labels in batches)


def run(cfg, make_net, train_batches, held_out):
    net = make_net(cfg)
    net_plain = net
    if cfg.world_size > 1:
        net = DistributedDataParallel(net, device_ids=[cfg.rank])
        net_plain = net.module
    opt = torch.optim.SGD(net_plain.parameters(), lr=cfg.lr, momentum=0.9)
    for epoch in range(cfg.epochs):
        one_epoch(net, train_batches, opt)
        print(epoch, score(net_plain, held_out))
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_opt603_evaluated_through_the_unwrapped_alias_trained_through_the_wrapper():
    assert codes_at(WRAPPED, ["OPT603"]) == []
    lost = WRAPPED.replace("    net.train()\n", "")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "net.eval()"))]


def test_opt603_the_other_way_round_evaluated_through_the_wrapper_restored_through_the_alias():
    src = WRAPPED.replace("one_epoch(net, train_batches, opt)", "one_epoch(net_plain, train_batches, opt)") \
        .replace("score(net_plain, held_out)", "score(net, held_out)")
    assert codes_at(src, ["OPT603"]) == []
    lost = src.replace("    net.train()\n", "")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "net.eval()"))]


CONDITIONAL = """\
import torch


def fit(net, opt, batches, held_out, epochs):
    bare = net.module if hasattr(net, "module") else net
    for epoch in range(epochs):
        bare.train()
        for x, y in batches:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            print(sum(float(net(x).argmax(1).eq(y).sum()) for x, y in held_out))
        torch.save(bare.state_dict(), "last.pt")
"""


def test_opt603_a_conditional_unwrap_is_the_same_module():
    assert codes_at(CONDITIONAL, ["OPT603"]) == []
    lost = CONDITIONAL.replace("        bare.train()\n", "")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "net.eval()"))]


def test_opt603_a_module_attribute_switched_directly_is_the_wrapped_module():
    src = CONDITIONAL.replace("        bare.train()\n", "        net.module.train()\n")
    assert codes_at(src, ["OPT603"]) == []


@pytest.mark.parametrize("evaluated", [
    # a second network held under a name of its own: the teacher, never trained here
    "teacher",
    # a name that holds one network here and another there: which one is unknown
    "shared",
])
def test_opt603_names_that_are_not_certainly_the_trained_module_stay_silent(evaluated):
    src = """\
    import copy
    import torch


    def fit(net, critic, opt, batches, epochs):
        teacher = copy.deepcopy(net)
        shared = net
        shared = critic
        for epoch in range(epochs):
            net.train()
            for x, y in batches:
                opt.zero_grad()
                torch.nn.functional.mse_loss(net(x), teacher(x).detach()).backward()
                opt.step()
            EVALUATED.eval()
    """.replace("EVALUATED", evaluated)
    assert codes_at(src, ["OPT603"]) == []


# The representative of a group of plain names is the one bound on the lowest row (then the
# least name): checked against the rows themselves, where names share a line of statements.
REPRESENTATIVES = [
    ("net = make(); copy = net\nb = copy\n", "copy", "copy"),  # same line: 'copy' < 'net'
    ("z = make(); a = z\n", "z", "a"),
    ("z = make(\n    1); a = z\n", "z", "z"),  # one line of statements, two rows
    ("z = make(); \\\n    a = z\n", "z", "z"),
    ("a = make()\nif x: b = a\nelse: b = a\n", "b", "a"),
    ("if x: b = make(); a = b\n", "b", "a"),
    ("zz = net\nyy = zz\n", "yy", "zz"),
    ("b = net\na = net\n", "a", "b"),
]


@pytest.mark.parametrize("text, name, rep", REPRESENTATIVES)
def test_an_alias_group_is_spelled_by_the_name_bound_first(text, name, rep):
    import libcst as cst

    from optimlint.analysis.module_aliases import mode_key
    from optimlint.config import Settings
    from optimlint.context import FileContext

    ctx = FileContext("train.py", text, cst.parse_module(text), Settings())
    assert mode_key(ctx, None, name) == rep
