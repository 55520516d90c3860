"""Other files of the project are read statement by statement (``modules.ParsedFile.read``):
CPython's ``ast`` says what each file imports and which top-level statement binds each name,
and LibCST parses only the statements a question reaches. Its answers are those of the file
parsed whole (``ParsedFile.build``), and the lint that reads them is unchanged."""

from __future__ import annotations

import os

import libcst as cst

from optimlint.analysis import modules
from optimlint.parsing import parse_module
from tests.conftest import invoke

# Every way a top-level name is bound that ``build`` tells apart: classes defined once or
# twice, functions, conditional definitions, plain, annotated, augmented and unpacked
# assignments, imports at module level, in a try block and inside a function, star and
# relative imports.
TRICKY = '''\
"""Helpers."""
import os
import torch.nn as nn
from . import sibling
from .models import Net as Model, Head
from ..pkg.sub import *
try:
    from apex import amp
except ImportError:
    amp = None


class Once(nn.Module):
    pass


class Twice:
    pass


class Twice:
    x = 1


@decorated
def helper(a, b):
    import numpy as np
    return np.add(a, b)


async def fetch():
    pass


if os.environ.get("X"):
    class Maybe:
        pass

    def maybe_fn():
        pass
else:
    Maybe = None

counter = 0
counter += 1
limit: int = 3
first, second = 1, 2
handler = lambda x: x
a = b = 2; c = 3
'''


