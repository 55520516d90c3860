"""Lightning's scheduler declarations: what ``configure_optimizers`` returns.

Lightning steps the schedulers it is given: per optimizer step when the scheduler's
config says ``"interval": "step"``, per epoch when it says ``"epoch"`` or when the
interval (or the whole config dict) is omitted. Shapes read here::

    return {"optimizer": opt, "lr_scheduler": sched}                         # epoch
    return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "interval": "step"}}
    return [opt], [sched]            /  ([opt], [{"scheduler": s, "interval": "step"}])
    return [{"optimizer": o1, "lr_scheduler": s1}, {"optimizer": o2, ...}]

Names are followed through one assignment in ``configure_optimizers`` (a name assigned
twice is unknown). A non-literal interval or a ``frequency`` other than 1 is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis import symbols
from optimlint.analysis.bindings import key_of

if TYPE_CHECKING:
    from optimlint.context import FileContext


@dataclass(frozen=True)
class Declaration:
    call: cst.Call  # the scheduler's construction
    cls: str
    interval: str  # "step" or "epoch"
    interval_node: cst.SimpleString | None  # the literal, when written
    # Where an interval could be declared: the entry as written in a literal list/dict (a bare
    # scheduler), or the config dict that omits ``"interval"``; None for anything else.
    entry: cst.BaseExpression | None = None


def _single_values(func: cst.FunctionDef) -> dict[str, cst.BaseExpression | None]:
    """name -> its value when assigned exactly once in ``func`` (None when more/other)."""
    values: dict[str, cst.BaseExpression | None] = {}

    def note(k: str | None, v: cst.BaseExpression | None) -> None:
        if k is None:
            return
        values[k] = None if k in values else v

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is func

        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                if isinstance(t.target, (cst.Tuple, cst.List)):
                    for e in t.target.elements:
                        note(key_of(e.value), None)
                else:
                    note(key_of(t.target), node.value if len(node.targets) == 1 else None)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            note(key_of(node.target), node.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            note(key_of(node.target), None)

        def visit_Subscript(self, node: cst.Subscript) -> None:
            pass

    _walk.visit(func, V())
    # ``cfg["interval"] = "step"`` after ``cfg = {...}``: the dict is not what it looks like.
    mutated: set[str] = set()

    class M(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            if isinstance(node.target, cst.Subscript):
                k = key_of(node.target.value)
                if k:
                    mutated.add(k)

        def visit_Call(self, node: cst.Call) -> None:
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value in ("update", "setdefault", "append", "extend"):
                k = key_of(f.value)
                if k:
                    mutated.add(k)

    _walk.visit(func, M())
    for k in mutated:
        values[k] = None
    return values


def _str_key(el: cst.BaseDictElement) -> str | None:
    if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString):
        try:
            return el.key.evaluated_value
        except Exception:  # pragma: no cover - defensive
            return None
    return None


def _dict_call(expr: cst.BaseExpression | None) -> bool:
    """``dict(optimizer=opt, lr_scheduler=sched)``: keywords only, nothing unpacked."""
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict" and \
        all(a.keyword is not None and not a.star for a in expr.args)


def _items(expr: cst.BaseExpression) -> list[tuple[str | None, cst.BaseExpression | None]]:
    """(key, value) of a dict literal (key None for a non-string key, value None for
    ``**rest``) or of a ``dict(...)`` call of keywords."""
    if isinstance(expr, cst.Call):
        return [(a.keyword.value, a.value) for a in expr.args if a.keyword is not None]
    return [(_str_key(el), el.value if isinstance(el, cst.DictElement) else None)
            for el in expr.elements]  # type: ignore[attr-defined]


class _Reader:
    def __init__(self, ctx: "FileContext", func: cst.FunctionDef) -> None:
        self.ctx = ctx
        self.values = _single_values(func)
        self.out: list[Declaration] = []

    def follow(self, expr: cst.BaseExpression | None, depth: int = 0) -> cst.BaseExpression | None:
        while isinstance(expr, cst.Name) and depth < 4:
            if expr.value not in self.values:
                return None
            expr = self.values[expr.value]
            depth += 1
        return expr

    def returned(self, expr: cst.BaseExpression | None) -> None:
        expr = self.follow(expr)
        if isinstance(expr, cst.Dict) or _dict_call(expr):
            self.top_dict(expr)  # type: ignore[arg-type]
        elif isinstance(expr, (cst.Tuple, cst.List)):
            elems = [self.follow(e.value) for e in expr.elements if not isinstance(e, cst.StarredElement)]
            if len(elems) == 2 and all(isinstance(e, (cst.List, cst.Tuple)) for e in elems):
                for el in elems[1].elements:  # type: ignore[union-attr]
                    self.scheduler_entry(el.value)
            elif elems and all(isinstance(e, cst.Dict) or _dict_call(e) for e in elems):
                for e in elems:
                    self.top_dict(e)  # type: ignore[arg-type]

    def top_dict(self, d: cst.Dict | cst.Call) -> None:
        for key, value in _items(d):
            if key == "lr_scheduler" and value is not None:
                self.scheduler_entry(value)

    def scheduler_entry(self, expr: cst.BaseExpression) -> None:
        written = expr
        expr = self.follow(expr)
        if isinstance(expr, cst.Dict) or _dict_call(expr):
            sched = None
            interval: cst.BaseExpression | None = None
            for key, value in _items(expr):  # type: ignore[arg-type]
                if value is None:
                    return  # ``**defaults``: unknown
                if key == "scheduler":
                    sched = value
                elif key == "interval":
                    interval = value
                elif key == "frequency":
                    if not (isinstance(value, cst.Integer) and value.value == "1"):
                        return
            if sched is None:
                return
            if interval is not None and not isinstance(interval, cst.SimpleString):
                return
            self.add(sched, interval, expr if interval is None else None)  # type: ignore[arg-type]
        elif expr is not None:
            self.add(expr, None, written)

    def add(self, sched: cst.BaseExpression, interval: cst.SimpleString | None,
            entry: cst.BaseExpression | None = None) -> None:
        call = self.follow(sched)
        if not isinstance(call, cst.Call):
            return
        kind = symbols.classify_call(self.ctx, call)
        if kind is None or kind.kind != "scheduler":
            return
        value = "epoch"
        if interval is not None:
            try:
                value = interval.evaluated_value
            except Exception:  # pragma: no cover - defensive
                return
            if value not in ("step", "epoch"):
                return
        self.out.append(Declaration(call, kind.cls, value, interval, entry))


def declarations(ctx: "FileContext") -> list[Declaration]:
    """Every scheduler declared by a ``configure_optimizers`` method in the file."""

    def compute() -> list[Declaration]:
        out: list[Declaration] = []

        class V(cst.CSTVisitor):
            def __init__(self) -> None:
                self.classes = 0

            def visit_ClassDef(self, node: cst.ClassDef) -> None:
                self.classes += 1

            def leave_ClassDef(self, node: cst.ClassDef) -> None:
                self.classes -= 1

            def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
                if node.name.value == "configure_optimizers" and self.classes:
                    reader = _Reader(ctx, node)

                    class R(cst.CSTVisitor):
                        def visit_FunctionDef(self, inner: cst.FunctionDef) -> bool:
                            return inner is node

                        def visit_Lambda(self, inner) -> bool:
                            return False

                        def visit_Return(self, ret: cst.Return) -> None:
                            reader.returned(ret.value)

                    _walk.visit(node, R())
                    out.extend(reader.out)
                    return False
                return True

        _walk.visit(ctx.module, V())
        return out

    return ctx.cached("optimlint.lightning_sched", compute)
