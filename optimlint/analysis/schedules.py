"""Learning-rate schedulers: which class a scheduler certainly is, what its period counts,
and which loop is the epoch loop and which the batch loop.

The OPT2xx rules need three facts the shared training model does not give:

- the scheduler's class, *certainly*: every assignment to the name it is held in must
  build the same class (``scheduler = StepLR(...)`` in one branch and
  ``ReduceLROnPlateau(...)`` in the other makes the class unknown);
- whether its period arguments count epochs or iterations
  (``T_max=epochs * len(loader)`` counts iterations, ``step_size=30`` epochs; a name
  we cannot read is unknown, and unknown is silence);
- loop levels: an *epoch loop* (a ``for``/``while`` whose target, iterable or test says
  epoch, or ``for _ in range(...)``) directly containing a *batch loop* (one that
  iterates a loader: ``loader``, ``enumerate(train_loader)``, ``tqdm(dl)``,
  ``range(len(loader))``, ``range(steps_per_epoch)``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.argparse_defaults import argparse_options
from optimlint.analysis.assignments import stores, values_assigned
from optimlint.analysis import symbols
from optimlint.analysis.bindings import Binding, Bindings, key_of
from optimlint.analysis.call_args import arg
from optimlint.vocabulary import (BATCH_SCHEDULERS, DATALOADER_QUALNAMES, EPOCH_SCHEDULERS, NOT_LR_SCHEDULER_METHODS,
                                  SCHEDULER_PERIOD_ARGS, TRANSFORMERS_CONSTANT_SCHEDULES,
                                  TRANSFORMERS_GET_SCHEDULER_PERIOD_ARGS, TRANSFORMERS_PERIOD_ARGS, UNTIMED_SCHEDULERS)

if TYPE_CHECKING:
    from optimlint.context import FileContext


# Spellings that say "iterations". Strong ones are unambiguous; ``steps``/``total`` alone
# are weak (``args.lr_steps`` are epoch milestones in torchvision's references).
_STRONG_ITER = re.compile(
    r"len\(|steps_per_epoch|iters_per_epoch|iter_per_epoch|batches_per_epoch|num_batches|n_batches|"
    r"total_steps|training_steps|train_steps|max_steps|num_steps|n_steps|total_iters|max_iters|"
    r"num_iters|n_iters|iterations|stepping_batches|total_updates|num_updates|max_iter\b|"
    r"updates_per_epoch|len_loader|loader_len|len_train", re.I)
_WEAK_ITER = re.compile(r"steps|iters|iter\b|total|batches|updates", re.I)
_EPOCH = re.compile(r"epoch", re.I)
# A literal period at most this long is read as epochs (ImageNet's StepLR(30), CIFAR's T_max=200).
_EPOCH_LITERAL_MAX = 500

STRONG_ITERATIONS = "iterations"
WEAK_ITERATIONS = "iterations?"
EPOCHS = "epochs"


# -- period --------------------------------------------------------------------------------
def _literal_number(expr: cst.BaseExpression) -> float | None:
    try:
        if isinstance(expr, (cst.Integer, cst.Float)):
            return float(expr.evaluated_value)
        if isinstance(expr, (cst.List, cst.Tuple)) and expr.elements:
            vals = [_literal_number(e.value) for e in expr.elements]
            return None if any(v is None for v in vals) else max(vals)  # type: ignore[type-var]
    except (ValueError, TypeError):  # pragma: no cover - defensive
        return None
    return None


def read_period(ctx: "FileContext", expr: cst.BaseExpression, cls: str) -> str | None:
    """What one period argument counts: STRONG_ITERATIONS, WEAK_ITERATIONS, EPOCHS or None."""
    text = ctx.code(expr)
    if _STRONG_ITER.search(text):
        return STRONG_ITERATIONS
    if _WEAK_ITER.search(text) and not _EPOCH.search(text):
        return WEAK_ITERATIONS
    if _EPOCH.search(text):
        if _WEAK_ITER.search(text):
            return None  # ``total_epochs``: epochs; ``epochs * steps``: iterations; unsure
        return EPOCHS
    value = _literal_number(expr)
    if value is None:
        # (an argument of another file's construction: this file's parser says nothing of it)
        default = _argparse_default(ctx, expr) if expr in ctx.parents else None
        if default is None:
            return None
        help_text, value = default
        if _STRONG_ITER.search(help_text) or _WEAK_ITER.search(help_text):
            return None
    if cls == "ExponentialLR":
        return EPOCHS if value <= 0.99 else None
    return EPOCHS if value <= _EPOCH_LITERAL_MAX else None


def _argparse_default(ctx: "FileContext", expr: cst.BaseExpression) -> tuple[str, float] | None:
    """``args.step_size`` where the file's parser defines ``--step_size`` with a literal number
    as default (and its help), and nothing in the file sets the attribute or its default
    otherwise: (help, default), what the script runs with unless told otherwise."""
    if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name)):
        return None
    name = expr.attr.value
    option = argparse_options(ctx).get(name)
    if option is None or option["default"] is None:
        return None
    value = _literal_number(option["default"])
    if value is None or name in _set_elsewhere(ctx):
        return None
    return option["help"], value


def _set_elsewhere(ctx: "FileContext") -> frozenset[str]:
    """Attributes the file assigns (``args.step_size = 5``) or re-defaults (``set_defaults``)."""

    def compute() -> frozenset[str]:
        found: set[str] = set()

        class V(cst.CSTVisitor):
            def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
                if isinstance(node.target, cst.Attribute):
                    found.add(node.target.attr.value)

            def visit_AugAssign(self, node: cst.AugAssign) -> None:
                if isinstance(node.target, cst.Attribute):
                    found.add(node.target.attr.value)

            def visit_Call(self, node: cst.Call) -> None:
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value == "set_defaults":
                    found.update(a.keyword.value for a in node.args if a.keyword is not None)
                elif isinstance(f, cst.Name) and f.value == "setattr":
                    found.add("*")

        _walk.visit(ctx.module, V())
        return frozenset(found)

    found = ctx.cached("optimlint.sched.set_elsewhere", compute)
    return found if "*" not in found else frozenset(argparse_options(ctx))


def period_reading(ctx: "FileContext", cls: str, call: cst.Call) -> str | None:
    """What the scheduler's period counts, from its construction call; None when unknown."""
    if cls in SCHEDULER_PERIOD_ARGS:
        specs = SCHEDULER_PERIOD_ARGS[cls]
    elif cls == "get_scheduler":
        specs = TRANSFORMERS_GET_SCHEDULER_PERIOD_ARGS
    elif cls.startswith("get_"):
        specs = TRANSFORMERS_PERIOD_ARGS
    else:
        return None
    readings = []
    for keyword, index in specs:
        value = arg(call, index, keyword)
        if value is not None:
            readings.append(read_period(ctx, value, cls))
    if not readings:
        # Only defaults: ReduceLROnPlateau(patience=10), PolynomialLR(total_iters=5) count epochs.
        return EPOCHS if cls in ("ReduceLROnPlateau", "PolynomialLR") else None
    if STRONG_ITERATIONS in readings:
        return STRONG_ITERATIONS
    if WEAK_ITERATIONS in readings:
        return WEAK_ITERATIONS
    if all(r == EPOCHS for r in readings):
        return EPOCHS
    return None


