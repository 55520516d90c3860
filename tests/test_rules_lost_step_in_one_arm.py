"""Two training functions handed the same optimizer, one chosen per run by a flag
(``if args.moco: train_moco(...) else: train_ins(...)`` in the epoch loop): the other
function's step never runs after this one's backward, so a batch loop that clears and
backpropagates but lost its step is reported (OPT104) whichever arm it is in. Exact (code,
row); silent where the arm changes from pass to pass, and where both functions step."""

from __future__ import annotations

from tests.conftest import codes_at

SCRIPT = """\
import torch


def train_ins(loader, model, criterion, optimizer):
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        {ins_step}


def train_moco(loader, model, criterion, optimizer):
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        {moco_step}


def main(args, loader, model, criterion):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    for epoch in range(args.epochs):
        if {test}:
            train_moco(loader, model, criterion, optimizer)
        else:
            train_ins(loader, model, criterion, optimizer)
"""


def src(ins_step="optimizer.step()", moco_step="optimizer.step()", test="args.moco") -> str:
    return SCRIPT.format(ins_step=ins_step, moco_step=moco_step, test=test)


def test_the_function_of_the_else_arm_lost_its_step():
    assert codes_at(src(ins_step="pass"), ["OPT104"]) == [("OPT104", 8)]


def test_the_function_of_the_first_arm_lost_its_step():
    assert codes_at(src(moco_step="pass"), ["OPT104"]) == [("OPT104", 16)]


# ------------------------------------------------------------------ must not fire
def test_both_functions_step():
    assert codes_at(src(), ["OPT104"]) == []


def test_arms_that_alternate_from_epoch_to_epoch():
    # the other function's step runs on the next pass, after this one's backward
    assert codes_at(src(ins_step="pass", test="epoch % 2 == 0"), ["OPT104"]) == []
