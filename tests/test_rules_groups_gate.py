"""The groups check reads a file's tree only where a torch optimizer class is called, imported
under another name, or a group is added (``groups._may_build``, a text test before the walk)."""

import pytest

from optimlint.checks.groups import _may_build


@pytest.mark.parametrize("text", [
    "opt = SGD(model.parameters())",
    "opt = optim.Adam  (params)",
    "from torch.optim import AdamW as A",
    "from torch.optim import (SGD\n    as Plain)",
    "opt.add_param_group({'params': head})",
    "é = SGD(p)",
])
def test_texts_that_may_build_groups(text):
    assert _may_build(text)


@pytest.mark.parametrize("text", [
    "opt = MySGD(model.parameters())",  # another class whose name ends like one
    "opt = SGDx(p)",
    "opt = éSGD(p)",  # a letter before the name is part of it
    "opt = _Adam(p)",
    "optimizer = make_optimizer(cfg)",
    "# Adam is used below\nopt = build(cfg)",
])
def test_texts_that_cannot(text):
    assert not _may_build(text)
