"""What a project helper hands back: ``model, optimizer, loader, scheduler = setup(cfg)``.

Training scripts often build their optimizer and scheduler in a helper of the same file or of
a sibling module and unpack its tuple. The helper is read (its ``return`` statements, and the
one assignment of each returned name) to say which positions hold a torch scheduler or
optimizer; anything less certain (several returns that disagree, a name assigned twice, a
nested function's return) leaves the position unknown."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import libcst as cst

from optimlint.analysis import symbols
from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import stores, values_assigned
from optimlint.analysis.call_args import arg, param_names
from optimlint.analysis.summaries import project_function
from optimlint.vocabulary import ACCELERATOR_QUALNAMES

if TYPE_CHECKING:
    from optimlint.context import FileContext


class Returned(NamedTuple):
    kind: str  # "optimizer" / "scheduler" / "accelerator" / "scaler"
    cls: str  # the torch class or factory the helper builds it with (``Accelerator``)


_SCALER = Returned("scaler", "GradScaler")


class Reader(NamedTuple):
    """Enough of a FileContext for symbols.classify_call on another file's code."""

    qualify: object
    settings: object


def returned_objects(ctx: "FileContext", call: cst.Call, count: int) -> list[Returned | None]:
    """For each of the ``count`` unpacked positions of ``call``'s result: what the helper it
    calls returns there (None: unknown, or not an optimizer or scheduler)."""
    unknown: list[Returned | None] = [None] * count
    found = _helper(ctx, call.func)
    if found is None:
        return unknown
    fn, reader = found
    tuples = [r.value for r in function_returns(fn)]
    if not tuples or not all(isinstance(t, cst.Tuple) and len(t.elements) == count for t in tuples):
        return unknown
    out: list[Returned | None] = []
    for i in range(count):
        kinds = {_built(fn, t.elements[i].value, reader) for t in tuples}  # type: ignore[union-attr]
        out.append(kinds.pop() if len(kinds) == 1 else None)
    return out


def returned_construction(ctx: "FileContext", call: cst.Call, index: int, count: int) -> cst.Call | None:
    """The one construction call a helper of this very file returns at position ``index`` of
    its ``count``-tuple (``scheduler = StepLR(optimizer, step_size=...)`` then ``return ...,
    scheduler``): its arguments (a schedule's period) can be read here. None for a helper of
    another file, several returns or assignments, or anything but a torch scheduler or
    optimizer construction."""
    if not isinstance(call.func, cst.Name):
        return None
    defs = [s for s in ctx.module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))
            and s.name.value == call.func.value]
    if len(defs) != 1 or not isinstance(defs[0], cst.FunctionDef):
        return None
    fn = defs[0]
    returns = [r.value for r in function_returns(fn)]
    if len(returns) != 1 or not isinstance(returns[0], cst.Tuple) or len(returns[0].elements) != count:
        return None
    value = returns[0].elements[index].value
    if isinstance(value, cst.Name):
        values = values_assigned(fn, value.value, nested_functions=False, through_wrappers=True)
        if len(values) != 1 or not isinstance(values[0], cst.Call):
            return None
        value = values[0]
    if not isinstance(value, cst.Call):
        return None
    kind = symbols.classify_call(ctx, value)
    return value if kind is not None and kind.kind in ("optimizer", "scheduler") else None


def returned_object(ctx: "FileContext", call: cst.Call, klass: cst.ClassDef | None = None) -> Returned | None:
    """What the helper ``call`` calls hands back whole (``model_optim = self._select_optimizer()``
    with ``return optim.Adam(self.model.parameters(), ...)``; ``opt = make_optimizer(model)``):
    the optimizer, scheduler or ``Accelerator`` every one of its returns builds, else None. ``klass``: the class
    of the method the call is in, where ``self.<method>(...)`` is looked up."""
    found = _helper(ctx, call.func, klass)
    if found is None:
        return None
    fn, reader = found
    values = [r.value for r in function_returns(fn)]
    kinds = {_built(fn, v, reader) for v in values}  # type: ignore[arg-type]
    return kinds.pop() if len(kinds) == 1 else None


class Constructions(NamedTuple):
    fn: cst.FunctionDef  # the helper
    through_self: bool  # a method of the caller's class called through ``self``
    calls: list[cst.Call]  # what each of its returns builds


def returned_constructions(ctx: "FileContext", call: cst.Call,
                           klass: cst.ClassDef | None = None) -> Constructions | None:
    """The construction every return of ``call``'s helper hands back whole (``return
    torch.optim.SGD(model.parameters(), lr)``, or the one assignment of the name it returns);
    None when a return hands back anything else."""
    found = _helper(ctx, call.func, klass)
    if found is None:
        return None
    fn = found[0]
    calls = []
    for r in function_returns(fn):
        value = r.value
        if isinstance(value, cst.Name):
            values = values_assigned(fn, value.value, nested_functions=False, through_wrappers=True)
            value = values[0] if len(values) == 1 else None
        if not isinstance(value, cst.Call):
            return None
        calls.append(value)
    through_self = klass is not None and isinstance(call.func, cst.Attribute)
    return Constructions(fn, through_self, calls) if calls else None


