"""OPT101-OPT107 and OPT306: the order of backward, clearing, clipping and step.

Every rule reads the shared training-iteration model (``analysis.iteration``) and
reports only what it proves: an event that runs on every pass (``it.always``) in a
fixed order. Conditional events, helpers it cannot resolve, and opaque calls that
might clear, step or backpropagate (``iteration.touches``) make it silent.
"""

from __future__ import annotations

import os
import re

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis import built_runners, callers, moves, symbols
from optimlint.analysis.assignments import stores, values_assigned
from optimlint.analysis.bindings import ACCELERATOR, Binding, drawn_from_container, key_of, parameter_modules, updated_modules
from optimlint.analysis.call_args import arg, every_param
from optimlint.analysis.handed import handed_parameter, may_complete
from optimlint.analysis.events import EventKind
from optimlint.analysis.iteration import (Event, Iteration, clears, covered, exclusive, may_step, module_covers,
                                          module_keys, same_object, touches, training_model)
from optimlint.analysis.loss_flow import computed_through
from optimlint.analysis.summaries import is_grad_tensor
from optimlint.checks.base import Check
from optimlint.diagnostics import Fix
from optimlint.vocabulary import (GRAD_CLAMP_FUNCTIONS, GRAD_CLAMP_METHODS, GRAD_READING_METHODS, GRADIENT_ATTRIBUTES, LOAD_SAVE_CALLEE,
                                  LOGGING_CALLEE, LOGGING_RECEIVER, OPTIMIZER_WRAPPING_CALLEES,
                                  PARTIAL_BACKWARD_KEYWORDS, TORCH_COLLECTIVE)

K = EventKind
STEPS = (K.STEP, K.SCALER_STEP)


def optimizers_stepped(it: Iteration) -> list[Binding]:
    """Optimizers with a plain or GradScaler step in ``it``, in order of first step."""
    out: list[Binding] = []
    for e in it.events:
        if e.kind in STEPS and e.target is not None and e.target not in out:
            out.append(e.target)
    return out


def steps_of(it: Iteration, opt: Binding) -> list[Event]:
    return [e for e in it.events if e.kind in STEPS and e.target is opt]


def _own_backward_follows(it: Iteration, opt: Binding, step: Event, after: list[Event]) -> bool:
    """The first backward after ``step`` feeds ``opt``: no other optimizer steps after it
    before ``opt``'s next step (or the end of the pass), so nothing else uses its gradients."""
    if not after:
        return False
    backward = after[0]
    nexts = [s.index for s in steps_of(it, opt) if s.index > backward.index]
    end = nexts[0] if nexts else float("inf")
    return not any(backward.index < s.index < end for other in optimizers_stepped(it) if other is not opt
                   for s in steps_of(it, other))


def _consumed_by_another(it: Iteration, opt: Binding, start: int, end: int) -> bool:
    """Another optimizer over (maybe) the same parameters steps between the backward and the
    clearing: it used the gradients, and ``opt`` is cleared on purpose before its own step
    (Pro-GNN: SGD on the gradients, then a proximal optimizer whose step never reads them)."""
    for other in optimizers_stepped(it):
        if other is opt or not any(start < s.index < end for s in steps_of(it, other)):
            continue
        if other.modules is None or opt.modules is None or any(
                module_covers(a, b) or module_covers(b, a) for a in other.modules for b in opt.modules):
            return True
    return False


def _spent_by_others(it: Iteration, opt: Binding, start: int, end: int, mkeys) -> bool:
    """Other optimizers step between the backward at ``start`` and ``opt``'s clearing at
    ``end``, every one over parameters ``opt`` does not hold: that backward was theirs, so a
    step of ``opt`` right after its clearing steps on cleared gradients, and its own backward
    is the one after it (SAC's alpha, q1, q2 and policy updates one after another)."""
    others = [o for o in optimizers_stepped(it)
              if o is not opt and any(start < s.index < end for s in steps_of(it, o))]
    return bool(others) and opt.modules is not None and all(
        _standalone_tensors(o, mkeys) if o.modules is None else
        not any(module_covers(a, b) or module_covers(b, a) for a in o.modules for b in opt.modules)
        for o in others)


def _standalone_tensors(opt: Binding, mkeys) -> bool:
    """``opt`` is built over a list of tensors no module holds (``Adam([self.log_alpha])``):
    each a plain name or attribute that is no module key and lies under none."""
    params = arg(opt.call, 0, "params") if opt.call is not None else None
    if not isinstance(params, (cst.List, cst.Tuple)) or not params.elements:
        return False
    for el in params.elements:
        k = key_of(el.value) if isinstance(el, cst.Element) else None
        if k is None or any(module_covers(m, k) for m in mkeys):
            return False
    return True


def visible_optimizers(bindings, func: cst.CSTNode | None) -> list[Binding]:
    """The optimizers of known parameters that ``func`` (None: the module body) can name: its
    own, its class's ``self.x`` and the module's, each as the name that reaches it there."""
    klass = bindings.class_of.get(func) if func is not None else None
    tables = [bindings.function_scopes.get(func, {}) if func is not None else {},
              bindings.class_attrs.get(klass, {}) if klass is not None else {}, bindings.module_scope]
    out: list[Binding] = []
    for table in tables:
        for k, b in table.items():
            if b.kind == "optimizer" and (not b.by_name or b.from_helper) and b.modules and b not in out and \
                    bindings.resolve_key(func, k) is b:
                out.append(b)
    return out


def _cleared_first(ctx, events: list[Event], step: Event, opt: Binding, it: Iteration) -> bool:
    """Before ``step``, on every pass that reaches it, ``opt`` is certainly cleared (stargan's
    ``train_multi``: ``self.reset_grad(); d_loss.backward(); self.d_optimizer.step()``): the step
    uses gradients of its own pass, never what another loop left. Not when that clear, or a
    backward between it and the step, is one of ``it``'s own (``it`` inlined into a caller that
    steps after the call: the step uses ``it``'s gradients)."""
    if step.kind is K.STEP_CLOSURE:
        return False
    mine = set(step.branches)
    last = None
    for c in events:
        if c.kind is K.ZERO_GRAD and c.index < step.index and c.loops == step.loops and \
                set(c.branches) <= mine and clears(c, opt) is True:
            last = c
    if last is None:
        return False

    def own(e: Event) -> bool:  # written in ``it``, or reached through a call written there
        return any(ctx.encloses(it.node, n) for n in (e.node, *e.via))

    return not own(last) and not any(e.kind is K.BACKWARD and last.index < e.index < step.index and own(e)
                                     for e in events)


def _shares_a_stepped(it: Iteration, opt: Binding) -> bool:
    """Another optimizer stepped in ``it`` may hold some of ``opt``'s parameters (or nothing says
    which): a module's clear serves that one, and ``opt`` may be a leftover never meant to step."""
    return any(other is not opt and (other.modules is None or any(
        module_covers(a, b) or module_covers(b, a) for a in other.modules for b in opt.modules))
        for other in optimizers_stepped(it))


def _cleared_through_others(it: Iteration, opt: Binding) -> bool:
    """Every module of ``opt``'s parameters is cleared in ``it`` through other optimizers or the
    modules themselves (an info optimizer over ``chain(G.parameters(), D.parameters())`` whose
    gradients G's and D's optimizers clear on every pass): nothing accumulates across passes."""
    mods = updated_modules(opt)
    if not mods:
        return False
    cleared: list[str] = []
    for e in it.of_kind(K.ZERO_GRAD):
        if e.target is not None and e.target is not opt and e.target.kind == "optimizer" and e.target.modules:
            cleared.extend(e.target.modules)
        elif e.target is None and e.module is not None:
            cleared.append(e.module)
    return all(any(module_covers(c, m) for c in cleared) for m in mods)


def has_closure_step(it: Iteration, opt: Binding) -> bool:
    return any(e.kind is K.STEP_CLOSURE and (e.target is opt or e.target is None) for e in it.events)


def maybe_touched_between(it: Iteration, opt: Binding, lo: int, hi: int, mkeys) -> bool:
    """An opaque call between indexes ``lo`` and ``hi`` might act on ``opt``."""
    return any(touches(o, opt, mkeys) for o in it.opaque_between(lo, hi))


# An inner loop of backward passes is a micro-batch window when its names say so.
_MICRO_NAME = re.compile(r"accum|micro|grad_acc|gradient_acc|chunk|split|sub_?batch|mini_?batch|"
                         r"update_freq|iters_to_acc|acc_steps|n_acc|num_acc", re.I)


def runs_once(loop: cst.CSTNode) -> bool:
    """The loop body ends every pass with a ``break`` / ``return`` that is not under a
    condition (a retry loop: ``for attempt in range(3): try: ...; break``)."""
    body = getattr(loop, "body", None)
    return _ends_every_pass(_stmts(body)) if body is not None else False


def _ends_every_pass(stmts) -> bool:
    for st in stmts:
        if isinstance(st, cst.SimpleStatementLine) and any(
                isinstance(x, (cst.Break, cst.Return, cst.Raise)) for x in st.body):
            return True
        if isinstance(st, cst.With) and _ends_every_pass(_stmts(st.body)):
            return True
        if isinstance(st, (cst.Try, cst.TryStar)) and (
                _ends_every_pass(_stmts(st.body)) or
                (st.orelse is not None and _ends_every_pass(_stmts(st.orelse.body)))):
            return True
    return False


def _stmts(block) -> list:
    return list(block.body) if isinstance(block, cst.IndentedBlock) else [block]


def measures_only(ctx, call: cst.CSTNode) -> bool:
    """``clip_grad_norm_(params, float("inf"))``: computes the norm (for logging), clips nothing;
    so does a project clip helper given no bound (``commons.clip_grad_value_(params, None)``,
    whose clamp runs only ``if clip_value is not None``; torch's own raise on None)."""
    if not isinstance(call, cst.Call):
        return False
    args = [a for a in call.args if a.keyword is None and not a.star]
    value = next((a.value for a in call.args if a.keyword is not None and
                  a.keyword.value in ("max_norm", "clip_value")), args[1].value if len(args) > 1 else None)
    if isinstance(value, cst.Name) and value.value == "None":
        return True
    return value is not None and "inf" in ctx.code(value).lower()


def accumulation_test(expr: cst.BaseExpression) -> bool:
    """``(i + 1) % k == 0``, ``step % k == 0 or last``, ``accelerator.sync_gradients``."""
    if isinstance(expr, cst.BooleanOperation):
        return accumulation_test(expr.left) or accumulation_test(expr.right)
    if isinstance(expr, cst.Attribute) and expr.attr.value == "sync_gradients":
        return True
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return _modulo(expr.expression)
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        cmp = expr.comparisons[0]
        if isinstance(cmp.operator, cst.Equal):
            return _modulo(expr.left) or _modulo(cmp.comparator)
    return False


def _modulo(expr) -> bool:
    return isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Modulo)


