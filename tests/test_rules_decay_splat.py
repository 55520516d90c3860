"""OPT302 reads the keywords an Adam construction receives through ``**`` where the file shows
the dict: a ``dict(...)`` / ``{...}`` literal written in place, or a name bound once to one and
only ever splatted. A dict the file cannot see whole (a parameter, one changed after it is
built) keeps the rule silent, as before."""

from __future__ import annotations

import pytest

from conftest import codes_at, lint

STRICT = {"adam_weight_decay_require_evidence": False}

SHARED_DICT = """\
import torch
from torch.optim import Adam


def build(generator, discriminator, lr):
    opt_kwargs = dict(lr=lr, betas=(0.5, 0.9), weight_decay=0.05)
    opt_g = Adam(generator.parameters(), **opt_kwargs)
    opt_d = Adam(discriminator.parameters(), **opt_kwargs)
    return opt_g, opt_d
"""


def test_decay_in_a_named_dict_is_reported_once_at_its_key():
    ds = lint(SHARED_DICT, ["OPT302"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [("OPT302", 6, 48)]
    # the dict serves two optimizers: renaming one call would not fix the other
    assert ds[0].fix is None


@pytest.mark.parametrize("src, row", [
    # a literal written in the call
    ("import torch\nopt = torch.optim.Adam(net.parameters(), **{'lr': 1e-3, 'weight_decay': 1e-2})\n", 2),
    ("import torch\nopt = torch.optim.Adam(net.parameters(), **dict(lr=1e-3, weight_decay=0.1))\n", 2),
    # the named dict carries the other settings, the decay is written beside it
    ("import torch\n\ndef make(net):\n    common = {'lr': 2e-4, 'betas': (0.5, 0.999)}\n"
     "    return torch.optim.Adam(net.parameters(), **common, weight_decay=0.05)\n", 5),
    # a module-level dict read by a module-level construction
    ("import torch\nADAM = dict(lr=1e-3, weight_decay=0.01)\nopt = torch.optim.Adam(net.parameters(), **ADAM)\n", 2),
])
def test_splatted_decay_with_evidence_fires(src, row):
    assert codes_at(src, ["OPT302"]) == [("OPT302", row)]


@pytest.mark.parametrize("src", [
    # decoupled decay asked for inside the dict
    "import torch\nkw = dict(lr=1e-3, weight_decay=0.05, decoupled_weight_decay=True)\n"
    "opt = torch.optim.Adam(net.parameters(), **kw)\n",
    # zero, or a small value with nothing pointing to AdamW: deliberate L2
    "import torch\nkw = dict(lr=1e-3, weight_decay=0.0)\nopt = torch.optim.Adam(net.parameters(), **kw)\n",
    "import torch\nkw = dict(lr=1e-3, weight_decay=1e-5)\nopt = torch.optim.Adam(net.parameters(), **kw)\n",
    # the dict is changed after it is built: what reaches Adam is not what the literal says
    "import torch\nkw = dict(lr=1e-3, weight_decay=0.05)\nkw['weight_decay'] = 0.0\n"
    "opt = torch.optim.Adam(net.parameters(), **kw)\n",
    "import torch\nkw = dict(lr=1e-3, weight_decay=0.05)\nkw.update(decoupled_weight_decay=True)\n"
    "opt = torch.optim.Adam(net.parameters(), **kw)\n",
    # bound twice, or only after the call
    "import torch\nkw = dict(weight_decay=0.05)\nif fast:\n    kw = dict(weight_decay=0.05, decoupled_weight_decay=True)\n"
    "opt = torch.optim.Adam(net.parameters(), **kw)\n",
    # keywords the file does not show: a caller's **kwargs, a merged dict, a config
    "import torch\n\ndef make(net, **kwargs):\n    return torch.optim.Adam(net.parameters(), weight_decay=0.05, **kwargs)\n",
    "import torch\nkw = {**base, 'weight_decay': 0.05}\nopt = torch.optim.Adam(net.parameters(), **kw)\n",
    "import torch\nopt = torch.optim.Adam(net.parameters(), weight_decay=0.05, **cfg.optim)\n",
    # AdamW: decoupled already
    "import torch\nkw = dict(lr=1e-3, weight_decay=0.05)\nopt = torch.optim.AdamW(net.parameters(), **kw)\n",
])
def test_splatted_dicts_that_do_not_fire(src):
    assert codes_at(src, ["OPT302"]) == []


def test_strict_form_reads_a_small_splatted_decay():
    src = "import torch\nkw = dict(lr=1e-3, weight_decay=1e-5)\nopt = torch.optim.Adam(net.parameters(), **kw)\n"
    assert codes_at(src, ["OPT302"], **STRICT) == [("OPT302", 2)]
