"""OPT501-OPT505: GradScaler usage (mixed precision), read from the iteration model.

A backward through ``scaler.scale(loss)`` leaves scaled gradients: the step must go
through ``scaler.step(opt)`` (which unscales and skips inf/NaN steps), be followed by
``scaler.update()``, and a clip in between needs ``scaler.unscale_(opt)`` first, once per
``update()`` (a second ``unscale_`` before the update raises RuntimeError).
"""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import moves
from optimlint.analysis.bindings import drawn_from_container
from optimlint.analysis.events import EventKind
from optimlint.analysis.iteration import Event, Iteration, exclusive, module_keys, same_object, touches
from optimlint.checks.base import Check
from optimlint.checks.order import accumulation_test, difference_window, window_condition
from optimlint.diagnostics import Fix
from optimlint.vocabulary import INF_NAN_CHECK

K = EventKind


def _disabled(scaler) -> bool:
    """``GradScaler(enabled=False)``: scale/step are plain pass-throughs."""
    call = scaler.call if scaler is not None else None
    if call is None:
        return False
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "enabled" and \
                isinstance(a.value, cst.Name) and a.value.value == "False":
            return True
    return False


def _no_more_conditional(it: Iteration, a: Event, b: Event, windows: bool = False) -> bool:
    """Every condition ``a`` is under (in ``it``), ``b`` is under too (with ``windows``, but
    an accumulation window's test: ``if (i + 1) % accum == 0:``, ``if ni - last >= accumulate:``
    say nothing about the scaler)."""
    cb = set(it.conditions(b))
    return all(br in cb or (windows and isinstance(br.node, cst.If) and br.arm == "body"
                            and (accumulation_test(br.node.test) or difference_window(br.node)))
               for br in it.conditions(a))


def _flag_test(test: cst.BaseExpression) -> bool:
    """A setting read as it is: ``fp16``, ``args.fp16``, ``self.args.use_amp``, ``not args.fp16``."""
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test = test.expression
    while isinstance(test, cst.Attribute):
        test = test.value
    return isinstance(test, cst.Name)


def _same_flag_arm(ctx, it: Iteration, step: Event, back: Event) -> bool:
    """Every condition ``step`` is under and ``back`` is not is an accumulation window, or the
    same arm of an ``if`` on the same flag as one ``back`` is under (the flag tested again at
    each use: ``if args.fp16: scaler.scale(loss).backward()`` ... ``if args.fp16: ...step``)."""
    def arms(ev: Event) -> set[tuple[str, str]]:
        return {(ctx.code(b.node.test), b.arm) for b in it.conditions(ev)
                if isinstance(b.node, cst.If) and _flag_test(b.node.test)}

    own = set(it.conditions(back))
    theirs = arms(back)
    extra = [b for b in it.conditions(step) if b not in own and not (
        isinstance(b.node, cst.If) and b.arm == "body" and
        (accumulation_test(b.node.test) or difference_window(b.node)))]
    return bool(extra) and all(isinstance(b.node, cst.If) and _flag_test(b.node.test) and
                               (ctx.code(b.node.test), b.arm) in theirs for b in extra)