def window_condition(it: Iteration, ev: Event) -> cst.If | None:
    """The accumulation ``if`` that guards ``ev`` inside ``it`` (only ifs, body arms), or the
    ``if ...: continue`` before it that skips ``ev`` on a window's other micro-batches."""
    conds = it.conditions(ev)
    if it.nested(ev):
        return None
    if not conds:
        return _skip_guard(it, ev)
    for br in conds:
        if isinstance(br.node, cst.If) and br.arm == "body" and \
                (accumulation_test(br.node.test) or difference_window(br.node) or flag_window(it, br.node.test)):
            return br.node
    return None


def flag_window(it: Iteration, test: cst.BaseExpression) -> bool:
    """``if not is_accumulating:`` / ``if do_step:`` with the flag set once in the loop's body
    from a window test (``is_accumulating = it % accum != 0``, ``do_step = (i + 1) % k == 0``):
    the window named once and tested where the step is (Fabric's fine-tuning scripts)."""
    negated = isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
    value = _flag_value(it, test.expression if negated else test)
    if value is None:
        return False
    if not negated:
        return accumulation_test(value)
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Not):
        return accumulation_test(value.expression)
    return isinstance(value, cst.Comparison) and len(value.comparisons) == 1 and \
        isinstance(value.comparisons[0].operator, cst.NotEqual) and \
        (_modulo(value.left) or _modulo(value.comparisons[0].comparator))


def _flag_value(it: Iteration, flag: cst.BaseExpression) -> cst.BaseExpression | None:
    """The one value the loop's body assigns to the name ``flag`` (None for anything else)."""
    if not isinstance(flag, cst.Name) or not isinstance(it.node, (cst.For, cst.While)):
        return None
    values = values_assigned(it.node.body, flag.value, nested_functions=False)
    return values[0] if len(values) == 1 else None


def _skip_guard(it: Iteration, ev: Event) -> cst.If | None:
    """``if left > 1: left -= 1; continue`` (a countdown the guard itself moves) or
    ``if (i + 1) % k != 0: continue``, a statement of the loop's own body between a backward
    and ``ev``: the passes it skips are the micro-batches of an accumulation window."""
    body = getattr(it.node, "body", None)
    if not isinstance(body, cst.IndentedBlock) or len(ev.loops) != it.depth + 1:
        return None
    stmts = list(body.body)

    def position(e: Event) -> int | None:
        return next((i for i, st in enumerate(stmts) if st is e.stmt or any(
            n is e.stmt for n in _walk.nodes_of(st, type(e.stmt)))), None)

    at = position(ev)
    backs = [position(b) for b in it.of_kind(K.BACKWARD) if b.index < ev.index and len(b.loops) == it.depth + 1]
    backs = [b for b in backs if b is not None]
    if at is None or not backs:
        return None
    for st in stmts[min(backs) + 1:at]:
        if not isinstance(st, cst.If) or st.orelse is not None or not isinstance(st.body, cst.IndentedBlock):
            continue
        last = st.body.body[-1] if st.body.body else None
        if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Continue)):
            continue
        if _skips_off_window(st):
            return st
    return None


def _skips_off_window(guard: cst.If) -> bool:
    test = guard.test
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and \
            isinstance(test.comparisons[0].operator, cst.NotEqual):
        return _modulo(test.left) or _modulo(test.comparisons[0].comparator)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return accumulation_test(test.expression)
    counted = {key_of(n.target) for n in _walk.nodes_of(guard.body, cst.AugAssign)} - {None}
    return isinstance(test, cst.Comparison) and bool(counted & {key_of(n) for n in _walk.nodes_of(test, cst.Name)})


def difference_window(node: cst.If) -> bool:
    """``if ni - last_opt_step >= accumulate: ...; last_opt_step = ni``: a window counted by
    the distance from the last step, which the body moves up."""
    test = node.test
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and
            isinstance(test.comparisons[0].operator, (cst.GreaterThanEqual, cst.GreaterThan)) and
            isinstance(test.left, cst.BinaryOperation) and isinstance(test.left.operator, cst.Subtract)):
        return False
    now, last = key_of(test.left.left), key_of(test.left.right)
    if now is None or last is None:
        return False
    return any(key_of(st.value) == now for st in stores(node.body, last, nested_functions=False)
               if st.kind == "=")


def spelling(e: Event) -> str | None:
    """How the analysed scope spells the optimizer of ``e`` (for inserted text)."""
    return e.target_key if e.target_key and not drawn_from_container(e.target) else None