def same(a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """Equal statements but for the blank and comment lines above them (a statement parsed
    alone has none: no analysis reads them off another file's statements)."""
    def bare(node):
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return node.with_changes(leading_lines=(), decorators=[d.with_changes(leading_lines=())
                                                                  for d in node.decorators])
        return node.with_changes(leading_lines=())
    return bare(a).deep_equals(bare(b))


def test_a_file_read_by_statements_answers_as_the_whole_tree(tmp_path):
    path = str(tmp_path / "helpers.py")
    whole = modules.ParsedFile.build(path, parse_module(TRICKY))
    read = modules.ParsedFile.read(path, TRICKY)
    assert read is not None
    assert read.imports.bindings == whole.imports.bindings
    assert read.imports.star_modules == whole.imports.star_modules == ["..pkg.sub"]
    assert read.other_names == whole.other_names
    assert sorted(read.classes) == sorted(whole.classes) == ["Once", "Twice"]
    for name in ("Once", "Twice"):
        assert same(read.classes[name], whole.classes[name])
    assert read.classes["Twice"].body.body[0].body[0].targets[0].target.value == "x"  # the last one
    assert read._module is None  # nothing parsed whole so far
    for name in ("helper", "fetch", "handler", "a", "b", "c", "counter", "Maybe", "nothing"):
        mine = read.top_statements(name)
        theirs = whole.top_statements(name)
        assert len(mine) == len(theirs)
        assert all(same(m, t) for m, t in zip(mine, theirs))
    assert [type(s).__name__ for s in read.top_statements("helper")] == ["FunctionDef"]
    assert read._module is None
    assert read.module.deep_equals(whole.module)  # and whole when asked


def test_a_file_libcst_cannot_parse_is_still_refused(tmp_path):
    # ``(name): int = 0`` is Python, not LibCST's grammar: the file is unusable, as before
    text = "class Net:\n    pass\n\n(limit): int = 0\n"
    assert modules.ParsedFile.read(str(tmp_path / "odd.py"), text) is None
    (tmp_path / "odd.py").write_text(text, encoding="utf-8")
    assert modules.parse_file(str(tmp_path / "odd.py")) is None
    # ... wherever it is: in a method, after a ``;``, after an ``if``'s colon on its line
    for inner in ("    def reset(self):\n        (limit): int = 0\n",
                  "    def reset(self):\n        x = 1; (limit): int = 0\n",
                  "    def reset(self, flag):\n        if flag: (limit): int = 0\n"):
        assert modules.ParsedFile.read(str(tmp_path / "odd.py"), "class Net:\n" + inner) is None
    assert modules.ParsedFile.read(str(tmp_path / "odd.py"), "class Net:\n    limit: int = 0\n") is not None


PACKAGE_INIT = "from .optim import WarmupAdam\n"
OPTIM = '''\
import math

import torch


def unused_helper(x):
    return math.sqrt(x)


class WarmupAdam(torch.optim.Adam):
    """Adam with a warm-up of the learning rate."""

    def __init__(self, params, lr=1e-3, warmup=100):
        super().__init__(params, lr=lr)
        self.warmup = warmup


TABLE = {"a": 1, "b": 2}
'''
TRAIN = '''\
import torch
from torch import nn

from mypkg import WarmupAdam


def main():
    model = nn.Linear(4, 2)
    optimizer = WarmupAdam(model.parameters(), lr=0.1)
    loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
'''


def test_a_project_optimizer_class_is_resolved_through_a_package_without_parsing_it_whole(tmp_path, monkeypatch):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text(PACKAGE_INIT, encoding="utf-8")
    (tmp_path / "mypkg" / "optim.py").write_text(OPTIM, encoding="utf-8")
    (tmp_path / "train.py").write_text(TRAIN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.optimlint]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = invoke(["check", "--no-cache", "--jobs", "1", "--output-format", "concise", "train.py"])
    assert result.stdout.splitlines()[0] == (
        "train.py:14:9: OPT102 [*] `optimizer.zero_grad()` runs after the backward and before "
        "`optimizer.step()`: the step sees no gradient; clear before the backward")
    read = modules.parse_file(os.path.abspath(str(tmp_path / "mypkg" / "optim.py")))
    assert read is not None and read._module is None  # its class was parsed, not the file
    assert isinstance(read.classes["WarmupAdam"], cst.ClassDef)


# Class headers a question about bases reads alone: bases over several lines with comments,
# a keyword (metaclass), a decorated class, a docstring first, a decorated first method, and
# a class written on one line (parsed whole: it has no header of its own).
HEADERS = '''\
import abc

from torch.optim.lr_scheduler import _LRScheduler


@register("warmup")
class Warmup(
    _LRScheduler,  # the torch base
    abc.ABC,
    metaclass=abc.ABCMeta,
):
    """Warm-up."""

    def get_lr(self):
        return self.base_lrs


class Plain(_LRScheduler):

    # a comment before the first method
    @property
    def total(self):
        return 1


class OneLine(_LRScheduler): pass
'''


def test_the_bases_of_a_class_are_read_from_its_header_alone(tmp_path):
    path = str(tmp_path / "schedules.py")
    whole = modules.ParsedFile.build(path, parse_module(HEADERS))
    for newline in ("\n", "\r\n"):
        text = HEADERS.replace("\n", newline)
        read = modules.ParsedFile.read(path, text)
        assert read is not None
        for name in ("Warmup", "Plain", "OneLine"):
            mine, theirs = read.class_bases(name), whole.class_bases(name)
            assert len(mine) == len(theirs) > 0
            assert all(m.deep_equals(t) for m, t in zip(mine, theirs))
        assert len(read._source._parsed) == 1  # only the one-line class was parsed whole
        # a class already parsed answers from its tree
        assert read.class_bases("Plain")[0].deep_equals(read.classes["Plain"].bases[0])


TRAIN_WITH_PROJECT_SCHEDULER = '''\
import torch
from torch import nn

from schedules import Warmup


def train(model, batches):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    warmup = Warmup(optimizer)
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        warmup.step()
        optimizer.step()
'''


def test_a_project_scheduler_is_known_by_its_header_without_parsing_its_body(tmp_path, monkeypatch):
    (tmp_path / "schedules.py").write_text(HEADERS, encoding="utf-8")
    (tmp_path / "train.py").write_text(TRAIN_WITH_PROJECT_SCHEDULER, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.optimlint]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = invoke(["check", "--no-cache", "--jobs", "1", "--output-format", "concise", "train.py"])
    assert [line.split(" ")[:2] for line in result.stdout.splitlines() if line.startswith("train.py")] == [
        ["train.py:14:9:", "OPT201"]]
    read = modules.parse_file(os.path.abspath(str(tmp_path / "schedules.py")))
    assert read is not None and read._source._parsed == {}  # no class body parsed
