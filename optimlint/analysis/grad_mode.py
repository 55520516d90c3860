"""Whether a ``with`` item or decorator turns gradients off or on (``vocabulary.grad_mode`` on syntax).

The iteration model, the module analysis and OPT602 all ask this one function."""

from __future__ import annotations

from typing import Callable

import libcst as cst

from optimlint.vocabulary import grad_mode as _mode_of


def grad_mode(qualify: Callable[[cst.BaseExpression], str | None], expr: cst.BaseExpression) -> bool | None:
    """False for a context/decorator that disables grad, True for one that enables it, else None.

    ``qualify`` is the file's qualified-name reader (``ctx.qualify``, ``imports.qualify``)."""
    if not isinstance(expr, cst.Call):
        return _mode_of(qualify(expr))
    if not expr.args:
        return _mode_of(qualify(expr.func))
    first = expr.args[0].value
    return _mode_of(qualify(expr.func), first.value if isinstance(first, cst.Name) else None)