class OrderCheck(Check):
    codes = ("OPT101", "OPT102", "OPT103", "OPT104", "OPT105", "OPT106", "OPT107", "OPT306")
    # Every rule here needs a backward in the file, except OPT306 (LBFGS) and OPT105 in a
    # Lightning training_step (Lightning runs the backward): `step` alone is in most model files.
    needles = (b"backward(", b"LBFGS", b"clip_grad")
    requires = ((rb"backward\((?<!def backward\()", rb"LBFGS", rb"clip_grad"),)

    def check(self) -> None:
        ctx, model = self.ctx, self.model
        mkeys = module_keys(ctx)

        self._unused_optimizers()  # first: the loop form below leaves the optimizers it reported alone
        for it in model.iterations:
            if it.kind == "lightning-auto":
                self._lightning_clip(it)
                continue
            if it.kind in ("loop", "lightning-manual"):
                self._missing_zero_grad(it, mkeys)
                self._accumulation(it, mkeys)
                self._module_cleared_in_accumulate(it)
                self._cleared_never_stepped(it, mkeys)
                self._cleared_before_any_step(it, mkeys)
            elif it.kind == "function" and (model.parent_func.get(it.node) is None or
                                            callers.ignite_engines(ctx, it.node)):
                # (a nested ``_update`` handed to ignite's ``Engine``: run on every batch)
                self._missing_zero_grad(it, mkeys, model.bindings.class_of.get(it.node))
                self._cleared_never_stepped(it, mkeys)
                self._cleared_before_any_step(it, mkeys)
            self._order(it, mkeys)
            self._clip(it, mkeys)
        self._step_function_without_step(mkeys)
        for ev in model.all_events():
            if ev.kind is K.STEP and ev.target is not None and ev.target.cls == "LBFGS" and ev.direct:
                self.report("OPT306", ev.node, f"`{ctx.code(ev.node)}` without a closure: LBFGS re-evaluates "
                            "the loss several times per step; pass a closure that clears, computes the loss "
                            "and runs backward")

    # -- OPT101 -------------------------------------------------------------------------
    def _missing_zero_grad(self, it: Iteration, mkeys, klass=None) -> None:
        """In a loop; or in a step function (``it.kind == "function"``, a method of ``klass``)
        that a loop of another project file calls without clearing."""
        backwards = it.of_kind(K.BACKWARD)
        if not backwards:  # (under ``accelerator.accumulate`` too: nothing ever clears)
            return
        if it.kind == "loop" and runs_once(it.node):
            return
        for opt in optimizers_stepped(it):
            steps = [s for s in steps_of(it, opt) if not it.nested(s)]
            if not steps or has_closure_step(it, opt):
                continue
            if it.kind == "loop" and opt.call is not None and self.ctx.encloses(it.node, opt.call):
                continue  # a fresh optimizer (and usually fresh parameters) every iteration
            if any(clears(e, opt) is not False for e in it.of_kind(K.ZERO_GRAD)) or _cleared_through_others(it, opt):
                continue
            if any(touches(o, opt, mkeys) and not _entered_context(self.ctx, o.node) for o in it.opaque):
                continue
            first = backwards[0]
            name = spelling(steps[0]) or opt.name
            if it.kind == "function":
                self._step_function_without_clear(it, klass, first, name)
                continue
            fix = None
            body = getattr(it.node, "body", None)
            if it.kind == "loop" and isinstance(body, cst.IndentedBlock) and spelling(steps[0]) and \
                    not stores(body, name.split(".", 1)[0].split("[", 1)[0]):
                # (not where the loop binds the name itself: ``optimizer = optimizers[i]`` in the body)
                fix = Fix.unsafe(f"Insert `{name}.zero_grad()` at the top of the loop body",
                                 moves.insert_before(self.ctx, body.body[0], f"{name}.zero_grad()"))
            self.report("OPT101", first.node,
                        f"`{name}`'s gradients are never cleared in this loop: each `{name}.step()` applies "
                        f"the sum of every backward so far; call `{name}.zero_grad()` once per iteration", fix)

    def _step_function_without_clear(self, it: Iteration, klass, first, name: str) -> None:
        ctx = self.ctx
        func = (klass.name.value + "." if klass is not None else "") + it.node.name.value
        if callers.lightning_batch_hook(ctx, it.node, klass):
            self.report("OPT101", first.node,
                        f"`{name}`'s gradients are never cleared: Lightning calls `{func}()` on every training "
                        f"batch and it steps `{name}` each time, so each step applies the sum of every backward "
                        f"so far; call `{name}.zero_grad()` before the backward")
            return
        found = ctx.cached(("optimlint.loop_callers", id(it.node)),
                           lambda: callers.loop_callers(ctx, it.node, klass))
        if not found:
            return
        caller = found[0]
        where = os.path.relpath(caller.path, os.path.dirname(os.path.abspath(ctx.path)))
        if caller.engine:
            self.report("OPT101", first.node,
                        f"`{name}`'s gradients are never cleared: `{func}()` steps it on every call, and ignite's "
                        f"`Engine` at {where}:{caller.row} calls it on every batch, so each step applies the sum "
                        f"of every backward so far; call `{name}.zero_grad()` before the backward")
            return
        self.report("OPT101", first.node,
                    f"`{name}`'s gradients are never cleared: `{func}()` steps it on every call, and the loop at "
                    f"{where}:{caller.row} calls it without clearing, so each step applies the sum of every "
                    f"backward so far; call `{name}.zero_grad()` before the backward")

    # -- OPT102 / OPT103 ----------------------------------------------------------------
    def _order(self, it: Iteration, mkeys) -> None:
        ctx = self.ctx
        backwards = it.of_kind(K.BACKWARD)
        if not backwards:
            return
        for opt in optimizers_stepped(it):
            if has_closure_step(it, opt):
                continue
            for step in steps_of(it, opt):
                if it.nested(step):
                    continue
                # A step under a condition (``if global_step % train_frequency == 0:``) is judged
                # against the backward and clear under the very same conditions.
                guarded = not it.always(step)
                conditions = it.conditions(step)

                def same_pass(e: Event, step=step, conditions=conditions) -> bool:
                    return len(e.loops) == len(step.loops) and it.conditions(e) == conditions

                before = [b for b in backwards if b.index < step.index and not (guarded and exclusive(b, step))]
                if guarded:
                    after = [b for b in backwards if b.index > step.index and same_pass(b)]
                else:  # (a backward in an inner loop of micro-batches counts, when nothing else guards it)
                    after = [b for b in backwards if b.index > step.index and
                             (it.always(b) or (it.nested(b) and not it.conditions(b)))]
                if not after:
                    # a backward in each arm of a conditional (``if use_amp: scaler.scale(loss).backward()
                    # else: loss.backward()``): one of them runs after the step on every pass
                    # (for a guarded step, only backwards under its conditions: a step at the head of
                    # the next pass, ``if i > 0: opt.step()``, is delayed on purpose)
                    mine = set(conditions)
                    later = [b for b in backwards if b.index > step.index and mine <= set(it.conditions(b))]
                    if covered(it, later, conditions):
                        after = later
                if not before:
                    self._step_before_backward(it, opt, step, after, mkeys)
                    continue
                last = before[-1]
                if maybe_touched_between(it, opt, last.index, step.index, mkeys):
                    continue
                # a loop of micro-batch backward passes just before an unconditional step: the
                # pass of the step is the window's, and a clear between them wipes the window
                micro = not guarded and it.nested(last) and not it.conditions(last) and \
                    len(last.loops) == len(step.loops) + 1
                # (a backward in each arm of a conditional before the step: one ran on this pass)
                arms = not same_pass(last) and not micro and not covered(it, [last], conditions) and \
                    covered(it, [b for b in before if not exclusive(b, step)], conditions)
                if not same_pass(last) and not micro and not arms:
                    # another optimizer's backward outside this step's condition (a critic
                    # trained every pass, the actor every k-th): cleared on the step's own path,
                    # stepped, then its own backward - the step came too early
                    # (a clearing that runs whenever the step does: under the same conditions, or
                    # fewer: ``opt_a.zero_grad()`` before ``if amp: scaler.step(opt_a) ...``)
                    # (or the backward before the clearing was spent by other optimizers and the
                    # clearing is in the step's own pass: the step steps on cleared gradients)
                    own = _own_backward_follows(it, opt, step, after)
                    if any(last.index < c.index < step.index and clears(c, opt) and
                           (own and (same_pass(c) or covered(it, [c], conditions)) or
                            same_pass(c) and _spent_by_others(it, opt, last.index, c.index, mkeys) and
                            not _grad_touched_between(ctx, it, c, step))
                           for c in it.of_kind(K.ZERO_GRAD)):
                        self._step_before_backward(it, opt, step, after, mkeys)
                    continue
                for clear in it.of_kind(K.ZERO_GRAD):
                    if last.index < clear.index < step.index and clears(clear, opt) and \
                            (same_pass(clear) or covered(it, [clear], conditions)):
                        if _grad_touched_between(ctx, it, clear, step):
                            break  # gradients rebuilt by hand after the clear (p.grad = g)
                        if _own_backward_follows(it, opt, step, after) or \
                                after and same_pass(clear) and _spent_by_others(it, opt, last.index, clear.index, mkeys):
                            # cleared, stepped, then its own backward: the step came too early
                            # (the earlier backward was another optimizer's): OPT103, not OPT102
                            self._step_before_backward(it, opt, step, after, mkeys)
                            break
                        if _consumed_by_another(it, opt, last.index, clear.index):
                            break
                        fix = None
                        if clear.direct and moves.movable(ctx, clear.own_stmt) and not micro and not arms and \
                                isinstance(last.stmt, cst.SimpleStatementLine):
                            fix = Fix.safe("Move the clearing before the backward",
                                           *moves.move_before(ctx, clear.own_stmt, last.stmt))
                        self.report("OPT102", clear.node,
                                    f"`{ctx.code(clear.node)}` runs after the backward and before "
                                    f"`{ctx.code(step.node)}`: the step sees no gradient; clear before the backward",
                                    fix)
                        break

    def _step_before_backward(self, it, opt, step, after, mkeys) -> None:
        ctx = self.ctx
        # (an opaque call before a certain clearing that runs whenever the step does cannot
        # hand the step a gradient: ``self.callback("before_batch"); opt.zero_grad(); opt.step()``)
        since = max((c.index for c in it.of_kind(K.ZERO_GRAD) if c.index < step.index and
                     _clears_whenever(it, opt, c, step)), default=-1)
        if not after or maybe_touched_between(it, opt, since, step.index, mkeys):
            return  # (``touches``: a call that touches everything among them)
        backward = after[0]
        if any(s.index > backward.index and not exclusive(s, backward) and not _cleared_before(it, opt, backward, s)
               for s in steps_of(it, opt)):
            # a later step consumes this backward (a test stepping with no gradient first); a
            # step in another arm of a conditional the backward is in (``if use_amp: ... else:
            # loss.backward(); opt.step()``) never runs in the backward's pass; nor does a later
            # step of a pass of its own, cleared first (``if aux: opt.zero_grad(); aux_loss.backward();
            # opt.step()``): it never sees this backward's gradients
            return
        fix = moves.safe_move_after(ctx, step, backward, "Move the step after the backward")
        self.report("OPT103", step.node,
                    f"`{ctx.code(step.node)}` runs before `{ctx.code(backward.node)}`: this step uses stale "
                    "gradients; move it after the backward", fix)

    # -- OPT105 -------------------------------------------------------------------------
    def _clip(self, it: Iteration, mkeys) -> None:
        backwards = it.of_kind(K.BACKWARD)
        steps = [e for e in it.events if e.kind in STEPS]
        if not backwards or not steps or any(e.kind is K.STEP_CLOSURE for e in it.events):
            return
        opts = optimizers_stepped(it)
        for clip in it.of_kind(K.CLIP):
            if not _runs_whole_or_guarded(it, clip) or measures_only(self.ctx, clip.node):
                continue
            # (a backward in another arm of a conditional the clip is in, ``if amp: ... else:
            # ...``, never runs in a pass where the clip runs)
            before_b = [b for b in backwards if b.index < clip.index and not exclusive(b, clip)]
            # (a backward in an inner loop of micro-batches counts: the clip runs before all of them)
            after_b = [b for b in backwards if b.index > clip.index and
                       (_runs_whole_or_guarded(it, b) or it.nested(b))]
            if any(o.touches_all or touches(o, None, mkeys) and o.self_call
                   for o in it.opaque_between(-1, clip.index)):
                continue
            if not before_b and after_b:
                later = [s for s in steps if s.index > after_b[0].index and _runs_whole_or_guarded(it, s)
                         and not exclusive(s, clip)]
                if later:
                    self._report_clip(clip, later[0], "before the backward")
                continue
            if len(opts) != 1:
                self._clip_after_own_step(it, clip, steps, before_b)
                continue
            # a step that can run earlier in a pass where the clip runs (not in another arm of
            # one conditional), with no step after the clip: the clip never bounds the gradient a
            # step uses - after the step it clips the next window's partial sum, or nothing
            prev = [s for s in steps if s.index < clip.index and _runs_whole_or_guarded(it, s) and
                    not exclusive(s, clip)]
            if prev and before_b and before_b[-1].index < prev[-1].index and \
                    not any(s.index > clip.index and not exclusive(s, clip) for s in steps):
                step = prev[-1]
                if set(it.conditions(step)) <= set(it.conditions(clip)):
                    where = "after the step"
                else:  # the step is windowed or flagged, the clip is not
                    where = ("after a step it is not under the condition of (on other passes it clips "
                             "a partial sum the next backward adds to; the step never sees a clipped gradient)")
                self._report_clip(clip, step if _clips_params_of(self.ctx, clip, step) else None, where)

    def _clip_after_own_step(self, it: Iteration, clip: Event, steps: list[Event], before_b: list[Event]) -> None:
        """Several optimizers (actor and critic, value and policy nets): a clip proven to clip
        one optimizer's parameters, after that optimizer's step and after the last backward,
        with no later step of it, bounds a gradient no step of it uses. The other optimizers'
        later steps do not change that when they are proven to hold other modules."""
        if not before_b:
            return
        own = [s for s in steps if s.index < clip.index and _runs_whole_or_guarded(it, s) and
               not exclusive(s, clip) and s.target is not None and _clips_params_of(self.ctx, clip, s)]
        if not own or before_b[-1].index > own[-1].index:
            return
        step = own[-1]
        mine = step.target.modules
        for later in steps:
            if later.index < clip.index or exclusive(later, clip):
                continue
            other = later.target
            if other is None or other is step.target or mine is None or other.modules is None or any(
                    module_covers(a, b) or module_covers(b, a) for a in other.modules for b in mine):
                return
        if set(it.conditions(step)) <= set(it.conditions(clip)):
            self._report_clip(clip, step, "after the step")

    def _report_clip(self, clip, step, where) -> None:
        """``step``: the step to move the clip in front of (None: no fix). After the step, only a
        plain ``opt.step()`` (before a ``scaler.step`` the clip would need an unscale)."""
        fix = None
        if step is not None and moves.next_to(self.ctx, clip, step) and \
                (step.index > clip.index or step.kind is K.STEP):
            fix = Fix.safe("Move the clipping just before the step",
                           *moves.move_before(self.ctx, clip.own_stmt, step.own_stmt))
        self.report("OPT105", clip.node,
                    f"gradient clipping runs {where} of its iteration, when no fresh gradient exists; "
                    "clip between the backward and the step", fix)

    def _lightning_clip(self, it: Iteration) -> None:
        for clip in it.of_kind(K.CLIP):
            if not clip.accelerate and clip.direct:
                self.report("OPT105", clip.node,
                            "gradient clipping in `training_step` under automatic optimization runs before "
                            "Lightning's backward; use `Trainer(gradient_clip_val=...)` or "
                            "`configure_gradient_clipping`")

    # -- OPT106 / OPT107 ----------------------------------------------------------------
    def _accumulation(self, it: Iteration, mkeys) -> None:
        if it.kind not in ("loop", "lightning-manual") or any(e.accumulate for e in it.events):
            return
        backwards = [b for b in it.of_kind(K.BACKWARD)]
        opts = optimizers_stepped(it)
        if it.touching_all():
            return
        if len(opts) != 1:
            # with several optimizers (GAN: the generator every n_critic iterations) a
            # guarded step is a window only when its length is named as one
            self._several_windows(it, opts, backwards)
            return
        for opt in opts:
            if has_closure_step(it, opt):
                continue
            for step in steps_of(it, opt):
                if it.nested(step):
                    continue
                cond = window_condition(it, step)
                if cond is not None:
                    # every micro-batch runs a backward: unconditionally, or under a flag that
                    # does not change inside the loop (``if args.fp16: ... else: loss.backward()``)
                    # (or in an inner loop under no condition: ``for q in tuples: loss.backward()``,
                    # several backward passes per micro-batch)
                    window_backs = [b for b in backwards if b.index < step.index and it.always(b)] or \
                        [b for b in backwards if b.index < step.index and _runs_whole_or_guarded(it, b)
                         and window_condition(it, b) is None] or \
                        [b for b in backwards if b.index < step.index and it.nested(b) and not it.conditions(b)]
                    if not window_backs:
                        # a backward in each arm of the window's own test (``if (i + 1) % k == 0:
                        # loss.backward(); opt.step() else: with model.no_sync(): loss.backward()``)
                        arms = [b for b in backwards if (b.index < step.index or exclusive(b, step)) and
                                _runs_whole_or_guarded(it, b)]
                        window_backs = arms[:1] if covered(it, arms, ()) else []
                    if not window_backs:
                        continue
                    self._window(it, opt, step, window_backs[0], it.events, cond)
                    continue
                if not it.always(step):
                    continue
                # an inner loop of backward passes, then one step
                inner = [b for b in backwards if b.index < step.index and len(b.loops) == it.depth + 2
                         and not any(br.loop_depth > it.depth + 1 for br in b.branches)]
                if not inner:
                    continue
                loop = inner[0].loops[-1]
                inner_events = [e for e in it.events if len(e.loops) > it.depth + 1 and e.loops[it.depth + 1] is loop]
                if any(e.kind in STEPS or e.kind is K.STEP_CLOSURE for e in inner_events):
                    continue
                if any(loop in o.loops for o in it.touching_all()):
                    continue
                self._window(it, opt, step, inner[0], inner_events, loop, inner_loop=True)

    def _module_cleared_in_accumulate(self, it: Iteration) -> None:
        """``with accelerator.accumulate(model): ...; model.zero_grad()`` on every pass: the
        prepared optimizer's ``zero_grad`` is skipped until the window's gradients sync, the
        module's is not, so each step sees only the last micro-batch (alpaca_farm's PPO)."""
        if it.kind != "loop" or not any(e.kind is K.BACKWARD and e.accumulate and it.always(e) for e in it.events):
            return
        for clear in it.of_kind(K.ZERO_GRAD):
            if not clear.accumulate or not clear.direct or not it.always(clear):
                continue
            if clear.target is not None and clear.target.kind == "optimizer":
                continue
            func = clear.node.func if isinstance(clear.node, cst.Call) else None
            receiver = key_of(func.value) if isinstance(func, cst.Attribute) else None
            if receiver is None or receiver not in _accumulated_modules(self.ctx, clear.node):
                continue
            self.report("OPT106", clear.node,
                        f"`{self.ctx.code(clear.node)}` clears the module's gradients on every micro-batch of "
                        "`accumulate(...)`: Accelerate skips only the prepared optimizer's `zero_grad()` until "
                        "the gradients sync, so each step sees only the last micro-batch; clear through the "
                        "optimizer instead")
            return

    def _several_windows(self, it: Iteration, opts, backwards) -> None:
        """Each optimizer of a pass that trains several (a VAE and its discriminator) with its
        own accumulation window: its step under ``if (batch_idx + 1) % accumulate_steps == 0``
        (a length spelled as accumulation, not ``n_critic``), after a backward that runs on
        every pass with no other optimizer stepped between the two. That backward and the
        clearings before it are judged as a one-optimizer window."""
        ctx = self.ctx
        others = {id(o): [e for e in it.events if e.kind in STEPS and e.target is not None and e.target is not o]
                  for o in opts}
        for opt in opts:
            if has_closure_step(it, opt):
                continue
            for step in steps_of(it, opt):
                cond = None if it.nested(step) else window_condition(it, step)
                if cond is None or cond is not _enclosing_if(it, step):
                    continue
                length = _window_length(cond, False, it)
                if length is None or not _MICRO_NAME.search(ctx.code(length)):
                    continue
                lo = max((e.index for e in others[id(opt)] if e.index < step.index), default=-1)
                window_backs = [b for b in backwards if lo < b.index < step.index and it.always(b)]
                if len(window_backs) == 1:
                    self._window(it, opt, step, window_backs[0], it.events, cond)

    def _window(self, it, opt, step, backward, scope_events, window, inner_loop=False) -> None:
        ctx = self.ctx
        level = it.depth + (2 if inner_loop else 1)
        if ctx.cached(("optimlint.grad_writes", id(it.node)), lambda: _grad_handled(ctx, it.node)):
            return  # gradients handled by hand (accumulated into buffers, rescaled)
        for clear in scope_events:
            if clear.kind is not K.ZERO_GRAD or clear.index > backward.index:
                continue
            if len(clear.loops) != level or any(b.loop_depth >= level for b in clear.branches):
                continue
            if clears(clear, opt) is not True:
                continue
            fix = None
            if clear.direct and step.direct and moves.movable(ctx, clear.own_stmt) and \
                    isinstance(step.own_stmt, cst.SimpleStatementLine) and not drawn_from_container(step.target):
                already = any(e.kind is K.ZERO_GRAD and e.index > step.index and clears(e, opt) is True
                              and not it.nested(e) and it.conditions(e) == it.conditions(step)
                              for e in it.events)
                edits = (moves.delete(ctx, clear.own_stmt),) if already else \
                    moves.move_after(ctx, clear.own_stmt, step.own_stmt)
                fix = Fix.unsafe("Move the clearing after the step, under the step's condition", *edits)
            self.report("OPT106", clear.node,
                        f"`{ctx.code(clear.node)}` runs on every micro-batch before the backward, but "
                        f"`{ctx.code(step.node)}` runs once per accumulation window: each step sees only the "
                        "last micro-batch; clear after the step instead", fix)
            cleared_every_pass = True
            break
        else:
            cleared_every_pass = False
        # (a window that also clears on every pass is still looked at: once its clearing moves
        # after the step, the undivided losses add up - one fix commit mends both)
        if inner_loop or it.always(backward):  # a backward under a mode flag: its window is unsure
            self._not_averaged(it, backward, window, inner_loop, cleared_every_pass)

    def _not_averaged(self, it, backward, window, inner_loop, cleared_every_pass=False) -> None:
        ctx = self.ctx
        length = _window_length(window, inner_loop, it) or (
            None if inner_loop else _countdown_length(self.ctx.module if it.func is None else it.func, window))
        if length is None or not backward.direct or backward.scaled and backward.scaler is None:
            return
        if backward.accelerate and it.kind == "loop" and _accelerator_accumulates(ctx):
            return  # ``Accelerator(gradient_accumulation_steps=k)`` divides the loss itself
        if inner_loop and not _MICRO_NAME.search(ctx.code(window.target) + " " + ctx.code(length)):
            return  # ``for t in range(num_tasks)``: summing several objectives is a choice, not a window
        recv = backward.node.func.value
        if backward.accelerate:  # ``self.manual_backward(loss)`` / ``accelerator.backward(loss)``
            if not backward.node.args or backward.node.args[0].keyword is not None:
                return
            recv = backward.node.args[0].value
        if isinstance(recv, cst.Call) and backward.scaled:
            if not recv.args:
                return
            recv = recv.args[0].value
        loss = key_of(recv)
        if loss is None or "." in loss:
            return
        body = window if inner_loop else it.node
        if isinstance(body, cst.FunctionDef):
            body = body.body  # Lightning's ``training_step``: one micro-batch per call
        assigns = _assignments(body, loss, backward.node)
        if not assigns:
            return
        length_names = _names(length) - {"self"}  # ``self.accumulate``: not ``self.net(x)``
        for value, aug in assigns:
            if aug or _scales(value) or (_names(value) & length_names):
                return
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and \
                    value.func.value in training_model_functions(ctx):
                return
        self.report("OPT107", backward.node,
                    f"`{ctx.code(backward.node)}` backpropagates each micro-batch loss of an accumulation window "
                    f"of `{ctx.code(length)}` without dividing it by the window length: the effective learning "
                    f"rate grows with the window; backpropagate `{loss} / {ctx.code(length)}`"
                    + (" (once the clearing runs after the step)" if cleared_every_pass else ""))

    # -- OPT104 -------------------------------------------------------------------------
    def _cleared_never_stepped(self, it: Iteration, mkeys) -> None:
        """The loop runs a backward on every pass and clears an optimizer, or steps a scheduler
        built on one, but nothing steps that optimizer: not in the loop, not in a function it
        calls, nowhere in the file. Each pass's gradients are thrown away by the next clear (or
        pile up), and the schedule moves a rate nothing uses. The optimizer may come from
        anywhere (a parameter, ``accelerator.prepare``, a helper's tuple): the clear or the
        scheduler says what it is."""
        backwards = [b for b in it.of_kind(K.BACKWARD) if b.certain and not b.no_grad]
        if not backwards or (it.kind == "loop" and runs_once(it.node)) or _is_generator(it.func):
            return
        scope = self.ctx.module if it.func is None else it.func
        for opt, name, what, clear in self._left_unstepped_candidates(it):
            if id(opt) in self._unused_reported:
                continue
            # (ignite's ``Engine(_update)`` steps nothing after the call: the function is all of it)
            runner = it.kind == "function" and (self._runner_built_by_a_loop(it, opt) or
                                                bool(callers.ignite_engines(self.ctx, it.node)))
            if it.kind == "function" and not runner and \
                    (isinstance(opt.node, cst.Param) or opt.by_name and not _instance_built(opt)):
                # a step function handed its optimizer: the caller may step it after the call
                # (not a base class's loop over ``self.<step>()`` that steps nothing itself)
                if not self._run_by_a_base_class_loop(it):
                    continue
                runner = True
            if it.kind == "function" and not runner and (opt.by_name or opt.carried) and not self._run_by_a_loop(it):
                # built by the instance from a factory, or by an object it holds: the step may be
                # its runner's (``agent.learn()`` then ``agent.net.optimizer.step()``), or a subclass
                # may replace the optimizer with one of its own
                continue
            if any(e.kind in (*STEPS, K.STEP_CLOSURE) and (e.target is None or same_object(e.target, opt) is not False)
                   for e in it.events):
                continue
            if clear is not None and opt.call is not None and \
                    (it.func is None or self.ctx.encloses(it.func, opt.call)) and \
                    not any(self._may_run_after(b, opt.call) for b in backwards):
                continue  # a module's clear in a loop over before the optimizer is built (a notebook's later cell)
            if self._stepped_elsewhere(it, scope, opt, mkeys, name) or \
                    any(may_step(o, opt, mkeys) and not self._cannot_step(it, o) for o in it.opaque) or \
                    _reads_grad(scope, self.ctx, it.node if it.func is None else None):
                continue
            where = "function" if it.kind == "function" else "loop"
            # (a module's clear: at the first backward after it, the one whose gradients it leaves)
            first = next((b for b in backwards if clear is not None and b.index > clear.index), backwards[0])
            self.report("OPT104", first.node,
                        f"this {where} runs backward and {what} but never calls `{name}.step()`: "
                        "the parameters are never updated")
            return

    def _runner_built_by_a_loop(self, it: Iteration, opt: Binding) -> bool:
        """``it`` is a method of a step-runner class that keeps the optimizer it is handed
        (``self.optimizer = optimizer`` in ``__init__``), and a loop of this file builds the
        runner handing it one (``StepRunner(net, loss_fn, optimizer=optimizer)`` in a training
        function's epoch loop): that loop is the caller, so a step nowhere in the file (the
        caller's step is looked for next, ``_stepped_elsewhere``) is a lost step."""
        klass = self.model.bindings.class_of.get(it.node)
        if klass is None or not opt.by_name or not opt.name.startswith("self.") or opt.name.count(".") != 1:
            return False
        attr = opt.name[len("self."):]
        if any(e.kind in (*STEPS, K.STEP_CLOSURE) and (e.own_key or "").endswith("." + attr)
               for e in self.model.all_events()):
            return False  # ``self.steprunner.optimizer.step()`` by the loop that calls the runner
        kept = built_runners.handed_attribute_param(klass, attr)
        return kept is not None and built_runners.built_in_a_loop_with(self.ctx.module, klass, *kept, self.ctx.parents)

    def _run_by_a_base_class_loop(self, it: Iteration) -> bool:
        """``it`` is a method a base class's loop calls on ``self`` and steps nothing around
        (``Epoch.run`` over ``self.batch_update(x, y)``)."""
        klass = self.model.bindings.class_of.get(it.node)
        if klass is None or not klass.bases:
            return False
        return bool(self.ctx.cached(("optimlint.base_class_loops", id(it.node)),
                                    lambda: callers.base_class_loops(self.ctx, it.node.name.value, klass,
                                                                     clearing=False, stepping=True)))

    def _run_by_a_loop(self, it: Iteration) -> bool:
        """A loop of the project calls the step function ``it`` on every pass and steps no
        optimizer itself (``callers.loop_callers``)."""
        klass = self.model.bindings.class_of.get(it.node)
        return bool(self.ctx.cached(("optimlint.loop_callers.unstepped", id(it.node)),
                                    lambda: callers.loop_callers(self.ctx, it.node, klass, clearing=False,
                                                                 stepping=True)))

    def _cleared_before_any_step(self, it: Iteration, mkeys) -> None:
        """A backward whose gradients the same pass clears before anything uses them:
        ``loss.backward(); optimizer.zero_grad()`` with no step, clip or unscale between, nor a
        call that might step, on the same path (the step lost between the two). Whether
        ``optimizer`` is stepped elsewhere in the file does not matter: whatever steps it later
        finds these gradients gone. Silent where the loop, or the function that runs the
        backward, reads a gradient (``x.grad``, an extension's ``grad_batch``: the gradients
        are the result), for a backward into chosen inputs or building a graph (a penalty
        term), where the file registers gradient hooks or hands the optimizer to a call that may
        step it, and in a loop that runs once."""
        if it.kind == "loop" and runs_once(it.node) or _is_generator(it.func):
            return
        region = it.node  # the loop, or the step function: the gradients are gone when it ends
        for b in it.of_kind(K.BACKWARD):
            if not b.certain or b.no_grad or it.nested(b):
                continue
            later = [e for e in it.events if e.index > b.index]
            clear = next((e for e in later if e.kind is K.ZERO_GRAD), None)
            if clear is None or it.nested(clear) or not clear.certain or clear.target is None or \
                    clear.target.kind != "optimizer" or it.conditions(clear) != it.conditions(b):
                continue
            if any(e.kind not in (K.ZERO_GRAD, K.TRAIN_MODE, K.EVAL_MODE, K.SCHED_STEP) and e.index < clear.index
                   for e in later):
                continue  # a step, a clip, an unscale or another backward between the two
            following = next((e for e in later if e.index > clear.index and e.kind in (K.BACKWARD, *STEPS)), None)
            if following is not None and following.kind in STEPS:
                continue  # the clear sits between the backward and the step: OPT102 says so
            scope = self.ctx.module if it.func is None else it.func
            if self._handed_to_a_stepper(it, scope, clear.target, mkeys, _local_to(it.func, clear.target.name)):
                continue  # an engine handed the optimizer may step it from a gradient hook
            if any(b.index < o.index < clear.index for o in it.opaque) or _reads_grad(region) or \
                    (b.func is not None and _reads_grad(b.func)) or _partial_backward(b.node) or \
                    "_hook(" in self.ctx.source:
                continue  # (a gradient hook may consume them during the backward)
            name = clear.target_key or clear.target.name
            self.report("OPT104", b.node,
                        f"`{self.ctx.code(b.node)}` computes gradients that `{self.ctx.code(clear.node)}` clears "
                        f"before anything steps: `{name}.step()` never runs between them, so the parameters "
                        "are never updated from them")
            return

    def _step_function_without_step(self, mkeys) -> None:
        """A function with no loop of its own that clears an optimizer and backpropagates but
        steps nothing (an agent's ``learn`` whose step was lost): no iteration holds it, since
        a step function is one that steps; judged here as one pass of its caller's loop."""
        def accept(kinds) -> bool:
            return K.BACKWARD in kinds and K.ZERO_GRAD in kinds and not kinds & {*STEPS, K.STEP_CLOSURE}

        for it in self.model.one_pass_functions(accept, (K.BACKWARD, K.ZERO_GRAD)):
            self._cleared_never_stepped(it, mkeys)

    def _left_unstepped_candidates(self, it: Iteration):
        """(optimizer, its spelling, what the loop does with it) for each optimizer the loop
        certainly clears, then for each one a scheduler stepped in the loop is built on
        (``get_linear_schedule_with_warmup(optimizer, ...)`` over an optimizer of a class the
        analysis does not know, built in the same function: the name it is built on)."""
        visible = None
        for clear in it.of_kind(K.ZERO_GRAD):
            opt = clear.target
            if opt is not None and opt.kind == "optimizer" and clear.certain:
                name = clear.target_key or opt.name
                yield opt, name, f"clears `{name}`", None
            elif opt is None and clear.module is not None and clear.own_key:
                # ``self.D.zero_grad()``: clears every optimizer built only over ``self.D``'s parameters
                if visible is None:
                    visible = visible_optimizers(self.model.bindings, it.func)
                for opt in visible:
                    if clears(clear, opt) is True and not _shares_a_stepped(it, opt):
                        yield opt, opt.name, f"clears `{opt.name}`'s gradients (`{clear.own_key}.zero_grad()`)", clear
        for sched_step in it.of_kind(K.SCHED_STEP):
            sched = sched_step.target
            if sched is None or not sched_step.certain or sched.by_name:
                continue
            opt = sched.optimizer
            if opt is None and sched.call is not None and sched.call.args and \
                    sched in self.model.bindings.scope_table(it.func).values():
                first = sched.call.args[0]
                if first.keyword is None or first.keyword.value == "optimizer":
                    opt = self.model.bindings.resolve(it.func, first.value, want="optimizer")
            if opt is None or opt.kind != "optimizer":
                continue
            sched_name = sched_step.target_key or sched.name
            yield opt, opt.name, f"steps `{sched_name}`, a scheduler of `{opt.name}`,", None

    def _stepped_elsewhere(self, it: Iteration, scope: cst.CSTNode, opt: Binding, mkeys,
                           spelled: str | None = None) -> bool:
        """Something outside the loop may step ``opt`` (once after the loop, every few epochs:
        OPT106's business, or deliberate): a step anywhere in the file that may be of ``opt``,
        or a call of the loop's function that is handed it. Another function's own local
        optimizer is not ``opt`` when ``opt`` is local to the loop's function; nor is what
        another function steps when the loop's function is handed ``opt`` (``spelled``, its
        parameter) and that function is no caller stepping it after the call
        (``handed.may_complete``)."""
        local = _local_to(it.func, opt.name)
        param = handed_parameter(self.model, it.func, spelled) if it.kind == "loop" else None
        for scope_func, events in self.model.scopes.items():
            if it.kind == "function" and (self._overrides(scope_func, it.node) or self._overrides(it.node, scope_func)):
                # a subclass's own ``update`` runs instead of this one, never after it; this one
                # replaces its base's ``update``, which never runs on this instance
                continue
            for e in events:
                if e.kind not in (*STEPS, K.STEP_CLOSURE) or same_object(e.target, opt) is False:
                    continue
                if scope_func is None and self._ran_before_defined(e, it.func):
                    continue
                if param is not None and not may_complete(self.model, it.func, param, scope_func, e):
                    continue
                if (opt.name.startswith("self.") or self._module_global(it, opt)) and \
                        _cleared_first(self.ctx, events, e, opt, it) and self._backpropagates_into(it, opt):
                    # (the instance's or the script's own optimizer: a handed one may be stepped
                    # by the caller after the call)
                    continue  # another loop's own pass (clear, backward, step) never uses this loop's gradients
                if opt.name.startswith("self.") and it.func is not None and \
                        _drawn_from_self(e.func, e.own_key) and self._unrelated_class(scope_func, it.func):
                    # ``self.optimizer`` of another algorithm class, or ``for opt in self.olist:
                    # opt.step()`` there: another instance's
                    continue
                if local and e.target is not None and e.target is not opt and e.func is not it.func and \
                        _local_to(e.func, e.target.name):
                    continue  # (e.func: where the step is written, also when inlined into a caller's scope)
                return True
        return self._handed_to_a_stepper(it, scope, opt, mkeys, local)

    def _ran_before_defined(self, e: Event, func: cst.CSTNode | None) -> bool:
        """``e``, run by the script's own body, has run before the module-level statement that
        defines ``func`` (its ``def``, or its class's) starts: no call of ``func`` had run yet,
        so the step cannot complete ``func``'s pass (a notebook's first lesson stepping its
        optimizer in a loop of its own; a later lesson's runner class that lost its step)."""
        if func is None:
            return False
        ran, defined = _module_statement(self.ctx, e.stmt), _module_statement(self.ctx, func)
        if ran is None or defined is None or ran is defined:
            return False
        positions = self.ctx.positions
        if ran not in positions or defined not in positions:
            return False
        end, start = positions[ran].end, positions[defined].start
        return (end.line, end.column) <= (start.line, start.column)

    def _handed_to_a_stepper(self, it: Iteration, scope: cst.CSTNode, opt: Binding, mkeys, local: bool) -> bool:
        """A call of the loop's function, once the optimizer exists, is handed it and may step it
        (a trainer or an engine that takes it over, perhaps stepping from a gradient hook)."""
        built = stores(scope, opt.name, nested_functions=False)
        builders = {id(st.rhs) for st in built if st.rhs is not None}
        # (the call that builds the optimizer, not handed it, cannot step it; nor can
        # ``accelerator.prepare``, which hands it back wrapped, or a scheduler built on it;
        # nor a call that has returned before the optimizer exists)
        first_built = self.ctx.positions[built[0].node].start if built and (local or it.func is None) else None
        return any(may_step(o, opt, mkeys) for o in self.model.opaque_of(it.func)
                   if (id(o.node) not in builders or opt.name in o.touch_keys) and not self._cannot_step(it, o)
                   and not (first_built is not None and self._runs_before(o, it.func, first_built)))

    def _backpropagates_into(self, it: Iteration, opt: Binding) -> bool:
        """A backward of ``it`` computes its loss, in the function that writes it (the loop's
        own, or a helper the loop calls), through a module ``opt`` is built over (``d_loss =
        self.D(x).mean() ...``): it writes gradients that ``opt`` alone could apply."""
        if not opt.modules:
            return False
        for b in it.of_kind(K.BACKWARD):
            if (b.direct and b.func is it.func or b.func is not None and not opt.name.startswith("self.")) and \
                    isinstance(b.node, cst.Call) and isinstance(b.node.func, cst.Attribute) and \
                    computed_through(self.ctx.module if b.func is None else b.func, b.node.func.value, opt.modules):
                return True
        return False

    def _module_global(self, it: Iteration, opt: Binding) -> bool:
        """``opt`` is the script's own optimizer, built by the module's body and named alike
        wherever ``it`` uses it (``d_optimizer`` of a GAN script's ``d_train(x)``): not handed
        to it, so no caller steps it after the call."""
        return "." not in opt.name and self.model.bindings.module_scope.get(opt.name) is opt and \
            not _local_to(it.func, opt.name)

    def _overrides(self, func, method) -> bool:
        """``func`` is a method of a subclass (in this file) of ``method``'s class, of the same
        name, that does not call ``super().<name>(...)``: an instance of the subclass runs
        ``func`` instead of ``method``, so a step there never completes ``method``'s pass."""
        classes = self.model.bindings.class_of
        base, sub = classes.get(method), classes.get(func) if func is not None else None
        if base is None or sub is None or sub is base or func.name.value != method.name.value:
            return False
        by_name = {c.name.value: c for c in self.model.methods}
        seen, todo = set(), [sub]
        while todo:
            c = todo.pop()
            for a in c.bases:
                name = a.value.value if isinstance(a.value, cst.Name) else None
                if name == base.name.value and by_name.get(name) is base:
                    return not any(isinstance(c2.func, cst.Attribute) and c2.func.attr.value == method.name.value
                                   and isinstance(c2.func.value, cst.Call) and key_of(c2.func.value.func) == "super"
                                   for c2 in _walk.nodes_of(func.body, (cst.Call,)))
                if name in by_name and name not in seen:
                    seen.add(name)
                    todo.append(by_name[name])
        return False

    def _lineage(self, klass) -> set:
        """``klass`` and its ancestors defined in this file (bases read by name)."""
        by_name = {c.name.value: c for c in self.model.methods}
        out, todo = {klass}, [klass]
        while todo:
            for a in todo.pop().bases:
                c = by_name.get(a.value.value) if isinstance(a.value, cst.Name) else None
                if c is not None and c not in out:
                    out.add(c)
                    todo.append(c)
        return out

    def _unrelated_class(self, func, method) -> bool:
        """``func`` is a method of a class of this file that neither is, nor is an ancestor or a
        descendant of, ``method``'s class: its ``self`` is never ``method``'s ``self``."""
        classes = self.model.bindings.class_of
        mine, other = classes.get(method), classes.get(func) if func is not None else None
        if mine is None or other is None:
            return False
        return other not in self._lineage(mine) and mine not in self._lineage(other)

    def _runs_before(self, call: Event, func: cst.CSTNode | None, position) -> bool:
        """``call``, written in ``func``'s own body outside any loop, has returned before the
        statement at ``position`` runs (``unet.enable_gradient_checkpointing()`` and
        ``model.apply(init_weights)`` before the optimizer is built cannot step it)."""
        if call.via:
            # inlined from a helper: the helper's call, a statement of ``func`` outside any loop
            # (``set_diffusers_xformers_flag(unet, True)``, whose recursion stays opaque)
            stmt = call.stmt
            up = self.ctx.parents.get(stmt)
            while up is not None and up is not func:
                if isinstance(up, (cst.For, cst.While)):
                    return False
                up = self.ctx.parents.get(up)
            if (up is None and func is not None) or stmt not in self.ctx.positions:
                return False
            end = self.ctx.positions[stmt].end
            return (end.line, end.column) <= (position.line, position.column)
        if call.func is not func or call.loops:
            return False
        end = self.ctx.positions[call.node].end
        return (end.line, end.column) <= (position.line, position.column)

    def _cannot_step(self, it: Iteration, call: Event) -> bool:
        """A call handed the optimizer that still cannot step it: ``accelerator.prepare``, a
        scheduler built on it (``WarmupCosineSchedule(optimizer, ...)``, a project class named as
        one), a call that loads or saves its state (``checkpointer.load_optim(model, optim)``), or
        a library's wrapper (opacus' ``make_private`` and ``BatchMemoryManager``)."""
        node = call.node
        if not isinstance(node, cst.Call):
            return False
        kind = symbols.classify_call(self.ctx, node)
        if _prepares(self.ctx, it.func, node) or (kind is not None and kind.kind == "scheduler"):
            return True
        if self._builds_scheduler(call):
            return True
        callee = symbols.callee_name(node.func)
        # (``get_cosine_schedule_with_warmup(optimizer, ...)`` of a star import: transformers' factory by its name)
        return symbols.class_name_says_scheduler(callee) or bool(LOAD_SAVE_CALLEE.match(callee)) or \
            callee in OPTIMIZER_WRAPPING_CALLEES or symbols.scheduler_class(callee) is not None

    def _builds_scheduler(self, call: Event) -> bool:
        """``lr_scheduler = train_util.get_scheduler_fix(args, optimizer, n)``: the call's result
        is what the bindings hold as a scheduler (built over the optimizer it is handed); or
        ``lr_schedulers = [get_scheduler_fix(args, opt, n) for opt in optimizers]``, each
        element of a list named for schedulers a call handed an optimizer."""
        parents = self.ctx.parents
        parent = parents.get(call.node)
        element = False
        if isinstance(parent, cst.Element) and isinstance(parents.get(parent), (cst.List, cst.Tuple)):
            parent, element = parents.get(parents.get(parent)), True
        elif isinstance(parent, cst.ListComp) and parent.elt is call.node:
            parent, element = parents.get(parent), True
        if not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
            return False
        k = key_of(parent.targets[0].target)
        if k is None or not symbols.name_says_scheduler(k.rsplit(".", 1)[-1]):
            return False
        if element:
            b = self.model.bindings
            return b.hands_optimizer(call.func, call.node) and b.project_factory(call.node)
        held = self.model.bindings.resolve_key(call.func, k, want="scheduler")
        return held is not None and held.kind == "scheduler"

    def _unused_optimizers(self) -> None:
        self._unused_reported: set[int] = set()
        stepped = {id(e.target) for e in self.model.all_events() if e.kind in (*STEPS, K.STEP_CLOSURE)}
        for func, table in [(None, self.model.bindings.module_scope), *self.model.bindings.function_scopes.items()]:
            events = self.model.scope_events(func)
            if not any(e.kind is K.BACKWARD for e in events):
                continue
            for name, opt in table.items():
                if opt.kind != "optimizer" or opt.by_name or opt.call is None or "." in name:
                    continue
                # (whether it is stepped anywhere first: a set lookup, where the uses are a walk of the scope)
                if name != opt.name or id(opt) in stepped or not _only_cleared(self.ctx, func, name, opt.call):
                    continue
                if _reads_grad(func) if func is not None else _reads_grad(self.ctx.module, self.ctx, opt.call, logs=True):
                    continue  # the gradients are the result (Fisher information, saliency, tests)
                cleared_loops = [e for e in events if e.kind is K.ZERO_GRAD and e.target is opt and e.loops]
                if cleared_loops:
                    loop = cleared_loops[0].loops[-1]
                    backs = [e for e in events if e.kind is K.BACKWARD and loop in e.loops]
                    if backs and not any(e.kind in STEPS for e in events if loop in e.loops) and \
                            not any(loop in o.loops for o in self.model.touching_all_of(func)):
                        self.report("OPT104", backs[0].node,
                                    f"this loop runs backward and clears `{name}` but never calls `{name}.step()`: "
                                    "the parameters are never updated")
                        self._unused_reported.add(id(opt))
                        continue
                if not any(e.kind is K.BACKWARD and (e.loops or func is None and _after_its_clear(events, e, opt))
                           and self._may_run_after(e, opt.call) for e in events):
                    # a function that trains has a loop; one backward may be a check; a backward
                    # whose loop is over before the construction (a notebook's demonstration
                    # ``Adam(...)`` after its training loop, an exercise's empty loop) is not this
                    # optimizer's. A script's one pass written out (``optimizer.zero_grad()``,
                    # then a backward: a tutorial's training step) is.
                    continue
                inner = self._inner_backward(func, events, opt)
                if inner is not None:
                    # ``def update(data): opt.zero_grad(); loss.backward()`` nested in the training
                    # function that built ``opt``: the step is missing there, not at the construction
                    self.report("OPT104", inner.node,
                                f"this function runs backward and clears `{name}` but never calls "
                                f"`{name}.step()`: the parameters are never updated")
                    self._unused_reported.add(id(opt))
                    continue
                self.report("OPT104", opt.call,
                            f"`{name}` is built but never stepped, returned, stored or passed on: this function "
                            "runs backward and never updates the parameters")
                self._unused_reported.add(id(opt))


    def _may_run_after(self, ev: Event, node: cst.CSTNode) -> bool:
        """``ev`` may run after ``node``: its statement (the helper call, for an inlined one)
        ends after ``node`` starts, or one of its loops holds ``node`` (built in the loop that
        then comes round to the backward)."""
        start = self.ctx.positions[node].start
        at = (start.line, start.column)
        end = self.ctx.positions[ev.stmt].end
        if (end.line, end.column) > at:
            return True
        for loop in ev.loops:
            if loop in self.ctx.positions:
                rng = self.ctx.positions[loop]
                if (rng.start.line, rng.start.column) <= at <= (rng.end.line, rng.end.column):
                    return True
        return False

    def _inner_backward(self, func, events: list, opt: Binding) -> Event | None:
        """The first backward, after the clear, written in the one function nested in ``func``
        that clears ``opt`` (None: the clears are written in ``func`` itself, or in several)."""
        clears_of = [e for e in events if e.kind is K.ZERO_GRAD and e.target is opt]
        where = {e.func for e in clears_of}
        if len(where) != 1:
            return None
        (inner,) = where
        cur = self.model.parent_func.get(inner) if inner is not func else None
        while cur is not None and cur is not func:
            cur = self.model.parent_func.get(cur)
        if inner is func or cur is not func:
            return None
        first = self.ctx.positions[clears_of[0].node].start
        backs = [e for e in events if e.kind is K.BACKWARD and e.func is inner and
                 (self.ctx.positions[e.node].start.line, self.ctx.positions[e.node].start.column) >
                 (first.line, first.column)]
        return backs[0] if backs else None


