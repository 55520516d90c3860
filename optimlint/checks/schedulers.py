"""OPT201-OPT205: learning-rate schedulers stepped in the wrong place, at the wrong rate,
or with the wrong arguments.

Scheduler steps come from the shared training model (``EventKind.SCHED_STEP``); what
the analysis must be sure of before speaking (the scheduler's class, what its period
counts, which loop is the epoch loop and which the batch loop) is in
``analysis.schedules``; Lightning's declarations in ``analysis.lightning_sched``.
"""

from __future__ import annotations

import os

import libcst as cst

from optimlint.analysis import callers, moves
from optimlint.analysis import summaries, symbols
from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import stores
from optimlint.analysis.bindings import key_of
from optimlint.analysis import schedules as S
from optimlint.analysis.events import EventKind
from optimlint.analysis.iteration import Event, Iteration, covered, exclusive, module_keys, may_step, same_object
from optimlint.analysis.lightning_sched import declarations
from optimlint.checks.base import Check
from optimlint.checks.order import accumulation_test, difference_window, flag_window
from optimlint.diagnostics import Edit, Fix

K = EventKind
STEPS = (K.STEP, K.SCALER_STEP)


def _steps_for(it: Iteration, sched: Event) -> list[Event] | None:
    """The optimizer steps in ``it`` that the scheduler ``sched`` follows (None: unsure)."""
    opt = sched.target.optimizer if sched.target is not None else None
    steps = [e for e in it.events if e.kind in STEPS and e.target is not None]
    if opt is not None:
        return [e for e in steps if same_object(e.target, opt) is not False]
    targets = {id(e.target) for e in steps}
    return steps if len(targets) <= 1 else None


def _conds(it: Iteration, ev: Event, level: int) -> tuple:
    return tuple((b.node, b.arm) for b in ev.branches if b.loop_depth >= level)


def _conds_at(ev: Event, level: int) -> tuple:
    """The branches ``ev`` sits under in the body of the loop at ``level`` itself."""
    return tuple((b.node, b.arm) for b in ev.branches if b.loop_depth == level)


def _epoch_guards(it: Iteration, ev: Event, level: int) -> bool:
    """``ev`` sits in the loop's own body under ``if`` / ``elif`` / ``else`` arms each chosen by
    a test of the loop's own variable (``if epoch < num_warm: ... else: ...``): a phase of the
    run, never a test of the scheduler or optimizer."""
    if len(ev.loops) != level or not isinstance(it.node, cst.For):
        return False
    bound = {n.value for n in _walk.nodes_of(it.node.target, cst.Name)}
    guards = [b for b in ev.branches if b.loop_depth >= level]
    if not guards:
        return False
    for b in guards:
        if not isinstance(b.node, cst.If) or b.arm not in ("body", "else"):
            return False
        names = {n.value for n in _walk.nodes_of(b.node.test, cst.Name)}
        if not names & bound or any(symbols.name_says_scheduler(n) or symbols.name_says_optimizer(n) for n in names):
            return False
    return True


def _loop_invariant_guards(it: Iteration, ev: Event, level: int, phases: bool = False) -> bool:
    """``ev`` sits in the loop's own body under ``if`` tests that read only settings the
    loop never binds: attributes of a configuration (``if opt.lr_scheduler == "multistep":``,
    ``if not args.no_train:``) or parameters of the function, never the scheduler or optimizer
    themselves (``if scheduler is None:``). The same arm runs on every pass, so the first
    pass decides what every pass does. In a loop over an epoch's phases (``phases``), a test
    of the phase (``if phase == "train":``) is the training phase's own arm."""
    if len(ev.loops) != level or not isinstance(it.node, cst.For):
        return False
    return all(_invariant_arm(it, ev, b) or phases and _phase_arm(it, b)
               for b in ev.branches if b.loop_depth >= level)


