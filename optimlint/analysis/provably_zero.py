"""Is a value provably zero on every run: OPT302's question about ``weight_decay``.

Follows a name to its one store in the scope (or the module), ``self.x`` to its one store in
the class, ``args.x`` to an argparse option's default (``argparse_defaults.py``), and a
parameter with a zero default to the calls of its function in the file (a caller passing
something not provably zero makes it unknown). Depth-bounded: three steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import construction_args as A
from optimlint.analysis import walk as _walk
from optimlint.analysis.argparse_defaults import argparse_zero_defaults
from optimlint.analysis.bindings import key_of
from optimlint.analysis.call_args import positional_params
from optimlint.analysis.symbols import callee_name

if TYPE_CHECKING:
    from optimlint.context import FileContext


def provably_zero(ctx: "FileContext", expr: cst.BaseExpression, scope, depth: int = 0) -> bool:
    """``expr`` (a weight decay) is zero on every run: a zero literal, or a name, ``self.x`` or
    ``args.x`` whose one store is (an argparse option whose default is zero, a parameter whose
    default is zero that no call in the file passes a non-zero value)."""
    v = A.literal_number(expr)
    if v is not None:
        return v == 0
    if depth > 3:
        return False
    if isinstance(expr, cst.Attribute) and A.self_name(scope) == "self" and key_of(expr) \
            and key_of(expr).count(".") == 1 and key_of(expr).startswith("self."):
        # ``self.weight_decay`` stored once in the class: follow it into its method.
        klass = A.class_of_method(ctx, scope)
        stores = A.class_attr_stores(ctx, klass, key_of(expr)) if klass is not None else []
        if len(stores) != 1 or stores[0].kind != "assign":
            return False
        method = A.enclosing_scope(ctx, stores[0].target)
        return provably_zero(ctx, stores[0].value, method, depth + 1)
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value != "self":
        # ``args.weight_decay`` of an argparse option whose default is zero: zero unless given
        # on the command line (where Adam's coupled decay is the user's explicit choice).
        return argparse_zero_defaults(ctx).get(expr.attr.value, False)
    if not isinstance(expr, cst.Name):
        return False
    stores = A.scope_stores(ctx, scope).of(expr.value)
    if not stores and scope is not None:
        if A.class_of_method(ctx, scope) is None and isinstance(scope, cst.FunctionDef):
            return provably_zero(ctx, expr, None, depth + 1)
        return False
    if len(stores) != 1:
        return False
    st = stores[0]
    if st.kind == "assign":
        return provably_zero(ctx, st.value, scope, depth + 1)
    if st.kind == "param" and st.value is not None and A.literal_number(st.value) == 0:
        # A parameter whose default is zero: zero unless a caller in this file passes it.
        return not _passed_by_caller(ctx, scope, st.target)
    return False


def _passed_by_caller(ctx: "FileContext", func: cst.FunctionDef, param: cst.Param) -> bool:
    """A call of ``func`` in this file passes ``param`` something not provably zero."""
    name = func.name.value
    ordered = positional_params(func)
    index = next((i for i, p in enumerate(ordered) if p is param), None)
    klass = A.class_of_method(ctx, func)
    is_method = klass is not None
    if name == "__init__" and klass is not None:
        name = klass.name.value  # ``Factory(weight_decay=...)`` calls ``__init__``
    passed = False

    class V(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal passed
            f = node.func
            callee = callee_name(f)
            if callee != name:
                return
            if any(a.star for a in node.args):
                passed = True
            kw = A.keyword_arg(node, param.name.value)
            if kw is not None and A.literal_number(kw.value) != 0:
                passed = True
            if index is not None:
                bound = isinstance(f, cst.Attribute) or func.name.value == "__init__"
                i = index - 1 if (is_method and bound) else index
                pos = A.positional(node)
                if 0 <= i < len(pos) and A.literal_number(pos[i].value) != 0:
                    passed = True

    _walk.visit(ctx.module, V())
    return passed
