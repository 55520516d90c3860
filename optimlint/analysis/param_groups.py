"""The parameter groups of each torch optimizer built in a file: the analysis behind
OPT401-OPT403 (``checks/groups.py`` holds the rules).

The groups are read from the optimizer's ``params`` argument: a list literal of group
dicts (or of parameters), or a name bound once in the same scope to such a list (plus
literal ``append``/``extend``), and groups added with ``add_param_group``. Each group's
``params`` value is reduced to *sources*: ``model.head.parameters()`` (all parameters of a
module), a filtered comprehension over ``parameters()``/``named_parameters()`` (some of
them), or a single parameter attribute. Whatever the reduction does not understand is
reported as unknown, which keeps the rules silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from optimlint.analysis import modules as M
from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import paired_element
from optimlint.analysis.bindings import key_of
from optimlint.analysis.call_args import arg, every_param, keyword_value
from optimlint.analysis.names import dotted
from optimlint.analysis.symbols import classify_call
from optimlint.vocabulary import OPTIMIZER_KEYS


@dataclass
class Source:
    path: str  # key_of the module (or parameter) expression: ``model.head``
    kind: str  # "all": every parameter of the module; "filtered": some; "param": one tensor
    node: cst.CSTNode


@dataclass
class Group:
    node: cst.CSTNode  # the dict (or the whole params expression for a plain list)
    sources: list[Source] | None  # None: not understood
    keys: list[tuple[str, cst.CSTNode]] = field(default_factory=list)  # literal keys + nodes
    conditional: bool = False  # added under a condition (``if ...: groups.append(...)``)


@dataclass
class Groups:
    groups: list[Group]
    dynamic: bool  # some group comes from something not understood


@dataclass
class OptimizerSite:
    call: cst.Call
    cls: str
    params: cst.BaseExpression | None
    scopes: tuple  # enclosing FunctionDefs/ClassDefs, innermost last
    klass: cst.ClassDef | None  # the class of ``self`` in the enclosing method


# -- scopes -------------------------------------------------------------------------------


class _Sites(cst.CSTVisitor):
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.stack: list[cst.CSTNode] = []
        self.sites: list[OptimizerSite] = []
        self.add_groups: list[tuple[cst.Call, tuple]] = []

    def visit_ClassDef(self, node) -> None:
        self.stack.append(node)

    def leave_ClassDef(self, node) -> None:
        self.stack.pop()

    def visit_FunctionDef(self, node) -> None:
        self.stack.append(node)

    def leave_FunctionDef(self, node) -> None:
        self.stack.pop()

    def visit_Call(self, node: cst.Call) -> None:
        f = node.func
        if isinstance(f, cst.Attribute) and f.attr.value == "add_param_group":
            self.add_groups.append((node, tuple(self.stack)))
            return
        if not isinstance(f, (cst.Name, cst.Attribute)):
            return
        kind = classify_call(self.ctx, node)
        if kind is None or kind.kind != "optimizer" or kind.cls not in OPTIMIZER_KEYS:
            return
        klass = None
        # ``self`` is the instance of the class whose method (innermost) encloses the call
        for i in range(len(self.stack) - 1, 0, -1):
            if isinstance(self.stack[i], cst.FunctionDef) and isinstance(self.stack[i - 1], cst.ClassDef):
                klass = self.stack[i - 1]
                break
        self.sites.append(OptimizerSite(node, kind.cls, arg(node, 0, "params", star_hides=True), tuple(self.stack), klass))


def _scope_body(scope: cst.CSTNode) -> cst.CSTNode:
    return scope.body if isinstance(scope, (cst.FunctionDef,)) else scope


@dataclass
class NameUse:
    values: list[cst.BaseExpression]  # plain ``name = value`` assignments
    opaque: bool  # bound some other way (parameter, for target, tuple, global, import, ...)
    mutations: list[tuple[str, cst.CSTNode, bool]]  # (method, call/augassign, conditional)


def name_use(scope: cst.CSTNode, name: str) -> NameUse:
    """How ``name`` is bound and mutated in ``scope`` (a FunctionDef or the Module).

    Not ``assignments.stores()``: besides the plain assignments (``values``) it records the
    calls on the name (``groups.append(...)``, ``+=``) with whether they run under a condition,
    and any binding whose value cannot be read (parameter, ``for``/comprehension target, tuple,
    walrus, ``del``, ``global``, import, a nested ``def``/``class`` of that name) as ``opaque``:
    one walk answers "which list of param groups does this name hold, and is it grown"."""
    use = NameUse([], False, [])
    if isinstance(scope, cst.FunctionDef):
        if any(x.name.value == name for x in every_param(scope)):
            use.opaque = True

    # Every binding or mutation below names ``name``: a subtree without that Name is skipped
    # (walking all of a big module once per name was most of its param-group analysis).
    occurrences = _walk.name_occurrences(scope, name)

    def visit(node: cst.CSTNode, conditional: bool) -> None:
        for child in _walk.children(node):
            if occurrences is not None and not occurrences.within(child):
                continue
            if isinstance(child, (cst.FunctionDef, cst.ClassDef)):
                if child.name.value == name:
                    use.opaque = True
                continue
            if isinstance(child, cst.Lambda):
                continue
            cond = conditional or isinstance(child, (cst.If, cst.For, cst.While, cst.Try, cst.Match)
                                             if hasattr(cst, "Match") else (cst.If, cst.For, cst.While, cst.Try))
            if isinstance(child, cst.Assign):
                for t in child.targets:
                    if isinstance(t.target, cst.Name) and t.target.value == name:
                        use.values.append(child.value)
                    elif _binds(t.target, name):
                        paired = paired_element(t.target, child.value, name)
                        if paired is None:
                            use.opaque = True
                        else:  # ``model, data = model.to(device), data.to(device)``
                            use.values.append(paired)
            elif isinstance(child, cst.AnnAssign):
                if isinstance(child.target, cst.Name) and child.target.value == name:
                    if child.value is None:
                        pass
                    else:
                        use.values.append(child.value)
            elif isinstance(child, cst.AugAssign):
                if isinstance(child.target, cst.Name) and child.target.value == name:
                    use.mutations.append(("+=", child, conditional))
            elif isinstance(child, (cst.For, cst.CompFor)):
                if _binds(child.target, name):
                    use.opaque = True
            elif isinstance(child, cst.WithItem):
                if child.asname is not None and _binds(child.asname.name, name):
                    use.opaque = True
            elif isinstance(child, cst.NamedExpr):
                if _binds(child.target, name):
                    use.opaque = True
            elif isinstance(child, (cst.Global, cst.Nonlocal)):
                if any(n.name.value == name for n in child.names):
                    use.opaque = True
            elif isinstance(child, (cst.Import, cst.ImportFrom)):
                names = child.names if not isinstance(child.names, cst.ImportStar) else []
                for alias in names:
                    local = alias.asname.name if alias.asname else alias.name
                    if isinstance(local, cst.Name) and local.value == name:
                        use.opaque = True
                    elif dotted(local) and dotted(local).split(".")[0] == name:
                        use.opaque = True
            elif isinstance(child, cst.Del):
                if any(isinstance(n, cst.Name) and n.value == name for n in M.walk(child.target)):
                    use.opaque = True
            elif isinstance(child, cst.Call):
                f = child.func
                if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == name:
                    use.mutations.append((f.attr.value, child, conditional))
            elif isinstance(child, cst.Subscript) and isinstance(child.value, cst.Name) \
                    and child.value.value == name:
                pass
            visit(child, cond)

    visit(_scope_body(scope), False)
    return use


def _binds(target: cst.CSTNode, name: str) -> bool:
    return any(isinstance(n, cst.Name) and n.value == name for n in M.walk(target))


_MUTATORS = frozenset({"append", "extend", "insert", "+=", "pop", "remove", "clear", "__setitem__",
                       "__iadd__", "reverse", "sort"})


class Analysis:
    """Per-file state shared by the three rules."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        v = _Sites(ctx)
        _walk.visit(ctx.module, v)
        self.sites = v.sites
        self.add_groups = v.add_groups
        # name_use is a pure function of (scope, name); every optimizer site of a scope asks
        # the same names (the module scope once per site made big files quadratic).
        self._uses: dict[tuple[int, str], tuple[cst.CSTNode, NameUse]] = {}

    def _name_use(self, scope: cst.CSTNode, name: str) -> NameUse:
        key = (id(scope), name)
        found = self._uses.get(key)
        if found is None:
            found = self._uses[key] = (scope, name_use(scope, name))
        return found[1]

    @property
    def pf(self) -> M.ParsedFile:
        return M.linted_file(self.ctx)

    # -- names in scopes ------------------------------------------------------------------
    def lookup(self, scopes: tuple, name: str) -> tuple[cst.CSTNode, NameUse] | None:
        """The innermost function (or the module) that binds ``name``, and how."""
        for scope in reversed([s for s in scopes if isinstance(s, cst.FunctionDef)]):
            use = self._name_use(scope, name)
            if use.values or use.opaque or use.mutations:
                return scope, use
        use = self._name_use(self.ctx.module, name)
        if use.values or use.opaque or use.mutations:
            return self.ctx.module, use
        return None

    def single_value(self, scopes: tuple, name: str) -> cst.BaseExpression | None:
        """The one value ``name`` is assigned in its scope, never mutated; else None."""
        found = self.lookup(scopes, name)
        if found is None:
            return None
        _, use = found
        if use.opaque or len(use.values) != 1:
            return None
        if any(m in _MUTATORS for m, _, _ in use.mutations):
            return None
        return use.values[0]

    # -- groups ---------------------------------------------------------------------------
    def groups(self, site: OptimizerSite) -> Groups | None:
        expr = site.params
        if expr is None:
            return None
        extra: list[tuple[cst.BaseExpression, bool]] = []
        dynamic = False
        if isinstance(expr, cst.Name):
            found = self.lookup(site.scopes, expr.value)
            if found is None:
                return None
            _, use = found
            if use.opaque or len(use.values) != 1:
                return None
            for method, node, cond in use.mutations:
                if method == "append" and isinstance(node, cst.Call) and len(node.args) == 1:
                    extra.append((node.args[0].value, cond))
                elif method in ("extend", "+=") and _literal_list(node):
                    for el in _literal_list(node):
                        extra.append((el, cond))
                elif method in _MUTATORS:
                    dynamic = True
            expr = use.values[0]
        if isinstance(expr, (cst.List, cst.Tuple)):
            elements = [self._deref(e, site.scopes) for e in expr.elements]
            if any(isinstance(e, cst.StarredElement) and _is_groupish(e.value) for e in elements):
                dynamic = True
            dictish = [e for e in elements if not isinstance(e, cst.StarredElement) and _is_groupish(e.value)]
            if dictish or (not elements and extra):
                out = []
                for e in elements:
                    if isinstance(e, cst.StarredElement):
                        dynamic = True
                        continue
                    g = self._group(e.value, site.scopes)
                    if g is None:
                        dynamic = True
                    else:
                        out.append(g)
                for value, cond in extra:
                    g = self._group(value, site.scopes)
                    if g is None:
                        dynamic = True
                    else:
                        g.conditional = cond
                        out.append(g)
                return Groups(out, dynamic)
            if extra:
                return None
            return Groups([Group(expr, self.sources(expr, site.scopes))], dynamic)
        if extra:
            return None
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp)) and _is_groupish(expr.elt):
            return Groups([], True)
        return Groups([Group(expr, self.sources(expr, site.scopes))], dynamic)

    def _deref(self, element: cst.BaseElement, scopes: tuple) -> cst.BaseElement:
        """``[backbone_group, head_group]`` where each name holds one dict literal."""
        if isinstance(element, cst.Element) and isinstance(element.value, cst.Name):
            value = self.single_value(scopes, element.value.value)
            if value is not None and _is_groupish(value):
                return element.with_changes(value=value)
        return element

    def _group(self, value: cst.BaseExpression, scopes: tuple) -> Group | None:
        if isinstance(value, cst.Dict):
            g = Group(value, None)
            params = None
            splat = False
            for el in value.elements:
                if isinstance(el, cst.StarredDictElement):
                    splat = True
                    continue
                if isinstance(el.key, cst.SimpleString) and isinstance(el.key.evaluated_value, str):
                    k = el.key.evaluated_value
                    g.keys.append((k, el.key))
                    if k == "params":
                        params = el.value
            if params is not None:
                g.sources = self.sources(params, scopes)
            elif splat:
                g.sources = None
            return g
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "dict" \
                and "dict" not in self.ctx.imports.bindings:
            g = Group(value, None)
            for a in value.args:
                if a.keyword is None:
                    return g
                g.keys.append((a.keyword.value, a.keyword))
                if a.keyword.value == "params":
                    g.sources = self.sources(a.value, scopes)
            return g
        return None

    # -- sources --------------------------------------------------------------------------
    def sources(self, expr: cst.BaseExpression, scopes: tuple, depth: int = 0) -> list[Source] | None:
        if depth > 4:
            return None
        if isinstance(expr, cst.Call):
            f = expr.func
            if isinstance(f, cst.Attribute) and f.attr.value in ("parameters", "named_parameters"):
                k = key_of(f.value)
                if k is None:
                    return None
                rec = keyword_value(expr, "recurse")
                positional = [a for a in expr.args if a.keyword is None]
                if positional or (rec is not None and not (isinstance(rec, cst.Name) and rec.value == "True")):
                    return [Source(k, "filtered", expr)]
                if any(a.keyword is not None and a.keyword.value not in ("recurse", "prefix",
                                                                           "remove_duplicate")
                       for a in expr.args):
                    return None
                return [Source(k, "all", expr)]
            qn = self.ctx.qualify(f)
            if isinstance(f, cst.Name) and f.value in ("list", "tuple", "iter") and len(expr.args) == 1 \
                    and not self.ctx.imports.imported(f.value):
                return self.sources(expr.args[0].value, scopes, depth + 1)
            if qn in ("itertools.chain",) and all(a.keyword is None and not a.star for a in expr.args):
                return self._union([a.value for a in expr.args], scopes, depth)
            if qn == "itertools.chain.from_iterable" and len(expr.args) == 1 \
                    and isinstance(expr.args[0].value, (cst.List, cst.Tuple)):
                return self._union([e.value for e in expr.args[0].value.elements], scopes, depth)
            if isinstance(f, cst.Name) and f.value == "filter" and len(expr.args) == 2 \
                    and not self.ctx.imports.imported("filter"):
                inner = self.sources(expr.args[1].value, scopes, depth + 1)
                if inner is None:
                    return None
                keep_all = _requires_grad_lambda(expr.args[0].value)
                return [Source(s.path, s.kind if keep_all else "filtered", s.node) for s in inner]
            return None
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return self._union([expr.left, expr.right], scopes, depth)
        if isinstance(expr, (cst.List, cst.Tuple)):
            out: list[Source] = []
            for el in expr.elements:
                if isinstance(el, cst.StarredElement):
                    inner = self.sources(el.value, scopes, depth + 1)
                else:
                    inner = self._param(el.value)
                if inner is None:
                    return None
                out.extend(inner)
            return out
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
            comp = expr.for_in
            if comp.inner_for_in is not None:
                return None
            inner = self.sources(comp.iter, scopes, depth + 1)
            if inner is None:
                return None
            keep_all = all(_requires_grad_test(i.test, comp.target) for i in comp.ifs)
            elt_ok = _comp_yields_param(expr.elt, comp.target)
            if not elt_ok:
                return None
            return [Source(s.path, s.kind if keep_all and not _named(comp.iter) else "filtered", s.node)
                    for s in inner]
        if isinstance(expr, cst.Name):
            value = self.single_value(scopes, expr.value)
            if value is None:
                return None
            return self.sources(value, scopes, depth + 1)
        return None

    def _union(self, exprs, scopes, depth) -> list[Source] | None:
        out: list[Source] = []
        for e in exprs:
            inner = self.sources(e, scopes, depth + 1)
            if inner is None:
                return None
            out.extend(inner)
        return out

    def _param(self, expr: cst.BaseExpression) -> list[Source] | None:
        if isinstance(expr, cst.Attribute):
            k = key_of(expr)
            if k is not None:
                return [Source(k, "param", expr)]
        return None