def _clips_params_of(ctx, clip: Event, step: Event) -> bool:
    """The clip's parameters are the stepped optimizer's: the same ``params`` text, the
    ``.parameters()`` of the same modules, or read from the optimizer's own ``param_groups``
    (``opt.param_groups[0]["params"]``, ``[p for g in opt.param_groups for p in g["params"]]``)."""
    opt = step.target
    call = clip.node
    if not isinstance(call, cst.Call) or not call.args:
        return False
    clip_arg = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "parameters"),
                    call.args[0].value if call.args[0].keyword is None and not call.args[0].star else None)
    if clip_arg is not None and step.target_key is not None and any(
            n.attr.value == "param_groups" and key_of(n.value) == step.target_key
            for n in _walk.nodes_of(clip_arg, cst.Attribute)):
        return True
    if opt is None or opt.call is None:
        return False
    opt_arg = next((a.value for a in opt.call.args if a.keyword is not None and a.keyword.value == "params"),
                   opt.call.args[0].value if opt.call.args and opt.call.args[0].keyword is None else None)
    if clip_arg is None:
        return False
    if opt_arg is not None and ctx.code(clip_arg) == ctx.code(opt_arg):
        return True
    mods = parameter_modules(clip_arg)
    return bool(mods) and mods == opt.modules


