"""Constant arguments of an inlined helper, and the branches they decide.

One helper often runs both training and evaluation, switched by a phase argument::

    def run_epoch(phase):
        if phase == "train":
            model.train()
        else:
            model.eval()
        ...

    for epoch in range(epochs):
        run_epoch("train")
        run_epoch("val")

The training-iteration model inlines the helper at each call; a constant passed for ``phase``
(a string, a number, ``True``/``False``/``None``, or an enum member ``Phase.TRAIN``) decides
``if phase == "train":`` for that call, so the call's events are the arm that runs, on every
pass, not "under a condition".

``constant(expr)`` spells a constant argument (None: not one); ``decide(test, consts)`` says
whether ``test`` is true (True / False) given the parameters' constants, or None when unknown.
"""

from __future__ import annotations

import ast

import libcst as cst

from optimlint.analysis.names import dotted

_LITERALS = (cst.SimpleString, cst.Integer, cst.Float)


def constant(expr: cst.BaseExpression | None) -> str | None:
    """``"train"`` -> ``'train'``; ``0`` -> ``0``; ``True``; ``Phase.TRAIN`` (a dotted name whose
    root is CapWords: an enum or class attribute)."""
    if isinstance(expr, _LITERALS):
        try:
            return repr(ast.literal_eval(expr.value))
        except (ValueError, SyntaxError):
            return None
    if isinstance(expr, cst.Name):
        return expr.value if expr.value in ("True", "False", "None") else None
    if isinstance(expr, cst.Attribute):
        d = dotted(expr)
        if d and d[:1].isupper() and "." in d:
            return d
    return None


def _literal(text: str) -> bool:
    return "." not in text or text[:1] in "'\"0123456789"


def _equal(a: str, b: str) -> bool | None:
    if a == b:
        return True
    if _literal(a) and _literal(b):
        try:
            return ast.literal_eval(a) == ast.literal_eval(b)
        except (ValueError, SyntaxError):
            return None
    if not _literal(a) and not _literal(b) and a.rpartition(".")[0] == b.rpartition(".")[0]:
        return False  # two members of one enum
    return None


def _truth(text: str) -> bool | None:
    if not _literal(text):
        return None
    try:
        return bool(ast.literal_eval(text))
    except (ValueError, SyntaxError):
        return None


def _side(expr: cst.BaseExpression, consts: dict[str, str]) -> str | None:
    if isinstance(expr, cst.Name) and expr.value in consts:
        return consts[expr.value]
    return constant(expr)


def decide(test: cst.BaseExpression, consts: dict[str, str]) -> bool | None:
    if isinstance(test, cst.Name):
        return _truth(consts[test.value]) if test.value in consts else None
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = decide(test.expression, consts)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left, right = decide(test.left, consts), decide(test.right, consts)
        if isinstance(test.operator, cst.And):
            return False if False in (left, right) else (True if left and right else None)
        return True if True in (left, right) else (False if left is False and right is False else None)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        left, comp = test.left, test.comparisons[0]
        right, op = comp.comparator, comp.operator
        # one side must be a parameter with a constant; the other a constant
        if not any(isinstance(x, cst.Name) and x.value in consts for x in (left, right)):
            return None
        if isinstance(op, (cst.In, cst.NotIn)):
            a = _side(left, consts)
            if a is None or not isinstance(right, (cst.Tuple, cst.List, cst.Set)):
                return None
            found: bool | None = False
            for el in right.elements:
                b = constant(el.value)
                same = _equal(a, b) if b is not None else None
                if same:
                    found = True
                    break
                if same is None:
                    found = None
            if found is None:
                return None
            return found if isinstance(op, cst.In) else not found
        a, b = _side(left, consts), _side(right, consts)
        if a is None or b is None:
            return None
        if isinstance(op, (cst.Equal, cst.NotEqual)):
            same = _equal(a, b)
        elif isinstance(op, (cst.Is, cst.IsNot)) and {a, b} <= {"True", "False", "None"}:
            same = a == b
        else:
            return None
        if same is None:
            return None
        return same if isinstance(op, (cst.Equal, cst.Is)) else not same
    return None
