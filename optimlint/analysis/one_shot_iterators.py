"""One-shot iterators over parameters (OPT304's questions): which scopes store a name, whether
a stored value is an iterator over ``parameters()``, what consumes it at a use, whether one
use runs before another, and which loop runs a use again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import construction_args as A
from optimlint.analysis import walk as _walk
from optimlint.vocabulary import PARAMETER_READING_QUALNAMES

if TYPE_CHECKING:
    from optimlint.context import FileContext

BUILTIN_CONSUMERS = frozenset({"list", "tuple", "set", "frozenset", "sorted", "sum", "any", "all",
                               "min", "max", "dict"})


def assigning_scopes(ctx: "FileContext", candidates: set[str]) -> list[cst.CSTNode | None]:
    """The scopes (module: None, functions) that assign one of ``candidates`` to a plain name,
    in the order of their first such assignment; class bodies never count."""
    walk = _AssigningScopes(candidates)
    _walk.visit(ctx.module, walk)
    return walk.scopes


class _AssigningScopes(cst.CSTVisitor):
    """The scopes (module, functions) that assign a candidate name. (A class of the module:
    one made per call would be cyclic garbage holding the scopes until the collector ran.)"""

    def __init__(self, candidates: set[str]) -> None:
        self.candidates = candidates
        self.scopes: list[cst.CSTNode | None] = []
        self.stack: list[cst.CSTNode | None] = [None]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.append(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.pop()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        scope = self.stack[-1]
        if isinstance(node.target, cst.Name) and node.target.value in self.candidates \
                and not isinstance(scope, cst.ClassDef) and scope not in self.scopes:
            self.scopes.append(scope)

    # expressions never hold statements: skip them wholesale
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return any(isinstance(s, cst.Assign) for s in node.body)

    def visit_Expr(self, node) -> bool:
        return False


def parameter_iterator(ctx: "FileContext", value: cst.BaseExpression) -> bool:
    """``value`` is a one-shot iterator over parameters: ``m.parameters()``, ``filter(...)`` /
    ``map(...)`` / ``itertools.chain(...)`` / a generator expression over such a call."""
    def has_params_call(expr) -> bool:
        return any(isinstance(n.func, cst.Attribute) and n.func.attr.value in ("parameters", "named_parameters")
                   for n in _walk.nodes_of(expr, cst.Call))

    if isinstance(value, cst.Call):
        f = value.func
        if isinstance(f, cst.Attribute) and f.attr.value in ("parameters", "named_parameters"):
            return True
        if isinstance(f, cst.Name) and f.value in ("filter", "map") and not ctx.imports.imported(f.value):
            return has_params_call(value)
        if ctx.qualify(f) in ("itertools.chain", "itertools.chain.from_iterable"):
            return has_params_call(value)
        return False
    if isinstance(value, cst.GeneratorExp):
        return has_params_call(value)
    return False


def consumer(ctx: "FileContext", node: cst.Name) -> str | None:
    """What consumes the iterator at this use, or None when the use does not (provably)."""
    parents = ctx.parents
    parent = parents.get(node)
    if isinstance(parent, cst.For) and parent.iter is node:
        return "a `for` loop"
    if isinstance(parent, cst.CompFor) and parent.iter is node:
        holder = parents.get(parent)
        if isinstance(holder, (cst.ListComp, cst.SetComp, cst.DictComp)) and holder.for_in is parent:
            return "a comprehension"
        if isinstance(holder, cst.GeneratorExp) and holder.for_in is parent:
            # ``sum(p.numel() for p in params)``: consumed when the call runs
            arg = parents.get(holder)
            call = parents.get(arg)
            if isinstance(arg, cst.Arg) and arg.keyword is None and not arg.star \
                    and isinstance(call, cst.Call) and _builtin_consumer(ctx, call):
                return f"`{call.func.value}(...)`"
        return None
    if isinstance(parent, cst.StarredElement):
        return "unpacking"
    if isinstance(parent, cst.Arg) and parent.value is node:
        if parent.star == "*":
            return "unpacking"
        if parent.star:
            return None
        call = parents.get(parent)
        if not isinstance(call, cst.Call):
            return None
        oc = A.optimizer_call(ctx, call)
        if oc is not None:
            return f"`{ctx.code(call.func)}`" if A.params_arg(call) is parent else None
        f = call.func
        if _builtin_consumer(ctx, call) and parent.keyword is None:
            return f"`{f.value}()`"
        first = call.args[0] is parent and parent.keyword is None
        by_kw = parent.keyword is not None and parent.keyword.value == "parameters"
        if ctx.qualify(f) in PARAMETER_READING_QUALNAMES and (first or by_kw):
            return f"`{ctx.code(f)}`"
        if isinstance(f, cst.Attribute) and f.attr.value in ("clip_grad_norm_", "clip_grad_value_") \
                and (first or by_kw):
            return f"`{ctx.code(f)}`"
        return None
    if isinstance(parent, cst.DictElement) and parent.value is node and A.string_value(parent.key) == "params":
        d = parents.get(parent)
        el = parents.get(d)
        lst = parents.get(el)
        arg = parents.get(lst)
        call = parents.get(arg)
        if isinstance(arg, cst.Arg) and isinstance(call, cst.Call):
            oc = A.optimizer_call(ctx, call)
            if oc is not None and A.params_arg(call) is arg:
                return f"`{ctx.code(call.func)}`"
    return None


def _builtin_consumer(ctx: "FileContext", call: cst.Call) -> bool:
    f = call.func
    return (isinstance(f, cst.Name) and f.value in BUILTIN_CONSUMERS and not ctx.imports.imported(f.value)
            and not A.scope_stores(ctx, None).of(f.value))


def runs_before(ctx: "FileContext", a: cst.CSTNode, b: cst.CSTNode, scope) -> bool:
    """``a`` runs before ``b`` whenever ``b`` runs: it dominates ``b``, or both sit in one simple
    statement, ``a`` first, neither inside a conditional expression."""
    if A.dominates(ctx, a, b, scope):
        return True
    sa, sb = A.statement_of(ctx, a), A.statement_of(ctx, b)
    if sa is None or sa is not sb or not isinstance(sa, cst.SimpleStatementLine):
        return False
    return (A.pos(ctx, a) < A.pos(ctx, b) and not A.in_conditional_expr(ctx, a, sa)
            and not A.in_conditional_expr(ctx, b, sa))


def loop_around(ctx: "FileContext", node, assign_target, scope) -> cst.CSTNode | None:
    """The innermost loop whose body holds ``node`` but not the assignment, when it has
    no ``break``/``return``/``raise`` (so it provably runs its body again)."""
    parents = ctx.parents
    child, cur = node, parents.get(node)
    while cur is not None and cur is not scope:
        if isinstance(cur, (cst.For, cst.While)) and child is cur.body:
            if ctx.encloses(cur.body, assign_target):
                return None
            if _exits(cur.body):
                return None
            return cur
        child, cur = cur, parents.get(cur)
    return None


def _exits(body: cst.CSTNode) -> bool:
    found = False

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node):
            return False

        def visit_Lambda(self, node):
            return False

        def visit_Break(self, node):
            nonlocal found
            found = True

        def visit_Return(self, node):
            nonlocal found
            found = True

        def visit_Raise(self, node):
            nonlocal found
            found = True

    _walk.visit(body, V())
    return found