def _helper(ctx: "FileContext", func: cst.BaseExpression, klass: cst.ClassDef | None = None):
    if klass is not None and isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) \
            and func.value.value == "self":
        defs = [s for s in klass.body.body if isinstance(s, cst.FunctionDef) and s.name.value == func.attr.value]
        return (defs[0], Reader(ctx.qualify, ctx.settings)) if len(defs) == 1 else None
    if isinstance(func, cst.Name):
        defs = [s for s in ctx.module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))
                and s.name.value == func.value]
        if len(defs) == 1 and isinstance(defs[0], cst.FunctionDef):
            return defs[0], Reader(ctx.qualify, ctx.settings)
    other = project_function(ctx, func)
    if other is None:
        return None
    fn, pf = other
    return fn, Reader(pf.imports.qualify, ctx.settings)


def returned_params_source(ctx: "FileContext", call: cst.Call, index: int | None, count: int,
                           klass: cst.ClassDef | None = None) -> tuple[cst.FunctionDef, str] | None:
    """The helper ``call`` calls and the name of its parameter that every one of its returns
    builds the optimizer at position ``index`` of its ``count``-tuple over (``index`` None: the
    whole value): ``def build_optimizer(parameters, cfg): optimizer = torch.optim.AdamW(
    parameters, ...); return optimizer, msg``. The caller's argument for that parameter then says
    whose parameters the optimizer holds. None when a return builds it otherwise, or the
    parameter is rebound in the helper."""
    found = _helper(ctx, call.func, klass)
    if found is None:
        return None
    fn, reader = found
    names: set[str | None] = set()
    for r in function_returns(fn):
        value = r.value
        if index is not None:
            if not isinstance(value, cst.Tuple) or len(value.elements) != count:
                return None
            value = value.elements[index].value
        if isinstance(value, cst.Name):
            values = values_assigned(fn, value.value, nested_functions=False, through_wrappers=True)
            value = values[0] if len(values) == 1 else None
        if not isinstance(value, cst.Call):
            return None
        kind = symbols.classify_call(reader, value)  # type: ignore[arg-type]
        params = arg(value, 0, "params") if kind is not None and kind.kind == "optimizer" else None
        names.add(params.value if isinstance(params, cst.Name) else None)
    name = names.pop() if len(names) == 1 else None
    if name is None or name not in param_names(fn) or stores(fn, name, nested_functions=False):
        return None
    return fn, name


def returned_parameter(fn: cst.FunctionDef) -> str | None:
    """The parameter ``fn`` hands back unchanged on every path (``def target_ini(self, net,
    target_net): ...copy_ the weights...; return target_net``): its last statement and every
    other ``return`` give that name, which its body never rebinds. None otherwise."""
    last = fn.body.body[-1] if isinstance(fn.body, cst.IndentedBlock) and fn.body.body else None
    if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Return)):
        return None
    names = {r.value.value if isinstance(r.value, cst.Name) else None for r in function_returns(fn)}
    if len(names) != 1:
        return None
    name = names.pop()
    if name is None or name not in param_names(fn) or stores(fn, name, nested_functions=False):
        return None
    return name


def function_returns(fn: cst.FunctionDef) -> list[cst.Return]:
    """The function's own ``return value`` statements (not those of nested defs)."""
    walk = _OwnReturns(fn)
    _walk.visit(fn, walk)
    out = walk.out
    return [r for r in out if r.value is not None] if all(r.value is not None for r in out) else []


class _OwnReturns(cst.CSTVisitor):
    """``function_returns``' walk. (A class of the module: one made per call would be cyclic
    garbage holding ``fn``'s tree until the cyclic collector ran.)"""

    def __init__(self, fn: cst.FunctionDef) -> None:
        self.fn = fn
        self.out: list[cst.Return] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.fn

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        self.out.append(node)


def _built(fn: cst.FunctionDef, value: cst.BaseExpression, reader: Reader) -> Returned | None:
    if isinstance(value, cst.Name):
        values = values_assigned(fn, value.value, nested_functions=False, through_wrappers=True)
        if len(values) > 1:
            # ``if cfg.sched == "plateau": scheduler = ReduceLROnPlateau(...) else: scheduler =
            # MultiStepLR(...)``: a scheduler either way (its class unknown, "")
            built = {_built(fn, v, reader) if v is not None else None for v in values}
            given = [v for v in values if not (isinstance(v, cst.Name) and v.value == "None")]
            if given and len(given) < len(values) and \
                    all(_built(fn, v, reader) == _SCALER for v in given):
                # ``if args.precision == "fp16": scaler = GradScaler() else: scaler = None``:
                # the scaler where there is one (every use of it is under ``if scaler:``, or
                # fails on None), as for ``GradScaler() if use_amp else None``
                return _SCALER
            if None in built or len({r.kind for r in built}) != 1:  # type: ignore[union-attr]
                return None
            first = next(iter(built))
            return first if len(built) == 1 else Returned(first.kind, "")  # type: ignore[union-attr]
        if len(values) != 1 or values[0] is None:
            return None
        value = values[0]
    if not isinstance(value, cst.Call):
        return None
    kind = symbols.classify_call(reader, value)  # type: ignore[arg-type]
    if kind is None:
        # ``accelerator = prepare_accelerator(args)`` whose helper ends in ``return Accelerator(...)``
        qn = reader.qualify(value.func) if isinstance(value.func, (cst.Name, cst.Attribute)) else None
        return Returned("accelerator", qn.rsplit(".", 1)[-1]) if qn in ACCELERATOR_QUALNAMES else None
    if kind.kind not in ("optimizer", "scheduler", "scaler"):
        return None
    return Returned(kind.kind, kind.cls)
