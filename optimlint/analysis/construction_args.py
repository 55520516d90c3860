"""What the optimizer-construction rules (OPT3xx) need to know about a file.

- which calls build a torch optimizer (by qualified name, or a class defined in the file
  that subclasses one without its own ``__init__``: it takes the same arguments);
- the arguments of such a call (``params``, keywords, param-group dict literals);
- literal numbers (``0``, ``0.0``, ``-1e-4``) and whether a value is provably zero;
- per scope (module, function, class body) the stores of every name / attribute chain,
  and the order of two nodes in a scope (``precedes``, ``dominates``);
- whether an expression provably holds an ``nn.Module``;
- the param-group dict literals of a construction (``group_literals``, also through the name
  its ``params`` is, and ``added_group_literals`` from ``opt.add_param_group({...})``);
- the keywords a construction receives through ``**`` where the file shows the dict
  (``splatted_keywords``).

Kept apart from ``symbols.py`` (shared tables) so the construction rules own their logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.bindings import key_of
from optimlint.analysis.call_args import has_double_star, has_star, keyword_arg, positional  # noqa: F401 (checks read them as A.*)
from optimlint.analysis.names import dotted
from optimlint.analysis.symbols import optimizer_class
from optimlint.vocabulary import MODULE_SELF_RETURNING, OPTIMIZER_KEYS, torch_module_class
from optimlint.analysis.call_args import every_param, positional_params

if TYPE_CHECKING:
    from optimlint.context import FileContext

SCOPE_NODES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


# --------------------------------------------------------------------------- literals
def literal_number(expr: cst.BaseExpression | None) -> float | None:
    """The value of ``0``, ``0.0``, ``1e-4``, ``-0.5``, ``(0)``; None for anything else."""
    if isinstance(expr, (cst.Integer, cst.Float)):
        try:
            return float(expr.evaluated_value)
        except (ValueError, OverflowError):  # pragma: no cover - LibCST validated it
            return None
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        v = literal_number(expr.expression)
        if v is None:
            return None
        return -v if isinstance(expr.operator, cst.Minus) else v
    return None


def literal_bool(expr: cst.BaseExpression | None) -> bool | None:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    return None


def string_value(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, cst.SimpleString):
        v = expr.evaluated_value
        return v if isinstance(v, str) else None
    return None


# --------------------------------------------------------------------------- optimizer calls
@dataclass(frozen=True)
class OptimizerCall:
    call: cst.Call
    cls: str  # the torch class whose constructor runs: "Adam"
    local: bool  # built through a class defined in this file


def _top_level_classes(ctx: "FileContext") -> dict[str, cst.ClassDef]:
    return {s.name.value: s for s in ctx.module.body if isinstance(s, cst.ClassDef)}


def _through_local_bases(ctx: "FileContext", classes: dict[str, cst.ClassDef], leaf, skip=None):
    """``resolve(name)``: the first true ``leaf(qualified name)`` of a base of class ``name``,
    following the file's own classes (not imported names) through their bases; ``skip(node)``
    true leaves a class out. Memoized per name."""
    return _LocalBases(ctx, classes, leaf, skip)


class _LocalBases:
    """``_through_local_bases``' resolver. (An object, not a closure calling itself: that
    closure would be cyclic garbage holding the file's classes until the collector ran.)"""

    def __init__(self, ctx: "FileContext", classes: dict[str, cst.ClassDef], leaf, skip) -> None:
        self.ctx = ctx
        self.classes = classes
        self.leaf = leaf
        self.skip = skip
        self.memo: dict[str, object] = {}

    def __call__(self, name: str, seen: frozenset[str] = frozenset()):
        if name in self.memo:
            return self.memo[name]
        classes = self.classes
        node = classes.get(name)
        if node is None or name in seen or (self.skip is not None and self.skip(node)):
            return None
        result = None
        for base in node.bases:
            if base.keyword is not None:
                continue
            v = base.value
            if isinstance(v, cst.Name) and v.value in classes and not self.ctx.imports.imported(v.value):
                result = self(v.value, seen | {name})
            else:
                result = self.leaf(self.ctx.qualify(v))
            if result:
                break
        self.memo[name] = result
        return result


