"""A module's mode chosen by configuration: one ``if``/``elif``/``else`` chain whose arms set it.

A linear-evaluation script picks the mode at the top of each epoch from its settings::

    if args.weights == "finetune":
        model.train()
    elif args.weights == "freeze":
        model.eval()          # a frozen backbone is trained on in eval mode, on purpose
    else:
        assert False

The ``.eval()`` of that chain is no evaluation left on (OPT603 must not report it), and the
``.train()`` restores an evaluation's ``.eval()`` later in the epoch whenever the run trains in
training mode at all: every other arm either chooses eval mode for the same module or cannot
go on (``assert False``, ``raise``).
"""

from __future__ import annotations

from typing import Callable

import libcst as cst

from optimlint.vocabulary import MODE_CHOOSING_METHODS


def _chain(ctx, node: cst.If) -> list[tuple[cst.If, str]]:
    """The arms of the ``if``/``elif``/``else`` chain ``node`` belongs to, each as the
    (``If``, arm) a Branch of an event in it names: ``(If_k, "body")`` for each test and
    ``(If_last, "else")`` for a final ``else``."""
    top = node
    parent = ctx.parents.get(top)
    while isinstance(parent, cst.If) and parent.orelse is top:
        top, parent = parent, ctx.parents.get(parent)
    arms: list[tuple[cst.If, str]] = []
    cur: cst.If | None = top
    while cur is not None:
        arms.append((cur, "body"))
        orelse = cur.orelse
        if isinstance(orelse, cst.If):
            cur = orelse
        else:
            if isinstance(orelse, cst.Else):
                arms.append((cur, "else"))
            cur = None
    return arms


def _arm_of(event, arms: list[tuple[cst.If, str]]) -> tuple[cst.If, str] | None:
    """The arm of ``arms`` ``event`` runs in (its innermost branch on the chain)."""
    found = None
    for b in event.branches:
        for node, arm in arms:
            if b.node is node and b.arm == arm:
                found = (node, arm)
    return found


def _cannot_go_on(node: cst.If, arm: str) -> bool:
    """The arm starts with ``assert False`` or ``raise``: a run that takes it stops."""
    block = node.body if arm == "body" else node.orelse.body  # type: ignore[union-attr]
    if not isinstance(block, cst.IndentedBlock) or not block.body:
        return False
    first = block.body[0]
    if not isinstance(first, cst.SimpleStatementLine) or not first.body:
        return False
    small = first.body[0]
    if isinstance(small, cst.Raise):
        return True
    return isinstance(small, cst.Assert) and isinstance(small.test, cst.Name) and small.test.value == "False"


def _mode_only(node: cst.If, arm: str) -> bool:
    """The arm only switches modes (``model.eval()``, ``backbone.requires_grad_(False)``):
    a choice of mode, not an evaluation that runs forwards."""
    block = node.body if arm == "body" else node.orelse.body  # type: ignore[union-attr]
    if not isinstance(block, cst.IndentedBlock):
        return False
    for stmt in block.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            return False
        for small in stmt.body:
            if isinstance(small, cst.Pass):
                continue
            call = small.value if isinstance(small, cst.Expr) else None
            if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                    and call.func.attr.value in MODE_CHOOSING_METHODS):
                return False
    return True


def _chain_of(ctx, event) -> list[tuple[cst.If, str]] | None:
    inner = next((b for b in reversed(event.branches) if isinstance(b.node, cst.If)), None)
    return _chain(ctx, inner.node) if inner is not None else None


def chosen_eval(ctx, ev, trains: list, same_module: Callable[[object], bool]) -> bool:
    """``ev`` (an EVAL_MODE event) is a mode-only arm of a chain another mode-only arm of which
    puts the same module in training mode (``trains``: the loop's TRAIN_MODE events)."""
    arms = _chain_of(ctx, ev)
    mine = _arm_of(ev, arms) if arms else None
    if mine is None or not _mode_only(*mine):
        return False
    return any(same_module(t) and _arm_of(t, arms) not in (None, mine) and _mode_only(*_arm_of(t, arms))
               for t in trains)


def train_whenever_training(ctx, train, evaluation, evals: list, same_module: Callable[[object], bool]) -> bool:
    """``train`` (a TRAIN_MODE event) is a mode-only arm of an ``if``/``elif``/``else`` chain
    that ``evaluation`` is not in, and every other arm either only puts the same module in eval
    mode (``evals``: the loop's EVAL_MODE events) or cannot go on: whenever the run trains in
    training mode, ``train`` runs and restores it."""
    arms = _chain_of(ctx, train)
    if not arms or arms[-1][1] != "else":
        return False  # without a final else a pass may take no arm
    mine = _arm_of(train, arms)
    if mine is None or not _mode_only(*mine) or _arm_of(evaluation, arms) is not None:
        return False
    return all(_cannot_go_on(*a) or (_mode_only(*a) and any(same_module(e) and _arm_of(e, arms) == a for e in evals))
               for a in arms if a != mine)
