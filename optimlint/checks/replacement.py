"""OPT305: an operation that replaces a module's Parameter objects after an optimizer was
built from them, so the optimizer updates tensors the model no longer uses.

A plain ``.to()``/``.cuda()``/``.half()``/``.cpu()`` is not one of them: ``nn.Module._apply``
sets ``param.data`` in place whenever the new tensor's type is compatible, so the optimizer
keeps the module's own Parameter objects (checked with torch 2.13: the step still updates the
model). What does replace them:

- FSDP wrapping without ``use_orig_params=True`` (flat parameters), ``fully_shard`` (DTensor
  parameters);
- ``to_empty(...)`` (new storage; new objects from the meta device);
- ``load_state_dict(..., assign=True)`` (the state dict's tensors become the parameters);
- a move to an XLA device (XLA tensors cannot take a CPU tensor's place in ``.data``);
- any move or cast under ``torch.__future__.set_overwrite_module_params_on_conversion(True)``;
- ``model = copy.deepcopy(model)`` and then training ``model``.

``set_swap_module_params_on_conversion(True)`` is not in the list: ``torch.utils.swap_tensors``
keeps the objects (the step still updates the model, checked with torch 2.13).

The optimizer and the module are followed through rebinding: no finding when the optimizer
in use after the replacement was built after it, or when the name held another module
in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from optimlint.analysis import construction_args as A
from optimlint.analysis import moves
from optimlint.analysis import walk as _walk
from optimlint.analysis.bindings import key_of
from optimlint.analysis.iteration import module_covers
from optimlint.analysis.names import dotted
from optimlint.checks.base import Check
from optimlint.diagnostics import Fix
from optimlint.vocabulary import FSDP_CLASSES, FULLY_SHARD, OVERWRITE_FLAG, XLA_DEVICES
from optimlint.vocabulary import MODULE_MOVES as MOVES

DEEPCOPY = frozenset({"copy.deepcopy"})

WHY = {
    "fsdp": "wrapping in FSDP without `use_orig_params=True` replaces the module's parameters with "
            "flattened FlatParameters",
    "fully_shard": "`fully_shard` replaces the module's parameters with sharded DTensor parameters",
    "to_empty": "`to_empty()` gives the module new, uninitialized parameter storage (new Parameter "
                "objects when the device type changes, as from `meta`)",
    "assign": "`load_state_dict(..., assign=True)` makes the state dict's tensors the module's "
              "parameters, new Parameter objects",
    "xla": "a move to an XLA device creates new Parameter objects (an XLA tensor cannot take a CPU "
           "tensor's place)",
    "overwrite": "under `torch.__future__.set_overwrite_module_params_on_conversion(True)` a move or "
                 "cast creates new Parameter objects",
    "deepcopy": "the name now holds a copy with its own Parameter objects",
}
ADVICE = {
    "fsdp": "build the optimizer after wrapping, from the wrapped module's parameters (or pass "
            "`use_orig_params=True`)",
    "deepcopy": "build the optimizer from the copy's parameters, or train the original",
}


@dataclass
class Replacement:
    """One operation that gives a module new Parameter objects."""

    call: cst.Call  # where it is reported
    key: str  # the module whose parameters it replaces
    kind: str  # a key of WHY
    partial_ok: bool  # a submodule of the optimizer's module also counts (provably a module)


class ParamReplacementCheck(Check):
    codes = ("OPT305",)
    needles = (b"optim",)
    requires = ((rb"optim(?<!\woptim)\b",),
                (rb"FullyShardedDataParallel", rb"fully_shard", rb"to_empty", rb"assign", rb"xla",
                 rb"deepcopy", rb"_on_conversion"))

    def check(self) -> None:
        ctx = self.ctx
        if "optim" not in ctx.source:
            return
        calls = A.optimizer_calls(ctx)
        if not calls:
            return
        reps = _replacements(ctx)
        if not reps:
            return
        found: dict[int, tuple[Replacement, list]] = {}
        for oc in calls:
            for rep, stmt, opt_key in _after(ctx, oc, reps):
                found.setdefault(id(rep.call), (rep, []))[1].append((stmt, opt_key))
        for rep, built in found.values():
            self.report("OPT305", rep.call, *_message_and_fix(ctx, rep, built))


# --------------------------------------------------------------------------- replacing operations
def _replacements(ctx) -> list[Replacement]:
    def build() -> list[Replacement]:
        flags: list[tuple[int, int]] = []  # where the overwrite flag is switched on
        found: list[tuple[cst.Call, str | None]] = []

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                if ctx.qualify(node.func) == OVERWRITE_FLAG:
                    pos = A.positional(node)
                    if pos and A.literal_bool(pos[0].value) is True:
                        flags.append(A.pos(ctx, node))
                    return
                found.append((node, None))

        _walk.visit(ctx.module, V())
        out = []
        for call, _ in found:
            rep = _replacement(ctx, call, bool(flags) and min(flags) < A.pos(ctx, call))
            if rep is not None:
                out.append(rep)
        return out

    return ctx.cached(("replacement", "operations"), build)


def _module_arg(call: cst.Call) -> cst.BaseExpression | None:
    kw = A.keyword_arg(call, "module")
    if kw is not None:
        return kw.value
    pos = A.positional(call)
    return pos[0].value if pos else None


def _replacement(ctx, call: cst.Call, under_overwrite: bool) -> Replacement | None:
    f = call.func
    qn = ctx.qualify(f)
    if qn in FSDP_CLASSES:
        orig = A.keyword_arg(call, "use_orig_params")
        if A.has_double_star(call) or (orig is not None and A.literal_bool(orig.value) is not False):
            return None  # True, or a value this file does not show
        key = key_of(_module_arg(call))
        return Replacement(call, key, "fsdp", True) if key else None
    if qn in FULLY_SHARD:
        key = key_of(_module_arg(call))
        return Replacement(call, key, "fully_shard", True) if key else None
    if qn in DEEPCOPY:
        return _deepcopy(ctx, call)
    if not isinstance(f, cst.Attribute) or not isinstance(f.value, (cst.Name, cst.Attribute)):
        return None
    key = key_of(f.value)
    if key is None:
        return None
    name = f.attr.value
    if name == "to_empty":
        return Replacement(call, key, "to_empty", True)
    if name == "load_state_dict":
        assign = A.keyword_arg(call, "assign")
        if assign is not None and A.literal_bool(assign.value) is True:
            return Replacement(call, key, "assign", True)
        return None
    if name not in MOVES:
        return None
    if under_overwrite:
        return Replacement(call, key, "overwrite", False)
    if name == "to" and any(_is_xla(ctx, a.value, call) for a in call.args
                            if a.keyword is None or a.keyword.value == "device"):
        return Replacement(call, key, "xla", False)
    return None


def _is_xla(ctx, expr: cst.BaseExpression, at: cst.CSTNode, depth: int = 0) -> bool:
    """``xm.xla_device()``, ``torch_xla.device()``, ``"xla"``, ``torch.device("xla:0")`` or a
    name assigned one of them once."""
    s = A.string_value(expr)
    if s is not None:
        return s == "xla" or s.startswith("xla:")
    if isinstance(expr, cst.Call):
        qn = ctx.qualify(expr.func)
        if qn in XLA_DEVICES:
            return True
        if qn == "torch.device":
            pos = A.positional(expr)
            return bool(pos) and _is_xla(ctx, pos[0].value, at, depth + 1)
        return False
    if isinstance(expr, (cst.Name, cst.Attribute)) and depth < 3:
        k = key_of(expr)
        value = A.single_assignment(ctx, A.enclosing_scope(ctx, at), k) if k else None
        return value is not None and _is_xla(ctx, value, at, depth + 1)
    return False


def _deepcopy(ctx, call: cst.Call) -> Replacement | None:
    """``model = copy.deepcopy(model)``: the statement rebinds the name it copies."""
    pos = A.positional(call)
    if len(pos) != 1:
        return None
    key = key_of(pos[0].value)
    assign = ctx.parents.get(call)
    if key is None or not isinstance(assign, cst.Assign) or assign.value is not call or len(assign.targets) != 1:
        return None
    if key_of(assign.targets[0].target) != key:
        return None
    return Replacement(call, key, "deepcopy", False)


# --------------------------------------------------------------------------- order and rebinding
def _after(ctx, oc: A.OptimizerCall, reps: list[Replacement]) -> list[tuple]:
    """``(replacement, construction statement, optimizer key)`` for each replacement of a module
    this optimizer was built from, after it in the same scope, before a later use of it."""
    call = oc.call
    stmt = A.statement_of(ctx, call)
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return []
    small = stmt.body[0]
    if not isinstance(small, (cst.Assign, cst.AnnAssign)) or small.value is None:
        return []
    targets = small.targets if isinstance(small, cst.Assign) else [small]
    if len(targets) != 1:
        return []
    opt_key = key_of(targets[0].target)
    if opt_key is None or not ctx.encloses(small.value, call):
        return []
    scope = A.enclosing_scope(ctx, call)
    modules = _source_modules(ctx, call, scope)
    if not modules:
        return []
    out = []
    for rep in reps:
        if A.enclosing_scope(ctx, rep.call) is not scope or not A.precedes(ctx, stmt, rep.call, scope):
            continue
        if not any(module_covers(rep.key, m) or (rep.partial_ok and module_covers(m, rep.key))
                   for m in modules):
            continue
        if _rebound_between(ctx, scope, rep.key, opt_key, stmt, rep.call):
            continue
        if not _used_after(ctx, scope, opt_key, rep.call):
            continue
        if rep.kind == "deepcopy" and not _read_after(ctx, scope, rep.key, rep.call):
            continue
        out.append((rep, stmt, opt_key))
    return out


def _source_modules(ctx, call: cst.Call, scope) -> set[str]:
    """The modules whose ``.parameters()`` the optimizer's ``params`` argument reads (following
    a name assigned once, twice deep)."""
    arg = A.params_arg(call)
    if arg is None:
        return set()
    found: set[str] = set()

    def collect(expr, depth):
        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> bool:
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value in ("parameters", "named_parameters"):
                    k = key_of(f.value)
                    if k:
                        found.add(k)
                    return False
                return True

            def visit_Name(self, node: cst.Name) -> None:
                if depth < 2 and node is expr:
                    value = A.single_assignment(ctx, scope, node.value)
                    if value is not None:
                        collect(value, depth + 1)

        _walk.visit(expr, V())

    collect(arg.value, 0)
    return found


def _prefixes(key: str) -> set[str]:
    parts = key.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _rebound_between(ctx, scope, moved: str, opt_key: str, stmt, rep_call) -> bool:
    """The module's or the optimizer's name is bound again between the construction and the
    replacement (``model = model.to(device)`` keeps the module and does not count)."""
    lo = A.end_pos(ctx, stmt)
    rep_stmt = A.statement_of(ctx, rep_call)
    hi = A.pos(ctx, rep_stmt if rep_stmt is not None else rep_call)
    stores = A.scope_stores(ctx, scope)
    for k in _prefixes(moved) | _prefixes(opt_key):
        for st in stores.of(k):
            if lo <= A.pos(ctx, st.target) < hi and not _self_move(st, k):
                return True
    return False


def _used_after(ctx, scope, opt_key: str, rep_call: cst.Call) -> bool:
    """The optimizer built before the replacement is read after it: directly, or (module
    level) inside a function of the module called after it (``def train(): opt.step()``);
    not when the name is bound again (a new optimizer) before that first use."""
    after = A.end_pos(ctx, rep_call)
    rebinds = [A.pos(ctx, st.target) for k in _prefixes(opt_key)
               for st in A.scope_stores(ctx, scope).of(k) if A.pos(ctx, st.target) >= after]
    first_rebind = min(rebinds) if rebinds else None
    if opt_key.startswith("self."):
        return first_rebind is None
    root = ctx.module if scope is None else scope
    uses: list[tuple[int, int]] = []
    readers: set[str] = set()  # module-level functions that read the optimizer
    calls_after: list[tuple[str, tuple[int, int]]] = []

    class V(cst.CSTVisitor):
        def __init__(self) -> None:
            self.funcs: list[str] = []

        def visit_FunctionDef(self, node) -> None:
            if node is not scope:
                self.funcs.append(node.name.value)

        def leave_FunctionDef(self, node) -> None:
            if node is not scope and self.funcs:
                self.funcs.pop()

        def _seen(self, node) -> None:
            p = A.pos(ctx, node)
            if self.funcs:
                readers.add(self.funcs[0])
            elif p >= after:
                uses.append(p)

        def visit_Name(self, node: cst.Name) -> None:
            if node.value == opt_key:
                self._seen(node)

        def visit_Attribute(self, node: cst.Attribute) -> None:
            if dotted(node) == opt_key:
                self._seen(node)

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name) and not self.funcs and A.pos(ctx, node) >= after:
                calls_after.append((node.func.value, A.pos(ctx, node)))

    _walk.visit(root, V())
    uses.extend(p for name, p in calls_after if name in readers)
    # a read inside the rebinding statement itself (``opt = rebuild(opt)``) is not a use
    uses = [p for p in uses if first_rebind is None or p < first_rebind]
    return bool(uses)


def _read_after(ctx, scope, key: str, rep_call: cst.Call) -> bool:
    """The rebound name is read after the statement that rebinds it (the copy is trained)."""
    stmt = A.statement_of(ctx, rep_call)
    after = A.end_pos(ctx, stmt if stmt is not None else rep_call)
    return any(A.pos(ctx, n) >= after for n in A.uses(ctx, scope, key))


def _self_move(st: A.Store, key: str) -> bool:
    """``model = model.to(device)``: the name keeps the same module (``to`` returns it)."""
    v = st.value
    return (st.kind == "assign" and isinstance(v, cst.Call) and isinstance(v.func, cst.Attribute)
            and v.func.attr.value in MOVES and key_of(v.func.value) == key)


# --------------------------------------------------------------------------- the finding
def _message_and_fix(ctx, rep: Replacement, built: list) -> tuple[str, Fix | None]:
    """OPT305's message for ``rep`` run after the optimizers of ``built`` (statement, name), and
    the fix hoisting it above them when they are all in one block."""
    built.sort(key=lambda b: A.pos(ctx, b[0]))
    names: list[str] = []
    for _, k in built:
        if k not in names:
            names.append(k)
    first = built[0][0]
    fix = None
    if all(moves.block_of(ctx, s) is moves.block_of(ctx, first) for s, _ in built):
        fix = _hoist_fix(ctx, A.enclosing_scope(ctx, rep.call), first, rep)
    which = " and ".join(f"`{n}`" for n in names)
    advice = ADVICE.get(rep.kind, "build the optimizer after it")
    text = ctx.code(rep.call)
    if len(text) > 60 or "\n" in text:
        text = ctx.code(rep.call.func) + "(...)"
    return (f"`{text}` runs after {which} {'was' if len(names) == 1 else 'were'} built from `{rep.key}`'s "
            f"parameters: {WHY[rep.kind]}, so the optimizer updates tensors the model no longer uses; "
            f"{advice}", fix)


def _hoist_fix(ctx, scope, stmt, rep: Replacement) -> Fix | None:
    """Move the replacing statement above the optimizer construction (same block, nothing it
    reads bound in between)."""
    rep_stmt = A.statement_of(ctx, rep.call)
    if rep_stmt is None or not moves.movable(ctx, rep_stmt):
        return None
    if moves.block_of(ctx, rep_stmt) is not moves.block_of(ctx, stmt):
        return None
    small = rep_stmt.body[0]
    ok = (isinstance(small, cst.Expr) and small.value is rep.call) or \
         (isinstance(small, cst.Assign) and small.value is rep.call and len(small.targets) == 1
          and key_of(small.targets[0].target) == rep.key)
    if not ok:
        return None
    names: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.add(node.value)

    _walk.visit(rep.call, V())
    lo, hi = A.pos(ctx, stmt), A.pos(ctx, rep_stmt)
    stores = A.scope_stores(ctx, scope)
    for n in names:
        if any(lo <= A.pos(ctx, st.target) < hi for st in stores.of(n)):
            return None
    return Fix.unsafe(f"Move `{ctx.code(rep.call.func)}(...)` above the optimizer construction",
                      *moves.move_before(ctx, rep_stmt, stmt))