def local_optimizer_classes(ctx: "FileContext") -> dict[str, str]:
    """Top-level classes of the file that subclass a torch optimizer and keep its constructor.

    ``class MyAdam(torch.optim.Adam): ...`` (no ``__init__``, also through another local
    class) maps ``MyAdam`` to ``Adam``. A class with its own ``__init__`` takes arguments the
    analysis cannot know, so it is left out.
    """

    def build() -> dict[str, str]:
        classes = _top_level_classes(ctx)
        resolve = _through_local_bases(ctx, classes, optimizer_class, skip=_defines_init)
        out: dict[str, str] = {}
        for name in classes:
            if ctx.imports.imported(name):
                continue
            found = resolve(name)
            if found:
                out[name] = found
        return out

    return ctx.cached("construction.local_optimizers", build)


def _defines(node: cst.ClassDef, name: str) -> bool:
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    return any(isinstance(s, cst.FunctionDef) and s.name.value == name for s in body)


def _defines_init(node: cst.ClassDef) -> bool:
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value in ("__init__", "__new__"):
            return True
    return False


def optimizer_call(ctx: "FileContext", call: cst.Call) -> OptimizerCall | None:
    f = call.func
    if isinstance(f, cst.Name):
        local = local_optimizer_classes(ctx).get(f.value)
        if local:
            return OptimizerCall(call, local, True)
    cls = optimizer_class(ctx.qualify(f))
    return OptimizerCall(call, cls, False) if cls else None


def optimizer_calls(ctx: "FileContext") -> list[OptimizerCall]:
    """Every call in the file that builds a torch optimizer, in source order."""

    def build() -> list[OptimizerCall]:
        found: list[OptimizerCall] = []

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                oc = optimizer_call(ctx, node)
                if oc is not None:
                    found.append(oc)

        _walk.visit(ctx.module, V())
        return found

    return ctx.cached("construction.optimizer_calls", build)





def params_arg(call: cst.Call) -> cst.Arg | None:
    """The ``params`` argument of an optimizer construction (first positional or keyword)."""
    kw = keyword_arg(call, "params")
    if kw is not None:
        return kw
    if call.args and call.args[0].keyword is None and not call.args[0].star:
        return call.args[0]
    return None


def group_dicts(call: cst.Call) -> list[cst.Dict]:
    """Param-group dict literals in a list/tuple literal passed as ``params``."""
    arg = params_arg(call)
    if arg is None or not isinstance(arg.value, (cst.List, cst.Tuple)):
        return []
    return [e.value for e in arg.value.elements
            if isinstance(e, cst.Element) and isinstance(e.value, cst.Dict)]


def dict_items(d: cst.Dict) -> Iterator[tuple[str, cst.DictElement]]:
    """``(key, element)`` for the string-keyed elements of a dict literal."""
    for el in d.elements:
        if isinstance(el, cst.DictElement):
            k = string_value(el.key)
            if k is not None:
                yield k, el


def valid_keys(cls: str) -> frozenset[str]:
    return OPTIMIZER_KEYS.get(cls, frozenset())


# --------------------------------------------------------------------------- scopes
def enclosing_scope(ctx: "FileContext", node: cst.CSTNode) -> cst.CSTNode | None:
    """The innermost function, class or lambda around ``node``; None at module level."""
    parents = ctx.parents
    cur = parents.get(node)
    while cur is not None:
        if isinstance(cur, SCOPE_NODES):
            return cur
        cur = parents.get(cur)
    return None


@dataclass
class Store:
    """One place where a key gets a value: ``value`` is None when it is not a plain assignment."""

    target: cst.CSTNode
    value: cst.BaseExpression | None
    kind: str = "assign"  # assign, param, aug, for, with, del, import, def, global, walrus, except


@dataclass
class ScopeStores:
    node: cst.CSTNode | None
    stores: dict[str, list[Store]] = field(default_factory=dict)

    def of(self, key: str) -> list[Store]:
        return self.stores.get(key, [])


