"""What a scope assigns to one name or attribute key (``opt``, ``self.model``)."""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.names import key_of


# Calls that hand their arguments back wrapped, in order: ``model, opt = accelerator.prepare(model, opt)``.
_HANDS_BACK = frozenset({"prepare", "setup", "initialize"})


class Store:
    """One binding of a name or attribute key in a scope."""

    __slots__ = ("node", "target", "kind", "value", "rhs")

    def __init__(self, node: cst.CSTNode, target: cst.BaseExpression, kind: str,
                 value: cst.BaseExpression | None, rhs: cst.BaseExpression | None) -> None:
        self.node = node  # the Assign / AnnAssign / AugAssign / For / WithItem
        self.target = target  # the target expression that holds the key
        self.kind = kind  # "=", "unpack" (a tuple/list target), ":", "+=", "for", "with"
        self.value = value  # the value the key gets, when it can be paired with it
        self.rhs = rhs  # the statement's whole right-hand side (None for "for" / "with")


def stores(scope: cst.CSTNode, key: str, *, nested_functions: bool = True) -> list[Store]:
    """Every binding of ``key`` in ``scope``, in source order: the one name-binding query.

    With ``nested_functions=False`` the bodies of functions nested in ``scope`` are skipped
    (their assignments bind other variables), unless ``scope`` is a class, whose methods all
    assign its ``self.x`` attributes.

    A scope of the linted file is walked once for all its keys (kept with the file's walk
    index): the analyses ask it about many names, and a walk per name made a big module
    quadratic. Other trees are walked per query."""
    enter_all = nested_functions or isinstance(scope, cst.ClassDef)
    table = _walk.memo(scope, ("stores", enter_all), lambda: _all_stores(scope, enter_all))
    if table is None:
        return _stores_of(scope, enter_all, key)
    return list(table.get(key, ()))


def _stores_of(scope: cst.CSTNode, enter_all: bool, key: str) -> list[Store]:
    return _all_stores(scope, enter_all).get(key, [])


def _all_stores(scope: cst.CSTNode, enter_all: bool) -> dict[str, list[Store]]:
    """``{key: stores(scope, key)}`` for every key bound in ``scope``, from one walk."""
    collector = _StoreCollector(scope, enter_all)
    _walk.visit(scope, collector)
    return collector.out


class _StoreCollector(cst.CSTVisitor):
    """The stores of a scope by key. (A class of the module, not of the call: a class made per
    call is cyclic garbage, and its methods' closures would hold the scope's tree until the
    cyclic collector runs.)"""

    def __init__(self, scope: cst.CSTNode, enter_all: bool) -> None:
        self.scope = scope
        self.enter_all = enter_all
        self.out: dict[str, list[Store]] = {}

    def add(self, key: str | None, store: Store) -> None:
        if key is not None:
            found = self.out.get(key)
            if found is None:
                self.out[key] = [store]
            else:
                found.append(store)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return self.enter_all or node is self.scope

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            key = key_of(t.target)
            if key is not None:
                self.add(key, Store(node, t.target, "=", node.value, node.value))
            elif isinstance(t.target, (cst.Tuple, cst.List)):
                # one "unpack" store per key the target holds, however many times; each
                # name gets its own element (``q1, q2 = QNet(), QNet()``)
                for k in dict.fromkeys(key_of(e.value) for e in t.target.elements):
                    if k is not None:
                        self.add(k, Store(node, t.target, "unpack", paired_element(t.target, node.value, k),
                                          node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.add(key_of(node.target), Store(node, node.target, ":", node.value, node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.add(key_of(node.target), Store(node, node.target, "+=", None, node.value))

    def visit_For(self, node: cst.For) -> None:
        self.add(key_of(node.target), Store(node, node.target, "for", None, None))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self.add(key_of(node.asname.name), Store(node, node.asname.name, "with", None, None))


def values_assigned(scope: cst.CSTNode, key: str, *, nested_functions: bool = True,
                    through_wrappers: bool = False) -> list[cst.BaseExpression | None]:
    """Every value assigned to ``key`` in ``scope``; None for an assignment whose value cannot
    be paired with the target (unpacking anything but a tuple of the same length, ``+=``, a
    ``for`` or ``with ... as`` target).

    With ``through_wrappers=True`` a tuple target that gets ``key`` back from
    ``accelerator.prepare(..., key, ...)`` / ``amp.initialize`` / ``fabric.setup`` at the same
    position is no new value.
    """
    return [s.value for s in stores(scope, key, nested_functions=nested_functions)
            if not (through_wrappers and s.kind == "unpack" and _handed_back(s.target, s.rhs, key))]


def paired_element(target: cst.BaseExpression, value: cst.BaseExpression, key: str) -> cst.BaseExpression | None:
    """The element of tuple ``value`` that tuple ``target`` binds to ``key``, position by
    position; None when the two are not tuples (or lists) of the same length without ``*``."""
    seqs = (cst.Tuple, cst.List)
    if not isinstance(target, seqs) or not isinstance(value, seqs) or len(target.elements) != len(value.elements):
        return None
    if any(isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements)):
        return None
    for t, v in zip(target.elements, value.elements):
        if key_of(t.value) == key:
            return v.value
    return None


def _handed_back(target: cst.Tuple | cst.List, value: cst.BaseExpression, key: str) -> bool:
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
            and value.func.attr.value in _HANDS_BACK):
        return False
    names = [key_of(e.value) for e in target.elements]
    args = [key_of(a.value) if a.keyword is None and not a.star else None for a in value.args]
    return names.index(key) < len(args) and args[names.index(key)] == key