def training_model_functions(ctx) -> dict:
    return training_model(ctx).functions


def _entered_context(ctx, node: cst.CSTNode) -> bool:
    """``node`` is the call a ``with`` statement enters (``with self.train_context(x):``,
    ``with self.maybe_enable_amp:``): a context for the block (precision, parallelism,
    profiling), not a call that clears an optimizer's gradients."""
    return isinstance(ctx.parents.get(node), cst.WithItem)


def _accumulated_modules(ctx, node: cst.CSTNode) -> set[str]:
    """Keys of the modules handed to the ``with ....accumulate(...)`` blocks around ``node``."""
    found: set[str] = set()
    cur = ctx.parents.get(node)
    while cur is not None and not isinstance(cur, cst.FunctionDef):
        if isinstance(cur, cst.With):
            for item in cur.items:
                call = item.item
                if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and \
                        call.func.attr.value == "accumulate":
                    found.update(k for k in (key_of(a.value) for a in call.args if a.keyword is None) if k)
        cur = ctx.parents.get(cur)
    return found


def _enclosing_if(it: Iteration, ev: Event):
    """The ``if`` whose body holds ``ev`` directly in the pass (None under several or none)."""
    conds = it.conditions(ev)
    return conds[0].node if len(conds) == 1 and conds[0].arm == "body" else None