def _targets(target: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        for e in target.elements:
            yield from _targets(e.value)
    elif isinstance(target, cst.StarredElement):
        yield from _targets(target.value)
    else:
        yield target


class _StoreCollector(cst.CSTVisitor):
    """The stores of one scope; nested functions, classes and lambdas are not entered."""

    def __init__(self, out: ScopeStores, root: cst.CSTNode | None) -> None:
        self.out = out
        self.root = root

    def _add(self, target: cst.BaseExpression, value, kind: str) -> None:
        for t in _targets(target):
            k = key_of(t)
            if k is not None:
                self.out.stores.setdefault(k, []).append(Store(t, value, kind))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if node is self.root:
            for param in every_param(node):  # a star parameter has no default
                self.out.stores.setdefault(param.name.value, []).append(
                    Store(param, param.default, "param"))
            return True
        self.out.stores.setdefault(node.name.value, []).append(Store(node, None, "def"))
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        if node is self.root:
            return True
        self.out.stores.setdefault(node.name.value, []).append(Store(node, None, "def"))
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return node is self.root

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            single = not isinstance(t.target, (cst.Tuple, cst.List))
            self._add(t.target, node.value if single else None, "assign" if single else "unpack")

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._add(node.target, node.value, "assign")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._add(node.target, None, "aug")

    def visit_For(self, node: cst.For) -> None:
        self._add(node.target, None, "for")

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._add(node.asname.name, None, "with")

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._add(node.target, node.value, "walrus")

    def visit_Del(self, node: cst.Del) -> None:
        self._add(node.target, None, "del")

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._add(node.name.name, None, "except")

    def visit_Global(self, node: cst.Global) -> None:
        for n in node.names:
            self.out.stores.setdefault(n.name.value, []).append(Store(n, None, "global"))

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for n in node.names:
            self.out.stores.setdefault(n.name.value, []).append(Store(n, None, "global"))

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            name = alias.asname.name if alias.asname is not None else alias.name
            root = dotted(name) if isinstance(name, (cst.Name, cst.Attribute)) else None
            if root:
                self.out.stores.setdefault(root.split(".")[0], []).append(Store(node, None, "import"))
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                name = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(name, cst.Name):
                    self.out.stores.setdefault(name.value, []).append(Store(node, None, "import"))
        return False

    # Comprehension targets are local to the comprehension.
    def visit_CompFor(self, node: cst.CompFor) -> bool:
        return True


def scope_stores(ctx: "FileContext", scope: cst.CSTNode | None) -> ScopeStores:
    """Every binding of every name in ``scope`` (nested scopes not entered), one walk, cached.

    Not ``assignments.stores()``, on purpose: this answers "is ``key`` bound here only once, by
    a plain assignment?" for many keys of one scope, so it is one table built in one walk per
    scope (``stores()`` walks the scope once per key: the construction checks ask it for every
    argument of every optimizer and scheduler), and it must see every way a name is bound
    (parameters, ``def``/``class``, walrus, ``del``, ``except ... as``, ``global``, imports,
    unpacking through starred targets) to refuse to follow one, where ``stores()`` lists the
    assignment-like bindings whose value can be read."""
    def build() -> ScopeStores:
        out = ScopeStores(scope)
        root = ctx.module if scope is None else scope
        _walk.visit(root, _StoreCollector(out, scope))
        return out

    return ctx.cached(("construction.stores", id(scope)), build)


def class_of_method(ctx: "FileContext", scope: cst.CSTNode | None) -> cst.ClassDef | None:
    """The class whose method ``scope`` is (directly), for ``self.x`` attributes."""
    if not isinstance(scope, cst.FunctionDef):
        return None
    parent = ctx.parents.get(scope)
    if isinstance(parent, cst.IndentedBlock):
        parent = ctx.parents.get(parent)
    return parent if isinstance(parent, cst.ClassDef) else None


def self_name(scope: cst.CSTNode | None) -> str | None:
    if isinstance(scope, cst.FunctionDef):
        params = positional_params(scope)
        if params:
            return params[0].name.value
    return None


def class_attr_stores(ctx: "FileContext", klass: cst.ClassDef, attr_key: str) -> list[Store]:
    """Every store of ``self.<attr>`` in the methods of ``klass`` (``attr_key`` = ``self.x``)."""
    out: list[Store] = []
    body = klass.body.body if isinstance(klass.body, cst.IndentedBlock) else ()
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef):
            me = self_name(stmt)
            if me is None:
                continue
            key = me + attr_key[len("self"):]
            for st in scope_stores(ctx, stmt).of(key):
                out.append(st)
            # an attribute assigned in a nested function of the method is not followed
    return out


