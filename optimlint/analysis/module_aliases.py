"""One spelling per module for its train/eval mode: local aliases and DDP's ``.module``.

Distributed scripts keep two names for one network: ``model_without_ddp = model.module``
(or ``raw_model = model.module if hasattr(model, "module") else model``), then train through
one name and evaluate through the other. A wrapper and its ``.module`` share one mode for
what matters (``DistributedDataParallel.train()`` sets its module's mode; its forward runs the
module), so for OPT603 they are one module.

``mode_key(ctx, func, key)`` spells ``key`` (a module key of ``func``'s scope, None: the
module body) by a representative of the names linked to it by plain assignments in that scope
(``a = b``, ``a = b.module``, ``a = DDP(b)``, ``a = b.module if ... else b``, ``a = b.to(device)``),
with every ``.module`` component after the root dropped. A name linked to two different
modules (``net = generator`` here, ``net = critic`` there) makes its whole group unknown: the
answer is None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import walk as _walk

if TYPE_CHECKING:
    from optimlint.context import FileContext


def strip_module(key: str) -> str:
    """``model.module.encoder`` -> ``model.encoder`` (the root is kept)."""
    root, *rest = key.split(".")
    return ".".join([root, *(p for p in rest if p != "module")])


def mode_key(ctx: "FileContext", func: cst.CSTNode | None, key: str | None) -> str | None:
    if not key:
        return None
    reps, unknown = ctx.cached(("optimlint.mode_aliases", id(func)), lambda: _groups(ctx, func))
    key = strip_module(key)
    root, dot, rest = key.partition(".")
    for probe in (key, root):
        if probe in unknown:
            return None
    if key in reps:
        return reps[key]
    return reps.get(root, root) + dot + rest


def _groups(ctx: "FileContext", func: cst.CSTNode | None) -> tuple[dict[str, str], frozenset[str]]:
    scope = ctx.module if func is None else func
    # The first assignment of each name, with its rank in source order and the rank of its
    # line of simple statements: rows (which cost the generated code of their statement) are
    # read only where two candidates share such a line (``a = model; b = a``).
    first: dict[str, tuple[cst.Assign, int, int]] = {}
    targets: dict[str, set[str]] = {}

    _walk.visit(scope, _FirstAssignments(scope, first, targets))
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for name, ks in targets.items():
        for k in ks:
            parent[find(name)] = find(k) if find(k) != find(name) else find(name)
    members: dict[str, list[str]] = {}
    for x in {*targets, *(k for ks in targets.values() for k in ks)}:
        members.setdefault(find(x), []).append(x)
    reps: dict[str, str] = {}
    unknown: set[str] = set()
    for group in members.values():
        if any(len(targets.get(x, ())) > 1 for x in group) or sum("." in x for x in group) > 1:
            unknown.update(group)
            continue
        # the attribute it comes from (``self.model``), else the name bound first
        dotted_ = [x for x in group if "." in x]  # (one at most: more is unknown, above)
        rep = dotted_[0] if dotted_ else _bound_first(ctx, group, first)
        for x in group:
            reps[x] = rep
    return reps, frozenset(unknown)


def _bound_first(ctx: "FileContext", group: list[str], first: dict[str, tuple[cst.Assign, int, int]]) -> str:
    """The member of ``group`` whose first assignment has the lowest row (then the least
    name; a member never assigned comes last). Rows are read only when the earliest first
    assignment shares its line of simple statements with another member's: a later line of
    simple statements starts on a later row (each ends with its newline, and none holds another)."""
    placed = [x for x in group if x in first]
    if not placed:
        return min(group)
    earliest = min(placed, key=lambda x: first[x][1])
    if all(first[x][2] != first[earliest][2] for x in placed if x != earliest):
        return earliest
    return min(group, key=lambda x: (ctx.start(first[x][0]).row if x in first else 1 << 30, x))


class _FirstAssignments(cst.CSTVisitor):
    """``_groups``' walk: the first assignment of each name of ``scope`` (``first``) and the
    module keys each name is assigned from (``targets``). (A class of the module: one made per
    call would be cyclic garbage whose closures held the tree until the cyclic collector ran.)"""

    def __init__(self, scope: cst.CSTNode, first: dict, targets: dict[str, set[str]]) -> None:
        from optimlint.analysis.iteration import module_value_keys  # (iteration imports the analyses)

        self.scope = scope
        self.first = first
        self.targets = targets
        self.module_value_keys = module_value_keys
        self.lines = 0  # simple-statement lines (or suites) entered so far

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.scope

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.lines += 1

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self.lines += 1

    def visit_Assign(self, node: cst.Assign) -> None:
        first, targets = self.first, self.targets
        for t in node.targets:
            if not isinstance(t.target, cst.Name):
                continue
            name = t.target.value
            if name not in first:
                first[name] = (node, len(first), self.lines)
            for k in self.module_value_keys(node.value):
                k = strip_module(k)
                if k != name and k.partition(".")[0] != name:
                    targets.setdefault(name, set()).add(k)