def granularity(ctx: "FileContext", cls: str | None, call: cst.Call | None) -> str | None:
    """"epoch" (must be stepped once per epoch), "batch" (once per optimizer step) or None."""
    if cls is None or call is None or cls in UNTIMED_SCHEDULERS:
        return None
    reading = period_reading(ctx, cls, call)
    if cls in EPOCH_SCHEDULERS:
        if reading == EPOCHS:
            return "epoch"
        if reading == STRONG_ITERATIONS:
            return "batch"
        return None
    if cls in BATCH_SCHEDULERS:
        if cls == "OneCycleLR":
            total = arg(call, 2, "total_steps")
            if total is not None and read_period(ctx, total, cls) == EPOCHS:
                return None  # OneCycleLR(total_steps=num_epochs): deliberately per epoch
        return "batch"
    if cls.startswith("get_") and cls.rsplit(".", 1)[-1] not in TRANSFORMERS_CONSTANT_SCHEDULES and "." not in cls:
        if cls == "get_scheduler":
            name = arg(call, 0, "name")
            if isinstance(name, cst.SimpleString):
                if "constant" in name.evaluated_value:
                    return None
            elif reading != STRONG_ITERATIONS:
                return None
            # a name chosen at run time (``get_scheduler(args.lr_scheduler, ...,
            # num_training_steps=args.max_train_steps)``): every schedule but "constant" then
            # counts the optimizer steps it is given
        if reading == EPOCHS:
            return None  # num_training_steps=num_epochs: deliberately per epoch
        return "batch"
    return None