class AmpCheck(Check):
    codes = ("OPT501", "OPT502", "OPT503", "OPT504", "OPT505")
    # Every OPT5xx finding involves a backward and a scaler (a `GradScaler`, or a name such as
    # `scaler` / `grad_scaler`, or Accelerate's own behind `mixed_precision=`) in the file;
    # `scale` alone is in every attention layer.
    needles = (b"backward(",)
    requires = ((rb"backward\((?<!def backward\()",), (rb"caler", rb"mixed_precision"))

    def check(self) -> None:
        mkeys = module_keys(self.ctx)
        # Lightning's automatic optimization drives the scaler itself: only loops the user writes.
        for it in (i for i in self.model.iterations if i.kind != "lightning-auto"):
            self._bypassed(it)
            self._clip_without_unscale(it, mkeys)
            self._step_without_scale(it, mkeys)
            self._unscale_per_micro_batch(it)
            self._accelerate_clip_per_micro_batch(it)
        self._update_missing()

    # -- OPT501 -------------------------------------------------------------------------
    def _bypassed(self, it: Iteration) -> None:
        ctx = self.ctx
        backwards = it.of_kind(K.BACKWARD)
        for step in it.of_kind(K.STEP):
            if step.target is None or step.target.lightning or it.nested(step):
                continue
            # the backward this step consumes: the last one before it on its path
            before = [b for b in backwards if b.index < step.index and not exclusive(b, step)]
            if not before:
                continue
            back = before[-1]
            if not back.scaled:
                # ``if fp16: scaler.scale(loss).backward() else: loss.backward()``, then the step
                # under another ``if fp16:``: the step's arm is the scaled backward's path
                scaled = [b for b in before if b.scaled]
                if scaled and _same_flag_arm(ctx, it, step, scaled[-1]):
                    back = scaled[-1]
            if not back.scaled or _disabled(back.scaler):
                continue
            unscales = [e for e in it.of_kind(K.UNSCALE) if back.index < e.index < step.index]
            # a step more guarded than its scaled backward may be the plain path of a scaler
            # that is off there; not when the same path unscales by hand first
            # (``if update_grad: scaler.unscale_(opt); ...; opt.step()``)
            if not _no_more_conditional(it, step, back, windows=True) and not any(
                    not exclusive(u, step) and _no_more_conditional(it, step, u) for u in unscales) and \
                    not _same_flag_arm(ctx, it, step, back):
                continue
            unscaled = bool(unscales)
            if unscaled and not self._scaler_updated_after(it, step, back):
                continue  # unscaled by hand first (the inf/NaN check is then the author's)
            if any(back.index < e.index < step.index for e in it.of_kind(K.SCALER_STEP, K.SCALER_UPDATE)):
                continue  # another optimizer's scaler step in between: which gradients this one sees is unclear
            fix = None
            if back.scaler_key and step.own_key and back.func is step.func and not step.node.args:
                fix = Fix.safe(f"Use `{back.scaler_key}.step({step.own_key})`",
                               ctx.replace(step.node, f"{back.scaler_key}.step({step.own_key})"))
            scaled = ctx.code(back.node.func.value)
            if unscaled:
                why = (f"`{ctx.code(step.node)}` steps on gradients scaled by `{scaled}` and unscaled by hand, "
                       "but bypasses the scaler: inf/NaN steps are not skipped while `update()` goes on "
                       "adjusting the scale; use `scaler.step(opt)`")
            else:
                why = (f"`{ctx.code(step.node)}` steps on gradients scaled by `{scaled}`: they are never "
                       "unscaled and inf/NaN steps are not skipped; use `scaler.step(opt)`")
            self.report("OPT501", step.node, why, fix)

    def _scaler_updated_after(self, it: Iteration, step: Event, back: Event) -> bool:
        """After an unscale by hand, the step still bypasses the scaler when the pass goes on
        to ``scaler.update()`` (the dynamic scale is kept, so its inf/NaN skipping is relied on)
        and nothing in the pass checks the gradients for inf/NaN itself."""
        if not any(e.index > step.index and (e.scaler is back.scaler or e.scaler is None)
                   for e in it.of_kind(K.SCALER_UPDATE)):
            return False
        return not INF_NAN_CHECK.search(self.ctx.code(it.node))

    # -- OPT502 -------------------------------------------------------------------------
    def _update_missing(self) -> None:
        for func, events in self.model.scopes.items():
            groups: dict[int, list[Event]] = {}
            for e in events:
                if e.kind is K.SCALER_STEP and e.loops and not _disabled(e.scaler):
                    groups.setdefault(id(e.loops[0]), []).append(e)
            for steps in groups.values():
                outer = steps[0].loops[0]
                scaler = steps[0].scaler
                in_loop = [e for e in events if e.loops and e.loops[0] is outer]
                if not any(e.kind is K.BACKWARD for e in in_loop):
                    continue  # ``for opt in optimizers: scaler.step(opt)``: the caller updates
                updates = [e for e in in_loop
                           if e.kind is K.SCALER_UPDATE and (e.scaler is scaler or e.scaler is None)]
                # ``if fp16: ...step(); update() else: ...step()``: an update in another arm
                # of the step's conditional never runs after it
                steps = [s for s in steps if not any(not exclusive(u, s) for u in updates)]
                if not steps:
                    continue
                opaque = [o for o in self.model.opaque_of(func) if o.loops and o.loops[0] is outer]
                if any(o.touches_all or scaler in o.touches or scaler.name in o.touch_keys or
                       (o.self_call and scaler.name.startswith("self.")) for o in opaque):
                    continue
                self._report_update_missing(steps[-1], "in the loop")
        self._update_missing_in_owner()

    def _update_missing_in_owner(self) -> None:
        """A method that backpropagates and steps through its class's own scaler (a project
        "loss scaler" called once per iteration, ``loss_scaler(loss, optimizer)``) while no code
        of the file ever updates that scaler: no caller can, short of reaching into the object."""
        for it in self.model.iterations:
            if it.kind != "function":
                continue
            steps = [e for e in it.of_kind(K.SCALER_STEP)
                     if not e.loops and e.scaler is not None and not e.scaler.by_name
                     and e.scaler.name.startswith("self.") and e.scaler_key == e.scaler.name
                     and not _disabled(e.scaler)]
            if not steps or not any(b.scaled and b.scaler is steps[0].scaler for b in it.of_kind(K.BACKWARD)):
                continue
            attr = steps[0].scaler.name.split(".", 1)[1]
            if f"{attr}.update(" in self.ctx.source:
                continue  # updated somewhere (another method, a caller reaching in)
            if any(o.self_call or o.touches_all for o in it.opaque):
                continue
            self._report_update_missing(steps[-1], "in the method")

    def _report_update_missing(self, last: Event, where: str) -> None:
        fix = None
        if last.direct and last.scaler_key and isinstance(last.own_stmt, cst.SimpleStatementLine):
            fix = Fix.safe(f"Insert `{last.scaler_key}.update()` after the last scaler step",
                           moves.insert_after(self.ctx, last.own_stmt, f"{last.scaler_key}.update()"))
        self.report("OPT502", last.node,
                    f"`{self.ctx.code(last.node)}` with no `scaler.update()` {where}: the loss scale never "
                    "adapts and after an inf/NaN step it stays at the overflowing value; call "
                    "`scaler.update()` after `scaler.step`", fix)

    # -- OPT503 -------------------------------------------------------------------------
    def _clip_without_unscale(self, it: Iteration, mkeys) -> None:
        scaled = [b for b in it.of_kind(K.BACKWARD) if b.scaled and not _disabled(b.scaler)]
        if not scaled:
            return
        scaler_steps = it.of_kind(K.SCALER_STEP)
        for clip in it.of_kind(K.CLIP):
            if clip.accelerate:
                continue
            backs = [b for b in scaled if b.index < clip.index and not exclusive(b, clip)]
            # the step that consumes the clipped gradient: on the clip's path with no backward in
            # between (an epoch loop calling a train pass twice holds the clip of one batch loop
            # and the step of the next, after that pass's own backward)
            all_backs = it.of_kind(K.BACKWARD)
            steps = [s for s in scaler_steps if s.index > clip.index and not exclusive(s, clip)
                     and not any(clip.index < b.index < s.index and not exclusive(b, s) for b in all_backs)]
            if not backs or not steps:
                continue
            # (an unscale of another optimizer, a GAN's discriminator's before the generator's
            # backward, leaves these gradients scaled)
            if any(e.kind is K.UNSCALE and e.index < clip.index and not exclusive(e, clip) and
                   same_object(e.target, steps[0].target) is not False for e in it.events):
                continue
            # only a call between the scaled backward and the clip can have unscaled its
            # gradients (``self.world_model()`` before the backward cannot)
            if any(backs[-1].index < o.index < clip.index and (o.touches_all or o.self_call or
                                                                any(t is backs[-1].scaler for t in o.touches))
                   for o in it.opaque):
                continue
            step = steps[0]
            fix = None
            opts = {s.own_key for s in scaler_steps}
            if clip.direct and step.direct and len(opts) == 1 and step.own_key and step.scaler_key and \
                    not drawn_from_container(step.target) and \
                    isinstance(clip.own_stmt, cst.SimpleStatementLine):
                text = f"{step.scaler_key}.unscale_({step.own_key})"
                fix = Fix.safe(f"Insert `{text}` before the clip", moves.insert_before(self.ctx, clip.own_stmt, text))
            self.report("OPT503", clip.node,
                        "gradient clipping on scaled gradients (after `scaler.scale(loss).backward()`, before "
                        "`scaler.step`): the threshold is compared with the scaled norm; call "
                        "`scaler.unscale_(opt)` before clipping", fix)

    # -- OPT504 -------------------------------------------------------------------------
    def _step_without_scale(self, it: Iteration, mkeys) -> None:
        if any(e.kind is K.SCALE for e in it.events):
            return
        backwards = it.of_kind(K.BACKWARD)
        for step in it.of_kind(K.SCALER_STEP):
            if _disabled(step.scaler):
                continue
            before = [b for b in backwards if b.index < step.index]
            if not before or any(b.scaled or b.accelerate for b in before):
                continue
            if not any(it.always(b) for b in before) or not it.always(step):
                continue
            if any(o.index < step.index and (o.touches_all or touches(o, step.target, mkeys) or
                                              step.scaler in o.touches or
                                              (step.scaler_key or "") in o.touch_keys or
                                              (o.self_call and (step.scaler_key or "").startswith("self.")))
                   for o in it.opaque):
                # a call given the scaler (``scaled = amp_utils.scale(loss, scaler)``) may scale the loss
                continue
            self.report("OPT504", step.node,
                        f"`{self.ctx.code(step.node)}` after a backward that was not through `scaler.scale(loss)`: "
                        "the gradients were never scaled, so GradScaler unscales them anyway (dividing by the "
                        "scale); backpropagate `scaler.scale(loss)`")

    # -- OPT505 -------------------------------------------------------------------------
    def _unscale_per_micro_batch(self, it: Iteration) -> None:
        """``unscale_`` on every micro-batch while the update that resets it runs once per
        accumulation window: under a window ``if`` the unscale is not under, or after an inner
        loop of micro-batches that holds the unscale."""
        if it.kind != "loop":
            return
        every_update = [u for u in it.of_kind(K.SCALER_UPDATE) if not _disabled(u.scaler)]
        updates = [u for u in every_update if not it.nested(u)]
        for unscale in it.of_kind(K.UNSCALE):
            if unscale.scaler is None or _disabled(unscale.scaler):
                continue
            mine = [u for u in updates if u.scaler is unscale.scaler]
            if not mine:
                continue  # no update in this loop: OPT502's concern, or the caller's
            if any(u.index > unscale.index and not exclusive(u, unscale) and
                   (it.always(u) or set(it.conditions(u)) <= set(it.conditions(unscale)))
                   for u in mine if not it.nested(unscale)):
                continue  # an update follows every unscale on its path
            backwards = [b for b in it.of_kind(K.BACKWARD) if b.index < unscale.index and b.scaled]
            if it.nested(unscale):
                inner = unscale.loops[it.depth + 1]
                if any(u.scaler is unscale.scaler and u.loops[it.depth + 1:it.depth + 2] == (inner,)
                       for u in every_update):
                    continue  # the inner loop updates too: it is the training loop
                if not any(b.loops[it.depth + 1:it.depth + 2] == (inner,) for b in backwards):
                    continue  # ``for opt in optimizers: scaler.unscale_(opt)``: once each
                window = inner
            else:
                window = next((window_condition(it, u) for u in mine if window_condition(it, u) is not None), None)
                if window is None or any(br.node is window for br in it.conditions(unscale)):
                    continue
                if not any(it.always(b) for b in backwards):
                    continue  # the backward is under the window too: one micro-batch per window
            if any(o.touches_all or unscale.scaler in o.touches or
                   (unscale.scaler_key or "") in o.touch_keys for o in it.opaque if o.index > unscale.index):
                continue  # a call handed the scaler may update it
            fix = None
            if window is not None and isinstance(window, cst.If) and unscale.direct and \
                    isinstance(unscale.own_stmt, cst.SimpleStatementLine):
                fix = self._move_under_window(it, unscale, window)
            self.report("OPT505", unscale.node,
                        f"`{self.ctx.code(unscale.node)}` runs on every micro-batch, "
                        "but `scaler.update()` runs once per "
                        "accumulation window: the second micro-batch raises RuntimeError (\"unscale_() has already "
                        "been called on this optimizer since the last update()\"); unscale (and clip) only "
                        "before the step, under its condition", fix)

    def _accelerate_clip_per_micro_batch(self, it: Iteration) -> None:
        """``accelerator.clip_grad_norm_(...)`` on every micro-batch of ``with
        accelerator.accumulate(model):``, with an Accelerator built for fp16 (``mixed_precision=``
        not "no"/"bf16") and gradient accumulation: Accelerate unscales the GradScaler's
        gradients for the clip, but its scaler steps and updates only on a window's last
        micro-batch, so the second micro-batch raises. ``if accelerator.sync_gradients:`` is
        the documented guard."""
        if it.kind != "loop":
            return
        for clip in it.of_kind(K.CLIP):
            if not clip.accelerate or not clip.accumulate or it.nested(clip) or \
                    not isinstance(clip.node, cst.Call) or not isinstance(clip.node.func, cst.Attribute):
                continue
            if any(isinstance(br.node, cst.If) and accumulation_test(br.node.test) for br in clip.branches):
                continue
            acc = self.model.bindings.resolve(clip.func, clip.node.func.value)
            if acc is None or acc.call is None or not _fp16_accumulating(acc.call):
                continue
            self.report("OPT505", clip.node,
                        f"`{self.ctx.code(clip.node)}` runs on every micro-batch of `accelerator.accumulate`: in "
                        "fp16 it unscales the GradScaler's gradients, which Accelerate steps and updates only on "
                        "the window's last micro-batch, so the second micro-batch raises RuntimeError "
                        "(\"unscale_() has already been called on this optimizer since the last update()\"); "
                        "clip under `if accelerator.sync_gradients:`")

    def _move_under_window(self, it: Iteration, unscale: Event, window: cst.If):
        """Move the unscale, and the clips right after it, to the top of the window's body."""
        ctx = self.ctx
        body = getattr(window.body, "body", None)
        block = moves.block_of(ctx, unscale.own_stmt)
        if not body or block is None:
            return None
        stmts = list(block.body)
        at = next((i for i, s in enumerate(stmts) if s is unscale.own_stmt), None)
        if at is None:
            return None
        moved = [unscale.own_stmt]
        clips = {id(c.own_stmt) for c in it.of_kind(K.CLIP) if c.direct}
        for stmt in stmts[at + 1:]:
            if id(stmt) not in clips:
                break
            moved.append(stmt)
        if len(moved) == len(stmts) or not all(moves.movable(ctx, s) for s in moved):
            return None
        return Fix.unsafe("Move the unscale (and its clip) under the step's condition",
                          *moves.move_all_before(ctx, moved, body[0]))


def _fp16_accumulating(call: cst.Call) -> bool:
    """``Accelerator(mixed_precision=..., gradient_accumulation_steps=...)`` that may run fp16
    (the keyword given, not "no" or "bf16") with windows longer than one micro-batch."""
    kw = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    precision, steps = kw.get("mixed_precision"), kw.get("gradient_accumulation_steps")
    if precision is None or steps is None:
        return False
    if isinstance(precision, cst.SimpleString) and precision.evaluated_value in ("no", "bf16"):
        return False
    return not (isinstance(steps, cst.Integer) and steps.value == "1")
