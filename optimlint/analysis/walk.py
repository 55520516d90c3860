"""Fast read-only traversal of LibCST trees.

``module.visit(visitor)`` rebuilds every node of the tree (``_visit_and_replace_children``
constructs and validates a new dataclass per node) even for a read-only ``CSTVisitor``,
and calls the attribute hooks (``on_visit_attribute``...) for every field. ``visit`` here
makes the same ``visit_X`` / ``leave_X`` calls in the same order (children in LibCST's
own order, read once per class from ``_visit_and_replace_children``) without rebuilding.
Measured: 4.6x faster than ``Module.visit`` per traversal; the whole lint of
pytorch-lightning 1.9x less CPU, same diagnostics. Visitors with ``on_visit`` overrides or
attribute hooks (``visit_Call_func``) fall back to ``node.visit``.

``parent_map`` replaces ``ParentNodeProvider`` (a batched LibCST visit, ~35% of a file's
lint once the walks are fast); ``children`` replaces ``node.children`` (which also rebuilds).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import weakref

import libcst as cst

_FIELD = re.compile(r'visit_\w+\(\s*self\s*,\s*"(\w+)"', re.S)
_ATTR_HOOK = re.compile(r"^(visit|leave)_[A-Za-z]+_\w+$")
_LIBCST_BASES = frozenset(cst.CSTVisitor.__mro__)
_ORDER: dict[type, tuple[str, ...] | None] = {}
# Weak keys: checks define visitor classes inside functions (closures over a file's context);
# a strong cache would keep every linted file's tree alive.
_PLAIN: "weakref.WeakKeyDictionary[type, bool]" = weakref.WeakKeyDictionary()


def _order(cls: type) -> tuple[str, ...] | None:
    """The fields of ``cls`` in the order LibCST visits them; None if it cannot tell."""
    try:
        return _ORDER[cls]
    except KeyError:
        pass
    fields: tuple[str, ...] | None
    try:
        src = inspect.getsource(cls._visit_and_replace_children)
        fields = tuple(dict.fromkeys(_FIELD.findall(src)))
        declared = {f.name for f in dataclasses.fields(cls)}
        if not set(fields) <= declared:
            fields = None
    except (OSError, TypeError):
        fields = None
    _ORDER[cls] = fields
    return fields


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    order = _order(type(node))
    if order is None:
        return list(node.children)
    out: list[cst.CSTNode] = []
    for name in order:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif type(value) is tuple or type(value) is list:
            out.extend(x for x in value if isinstance(x, cst.CSTNode))
    return out


def _plain(vcls: type) -> bool:
    plain = _PLAIN.get(vcls)
    if plain is None:
        plain = (issubclass(vcls, cst.CSTVisitor)
                 and vcls.on_visit is cst.CSTVisitor.on_visit
                 and vcls.on_leave is cst.CSTVisitor.on_leave
                 and vcls.on_visit_attribute is cst.CSTVisitor.on_visit_attribute
                 and vcls.on_leave_attribute is cst.CSTVisitor.on_leave_attribute
                 and not any(_ATTR_HOOK.match(n) for k in vcls.__mro__ if k not in _LIBCST_BASES
                             for n in vars(k)))
        _PLAIN[vcls] = plain
    return plain


def visit(root: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """``root.visit(visitor)`` for a read-only visitor, without rebuilding the tree."""
    if not _plain(type(visitor)):
        root.visit(visitor)
        return
    enter_of: dict[type, object] = {}
    leave_of: dict[type, object] = {}
    node_type = cst.CSTNode

    def rec(node: cst.CSTNode) -> None:
        cls = type(node)
        try:
            enter, leave = enter_of[cls], leave_of[cls]
        except KeyError:
            enter = enter_of[cls] = getattr(visitor, "visit_" + cls.__name__, None)
            leave = leave_of[cls] = getattr(visitor, "leave_" + cls.__name__, None)
        if enter is None or enter(node) is not False:
            order = _ORDER.get(cls) or _order(cls)
            if order is None:
                for child in node.children:
                    rec(child)
            else:
                for name in order:
                    value = getattr(node, name)
                    if value is None:
                        continue
                    if isinstance(value, node_type):
                        rec(value)
                    elif type(value) is tuple or type(value) is list:
                        for item in value:
                            if isinstance(item, node_type):
                                rec(item)
        if leave is not None:
            leave(node)

    rec(root)


def parent_map(root: cst.CSTNode) -> dict[cst.CSTNode, cst.CSTNode]:
    """``{child: parent}`` for every node under ``root`` (ParentNodeProvider's mapping)."""
    parents: dict[cst.CSTNode, cst.CSTNode] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in children(node):
            parents[child] = node
            stack.append(child)
    return parents