# -- what a scheduler certainly is ------------------------------------------------------------
def _enclosing(ctx: "FileContext", node: cst.CSTNode, kinds) -> cst.CSTNode | None:
    parents = ctx.parents
    cur = parents.get(node)
    while cur is not None and not isinstance(cur, kinds):
        cur = parents.get(cur)
    return cur


def enclosing_function(ctx: "FileContext", node: cst.CSTNode) -> cst.FunctionDef | None:
    return _enclosing(ctx, node, cst.FunctionDef)


def _assigned_key(ctx: "FileContext", call: cst.Call) -> str | None:
    parent = ctx.parents.get(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return key_of(parent.targets[0].target)
    if isinstance(parent, cst.AnnAssign):
        return key_of(parent.target)
    return None


def construction(b: Binding | None) -> cst.Call | None:
    """The call that built the scheduler ``b``: here, or in a caller of another file."""
    if b is None:
        return None
    return b.call if b.call is not None else b.built_elsewhere


def certain_class(ctx: "FileContext", b: Binding | None) -> str | None:
    """The scheduler class of ``b`` when every assignment to its name builds that class."""
    if b is None or b.kind != "scheduler" or b.by_name or b.cls is None:
        return None
    if b.built_elsewhere is not None:
        return b.cls  # every caller of another file builds that class (``handed_elsewhere``)
    if b.call is None:
        return None

    def compute() -> str | None:
        key = _assigned_key(ctx, b.call)
        if key is None:
            return None
        if key.startswith("self."):
            scope = _enclosing(ctx, b.call, cst.ClassDef)
        else:
            scope = enclosing_function(ctx, b.call)
        if scope is None:
            scope = ctx.module
        classes = set()
        for value in values_assigned(scope, key, through_wrappers=True):
            if isinstance(value, cst.Name) and value.value == "None":
                continue
            if not isinstance(value, cst.Call):
                return None
            kind = symbols.classify_call(ctx, value)
            if kind is None or kind.kind != "scheduler":
                return None
            classes.add(kind.cls)
        return b.cls if classes == {b.cls} else None

    return ctx.cached(("optimlint.sched.certain", id(b)), compute)


def _custom_step_classes(ctx: "FileContext") -> bool:
    """The file defines a class with a ``step`` method that is not a torch LR scheduler, or
    builds a scheduler class of another project file that has one (``CycleScheduler(optimizer,
    ...)`` imported from the project's ``scheduler.py``, whose ``step()`` may write the rate of
    the step about to run, as such classes often do): what a scheduler known only by its name
    holds may be one of them."""

    def compute() -> bool:
        found = False

        class V(cst.CSTVisitor):
            def visit_ClassDef(self, node: cst.ClassDef) -> bool:
                nonlocal found
                bases = [ctx.qualify(a.value) for a in node.bases]
                if any(symbols.scheduler_class(q) for q in bases):
                    return True
                if _defines_step(node):
                    found = True
                return True

            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                if not found and symbols.class_name_says_scheduler(symbols.callee_name(node.func)):
                    found = _project_step_class(ctx, node.func)

        _walk.visit(ctx.module, V())
        return found

    return ctx.cached("optimlint.sched.custom_step", compute)


def _defines_step(node: cst.ClassDef) -> bool:
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    return any(isinstance(stmt, cst.FunctionDef) and stmt.name.value == "step" for stmt in body)


def _builds_step_class(ctx: "FileContext", call: cst.Call) -> bool:
    """``call`` builds a class of the project (this file or another) that defines ``step`` and
    does not derive from a torch scheduler (``CycleScheduler(optimizer, ...)``)."""
    from optimlint.analysis import modules

    found = modules.constructed_class(ctx, call.func)
    if found is None or found.node is None:
        return False
    return _defines_step(found.node) and \
        not symbols.scheduler_class(modules.torch_ancestor(found, ctx.project_root))


def _project_step_class(ctx: "FileContext", func: cst.BaseExpression) -> bool:
    """``func`` builds a project class of another file that defines ``step`` and does not
    derive from a torch scheduler."""
    from optimlint.analysis import modules

    found = modules.constructed_class(ctx, func)
    if found is None or found.file is modules.linted_file(ctx) or found.node is None:
        return False
    return _defines_step(found.node) and \
        not symbols.scheduler_class(modules.torch_ancestor(found, ctx.project_root))


def _used_as_other(ctx: "FileContext", last: str) -> bool:
    """Somewhere in the file ``*.<last>`` / ``<last>`` is used as a non-LR scheduler."""

    def compute() -> frozenset[str]:
        names: set[str] = set()

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                f = node.func
                if isinstance(f, cst.Attribute):
                    k = key_of(f.value)
                    if k is None:
                        return
                    tail = k.rsplit(".", 1)[-1]
                    if f.attr.value in NOT_LR_SCHEDULER_METHODS:
                        names.add(tail)
                    elif f.attr.value == "step" and (len(node.args) > 1 or any(
                            a.keyword is not None and a.keyword.value != "epoch" for a in node.args)):
                        names.add(tail)

            def visit_Attribute(self, node: cst.Attribute) -> None:
                if node.attr.value in ("timesteps", "config", "init_noise_sigma", "sigmas", "alphas_cumprod"):
                    k = key_of(node.value)
                    if k:
                        names.add(k.rsplit(".", 1)[-1])

        _walk.visit(ctx.module, V())
        return frozenset(names)

    return last in ctx.cached("optimlint.sched.other_uses", compute)


def trusted_scheduler(ctx: "FileContext", b: Binding | None, key: str | None,
                      func: cst.CSTNode | None = None) -> bool:
    """``b`` is an LR scheduler the rules may speak about.

    A construction the analysis saw always qualifies. A scheduler known only by SPEC's name
    rule qualifies unless the file shows it is something else: a custom class with a
    ``step`` method (maybe what the name holds), or the same name used like a diffusers
    noise scheduler (``step(out, t, x)``, ``set_timesteps``) or a timm scheduler
    (``step_update``).
    """
    if b is None or b.kind != "scheduler":
        return False
    if not b.by_name:
        return b.call is not None or b.built_elsewhere is not None
    if b.call is not None and not b.lightning:
        # ``lr_scheduler = get_scheduler_fix(args, optimizer, n)``: the name holds what that call
        # builds over the optimizer, not one of the file's other step classes (a noise scheduler)
        if _builds_step_class(ctx, b.call):
            return False
    elif _custom_step_classes(ctx) and not (key and "." not in key and ctx.cached(
            Bindings, lambda: Bindings.build(ctx)).callers_hand(func, key, "scheduler")):
        return False  # (a parameter every call that uses it hands a scheduler holds one)
    if key and key.startswith("self.") and key.count(".") == 1 and func is not None:
        klass = _enclosing(ctx, func, cst.ClassDef)
        if klass is not None and any(not (isinstance(v, cst.Name) and (
                v.value == "None" or symbols.name_says_scheduler(v.value)))
                for v in values_assigned(klass, key)):
            return False  # ``self.scheduler = build_scheduler(cfg)``: something we cannot see
    for k in {key or "", b.name}:
        if k and _used_as_other(ctx, k.rsplit(".", 1)[-1]):
            return False
    return True


# -- loop levels -------------------------------------------------------------------------------
_PROGRESS_WRAPPERS = frozenset({"enumerate", "tqdm", "iter", "trange", "track", "progress_bar", "islice",
                                "zip"})
_LOADERISH = re.compile(r"(loader|^dl$|_dl$|^dl_|dataloader|data_iter|batch_iter|batches$|"
                        r"^(train|valid|val|test|eval)_iter$)", re.I)  # (d2l's ``train_iter``)
_BATCH_COUNT = re.compile(r"len\(.*(loader|dl|dataloader|batches)|steps_per_epoch|iters_per_epoch|"
                          r"iter_per_epoch|batches_per_epoch|num_batches|n_batches|updates_per_epoch", re.I)
_BATCH_SIZE = re.compile(r"batch|(^|[_.])(bs|mbs|mb_size|minibatch_size)$", re.I)


def _unwrap_iterable(ctx: "FileContext", expr: cst.BaseExpression) -> cst.BaseExpression:
    for _ in range(4):
        if isinstance(expr, cst.Call) and expr.args:
            f = expr.func
            name = symbols.callee_name(f)
            if name in _PROGRESS_WRAPPERS:
                expr = expr.args[0].value
                continue
        break
    return expr


def iterates_loader(ctx: "FileContext", loop: cst.CSTNode) -> bool:
    """A ``for`` loop over a data loader (or over the number of batches in one epoch): also
    through a name bound to one in the loop's scope (``epoch_iterator = tqdm(train_loader)``
    then ``for step, batch in enumerate(epoch_iterator)``) and over ``zip`` of loaders."""
    if not isinstance(loop, cst.For):
        return False
    return _loaderish(ctx, loop.iter, _scope_of(ctx, loop), 0)


def _scope_of(ctx: "FileContext", node: cst.CSTNode) -> cst.CSTNode:
    return enclosing_function(ctx, node) or ctx.module


def _loaderish(ctx: "FileContext", expr: cst.BaseExpression, scope: cst.CSTNode, depth: int) -> bool:
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "zip":
        return any(not a.star and _loaderish(ctx, a.value, scope, depth) for a in expr.args)
    it = _unwrap_iterable(ctx, expr)
    if it is not expr and isinstance(it, cst.Call):
        return _loaderish(ctx, it, scope, depth)
    if isinstance(it, cst.Call):
        qn = ctx.qualify(it.func)
        if qn in DATALOADER_QUALNAMES:
            return True
        f = it.func
        if isinstance(f, cst.Name) and f.value == "range":
            # ``range(len(loader))``, or ``range(0, n, batch_size)``: slicing minibatches by hand
            return bool(_BATCH_COUNT.search(ctx.code(it))) or len(it.args) == 3 and \
                bool(_BATCH_SIZE.search(ctx.code(it.args[2].value)))
        fk = key_of(f)  # ``self.train_dataloader()``, ``get_loader(split)``
        return bool(fk and _LOADERISH.search(fk.rsplit(".", 1)[-1]) or fk and
                    re.search(r"loader", fk.rsplit(".", 1)[-1], re.I))
    k = key_of(it)
    if k is None:
        return False
    if _LOADERISH.search(k.rsplit(".", 1)[-1]):
        return True
    if isinstance(it, cst.Name) and depth < 3:
        # (``pbar = enumerate(dataloader)`` then ``pbar = tqdm(pbar, total=nb)``: a rebinding that
        # wraps the name itself in a progress bar iterates what it iterated)
        values = [v for v in _bound_values(scope, k)
                  if v is None or key_of(_unwrap_iterable(ctx, v)) != k or _unwrap_iterable(ctx, v) is v]
        return bool(values) and all(v is not None and _loaderish(ctx, v, scope, depth + 1) for v in values)
    return False


def _bound_values(scope: cst.CSTNode, name: str) -> list[cst.BaseExpression | None]:
    """What each binding of ``name`` in ``scope`` gives it, a ``with EXPR as name:`` item its
    EXPR (``with tqdm(loader) as bar:``); None for a binding that cannot be paired."""
    return [s.node.item if s.kind == "with" else s.value for s in stores(scope, name, nested_functions=False)]


def is_epoch_loop(ctx: "FileContext", loop: cst.CSTNode) -> bool:
    """A loop over epochs: says epoch, or ``for e in range(n)`` that does not iterate a loader.
    Kept per loop for the file (asked by several checks; the answer generates code)."""
    memo = ctx.cached("optimlint.epoch_loops", dict)
    found = memo.get(id(loop))
    if found is None or found[0] is not loop:
        found = memo[id(loop)] = (loop, _is_epoch_loop(ctx, loop))
    return found[1]


def _is_epoch_loop(ctx: "FileContext", loop: cst.CSTNode) -> bool:
    if isinstance(loop, cst.For):
        if iterates_loader(ctx, loop):
            return False
        text = ctx.code(loop.target) + " " + ctx.code(loop.iter)
        if _EPOCH.search(text):
            return True
        it = loop.iter
        if isinstance(it, cst.Name):  # ``train_iterator = trange(0, args.num_train_epochs)``
            values = values_assigned(_scope_of(ctx, loop), it.value, nested_functions=False)
            if values and all(v is not None and _EPOCH.search(ctx.code(v)) and not _loaderish(ctx, v, ctx.module, 3)
                              for v in values):
                return True
        return isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range" \
            and not _WEAK_ITER.search(ctx.code(it))
    if isinstance(loop, cst.While):
        return bool(_EPOCH.search(ctx.code(loop.test)))
    return False