def _literal_list(node) -> list[cst.BaseExpression] | None:
    if isinstance(node, cst.AugAssign):
        v = node.value
    elif isinstance(node, cst.Call) and len(node.args) == 1:
        v = node.args[0].value
    else:
        return None
    if isinstance(v, (cst.List, cst.Tuple)) and not any(isinstance(e, cst.StarredElement) for e in v.elements):
        return [e.value for e in v.elements]
    return None


def _is_groupish(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Dict) or (
        isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "dict")


def _named(it: cst.BaseExpression) -> bool:
    return isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) \
        and it.func.attr.value == "named_parameters"


def _comp_yields_param(elt, target) -> bool:
    """``p for p in ...`` / ``p for n, p in ...named_parameters()``."""
    if not isinstance(elt, cst.Name):
        return False
    if isinstance(target, cst.Name):
        return target.value == elt.value
    if isinstance(target, cst.Tuple) and len(target.elements) == 2:
        last = target.elements[1].value
        return isinstance(last, cst.Name) and last.value == elt.value
    return False


def _requires_grad_test(test, target) -> bool:
    """``if p.requires_grad``: keeps every trainable parameter."""
    names = {n.value for n in M.walk(target) if isinstance(n, cst.Name)}
    return isinstance(test, cst.Attribute) and test.attr.value == "requires_grad" \
        and isinstance(test.value, cst.Name) and test.value.value in names


def _requires_grad_lambda(fn) -> bool:
    return isinstance(fn, cst.Lambda) and len(fn.params.params) == 1 \
        and _requires_grad_test(fn.body, fn.params.params[0].name)