def _phases_of_an_epoch(ctx, loop: cst.CSTNode) -> bool:
    """``for phase in ["train", "val"]:`` right inside an epoch loop: one epoch's phases (the
    training phase steps the optimizer in its batch loop, the scheduler belongs after it)."""
    if not (isinstance(loop, cst.For) and isinstance(loop.target, cst.Name) and
            isinstance(loop.iter, (cst.List, cst.Tuple)) and len(loop.iter.elements) >= 2 and
            all(isinstance(e.value, cst.SimpleString) for e in loop.iter.elements)):
        return False
    up = ctx.parents.get(loop)
    while up is not None and not isinstance(up, (cst.For, cst.While, cst.FunctionDef)):
        up = ctx.parents.get(up)
    return isinstance(up, (cst.For, cst.While)) and S.is_epoch_loop(ctx, up)


def _phase_arm(it: Iteration, b) -> bool:
    """Branch ``b`` is the body of ``if <phase> == "<first>":`` where ``<phase>`` is the loop's
    variable and ``<first>`` the phase the loop runs first (an arm of a later phase, ``"val"``,
    runs after the first phase's steps)."""
    test = b.node.test if isinstance(b.node, cst.If) else None
    if not (b.arm == "body" and isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and
            isinstance(test.comparisons[0].operator, cst.Equal) and isinstance(test.left, cst.Name) and
            test.left.value == it.node.target.value):
        return False
    phase, first = test.comparisons[0].comparator, it.node.iter.elements[0].value
    return isinstance(phase, cst.SimpleString) and phase.evaluated_value == first.evaluated_value


def _invariant_arm(it: Iteration, ev: Event, b) -> bool:
    """Branch ``b`` of ``ev`` is an arm of an ``if`` whose test reads only settings the loop
    ``it`` (a ``for``) never binds (see ``_loop_invariant_guards``)."""
    if not isinstance(b.node, cst.If) or b.arm not in ("body", "else") or not isinstance(it.node, cst.For):
        return False
    bound = {n.value for n in _walk.nodes_of(it.node.target, cst.Name)}
    params = {p.name.value for p in ev.func.params.params} if isinstance(ev.func, cst.FunctionDef) else set()
    roots = {id(a.value) for a in _walk.nodes_of(b.node.test, cst.Attribute) if isinstance(a.value, cst.Name)}
    attrs = {id(a.attr) for a in _walk.nodes_of(b.node.test, cst.Attribute)}
    for name in _walk.nodes_of(b.node.test, cst.Name):
        if id(name) in attrs or name.value in ("None", "True", "False"):
            continue
        if name.value in bound or stores(it.node.body, name.value):
            return False
        if id(name) in roots:
            continue  # ``opt.no_train``: a setting (3D-ResNets calls its options ``opt``)
        if name.value not in params:
            return False  # a local flag (``warmup_done = False`` before the loop)
        if symbols.name_says_scheduler(name.value) or symbols.name_says_optimizer(name.value):
            return False
    return True


def _first_pass_misses_it(it: Iteration, s: Event, e: Event, level: int) -> bool:
    """The optimizer step ``e``, later in the pass than the scheduler step ``s``, runs under
    tests of its own that are accumulation windows (``if (i + 1) % k == 0:``) or settings the
    loop never changes (``if args.accum is None:``, ``if not use_deepspeed:``): on the first
    pass the scheduler steps before any optimizer step whichever way they go (a window's
    first micro-batch steps nothing; a setting picks the same arm on every pass)."""
    mine = {(b.node, b.arm) for b in s.branches}
    extra = [b for b in e.branches if b.loop_depth >= level and (b.node, b.arm) not in mine]
    if not extra or len(e.loops) != level:
        return False
    for b in extra:
        if isinstance(b.node, cst.If) and b.arm == "body" and (
                accumulation_test(b.node.test) or difference_window(b.node) or flag_window(it, b.node.test)):
            continue
        if not _invariant_arm(it, e, b):
            return False
    return True


def _runs_first_whenever(it: Iteration, s: Event, e: Event, level: int) -> bool:
    """Every pass that runs the optimizer step ``e`` (later in the pass than the scheduler step
    ``s``) runs ``s`` first: ``s`` sits under no test of the pass that ``e`` is not under (an
    existence test of its own receiver aside), whatever ``e``'s own tests are (``if not
    skip_step: scaler.step(opt)`` after ``lr_scheduler.step()``, both under ``if update:``).
    Then the first scheduler step comes before the first optimizer step."""
    mine = {(b.node, b.arm) for b in it.conditions(s) if b.loop_depth >= level}
    return mine <= set(_conds(it, e, level))