def _window_length(window, inner_loop: bool, it: Iteration | None = None):
    """The window's length: ``k`` of ``range(k)`` for an inner loop, of ``% k`` in the guard's
    test, or in the test a flag the guard tests was set from (``is_grad_step = (i + 1) % k == 0``
    earlier in the loop's body, then ``if is_grad_step:``; ``it``: the pass that sets it)."""
    if inner_loop:
        it = window.iter if isinstance(window, cst.For) else None
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range" \
                and len(it.args) == 1:
            return it.args[0].value
        return None
    test = window.test
    if it is not None:
        flag = test.expression if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) \
            else test
        test = _flag_value(it, flag) or test
    stack = [test]
    while stack:
        e = stack.pop()
        if isinstance(e, cst.BooleanOperation):
            stack += [e.left, e.right]
        elif isinstance(e, cst.UnaryOperation):
            stack.append(e.expression)
        elif isinstance(e, cst.Comparison):
            stack += [e.left] + [c.comparator for c in e.comparisons]
        elif _modulo(e):
            if isinstance(e.right, cst.Integer) and e.right.value in ("1", "0"):
                return None
            return e.right
    return None


def _countdown_length(scope: cst.CSTNode, guard: cst.If):
    """``if left > 1: left -= 1; continue`` (or ``> 0``, ``!= 1``): a countdown window whose
    length is what the counter is set to (``left = args.accumulate`` before the loop, again
    after the step); None unless every such value is spelled the same and is no literal."""
    test = guard.test
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and
            isinstance(test.comparisons[0].operator, (cst.GreaterThan, cst.NotEqual)) and
            isinstance(test.comparisons[0].comparator, cst.Integer) and
            test.comparisons[0].comparator.value in ("0", "1")):
        return None
    counter = key_of(test.left)
    if counter is None or not any(
            key_of(n.target) == counter and isinstance(n.operator, cst.SubtractAssign)
            for n in _walk.nodes_of(guard.body, cst.AugAssign)):
        return None
    found = stores(scope, counter, nested_functions=False)
    if any(st.kind in ("unpack", "for", "with") for st in found):
        return None
    values = [st.value for st in found if st.kind in ("=", ":")]
    if not values or any(v is None or isinstance(v, (cst.Integer, cst.Float)) for v in values):
        return None
    spelled = {_walk_code(v) for v in values}
    return values[0] if len(spelled) == 1 else None