def uses(ctx: "FileContext", scope: cst.CSTNode | None, key: str) -> list[cst.BaseExpression]:
    """Loads of ``key`` (a name or ``a.b`` chain) in ``scope``, not in nested scopes, in order."""

    def build() -> dict[str, list[cst.BaseExpression]]:
        loads = _Loads(scope)
        _walk.visit(ctx.module if scope is None else scope, loads)
        return loads.table

    table = ctx.cached(("construction.uses", id(scope)), build)
    return table.get(key, [])


class _Loads(cst.CSTVisitor):
    """``uses``' walk: the loads of every name and ``a.b`` chain of ``scope``. (A class of the
    module: one made per call would be cyclic garbage holding the table, and the nodes in
    it, until the cyclic collector ran.)"""

    def __init__(self, scope: cst.CSTNode | None) -> None:
        self.scope = scope
        self.table: dict[str, list[cst.BaseExpression]] = {}
        self.skip: set[int] = set()

    def visit_FunctionDef(self, node):
        return node is self.scope

    def visit_ClassDef(self, node):
        return node is self.scope

    def visit_Lambda(self, node):
        return node is self.scope

    def visit_Param(self, node: cst.Param) -> None:
        self.skip.add(id(node.name))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.skip.add(id(node.keyword))

    def visit_ImportAlias(self, node) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self.skip:
            self.table.setdefault(node.value, []).append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.skip.add(id(node.attr))
        k = dotted(node)
        if k is not None:
            self.table.setdefault(k, []).append(node)


def pos(ctx: "FileContext", node: cst.CSTNode) -> tuple[int, int]:
    p = ctx.positions[node].start
    return (p.line, p.column)


def end_pos(ctx: "FileContext", node: cst.CSTNode) -> tuple[int, int]:
    p = ctx.positions[node].end
    return (p.line, p.column)


# --------------------------------------------------------------------------- order in a scope
def block_path(ctx: "FileContext", node: cst.CSTNode, scope: cst.CSTNode | None) -> list[tuple[cst.CSTNode, int]]:
    """``[(block, index), ...]`` from the scope's body down to the statement holding ``node``."""
    parents = ctx.parents
    path: list[tuple[cst.CSTNode, int]] = []
    child = node
    cur = parents.get(node)
    while cur is not None and cur is not scope:
        if isinstance(cur, (cst.IndentedBlock, cst.Module, cst.SimpleStatementSuite)):
            body = cur.body
            for i, s in enumerate(body):
                if s is child:
                    path.append((cur, i))
                    break
        child = cur
        cur = parents.get(cur)
    path.reverse()
    return path


def precedes(ctx: "FileContext", a: cst.CSTNode, b: cst.CSTNode, scope: cst.CSTNode | None) -> bool:
    """In the innermost block holding both, ``a``'s statement comes before ``b``'s.

    False when they share that statement (an ``if``/``else`` holding both, or one line).
    """
    pa, pb = block_path(ctx, a, scope), block_path(ctx, b, scope)
    for (ba, ia), (bb, ib) in zip(pa, pb):
        if ba is not bb:
            return False
        if ia != ib:
            return ia < ib
    return False


def dominates(ctx: "FileContext", a: cst.CSTNode, b: cst.CSTNode, scope: cst.CSTNode | None) -> bool:
    """``a`` runs whenever ``b`` runs, before it: ``a``'s statement is in a block that holds
    ``b``, earlier than ``b``'s (``a`` is not under a condition that ``b`` is not under)."""
    pa, pb = block_path(ctx, a, scope), block_path(ctx, b, scope)
    if not pa or len(pa) > len(pb):
        return False
    for depth, ((ba, ia), (bb, ib)) in enumerate(zip(pa, pb)):
        if ba is not bb:
            return False
        if depth == len(pa) - 1:
            return ia < ib
        if ia != ib:
            return False
    return False