def _helper_steps_in_a_loop(ctx, call: cst.Call, opt_key: str) -> str | None:
    """The parameter of a function of another project file, handed ``opt_key`` by ``call``,
    whose ``.step()`` that function calls inside a ``for`` loop (a train-one-epoch helper), or
    that it hands on to a function of its own file that does (``train(...)`` returning
    ``_train_or_test(model, loader, optimizer=optimizer)``)."""
    found = summaries.project_function(ctx, call.func)
    if found is None:
        return None
    fn, pf = found
    name = _param_handed(fn, call, opt_key)
    return name if name is not None and _stepped_in_a_loop(fn, pf, name, 1) else None


def _param_handed(fn: cst.FunctionDef, call: cst.Call, key: str) -> str | None:
    """The parameter of ``fn`` that ``call`` binds to the name ``key``."""
    names = [p.name.value for p in fn.params.params]
    for i, a in enumerate(call.args):
        if a.star or key_of(a.value) != key:
            continue
        name = a.keyword.value if a.keyword is not None else (names[i] if i < len(names) else None)
        if name is not None:
            return name
    return None


def _stepped_in_a_loop(fn: cst.FunctionDef, pf, name: str, hand_ons: int) -> bool:
    for loop in _walk.nodes_of(fn.body, cst.For):
        for c in _walk.nodes_of(loop.body, cst.Call):
            f = c.func
            if isinstance(f, cst.Attribute) and f.attr.value == "step" and \
                    isinstance(f.value, cst.Name) and f.value.value == name:
                return True
    if hand_ons <= 0:
        return False
    for c in _walk.nodes_of(fn.body, cst.Call):
        if not isinstance(c.func, cst.Name) or pf.imports.imported(c.func.value):
            continue
        inner = summaries._top_function(pf, c.func.value)
        handed = _param_handed(inner, c, name) if inner is not None and inner is not fn else None
        if handed is not None and _stepped_in_a_loop(inner, pf, handed, hand_ons - 1):
            return True
    return False