def _walk_code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _names(expr) -> set[str]:
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            found.add(node.value)

        def visit_Attribute(self, node: cst.Attribute) -> None:
            found.add(node.attr.value)

    _walk.visit(expr, V())
    return found


def _scales(value) -> bool:
    """The value divides or multiplies (``loss / k``, ``loss * w``), anywhere at its top."""
    found = False

    class V(cst.CSTVisitor):
        def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
            nonlocal found
            if isinstance(node.operator, (cst.Divide, cst.Multiply, cst.FloorDivide)):
                found = True

        def visit_Lambda(self, node) -> bool:
            return False

    _walk.visit(value, V())
    return found


def _assignments(body, name: str, stop: cst.CSTNode):
    """(value, is_augmented) of assignments to ``name`` in ``body`` (not nested defs)."""
    return [(st.rhs, st.kind == "+=") for st in stores(body, name, nested_functions=False)
            if st.kind in ("=", "unpack", ":", "+=")]


def _grad_touched_between(ctx, it: Iteration, clear: Event, step: Event) -> bool:
    """Some ``x.grad`` is written or read between the clear and the step (or, when either is
    reached through a helper, anywhere in the iteration)."""
    rows = ctx.cached(("optimlint.grad_rows", id(it.node)), lambda: _grad_rows(ctx, it.node))
    if not (clear.direct and step.direct):
        return bool(rows)
    lo, hi = ctx.positions[clear.node].start.line, ctx.positions[step.node].start.line
    return any(lo < r < hi for r in rows)


def _grad_rows(ctx, scope: cst.CSTNode) -> list[int]:
    found: list[int] = []

    class V(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            if node.attr.value == "grad":
                found.append(ctx.positions[node].start.line)

    _walk.visit(scope, V())
    return found


def _grad_handled(ctx, scope: cst.CSTNode) -> bool:
    """Some ``x.grad`` in ``scope`` is handled by hand (assigned, changed in place, kept in a
    buffer, handed to a function): every use but a reading (``p.grad is None``,
    ``p.grad.data.mean()`` for a log line)."""
    parents = ctx.parents
    for node in _walk.nodes_of(scope, cst.Attribute):
        if node.attr.value != "grad":
            continue
        up = parents.get(node)
        if isinstance(up, cst.Comparison) and all(
                isinstance(c.operator, (cst.Is, cst.IsNot)) for c in up.comparisons):
            continue
        outer = up
        if isinstance(outer, cst.Attribute) and outer.value is node and outer.attr.value == "data":
            outer = parents.get(outer)
        if isinstance(outer, cst.Attribute) and outer.attr.value in GRAD_READING_METHODS and \
                isinstance(parents.get(outer), cst.Call):
            continue
        call = parents.get(up) if isinstance(up, cst.Arg) else None
        if isinstance(call, cst.Call) and TORCH_COLLECTIVE.match(ctx.qualify(call.func) or ""):
            continue  # ``dist.all_reduce(p.grad)``: data parallelism by hand, summed in place
        return True
    return False


def _local_to(func: cst.CSTNode | None, name: str) -> bool:
    """``name`` is a local variable of function ``func`` (a parameter, or assigned in its own
    body and not declared global/nonlocal): no other function's variable is the same object."""
    if not isinstance(func, cst.FunctionDef) or "." in name:
        return False
    if any(name in (n.name.value for n in decl.names) for decl in _walk.nodes_of(func, (cst.Global, cst.Nonlocal))):
        return False
    return any(p.name.value == name for p in every_param(func)) or bool(stores(func, name, nested_functions=False))


def _drawn_from_self(func: cst.CSTNode | None, key: str | None) -> bool:
    """``key``, as written in method ``func``, is the instance's own: ``self.x``, or a local
    name every binding of which reads only ``self``'s attributes (``for opt in self.olist``,
    ``opt = self.opts[i]``)."""
    if not key:
        return False
    if key.startswith("self."):
        return True
    if not isinstance(func, cst.FunctionDef) or not _local_to(func, key) or \
            any(p.name.value == key for p in every_param(func)):
        return False
    for st in stores(func, key, nested_functions=False):
        source = st.node.iter if st.kind == "for" else st.value if st.kind == "=" else None
        if source is None:
            return False
        attrs = {id(a.attr) for a in _walk.nodes_of(source, cst.Attribute)}
        names = [n.value for n in _walk.nodes_of(source, cst.Name) if id(n) not in attrs]
        if not names or any(n != "self" for n in names):
            return False
    return True


def _is_generator(func: cst.CSTNode | None) -> bool:
    """A generator's caller runs between its passes (and may step the optimizer there)."""
    return func is not None and any(True for _ in _walk.nodes_of(func, cst.Yield))


def _instance_built(opt: Binding) -> bool:
    """``self.optimizer``, known by its name, that its class assigns once from a call over
    parameters it names (``config.optimizer_fn(self.network.parameters())``): built by the
    instance, not handed to it."""
    return opt.name.startswith("self.") and opt.name.count(".") == 1 and opt.modules is not None

def _reads_grad(scope: cst.CSTNode, ctx=None, after: cst.CSTNode | None = None, logs: bool = False) -> bool:
    """Some ``x.grad`` is read (not only assigned, as in ``p.grad = None``); with ``ctx``, not
    only written to a log (``writer.add_histogram(name, p.grad, step)``: the gradients are
    looked at, the step is still what the loop is for). With ``after`` (a statement of the
    module's body, read with ``ctx``): only a read that may run once ``after`` has started
    counts (``_may_run_after``), since the module's straight-line code (a notebook's earlier
    cell, a hand-written SGD before ``torch.optim`` is introduced) has run by then. With
    ``logs``, a logged read counts too (a demonstration prints the gradients it computed)."""
    found = False
    guards: set[int] = set()

    class V(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
            return not (isinstance(node.target, cst.Attribute) and node.target.attr.value in GRADIENT_ATTRIBUTES)

        def visit_Call(self, node: cst.Call) -> bool:
            return not (_clamps_grad_in_place(node) or _clears_grad_by_hand(node))

        def visit_If(self, node: cst.If) -> None:
            # ``if p.grad is not None:`` guarding what follows: whether a gradient exists, not its
            # values (an ``assert p.grad is None`` of a unit test is its result)
            guards.update(id(c) for c in _walk.nodes_of(node.test, cst.Comparison) if all(
                isinstance(t.operator, (cst.Is, cst.IsNot)) and isinstance(t.comparator, cst.Name)
                and t.comparator.value == "None" for t in c.comparisons))

        def visit_Comparison(self, node: cst.Comparison) -> bool:
            return id(node) not in guards

        def visit_Attribute(self, node: cst.Attribute) -> None:
            nonlocal found
            if node.attr.value in GRADIENT_ATTRIBUTES and not _is_autograd(node.value) and \
                    not (ctx is not None and not logs and _logged(ctx, node)) and \
                    (after is None or _may_run_after(ctx, node, after)):
                found = True

    _walk.visit(scope, V())
    return found


def _may_run_after(ctx, node: cst.CSTNode, stmt: cst.CSTNode, seen: frozenset = frozenset()) -> bool:
    """``node`` may run after ``stmt`` (a statement of the module's body) has started: it
    starts later in the file, or a loop holding it holds ``stmt`` too (the loop comes round to
    it again). Inside a function: when the function is called after ``stmt`` starts, or used
    otherwise than called from the module's own code (a callback, a method, a caller that is
    itself a function)."""
    start = ctx.positions[stmt].start
    at = ctx.positions[node].start
    if (at.line, at.column) >= (start.line, start.column):
        return True
    up = ctx.parents.get(node)
    while up is not None:
        if isinstance(up, (cst.For, cst.While)) and ctx.encloses(up, stmt):
            return True
        if isinstance(up, (cst.FunctionDef, cst.Lambda)):
            return up in seen or _called_after(ctx, up, stmt, seen | {up})
        up = ctx.parents.get(up)
    return False


def _called_after(ctx, func: cst.FunctionDef | cst.Lambda, stmt: cst.CSTNode, seen: frozenset) -> bool:
    """A function of the module's body that some use may run after ``stmt`` starts (any use
    but a call written in the module's own code before ``stmt``, or a method: yes)."""
    if not isinstance(func, cst.FunctionDef) or ctx.parents.get(func) is not ctx.module:
        return True
    name = func.name.value
    for use in _walk.nodes_of(ctx.module, cst.Name):
        if use.value != name or use is func.name:
            continue
        call = ctx.parents.get(use)
        if not (isinstance(call, cst.Call) and call.func is use) or _may_run_after(ctx, use, stmt, seen):
            return True
    return False


def _clears_grad_by_hand(call: cst.Call) -> bool:
    """``p.grad.zero_()`` / ``p.grad.data.zero_()`` / ``p.grad.detach_()``: a clear written by
    hand, which throws the gradients away rather than using them."""
    f = call.func
    return isinstance(f, cst.Attribute) and f.attr.value in ("zero_", "detach_") and not call.args and \
        is_grad_tensor(f.value)


def _clamps_grad_in_place(call: cst.Call) -> bool:
    """``p.grad.data.clamp_(-1, 1)`` / ``p.grad.clamp_(...)`` with constant bounds: a clip
    written by hand (DQN tutorials), which prepares the gradients for the step rather than
    making them the result."""
    f = call.func
    if isinstance(f, cst.Attribute) and f.attr.value in GRAD_CLAMP_FUNCTIONS and key_of(f.value) == "torch":
        # ``torch.nan_to_num(p.grad, nan=0, posinf=1e5, out=p.grad)``: sanitised where it lies
        first = call.args[0].value if call.args and call.args[0].keyword is None else None
        out = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "out"), None)
        return first is not None and out is not None and is_grad_tensor(first) and \
            key_of(first) is not None and key_of(first) == key_of(out)
    return isinstance(f, cst.Attribute) and f.attr.value in GRAD_CLAMP_METHODS and is_grad_tensor(f.value) and \
        not any(isinstance(n, cst.Attribute) and n.attr.value in GRADIENT_ATTRIBUTES
                for a in call.args for n in _walk.nodes_of(a.value, cst.Attribute))