def statement_of(ctx: "FileContext", node: cst.CSTNode) -> cst.CSTNode | None:
    """The statement (simple line or compound) directly in a block that holds ``node``."""
    parents = ctx.parents
    child = node
    cur = parents.get(node)
    while cur is not None:
        if isinstance(cur, (cst.IndentedBlock, cst.Module)):
            return child
        if isinstance(cur, cst.SimpleStatementSuite):
            return None
        child = cur
        cur = parents.get(cur)
    return None


def in_conditional_expr(ctx: "FileContext", node: cst.CSTNode, stop: cst.CSTNode) -> bool:
    """``node`` sits under an ``x if c else y``, the right of ``and``/``or``, a lambda or a
    comprehension element, below ``stop``: it may not run when ``stop`` does."""
    parents = ctx.parents
    child = node
    cur = parents.get(node)
    while cur is not None and cur is not stop:
        if isinstance(cur, (cst.IfExp, cst.Lambda)):
            return True
        if isinstance(cur, cst.BooleanOperation) and child is cur.right:
            return True
        if isinstance(cur, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            return True
        child = cur
        cur = parents.get(cur)
    return False


# --------------------------------------------------------------------------- modules
def local_module_classes(ctx: "FileContext") -> frozenset[str]:
    """Top-level classes of the file that subclass ``torch.nn.Module`` (directly or through
    another such class or a torch.nn module class)."""

    def build() -> frozenset[str]:
        classes = _top_level_classes(ctx)
        is_mod = _through_local_bases(ctx, classes, torch_module_class)
        # A module class that defines ``__iter__`` may iterate its parameters: left out.
        return frozenset(n for n in classes if not ctx.imports.imported(n) and is_mod(n)
                         and not _defines(classes[n], "__iter__"))

    return ctx.cached("construction.local_modules", build)


def single_assignment(ctx: "FileContext", scope: cst.CSTNode | None, key: str) -> cst.BaseExpression | None:
    """The value of ``key`` when the scope (or, for ``self.x``, the class) stores it exactly once
    with a plain assignment; for a name never stored in a function, the module's single one."""
    if key.startswith("self.") and key.count(".") == 1:
        klass = class_of_method(ctx, scope)
        if klass is None or self_name(scope) != "self":
            return None
        stores = class_attr_stores(ctx, klass, key)
    else:
        stores = scope_stores(ctx, scope).of(key)
        root = key.split(".")[0]
        if "." in key and scope_stores(ctx, scope).of(root):
            return None  # ``a.b`` where ``a`` itself is bound here: not followed
        if not stores and scope is not None and not scope_stores(ctx, scope).of(root):
            if isinstance(scope, cst.FunctionDef):
                return single_assignment(ctx, None, key)
            return None
    if len(stores) != 1 or stores[0].kind not in ("assign",):
        return None
    return stores[0].value


def is_module_expr(ctx: "FileContext", expr: cst.BaseExpression, scope: cst.CSTNode | None,
                   depth: int = 0) -> bool:
    """``expr`` provably evaluates to an ``nn.Module`` (constructed in this file)."""
    if depth > 4:
        return False
    if isinstance(expr, cst.Call):
        f = expr.func
        if isinstance(f, cst.Name) and f.value in local_module_classes(ctx):
            return True
        if torch_module_class(ctx.qualify(f)):
            return True
        if isinstance(f, cst.Attribute) and f.attr.value in MODULE_SELF_RETURNING and f.attr.value != "type":
            return is_module_expr(ctx, f.value, scope, depth + 1)
        return False
    if isinstance(expr, (cst.Name, cst.Attribute)):
        k = key_of(expr)
        if k is None:
            return False
        value = single_assignment(ctx, scope, k)
        return value is not None and is_module_expr(ctx, value, scope, depth + 1)
    return False


def imports_torch(ctx: "FileContext") -> bool:
    return any(t == "torch" or t.startswith("torch.") for t in ctx.imports.bindings.values())


_OTHER_FRAMEWORKS = ("paddle", "jittor", "mindspore", "megengine", "mxnet", "oneflow")


def imports_other_framework(ctx: "FileContext") -> bool:
    return any(t.split(".")[0] in _OTHER_FRAMEWORKS for t in ctx.imports.bindings.values())


# --------------------------------------------------------------------------- param groups of a construction
def group_literals(ctx: "FileContext", call: cst.Call, scope) -> list[cst.Dict]:
    """The param-group dict literals of a construction: in its ``params`` list, or in the list
    literal assigned once to the name it passes (``optimizer_grouped_parameters``)."""
    groups = group_dicts(call)
    if groups:
        return groups
    arg = params_arg(call)
    if arg is None or not isinstance(arg.value, cst.Name):
        return []
    value = single_assignment(ctx, scope, arg.value.value)
    if not isinstance(value, (cst.List, cst.Tuple)):
        return []
    return [e.value for e in value.elements if isinstance(e, cst.Element) and isinstance(e.value, cst.Dict)]


def added_group_literals(ctx: "FileContext", call: cst.Call, scope) -> list[tuple[cst.Call, cst.Dict]]:
    """``opt.add_param_group({...})`` dict literals in the construction's scope, where ``opt``
    is the name the construction is assigned to (once)."""
    assign = ctx.parents.get(call)
    if not isinstance(assign, cst.Assign) or assign.value is not call or len(assign.targets) != 1:
        return []
    key = key_of(assign.targets[0].target)
    if key is None or len(scope_stores(ctx, scope).of(key)) != 1:
        return []
    out = []
    for node in uses(ctx, scope, key):
        attr = ctx.parents.get(node)
        c = ctx.parents.get(attr)
        if isinstance(attr, cst.Attribute) and attr.value is node and attr.attr.value == "add_param_group" \
                and isinstance(c, cst.Call) and c.func is attr and c.args and isinstance(c.args[0].value, cst.Dict):
            out.append((c, c.args[0].value))
    return out


# --------------------------------------------------------------------------- ``**`` keyword dicts
def _keyword_literal(expr: cst.BaseExpression) -> list[tuple[str, cst.CSTNode, cst.BaseExpression]] | None:
    """``(key, key node, value)`` of ``dict(k=v, ...)`` or ``{"k": v, ...}`` when every key is
    known (no positional argument, no ``*``/``**`` and no computed key); None otherwise."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict":
        if any(a.keyword is None or a.star for a in expr.args):
            return None
        return [(a.keyword.value, a.keyword, a.value) for a in expr.args]
    if isinstance(expr, cst.Dict):
        out = []
        for el in expr.elements:
            key = string_value(el.key) if isinstance(el, cst.DictElement) else None
            if key is None:
                return None
            out.append((key, el.key, el.value))
        return out
    return None


def splatted_keywords(ctx: "FileContext", call: cst.Call,
                      scope) -> list[tuple[str, cst.CSTNode, cst.BaseExpression]] | None:
    """The keywords a call's ``**`` arguments pass, where each is a dict literal written in place
    (``**dict(lr=..., weight_decay=...)``, ``**{"lr": ...}``) or a name this scope binds once, to
    such a literal, before the call and only ever splats (``kw = dict(...)`` ... ``Adam(p, **kw)``).
    None where any ``**`` argument hides keywords the file does not show (a parameter, a config,
    a dict changed after it is built)."""
    out: list[tuple[str, cst.CSTNode, cst.BaseExpression]] = []
    for a in call.args:
        if a.star != "**":
            continue
        value = a.value
        if isinstance(value, cst.Name):
            stores = scope_stores(ctx, scope).of(value.value)
            if len(stores) != 1 or stores[0].kind != "assign" or stores[0].value is None \
                    or not precedes(ctx, stores[0].target, call, scope):
                return None
            for use in uses(ctx, scope, value.value):
                parent = ctx.parents.get(use)
                if use is not stores[0].target and not (isinstance(parent, cst.Arg) and parent.star == "**"):
                    return None  # read another way: it may be changed (``kw["lr"] = ...``, ``kw.update``)
            value = stores[0].value
        items = _keyword_literal(value)
        if items is None:
            return None
        out.extend(items)
    return out