class SchedulerCheck(Check):
    codes = ("OPT201", "OPT202", "OPT203", "OPT204", "OPT205")
    # A scheduler is built from torch.optim.lr_scheduler or a transformers ``get_*_schedule*``,
    # or named ``scheduler`` / ``sched`` / ``*_lr_scheduler``: all of them say "sched".
    needles = (b"sched", b"Sched")
    # Every rule needs an optimizer too (OPT201/203 step one; OPT202/204/205 and Lightning's
    # declarations need a scheduler built from torch.optim or a transformers schedule): not
    # the diffusers noise schedulers of a pipeline file ("optimized" in its docstrings). The
    # repeats are bounded: from every "opt" of a long identifier, ``\w*`` would rescan it.
    requires = ((rb"optim(?<!\woptim)\b", rb"ptimizer(?<=[Oo]ptimizer)", rb"backward\((?<!def backward\()",
                 rb"opt\w{0,40}(?:\[[^\]\n]{0,40}\])?\s{0,8}\.\s{0,8}step\(", rb"step\(\s{0,8}(?:self\.)?opt", rb"get_scheduler",
                 rb"get_linear", rb"get_cosine", rb"get_constant", rb"get_polynomial", rb"get_inverse",
                 rb"get_wsd", rb"get_reduce"),)

    def check(self) -> None:
        mkeys = module_keys(self.ctx)

        for it in self.model.iterations:
            if it.kind in ("loop", "function"):
                self._before_step(it, mkeys)
            if it.kind == "loop" and S.is_epoch_loop(self.ctx, it.node):
                self._granularity(it)
        for it in self._update_functions():
            self._before_step(it, mkeys)
        done: set[int] = set()
        for ev in self.model.all_events():
            if ev.kind is K.SCHED_STEP and id(ev.node) not in done:
                done.add(id(ev.node))
                self._arguments(ev)
        self._lightning()

    # -- OPT201 ---------------------------------------------------------------------------
    def _before_step(self, it: Iteration, mkeys) -> None:
        ctx = self.ctx
        level = it.depth + 1
        for s in it.of_kind(K.SCHED_STEP):
            if len(s.loops) != level or not S.trusted_scheduler(ctx, s.target, s.own_key, s.func):
                continue
            if s.target.by_name and s.node.args:
                continue  # a custom / timm scheduler's ``step(epoch)`` may be meant to lead
            steps = _steps_for(it, s)
            if not steps:
                self._before_helper_epoch(it, s, mkeys)
                continue
            if any(e.index < s.index for e in steps):
                continue  # the scheduler follows a step of this iteration
            opts = [e.target for e in steps]
            if any(o.index < s.index and any(may_step(o, opt, mkeys) for opt in opts) for o in it.opaque):
                continue  # something before it may step the optimizer
            later = [e for e in steps if not exclusive(s, e)]
            if any(b.arm == "except" for b in s.branches):
                continue
            # an optimizer step that runs whenever the scheduler does (under the same conditions,
            # or fewer: ``if epoch <= warm: warmup.step()`` then an unconditional ``opt.step()``)
            same_level = [e for e in later if len(e.loops) == level
                          and set(_conds(it, e, level)) <= set(_conds(it, s, level))]
            # (or steps in each arm of an ``if use_amp: scaler.step(opt) else: opt.step()``, an
            # ``elif`` chain ending in ``else`` included: one of them runs whenever the scheduler does)
            both = None if same_level else next(
                (e for e in later if len(e.loops) == level), None) if covered(it, later, it.conditions(s)) else None
            if not same_level and both is None and (it.always(s) or _loop_invariant_guards(it, s, level)):
                both = next((e for e in later if _first_pass_misses_it(it, s, e, level)), None)
            if not same_level and both is None:
                both = next((e for e in later if len(e.loops) == level and _runs_first_whenever(it, s, e, level)), None)
            if same_level or both is not None:
                o = same_level[0] if same_level else both
                fix = moves.safe_move_after(ctx, s, o, "Move the scheduler step to just after the optimizer step") \
                    if same_level else None
                self.report("OPT201", s.node,
                            f"`{ctx.code(s.node)}` runs before `{ctx.code(o.node)}`: the first learning rate of "
                            "the schedule is skipped; step the scheduler after the optimizer", fix)
                continue
            if it.kind == "function" and it.always(s):
                self._at_function_head(it, s, later)
                continue
            phases = it.kind == "loop" and _phases_of_an_epoch(ctx, it.node)
            if it.kind != "loop" or not (phases or S.is_epoch_loop(ctx, it.node)):
                continue
            guarded = not it.always(s)
            if guarded and not _loop_invariant_guards(it, s, level, phases):
                continue
            # (under a flag the loop never changes, ``if not opt.no_train:``, the epoch's steps
            # must run only where the scheduler ran: under the same flags, or fewer)
            # (the epoch's batch loop: over a loader, or backpropagating, ``for t, data in enumerate(dset)``)
            inner = [e for e in later if len(e.loops) > level and
                     (S.iterates_loader(ctx, e.loops[level]) or _backward_in(it, e.loops[level]))
                     and (not guarded or set(_conds_at(e, level)) <= set(_conds_at(s, level)))]
            if inner:
                batch_loop = inner[0].loops[level]
                fix = None
                if s.direct and inner[0].direct and moves.movable(ctx, s.own_stmt) and \
                        moves.block_of(ctx, s.own_stmt) is getattr(it.node, "body", None) and \
                        moves.block_of(ctx, batch_loop) is moves.block_of(ctx, s.own_stmt) and \
                        getattr(batch_loop, "orelse", None) is None:
                    fix = Fix.unsafe("Move the scheduler step after the epoch's batch loop",
                                     *moves.move_after(ctx, s.own_stmt, batch_loop))
                head = "the epoch's first phase" if phases else "the epoch loop"
                self.report("OPT201", s.node,
                            f"`{ctx.code(s.node)}` runs at the head of {head}, before this epoch's "
                            f"`{ctx.code(inner[0].node)}`: the first learning rate of the schedule is skipped; "
                            "step the scheduler after the epoch's training loop", fix)

    def _update_functions(self):
        """Functions with no loop and no backward of their own that step an optimizer and a
        scheduler: one update of whatever loop calls them (jiant's ``OptimizerScheduler.step``:
        ``self.scheduler.step(); self.optimizer.step()``). The iteration model holds only
        functions that also backpropagate; the order of the two steps is judged here as one
        pass of the caller's loop."""
        def accept(kinds) -> bool:
            return K.SCHED_STEP in kinds and bool(kinds & set(STEPS)) and K.BACKWARD not in kinds

        yield from self.model.one_pass_functions(accept, (K.SCHED_STEP, *STEPS))

    def _before_helper_epoch(self, it: Iteration, s: Event, mkeys) -> None:
        """``for epoch in ...: scheduler.step(); train_epoch(loader, model, optimizer)``, the
        helper a function of another project file that steps the optimizer it is handed in a
        loop: the scheduler runs at the head of the epoch, before any step of it."""
        ctx = self.ctx
        level = it.depth + 1
        if it.kind != "loop" or s.target is None or s.target.cls == "ReduceLROnPlateau" or \
                not S.is_epoch_loop(ctx, it.node):
            return
        # under a test of the epoch itself (``if epoch < warm: ... else: sched.step(); train(...)``)
        # only a training call in the very same arm counts: an arm that steps the scheduler alone
        # and goes on (``if epoch < start: sched.step(); continue``) fast-forwards a resumed run
        invariant = it.always(s) or _loop_invariant_guards(it, s, level)
        opt = s.target.optimizer  # (None: a scheduler known by its name, from a helper's tuple)

        def hands_over(o: Event) -> list:
            return [b for b in o.touches if b.kind == "optimizer" and (opt is None or same_object(b, opt) is not False)]

        if any(o.index < s.index and (o.touches_all or hands_over(o)) for o in it.opaque):
            return
        for o in it.opaque:
            if o.index < s.index or len(o.loops) != level or not isinstance(o.node, cst.Call):
                continue
            if not (set(_conds_at(o, level)) <= set(_conds_at(s, level)) if invariant
                    else _conds_at(o, level) == _conds_at(s, level) and _epoch_guards(it, s, level)):
                continue
            if o.touches_all:
                return
            handed = hands_over(o)
            if not handed:
                continue
            name = handed[0].name
            if len(handed) != 1 or _helper_steps_in_a_loop(ctx, o.node, name) is None:
                return  # the first call handed the optimizer decides
            self.report("OPT201", s.node,
                        f"`{ctx.code(s.node)}` runs at the head of the epoch loop, before "
                        f"`{ctx.code(o.node.func)}()` steps `{name}` over this epoch's batches: the first "
                        "learning rate of the schedule is skipped; step the scheduler after the epoch's training")
            return

    def _at_function_head(self, it: Iteration, s, later) -> None:
        """``def train_epoch(...): scheduler.step(); for batch in loader: ... optimizer.step()``
        called once per iteration of a loop in another project file (same-file callers are
        inlined into their loop and reported there), or called from nowhere this project shows
        (a utility of a library, a script's function run by hand): its first call steps the
        scheduler before any optimizer step."""
        ctx = self.ctx
        level = it.depth + 1
        inner = [e for e in later if len(e.loops) > level and
                 (S.iterates_loader(ctx, e.loops[level]) or _backward_in(it, e.loops[level]))]
        if not inner:
            return
        klass = self.model.bindings.class_of.get(it.node)
        # (ignite's Engine runs the function per batch, not per epoch: the step order there is
        # the function's own, judged above)
        found = [c for c in callers.loop_callers(ctx, it.node, klass, clearing=False) if not c.engine]
        if not found:
            b = self.model.bindings
            if it.node in b.call_sites or it.node in b.referenced or callers.ignite_engines(ctx, it.node):
                return  # (this file calls it: inlined into the caller's loop and judged there)
            if klass is not None or self.model.parent_func.get(it.node) is not None or \
                    not callers.project_in_sight(ctx) or \
                    next(iter(callers.calls_from_other_files(ctx, it.node.name.value)), None) is not None:
                return  # a method, a closure, a tree too big to read, or a function another file calls once
            # a top-level function no file of the project calls (a utility kept from another
            # project, a script's function run by hand): on its first call, whoever calls it, the
            # scheduler steps before the optimizer has once (PyTorch's warning; the first rate skipped)
            self.report("OPT201", s.node,
                        f"`{ctx.code(s.node)}` runs at the start of `{it.node.name.value}()`, before its batch "
                        f"loop's `{ctx.code(inner[0].node)}`: on the first call the scheduler steps before the "
                        "optimizer, and the first learning rate of the schedule is skipped; step the scheduler "
                        "after the batch loop")
            return
        where = os.path.relpath(found[0].path, os.path.dirname(os.path.abspath(ctx.path)))
        self.report("OPT201", s.node,
                    f"`{ctx.code(s.node)}` runs at the start of `{it.node.name.value}()`, which the loop at "
                    f"{where}:{found[0].row} calls once per epoch, before the epoch's `{ctx.code(inner[0].node)}`: "
                    "the first learning rate of the schedule is skipped; step the scheduler after the epoch's "
                    "training loop")

    # -- OPT202 / OPT203 ----------------------------------------------------------------------
    def _granularity(self, it: Iteration) -> None:
        level = it.depth + 1
        for s in it.of_kind(K.SCHED_STEP):
            cls = S.certain_class(self.ctx, s.target)
            gran = S.granularity(self.ctx, cls, S.construction(s.target))
            if gran is None:
                continue
            steps = _steps_for(it, s)
            if not steps:
                continue
            if gran == "epoch" and len(s.loops) == level + 1:
                self._per_batch(it, s, cls, steps)
            elif gran == "batch" and len(s.loops) == level:
                self._per_epoch(it, s, cls, steps)

    def _per_batch(self, it, s, cls, steps) -> None:
        ctx = self.ctx
        level = it.depth + 1
        batch_loop = s.loops[level]
        if not S.iterates_loader(ctx, batch_loop) or s.node.args and cls == "CosineAnnealingWarmRestarts":
            return
        inner = [e for e in steps if e.loops == s.loops]
        if not inner:
            return
        conds = _conds(it, s, level + 1)
        if conds and not any(_conds(it, e, level + 1) == conds for e in inner):
            return  # stepped every N batches, on purpose
        fix = None
        # (in a helper too: after the helper's batch loop is once per call, once per epoch)
        if moves.movable(ctx, s.own_stmt) and \
                moves.block_of(ctx, s.own_stmt) is getattr(batch_loop, "body", None) and \
                moves.block_of(ctx, batch_loop) is not None and batch_loop.orelse is None:
            fix = Fix.unsafe("Move the scheduler step after the batch loop, once per epoch",
                             *moves.move_after(ctx, s.own_stmt, batch_loop))
        self.report("OPT202", s.node,
                    f"`{ctx.code(s.node)}` steps a `{cls}` on every batch, but its period counts epochs: the "
                    "schedule runs its course within the first epochs; step it once per epoch, after the batch "
                    "loop", fix)

    def _per_epoch(self, it, s, cls, steps) -> None:
        ctx = self.ctx
        level = it.depth + 1
        # the inner loop runs the batches: it iterates a loader, or it runs the backward passes
        # (``for i, (x, y) in enumerate(data)`` over a plain list)
        inner = [e for e in steps if len(e.loops) > level and e.loops[level - 1] is it.node
                 and (S.iterates_loader(ctx, e.loops[level]) or _backward_in(it, e.loops[level]))]
        if not inner:
            return
        if any(e.kind is K.SCHED_STEP and e.target is s.target and len(e.loops) > level for e in it.events):
            return
        o = inner[0]
        fix = None
        if s.direct and o.direct and moves.movable(ctx, s.own_stmt) and \
                isinstance(o.own_stmt, cst.SimpleStatementLine) and \
                moves.block_of(ctx, s.own_stmt) is getattr(it.node, "body", None):
            fix = Fix.unsafe("Move the scheduler step into the batch loop, after the optimizer step",
                             *moves.move_after(ctx, s.own_stmt, o.own_stmt))
        self.report("OPT203", s.node,
                    f"`{ctx.code(s.node)}` steps a per-iteration `{cls}` once per epoch while "
                    f"`{ctx.code(o.node)}` runs on every batch: the schedule barely moves; step it after each "
                    "optimizer step", fix)

    # -- OPT204 / OPT205 ----------------------------------------------------------------------
    def _arguments(self, ev: Event) -> None:
        ctx = self.ctx
        cls = S.certain_class(ctx, ev.target)
        if cls is None:
            return
        call = ev.node
        if cls == "ReduceLROnPlateau":
            if not call.args:
                self.report("OPT204", call,
                            f"`{ctx.code(call)}` without a metric: `ReduceLROnPlateau.step()` needs the monitored "
                            "value (`step(val_loss)`) and raises TypeError without it")
            return
        if cls == "CosineAnnealingWarmRestarts" or "." in cls or len(call.args) != 1:
            return
        arg = call.args[0]
        if arg.star or (arg.keyword is not None and arg.keyword.value != "epoch"):
            return
        fix = Fix.unsafe("Drop the argument: the scheduler counts its own steps",
                         ctx.replace(call, f"{ctx.code(call.func)}()"))
        self.report("OPT205", call,
                    f"`{ctx.code(call)}` passes an epoch to a `{cls}`: `step(epoch)` is deprecated and jumps the "
                    "schedule instead of advancing it; call `step()` once per period", fix)

    # -- Lightning ------------------------------------------------------------------------------
    def _lightning(self) -> None:
        ctx = self.ctx
        for d in declarations(ctx):
            gran = S.granularity(ctx, d.cls, d.call)
            if gran is None:
                continue
            where = d.interval_node if d.interval_node is not None else d.call
            if gran == "epoch" and d.interval == "step":
                fix = None
                if d.interval_node is not None:
                    q = d.interval_node.quote
                    fix = Fix.unsafe('Declare `"interval": "epoch"`', ctx.replace(d.interval_node, f"{q}epoch{q}"))
                self.report("OPT202", where,
                            f'`{d.cls}` is declared with `"interval": "step"`, but its period counts epochs: Lightning '
                            'steps it on every batch; declare `"interval": "epoch"`', fix)
            elif gran == "batch" and d.interval == "epoch":
                fix = None
                if d.interval_node is not None:
                    q = d.interval_node.quote
                    fix = Fix.unsafe('Declare `"interval": "step"`', ctx.replace(d.interval_node, f"{q}step{q}"))
                elif d.entry is not None:
                    fix = _declare_step_interval(ctx, d.entry)
                how = 'with `"interval": "epoch"`' if d.interval_node is not None else \
                    "without an interval (Lightning's default is per epoch)"
                self.report("OPT203", where,
                            f"per-iteration `{d.cls}` is declared {how}: Lightning steps it once per epoch; "
                            f'declare `{{"scheduler": ..., "interval": "step"}}`', fix)