def _logged(ctx, node: cst.CSTNode) -> bool:
    """``node`` is (part of) an argument of a logging call (``logger.histo_summary(tag,
    to_np(p.grad), i)``, ``print(p.grad.norm())``) in its own statement."""
    parents = ctx.parents
    up = parents.get(node)
    while up is not None and not isinstance(up, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
        if isinstance(up, cst.Call) and up.func is not node:
            f = up.func
            receiver = (key_of(f.value) or "") if isinstance(f, cst.Attribute) else ""
            if LOGGING_CALLEE.match(symbols.callee_name(f)) or (receiver == "self" and f.attr.value == "log") or \
                    LOGGING_RECEIVER.search(receiver.rsplit(".", 1)[-1]):
                return True
        node, up = up, parents.get(up)
    return False


def _partial_backward(call: cst.CSTNode) -> bool:
    """``loss.backward(inputs=...)`` or ``create_graph=True``: gradients into chosen tensors or
    kept differentiable, for a penalty or a meta-gradient, not the update's gradients."""
    return isinstance(call, cst.Call) and any(
        a.keyword is not None and a.keyword.value in PARTIAL_BACKWARD_KEYWORDS for a in call.args)


def _is_autograd(owner: cst.BaseExpression) -> bool:
    """``torch.autograd.grad(...)`` / ``autograd.grad(...)``: the function that returns
    gradients (VQGAN's adaptive loss weight), not a tensor's ``.grad`` read."""
    return (isinstance(owner, cst.Name) and owner.value == "autograd") or \
        (isinstance(owner, cst.Attribute) and owner.attr.value == "autograd")


def _after_its_clear(events: list[Event], backward: Event, opt: Binding) -> bool:
    """``backward``, outside any loop, follows a direct ``opt.zero_grad()`` of the same
    straight-line code (a script's training step written out once)."""
    return not backward.loops and backward.certain and not backward.no_grad and any(
        c.kind is K.ZERO_GRAD and c.target is opt and c.direct and c.certain and not c.loops and
        not c.branches and c.index < backward.index for c in events)


def _only_cleared(ctx, func, name: str, call: cst.Call) -> bool:
    """``name`` is used only to clear it, read its groups, or build a scheduler on it."""
    scope = ctx.module if func is None else func
    uses = _OnlyCleared(ctx, func, name)
    _walk.visit(scope, uses)
    return uses.ok


class _OnlyCleared(cst.CSTVisitor):
    """``_only_cleared``'s walk. (A class of the module: one made per call would be cyclic
    garbage whose closures held ``func``'s tree until the cyclic collector ran.)"""

    def __init__(self, ctx, func, name: str) -> None:
        self.ctx = ctx
        self.func = func
        self.name = name
        self.allowed: set[int] = set()
        self.ok = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if isinstance(node.value, cst.Name) and node.value.value == self.name and \
                node.attr.value in ("zero_grad", "param_groups", "defaults"):
            self.allowed.add(id(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        kind = symbols.classify_call(self.ctx, node)
        if kind is not None and kind.kind == "scheduler":
            # ``StepLR(opt, ...)``, ``get_scheduler(name, optimizer=opt, ...)``
            handed = [a.value for a in node.args[:1] if a.keyword is None] + \
                [a.value for a in node.args if a.keyword is not None and a.keyword.value == "optimizer"]
            self.allowed.update(id(v) for v in handed if isinstance(v, cst.Name) and v.value == self.name)
        if _prepares(self.ctx, self.func, node):
            # ``accelerator.prepare(model, opt_d, ...)`` hands the same optimizer back
            self.allowed.update(id(a.value) for a in node.args if isinstance(a.value, cst.Name))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        targets = [e.value for e in node.target.elements] if isinstance(node.target, (cst.Tuple, cst.List)) \
            else [node.target]
        for t in targets:
            if isinstance(t, cst.Name) and t.value == self.name:
                self.allowed.add(id(t))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name and id(node) not in self.allowed:
            self.ok = False


def _prepares(ctx, func, call: cst.Call) -> bool:
    """``accelerator.prepare(...)`` / ``fabric.setup(...)`` on an Accelerator or Fabric: each
    argument comes back as the same object (wrapped), nothing is stepped."""
    f = call.func
    if not isinstance(f, cst.Attribute) or f.attr.value not in ("prepare", "setup", "setup_optimizers"):
        return False
    owner = training_model(ctx).bindings.resolve(func, f.value)
    return owner is not None and owner.kind == "accelerator"


def _runs_whole_or_guarded(it: Iteration, ev) -> bool:
    """``ev`` runs in this iteration's own body (no nested loop), at most under ``if``s
    (``if args.clip > 0:``): a clip there that runs at the wrong point of the iteration is
    wrong whenever its condition lets it run."""
    if it.always(ev):
        return True
    return len(ev.loops) == it.depth + 1 and all(isinstance(b.node, cst.If) for b in it.conditions(ev))


def _accelerator_accumulates(ctx) -> bool:
    """The file builds an ``Accelerator`` that may divide the loss by its own accumulation
    steps (``gradient_accumulation_steps=`` or ``**kwargs`` given), or is handed one by a project
    helper (``accelerator = prepare_accelerator(args)``) whose arguments are not read here."""
    def build() -> bool:
        scopes = training_model(ctx).bindings
        for table in (scopes.module_scope, *scopes.function_scopes.values()):
            if any(b.kind == ACCELERATOR and isinstance(b.call, cst.Call) and
                   symbols.callee_name(b.call.func) not in ("Accelerator", "Fabric") for b in table.values()):
                return True
        if "Accelerator" not in ctx.source:
            return False  # (the loop below would generate the code of every callee for nothing)
        for node in _walk.nodes_of(ctx.module, cst.Call):
            name = ctx.code(node.func).rsplit(".", 1)[-1]
            if name == "Accelerator" and any(a.star == "**" or a.keyword is not None and
                                             a.keyword.value in ("gradient_accumulation_steps",
                                                                 "gradient_accumulation_plugin")
                                             for a in node.args):
                return True
        return False

    return ctx.cached("optimlint.accelerator_accumulates", build)


def _module_statement(ctx, node: cst.CSTNode) -> cst.CSTNode | None:
    """The statement of the module's body that holds ``node`` (None: not in this tree)."""
    parents = ctx.parents
    while True:
        up = parents.get(node)
        if up is None:
            return None
        if up is ctx.module:
            return node
        node = up


def _cleared_before(it: Iteration, opt: Binding, backward: Event, step: Event) -> bool:
    """A certain clearing of ``opt`` between ``backward`` and ``step`` runs whenever ``step``
    does: ``step`` never applies ``backward``'s gradients."""
    return any(backward.index < c.index < step.index and _clears_whenever(it, opt, c, step)
               for c in it.of_kind(K.ZERO_GRAD))


def _clears_whenever(it: Iteration, opt: Binding, clear: Event, step: Event) -> bool:
    """``clear`` certainly clears ``opt`` and runs whenever ``step`` does."""
    return clear.certain and clears(clear, opt) is True and covered(it, [clear], it.conditions(step))