def _declare_step_interval(ctx, entry: cst.BaseExpression) -> Fix | None:
    """Safe: a bare scheduler in a literal becomes ``{"scheduler": s, "interval": "step"}``; a
    config dict without an interval gets ``"interval": "step"`` after its scheduler."""
    msg = 'Declare the scheduler with `"interval": "step"`'
    if isinstance(entry, cst.Call) and isinstance(entry.func, cst.Name) and entry.func.value == "dict":
        # ``dict(scheduler=s, ...)``
        for a in entry.args:
            if a.keyword is not None and a.keyword.value == "scheduler":
                return Fix.safe(msg, Edit.insertion(', interval="step"', ctx.end(a.value)))
        return None
    if not isinstance(entry, cst.Dict):
        return Fix.safe(msg, ctx.replace(entry, f'{{"scheduler": {ctx.code(entry)}, "interval": "step"}}'))
    for el in entry.elements:
        if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString) and \
                el.key.evaluated_value == "scheduler":
            q = el.key.quote
            return Fix.safe(msg, Edit.insertion(f", {q}interval{q}: {q}step{q}", ctx.end(el.value)))
    return None


def _backward_in(it: Iteration, loop: cst.CSTNode) -> bool:
    """A backward pass runs directly in ``loop`` (one of ``it``'s inner loops)."""
    return any(e.kind is K.BACKWARD and e.loops and e.loops[-1] is loop for e in it.events)

