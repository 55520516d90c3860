"""OPT601-OPT604: training-loop hygiene.

- OPT601: a backpropagated loss summed into a running total that outlives the iteration
  (each iteration's graph stays alive);
- OPT602: a backward whose loss is computed under ``no_grad``/``inference_mode``;
- OPT603: ``model.eval()`` in the epoch loop with no ``model.train()`` anywhere in it;
- OPT604: ``module.forward(x)`` on a provable ``nn.Module`` where skipping ``__call__`` does
  harm (``analysis/forward_harm.py``).

OPT601, OPT602 and OPT604 read the syntax tree directly (``analysis.schedules`` style:
small LibCST walks); OPT603 reads the shared training model's TRAIN_MODE / EVAL_MODE events.
"""

from __future__ import annotations

import functools
import re

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import stores, values_assigned
from optimlint.analysis import forward_harm
from optimlint.analysis import moves
from optimlint.analysis import schedules as S
from optimlint.analysis import symbols
from optimlint.analysis.bindings import key_of, updated_modules
from optimlint.analysis.call_args import named_params, param_names
from optimlint.analysis.construction_args import enclosing_scope
from optimlint.analysis.events import EventKind
from optimlint.analysis.expected_errors import expects_error
from optimlint.analysis.grad_mode import grad_mode
from optimlint.analysis.iteration import Event, Iteration, covered, module_covers
from optimlint.analysis.loss_flow import computed_through
from optimlint.analysis.mode_choice import chosen_eval, train_whenever_training
from optimlint.analysis.mode_flags import switched_off
from optimlint.analysis.mode_summary import library_function_call, may_restore_training_call, mode_neutral_call
from optimlint.analysis.module_aliases import mode_key
from optimlint.checks.base import Check
from optimlint.diagnostics import Fix
from optimlint.vocabulary import MODULE_BASES, MODULE_SELF_RETURNING, STATE_WRITING_CALLEE, torch_module_class

K = EventKind

# Held modules kept in eval mode on purpose (a teacher, an EMA copy, a target network).
_KEPT_IN_EVAL = re.compile(r"teacher|ema|target|frozen|momentum|reference|ref_|critic_old|old_", re.I)

# Methods of a module that never change its training mode.
_MODULE_METHODS = frozenset({"forward", "parameters", "named_parameters", "state_dict", "load_state_dict",
                             "zero_grad", "modules", "children", "named_modules", "buffers", "register_buffer",
                             "generate", "encode", "decode"})
# Words in a method's name that say it may train, evaluate or set a mode (``model.fit()``,
# ``model.run_epoch()``, ``model.set_mode("train")``, ``net.prepare_for_eval()``).
_MODE_WORDS = re.compile(r"train|fit|epoch|mode|eval|run|loop|learn|phase|restore|prepare|infer|test|valid", re.I)


def no_grad_region(ctx, node: cst.CSTNode) -> cst.CSTNode | None:
    """The With statement / FunctionDef whose grad mode ``node`` runs in, when it disables grad."""
    parents = ctx.parents
    cur = parents.get(node)
    while cur is not None:
        if isinstance(cur, cst.With):
            modes = [grad_mode(ctx.qualify, item.item) for item in cur.items]
            if True in modes:
                return None
            if False in modes:
                return cur
        elif isinstance(cur, cst.FunctionDef):
            modes = [grad_mode(ctx.qualify, d.decorator) for d in cur.decorators]
            if True in modes:
                return None
            return cur if False in modes else None
        elif isinstance(cur, (cst.Lambda, cst.ClassDef)):
            return None
        cur = parents.get(cur)
    return None


def _assigns_in(region: cst.CSTNode, key: str, before_row: int, ctx) -> bool:
    """``key`` is assigned in ``region`` (not in a nested def) at or before ``before_row``."""
    return any(st.kind in ("=", "unpack", ":", "+=") and ctx.start(st.node).row <= before_row
               for st in stores(region, key, nested_functions=False))


def _loss_of_backward(ev: Event) -> cst.BaseExpression | None:
    """The tensor a backward event backpropagates."""
    call = ev.node
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
        return None
    if ev.accelerate:  # accelerator.backward(loss) / self.manual_backward(loss)
        return call.args[0].value if call.args else None
    return call.func.value


class HygieneCheck(Check):
    codes = ("OPT601", "OPT602", "OPT603", "OPT604")
    # OPT601-603 need a backward (OPT603 a training iteration after the eval()); OPT604 a
    # ``.forward(`` on something other than ``self``, ``super()`` or a call's result.
    needles = (b"backward(", b".forward(")
    requires = ((rb"backward\((?<!def backward\()", rb"\.forward\((?<!\)\.forward\()(?<!\bself\.forward\()"),)

    def check(self) -> None:
        src = self.ctx.source
        if "backward" in src:
            self._no_grad_backward()
            _RunningTotals(self.ctx, self.report).run()  # OPT601
            if ".eval(" in src or ".train(" in src:
                self._eval_mode()
        if ".forward(" in src:
            _ForwardCalls(self.ctx, self.report).run()

    # -- OPT602 ---------------------------------------------------------------------------
    def _no_grad_backward(self) -> None:
        ctx = self.ctx
        for ev in self.model.all_events():
            if ev.kind is not K.BACKWARD or not ev.direct:
                continue
            region = no_grad_region(ctx, ev.node)
            if region is None:
                continue
            loss = _loss_of_backward(ev)
            if loss is None or expects_error(ctx, ev.node):
                continue
            row = ctx.start(ev.node).row
            k = key_of(loss)
            if k is not None:
                if not _assigns_in(region, k, row, ctx):
                    continue  # computed with grad outside the region: the backward works
            elif not isinstance(loss, (cst.Call, cst.BinaryOperation)):
                continue
            what = "`torch.no_grad()`/`torch.inference_mode()`"
            self.report("OPT602", ev.node,
                        f"`{ctx.code(ev.node)}` runs under {what}: the loss computed there has no graph and the "
                        "backward raises RuntimeError; compute the loss and run the backward outside it")

    # -- OPT603 ---------------------------------------------------------------------------
    def _eval_mode(self) -> None:
        """An ``.eval()`` in a loop that trains the module on every pass (an epoch loop, or a
        step loop ``for i in tqdm(range(steps))`` that evaluates every few steps) with nothing
        that surely puts it back in training mode before the next pass: a ``.train()`` counts
        when it runs on every pass or under the same conditions as the ``.eval()`` (an
        evaluation helper that restores ``.train()`` on some passes does not cover another
        ``.eval()`` that runs on all of them)."""
        ctx = self.ctx
        for it in self.model.iterations:
            if it.kind != "loop":
                continue
            epoch_loop = S.is_epoch_loop(ctx, it.node)
            backwards = [e for e in it.of_kind(K.BACKWARD) if not e.no_grad]
            if not backwards or any(e.kind is K.STEP_CLOSURE for e in it.events):
                continue
            if not epoch_loop and not any(it.always(b) or not it.conditions(b) for b in backwards) and \
                    not covered(it, backwards, ()):
                continue  # a step loop whose backward runs only on some passes (not one in each arm)
            steps = [e for e in it.events if e.kind in (K.STEP, K.SCALER_STEP) and e.target is not None]

            def mode_of(e: Event, it=it) -> str | None:
                """The module ``e`` switches, one spelling for its aliases (None: unknown)."""
                k = mode_key(ctx, it.func, e.module)
                return k if e.aliased else (k or e.module)

            for ev in it.of_kind(K.EVAL_MODE):
                m = mode_of(ev)
                if not m or m == "self":
                    continue
                if any(e.kind is K.EVAL_MODE and mode_of(e) == m and _evaluates_before_training(e, backwards)
                       for e in it.events):
                    continue  # the training helper itself trains `m` in eval mode (a linear probe on frozen BN)
                def same(e: Event, m=m) -> bool:
                    k = mode_of(e)
                    return k is not None and (module_covers(k, m) or module_covers(m, k))

                if chosen_eval(ctx, ev, it.of_kind(K.TRAIN_MODE), same):
                    continue  # ``if finetune: model.train() elif freeze: model.eval()``: a mode chosen
                canon = functools.partial(mode_key, ctx, it.func)
                if not self._trained(ctx, it, m, steps, canon, self._closures(it, backwards)) or self._last_epoch_only(ctx, it, ev) or \
                        switched_off(ctx, it, ev):
                    continue
                trains = [e for e in it.of_kind(K.TRAIN_MODE)
                          if mode_of(e) is None or module_covers(mode_of(e), m) or module_covers(m, mode_of(e))]
                # (the passes that train ``m``: those of the steps of its optimizers, where known;
                # ``if train_disc: D.train(); ...; scaler.step(d_opt)`` restores for them)
                own = [s for s in steps if any(module_covers(m, canon(x) or x) or module_covers(canon(x) or x, m)
                                               for x in s.target.modules or ())]
                if trains and _restores_for(ctx, it, trains, ev, own or backwards):
                    continue
                if any(train_whenever_training(ctx, t, ev, it.of_kind(K.EVAL_MODE), same) for t in trains):
                    continue
                if self._maybe_sets_train(ctx, it, m, canon):
                    continue
                where = "epoch loop" if epoch_loop else "training loop"
                later = "every later epoch trains" if epoch_loop else "every later pass trains"
                fix = None
                body = getattr(it.node, "body", None)
                if isinstance(body, cst.IndentedBlock) and body.body:
                    fix = Fix.unsafe(f"Insert `{m}.train()` at the top of the {where}",
                                     moves.insert_before(ctx, body.body[0], f"{m}.train()"))
                self.report("OPT603", ev.node,
                            f"`{ctx.code(ev.node)}` runs in the {where} but nothing puts `{m}` back in training "
                            f"mode: {later} with dropout and batch norm in eval mode; call "
                            f"`{m}.train()` at the top of the {where}", fix)

    def _closures(self, it: Iteration, backwards: list[Event]) -> list:
        """The functions nested in the loop's function whose own bodies run a backward of ``it``."""
        out = []
        for b in backwards:
            f, parents = b.func, self.model.parent_func
            inside = f is not it.func and it.func is not None
            cur = parents.get(f) if inside else None
            while cur is not None and cur is not it.func:
                cur = parents.get(cur)
            if inside and cur is it.func and f not in out:
                out.append(f)
        return out

    @staticmethod
    def _last_epoch_only(ctx, it: Iteration, ev: Event) -> bool:
        """``if epoch == epochs - 1: model.eval()`` (or ``if step == len(batches) - 1:`` of
        ``for step, (x, y) in enumerate(batches)``): no training follows it."""
        target = it.node.target if isinstance(it.node, cst.For) else None
        names = {n.value for n in _walk.nodes_of(target, cst.Name)} if target is not None else set()
        for br in it.conditions(ev):
            test = getattr(br.node, "test", None)
            if br.arm == "body" and isinstance(test, cst.Comparison) and names and any(
                    isinstance(c.operator, cst.Equal) for c in test.comparisons):
                text = ctx.code(test)
                if any(n.value in names for n in _walk.nodes_of(test, cst.Name)) and "%" not in text:
                    return True
        return False

    @staticmethod
    def _trained(ctx, it: Iteration, m: str, steps: list[Event], canon, closures=()) -> bool:
        """``m``'s parameters are updated by an optimizer stepped in ``it`` (keys compared as
        ``canon`` spells them: one name for a module and its aliases; ``closures``: functions
        nested in the loop's function that run its backwards, reading its names)."""
        unknown = False
        for s in steps:
            call = s.target.call
            updated = updated_modules(s.target, (enclosing_scope(ctx, call) or ctx.module)
                                      if call is not None and call in ctx.parents else None)
            mods = [canon(x) or x for x in updated or ()]
            if mods and any(module_covers(m, x) or module_covers(x, m) for x in mods):
                return True
            unknown = unknown or updated is None
        # ``self.model`` of a trainer handed the model and the optimizer by its constructor
        held = m.startswith("self.") and m.count(".") == 1 and not _KEPT_IN_EVAL.search(m)
        if not unknown or ("." in m or m.startswith("self")) and not held:
            return False
        # ``def train(model, loader, optimizer)``: the optimizer's parameters are unknown; the
        # model is trained when it runs with grad in the loop and is never frozen in the file.
        if any(w in ctx.source for w in (f"{m}.requires_grad_(", f"freeze({m}", f"{m}.freeze(")):
            return False
        if held and any(w in ctx.source.replace(" ", "") for w in ("requires_grad=False", "requires_grad_(False)")):
            return False  # something of the class is frozen: maybe this module
        if any(e.kind in (K.EVAL_MODE, K.TRAIN_MODE) and (canon(e.module) or e.module) != m for e in it.events):
            # several models (teacher / student, GAN): which one trains is unknown, unless the
            # loss backpropagated comes from ``m``'s forward with grad and nothing in the file
            # freezes parameters (``imgs = encoder(imgs); scores = decoder(imgs); loss = ...``)
            frozen = any(w in ctx.source.replace(" ", "") for w in ("requires_grad=False", "requires_grad_(False)"))
            return not frozen and not _KEPT_IN_EVAL.search(m) and _loss_computed_with(ctx, it, m)
        called = False

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal called
                f = node.func
                if canon(key_of(f)) == m or (isinstance(f, cst.Attribute) and f.attr.value == "forward"
                                              and canon(key_of(f.value)) == m):
                    if no_grad_region(ctx, node) is None:
                        called = True

            def visit_FunctionDef(self, node) -> bool:
                return False

        _walk.visit(it.node, V())
        for closure in closures:  # ``def run_epoch(phase): ... model(x) ...`` nested in the loop's function
            if m not in _bound_in(closure):
                _walk.visit(closure.body, V())
        return called or _handed_to_training_helper(it, m, canon) or _run_by_helper(ctx, it, m) or \
            _loss_computed_with(ctx, it, m)

    @staticmethod
    def _maybe_sets_train(ctx, it: Iteration, m: str, canon) -> bool:
        """An opaque call in the loop is given ``m`` (or ``self``) and may call ``.train()``."""

        def handed(value: cst.BaseExpression) -> bool:
            k = key_of(value)
            return k is not None and module_covers(canon(k) or k, m)

        for o in it.opaque:
            if o.touches_all:
                return True
            f = o.node.func if isinstance(o.node, cst.Call) else None
            if STATE_WRITING_CALLEE.match(symbols.callee_name(f)):
                continue  # ``save_checkpoint(model, ...)`` writes state, it does not switch modes
            keys = set(o.touch_keys)
            if isinstance(f, cst.Attribute) and key_of(f.value) in keys and (
                    f.attr.value in _MODULE_METHODS or _mode_silent_method(ctx, f)):
                if not any(key_of(a.value) == key_of(f.value) for a in o.node.args):
                    keys.discard(key_of(f.value))
            if any(module_covers(k, m) or module_covers(m, k) for k in {canon(k) or k for k in keys}):
                if isinstance(o.node, cst.Call) and (mode_neutral_call(ctx, o.node) or
                                                     may_restore_training_call(ctx, o.node, handed) is False):
                    continue  # a project helper that only runs the model's forward, or only evaluates it
                if isinstance(o.node, cst.Call) and no_grad_region(ctx, o.node) is not None and \
                        library_function_call(ctx, o.node):
                    continue  # a library's inference under no_grad (MONAI's sliding_window_inference(x, roi, n, model))
                return True
            if o.self_call and m.startswith("self"):
                f = o.node.func if isinstance(o.node, cst.Call) else None
                if not (isinstance(f, cst.Attribute) and isinstance(f.value, cst.Attribute)):
                    return True  # ``self.run_epoch()`` (not ``self.model(x)``)
        # ``model.train(flag)`` with a non-literal flag is no event of the model; a function of
        # another project file handed ``m`` that may switch it back (``validate(model, loader)``
        # ending with ``model.train()``) is no event either: the training model drops calls that
        # never touch an optimizer.
        loop = it.node
        found = False

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value == "train" and node.args:
                    found = found or not _literal_mode_flag(node)
                elif may_restore_training_call(ctx, node, handed):
                    found = True

            def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
                return False

        _walk.visit(loop, V())
        return found


def _mode_silent_method(ctx, f: cst.Attribute) -> bool:
    """``model.base_model.update_and_allocate(step)``, ``model.albert.set_threshold(t)``: a
    method of a module (not of ``self``) that no class of this file defines, whose name says
    nothing of training, evaluating or modes: a library model's bookkeeping, not a switch back
    to training mode."""
    root = key_of(f.value) or ""
    name = f.attr.value
    return bool(root) and root.split(".", 1)[0] != "self" and not _MODE_WORDS.search(name) and \
        f"def {name}(" not in ctx.source


def _literal_mode_flag(call: cst.Call) -> bool:
    """``model.train(True)`` / ``model.train(False)``: a mode the training model records as an
    event (``train(False)`` is an evaluation), not an unknown flag that may restore training."""
    arg = call.args[0] if len(call.args) == 1 else None
    return arg is not None and (arg.keyword is None or arg.keyword.value == "mode") and \
        isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False")


def _bound_in(func: cst.FunctionDef) -> set[str]:
    """Names a function binds itself (its parameters and plain assignments)."""
    return param_names(func) | {t.target.value for a in _walk.nodes_of(func.body, (cst.Assign,)) for t in a.targets
                    if isinstance(t.target, cst.Name)}


def _evaluates_before_training(evaluation: Event, backwards: list[Event]) -> bool:
    """``evaluation`` runs in a helper of the loop that backpropagates after it in the same
    call: ``def train_epoch(...): model.eval(); for x in loader: ...backward()`` trains in
    eval mode on purpose (a linear probe on a frozen backbone). A helper whose ``.eval()``
    follows its last backward (``def train(): ...; optimizer.step(); model.eval(); <validate>``,
    called once per epoch) is evaluating, and its next call trains in eval mode unless
    something restores training mode."""
    if not evaluation.via:
        return False
    call = evaluation.via[0]
    return any(b.via and b.via[0] is call and b.index > evaluation.index for b in backwards)


def _handed_to_training_helper(it: Iteration, m: str, canon) -> bool:
    """``train_one_epoch(loader, model, criterion, optimizer)`` in the loop hands ``m`` to
    the helper whose body runs the backward and the step: ``m`` is what it trains."""
    for e in it.events:
        if e.kind in (K.BACKWARD, K.STEP) and e.via:
            call = e.via[0]
            if any(canon(key_of(a.value)) == m for a in call.args):
                return True
    return False


def _loss_computed_with(ctx, it: Iteration, m: str) -> bool:
    """A loss backpropagated in the loop is computed, with grad, by ``m``'s forward or by a call
    handed ``m`` (``loss = calc_loss_batch(x, y, model, device); loss.backward()``), in the
    loop's function or in a helper it hands ``m`` to (``train(loader, encoder=encoder, ...)``):
    ``m`` is what it trains."""
    for e in it.of_kind(K.BACKWARD):
        f = e.node.func if isinstance(e.node, cst.Call) else None
        if e.no_grad or not (isinstance(f, cst.Attribute) and f.attr.value == "backward"):
            continue
        if not e.via and e.func is it.func:
            scope, name = (it.func if it.func is not None else ctx.module), m
        elif len(e.via) == 1 and isinstance(e.func, cst.FunctionDef):
            scope, name = e.func, _parameter_receiving(e.func, e.via[0], m)
        else:
            continue
        if name and computed_through(scope, f.value, frozenset({name, *_methods_running(ctx, scope, name)}),
                                     handed=lambda call: no_grad_region(ctx, call) is None):
            return True
    return False


def _methods_running(ctx, func: cst.CSTNode, key: str) -> set[str]:
    """``self.<method>`` for the methods of ``func``'s class whose bodies run ``key``'s forward
    with grad (``output, loss = self._forward_pass(input, target)`` where ``_forward_pass``
    calls ``self.model(input)``): a loss such a method returns is computed by ``key``."""
    if not key.startswith("self.") or not isinstance(func, cst.FunctionDef):
        return set()
    klass = ctx.parents.get(ctx.parents.get(func))  # FunctionDef -> IndentedBlock -> ClassDef
    if not isinstance(klass, cst.ClassDef):
        return set()
    out = set()
    for method in klass.body.body:
        if not isinstance(method, cst.FunctionDef) or method is func:
            continue
        for call in _walk.nodes_of(method.body, cst.Call):
            f = call.func
            target = f.value if isinstance(f, cst.Attribute) and f.attr.value == "forward" else f
            if key_of(target) == key and no_grad_region(ctx, call) is None:
                out.add("self." + method.name.value)
                break
    return out


def _parameter_receiving(fn: cst.FunctionDef, call: cst.Call, key: str) -> str | None:
    """The parameter of ``fn`` that ``call`` hands ``key`` (by position or keyword)."""
    names = [p.name.value for p in fn.params.posonly_params + fn.params.params]
    for i, a in enumerate(call.args):
        if a.star or key_of(a.value) != key:
            continue
        if a.keyword is not None:
            return a.keyword.value
        return names[i] if i < len(names) else None
    return None


def _is_self_call(call: cst.Call) -> bool:
    f = call.func
    return isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self"


def _run_by_helper(ctx, it: Iteration, m: str) -> bool:
    """``m`` runs with grad in the function that runs the loop's backward, where that name
    is the loop's own module: ``self.model`` in a method reached through calls on ``self``
    only (``self._run_one_epoch(epoch)``: ``self`` there is the loop's object), or a global
    ``model`` in a function of this file called by name from a loop of the module body that
    does not bind it (``for epoch in ...: train()`` of a script whose ``train()`` reads the
    global ``model``). Then ``m`` is what that backward trains."""
    owned = m.startswith("self.") and m.count(".") == 1
    if not owned and (it.func is not None or not m.isidentifier()):
        return False
    body = getattr(ctx.module, "body", ())
    for e in it.events:
        if e.kind is not K.BACKWARD or e.no_grad or not e.via or not isinstance(e.func, cst.FunctionDef):
            continue
        if owned and not all(map(_is_self_call, e.via)):
            continue
        if not owned and (len(e.via) != 1 or not isinstance(e.via[0].func, cst.Name) or
                          not any(st is e.func for st in body) or m in _bound_in(e.func)):
            continue
        for call in _walk.nodes_of(e.func.body, cst.Call):
            f = call.func
            if (key_of(f) == m or isinstance(f, cst.Attribute) and f.attr.value == "forward" and key_of(f.value) == m) \
                    and no_grad_region(ctx, call) is None:
                return True
    return False


def _restores_for(ctx, it: Iteration, trains: list[Event], evaluation: Event, backwards: list[Event]) -> bool:
    """``trains`` put the module back in training mode whenever ``evaluation`` ran and training
    follows: one runs on every pass, or only under conditions ``evaluation`` is under too, or
    only under conditions every backward (``backwards``: or every step of the module's optimizers) is under too (``if epoch > 0: model.train(); <batch
    loop>``: no pass trains without it; ``if phase == "train": model.train()`` and, later in the
    pass, ``if phase == "train": loss.backward()``: one test written twice is one condition), or
    the two arms of one ``if``/``else`` each hold one (``if last: with timer(): train(...) else:
    train(...)``)."""

    def cond(b) -> tuple:
        if isinstance(b.node, cst.If):
            return ctx.code(b.node.test), b.arm
        return id(b.node), b.arm

    shared = {cond(b) for b in it.conditions(evaluation)}
    trained_under = [{cond(b) for b in it.conditions(back)} for back in backwards]
    arms: dict[int, set[str]] = {}
    for train in trains:
        extra = [b for b in it.conditions(train) if cond(b) not in shared and not _saved_mode(ctx, train, b)]
        if not extra or all(all(cond(b) in under for b in extra) for under in trained_under):
            return True
        if len(extra) == 1 and isinstance(extra[0].node, cst.If):
            arms.setdefault(id(extra[0].node), set()).add(extra[0].arm)
    return any(arms_seen >= {"body", "else"} for arms_seen in arms.values())


def _saved_mode(ctx, train: Event, branch) -> bool:
    """``branch`` is ``if was_training:`` around the restore, the flag read off a module's
    ``.training`` in the restore's function before it switched to eval mode: called from a
    training loop, the module was training, so the restore runs."""
    test = branch.node.test if branch.arm == "body" and isinstance(branch.node, cst.If) else None
    key = key_of(test) if isinstance(test, (cst.Name, cst.Attribute)) else None
    if key is None:
        return False
    scope = train.func if train.func is not None else ctx.module
    values = values_assigned(scope, key, nested_functions=False)
    return bool(values) and all(isinstance(v, cst.Attribute) and v.attr.value == "training" for v in values)


def _assigned_pairs(node: cst.Assign):
    """``(target, value)`` of each name ``node`` assigns: ``a = b = 0`` gives both,
    ``loss_sum, acc = 0, 0`` pairs the tuple's elements (the whole value when unpaired)."""
    for t in node.targets:
        target, value = t.target, node.value
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) and \
                len(target.elements) == len(value.elements) and \
                not any(isinstance(e, (cst.StarredElement,)) for e in (*target.elements, *value.elements)):
            yield from ((a.value, b.value) for a, b in zip(target.elements, value.elements))
        else:
            yield target, value


class _RunningTotals:
    """OPT601: ``total += loss`` where ``loss`` is backpropagated in the same loop."""

    def __init__(self, ctx, report) -> None:
        self.ctx = ctx
        self.report = report

    def run(self) -> None:
        ctx = self.ctx
        checker = self

        class V(cst.CSTVisitor):
            def visit_AugAssign(self, node: cst.AugAssign) -> None:
                if isinstance(node.operator, cst.AddAssign):
                    checker.check(node, node.target, node.value)

            def visit_Assign(self, node: cst.Assign) -> None:
                # ``total = total + loss``
                v = node.value
                if len(node.targets) == 1 and isinstance(v, cst.BinaryOperation) and \
                        isinstance(v.operator, cst.Add) and key_of(v.left) is not None and \
                        key_of(v.left) == key_of(node.targets[0].target):
                    checker.check(node, node.targets[0].target, v.right)

        _walk.visit(ctx.module, V())

    def _loss_name(self, value: cst.BaseExpression) -> tuple[cst.Name, cst.BaseExpression] | tuple[None, None]:
        """The loss's name in the added value, and the expression that should be detached:
        ``loss``, ``loss * n``, or an element ``loss[0]`` (indexing a tensor keeps its graph;
        PyTorch 0.3 code summed ``loss.data[0]``)."""
        name = _name_or_element(value)
        if name is not None:
            return name, value
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Multiply, cst.Divide)):
            for side in (value.left, value.right):
                name = _name_or_element(side)
                if name is not None:
                    other = value.right if side is value.left else value.left
                    if not isinstance(other, cst.Name) or other.value != name.value:
                        return name, side
        return None, None

    def check(self, aug: cst.CSTNode, target_expr: cst.BaseExpression, value: cst.BaseExpression) -> None:
        ctx = self.ctx
        name, added = self._loss_name(value)
        target = key_of(target_expr)
        # ``loss_hist[epoch] += loss``: a slot of a list, dict or tensor of totals kept past the loop
        holder = key_of(target_expr.value) if isinstance(target_expr, cst.Subscript) else None
        if name is None or (target is None and holder is None) or name.value in (target, holder) or \
                no_grad_region(ctx, aug) is not None:
            return
        loop, func = self._enclosing_loop(aug)
        if loop is None:
            return
        backward = self._backward_of(loop, name.value)
        if backward is None or no_grad_region(ctx, backward) is not None:
            return
        lo, hi = sorted((ctx.start(aug).row, ctx.start(backward).row))
        if self._reassigned(loop, name.value, lo, hi):
            return
        scope = func if func is not None else ctx.module
        if target is not None and self._initialised_before(scope, loop, target, _zero_like):
            total = target
        elif holder is not None and self._initialised_before(scope, loop, holder, _zeros_holder):
            total = holder
        else:
            return
        if self._backpropagated(scope, total):
            return
        detached = f"{ctx.code(added)}.item()"
        fix = Fix.unsafe(f"Add `{detached}` instead", ctx.replace(added, detached))
        self.report("OPT601", aug,
                    f"`{ctx.code(aug)}` adds the backpropagated `{name.value}` (with its autograd graph) into a "
                    f"running total: every iteration's graph stays alive; add `{detached}` (or "
                    f"`.detach()`)", fix)

    def _enclosing_loop(self, node):
        parents = self.ctx.parents
        cur = parents.get(node)
        loop = None
        while cur is not None:
            if isinstance(cur, (cst.For, cst.While)) and loop is None:
                loop = cur
            if isinstance(cur, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return (loop, cur) if isinstance(cur, cst.FunctionDef) else (None, None)
            cur = parents.get(cur)
        return loop, None

    def _backward_of(self, loop, name: str) -> cst.Call | None:
        found: list[cst.Call] = []

        class V(cst.CSTVisitor):
            def visit_FunctionDef(self, node) -> bool:
                return False

            def visit_Lambda(self, node) -> bool:
                return False

            def visit_Call(self, node: cst.Call) -> None:
                f = node.func
                if not isinstance(f, cst.Attribute) or f.attr.value not in ("backward", "manual_backward"):
                    return
                recv = f.value
                if f.attr.value == "backward" and name in _loss_terms(recv) \
                        and not any(a.keyword is None for a in node.args):
                    found.append(node)
                elif isinstance(recv, cst.Call) and isinstance(recv.func, cst.Attribute) and \
                        recv.func.attr.value == "scale" and recv.args and name in _loss_terms(recv.args[0].value):
                    found.append(node)
                elif len(node.args) >= 1 and node.args[0].keyword is None and \
                        name in _loss_terms(node.args[0].value) and \
                        (f.attr.value == "manual_backward" or
                         (key_of(recv) or "").rsplit(".", 1)[-1] in ("accelerator", "fabric")):
                    found.append(node)

        _walk.visit(loop, V())
        return found[0] if found else None

    def _reassigned(self, loop, name: str, lo: int, hi: int) -> bool:
        ctx = self.ctx
        hit = False

        class V(cst.CSTVisitor):
            def visit_Assign(self, node: cst.Assign) -> None:
                nonlocal hit
                row = ctx.start(node).row
                # (rebound only under an ``if``: on the other path the graph is still there)
                if lo < row < hi and not _under_if(ctx, node, loop):
                    for t in node.targets:
                        keys = [key_of(e.value) for e in t.target.elements] \
                            if isinstance(t.target, (cst.Tuple, cst.List)) else [key_of(t.target)]
                        if name in keys:
                            hit = True

            def visit_AugAssign(self, node: cst.AugAssign) -> None:
                nonlocal hit
                if lo < ctx.start(node).row < hi and key_of(node.target) == name and not _under_if(ctx, node, loop):
                    hit = True

        _walk.visit(loop, V())
        return hit

    def _initialised_before(self, scope, loop, target: str, zero) -> bool:
        ctx = self.ctx
        loop_start = ctx.start(loop).row
        loop_end = ctx.end(loop).row
        ok = False
        inside_plain = False
        last = [0]

        class V(cst.CSTVisitor):
            def visit_FunctionDef(self, node) -> bool:
                return node is scope

            def visit_Assign(self, node: cst.Assign) -> None:
                nonlocal ok, inside_plain
                values = [v for t, v in _assigned_pairs(node) if key_of(t) == target]
                if not values:
                    return
                row = ctx.start(node).row
                v = values[0]
                if isinstance(v, cst.BinaryOperation) and key_of(v.left) == target:
                    return  # ``total = total + loss``: accumulates, not a reset
                if row < loop_start:
                    if row >= last[0]:  # the latest start before the loop decides
                        last[0], ok = row, zero(ctx, v)
                elif row <= loop_end and (not _under_if(ctx, node, loop) or _reset_per_step(ctx, node, loop)):
                    # reset on every pass, or on every (accumulation window's) optimizer step:
                    # the total does not outlive the training step
                    inside_plain = True

        _walk.visit(scope, V())
        return ok and not inside_plain

    def _backpropagated(self, scope, target: str) -> bool:
        found = False

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value == "backward" and key_of(f.value) == target:
                    found = True
                for a in node.args:
                    if key_of(a.value) == target and isinstance(f, cst.Attribute) and \
                            f.attr.value in ("backward", "manual_backward", "scale"):
                        found = True

        _walk.visit(scope, V())
        return found


def _name_or_element(expr: cst.BaseExpression) -> cst.Name | None:
    """``loss`` for ``loss`` and for one element ``loss[0]`` of it."""
    if isinstance(expr, cst.Name):
        return expr
    if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Name) and len(expr.slice) == 1 \
            and isinstance(expr.slice[0].slice, cst.Index):
        return expr.value
    return None


def _loss_terms(expr: cst.BaseExpression) -> set[str]:
    """Names whose graphs a backward through ``expr`` runs: ``loss``, or each weighted term of
    ``(value_loss * coef + action_loss - entropy * coef)``."""
    if isinstance(expr, cst.Name):
        return {expr.value}
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, (cst.Add, cst.Subtract)):
            return _loss_terms(expr.left) | _loss_terms(expr.right)
        if isinstance(expr.operator, (cst.Multiply, cst.Divide)):
            return {side.value for side in (expr.left, expr.right) if isinstance(side, cst.Name)}
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        return _loss_terms(expr.expression)
    return set()


def _under_if(ctx, node, loop) -> bool:
    cur = ctx.parents.get(node)
    while cur is not None and cur is not loop:
        if isinstance(cur, (cst.If, cst.Try)):
            return True
        cur = ctx.parents.get(cur)
    return False


def _reset_per_step(ctx, node, loop) -> bool:
    """``node`` is under an ``if`` (inside ``loop``) that also runs an optimizer ``.step()``."""
    cur = ctx.parents.get(node)
    while cur is not None and cur is not loop:
        if isinstance(cur, cst.If):
            found = False

            class V(cst.CSTVisitor):
                def visit_Call(self, call: cst.Call) -> None:
                    nonlocal found
                    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "step":
                        found = True

            _walk.visit(cur.body, V())
            if found:
                return True
        cur = ctx.parents.get(cur)
    return False


def _zero_like(ctx, value: cst.BaseExpression) -> bool:
    """``0``, ``0.0``, ``torch.zeros(...)``, ``torch.tensor(0.0)``: a numeric running total."""
    if isinstance(value, (cst.Integer, cst.Float)):
        return True
    if isinstance(value, cst.Call):
        qn = ctx.qualify(value.func) or ""
        return qn in ("torch.zeros", "torch.tensor", "torch.zeros_like", "torch.scalar_tensor", "torch.as_tensor")
    return False


def _zeros_holder(ctx, value: cst.BaseExpression) -> bool:
    """Room for several running totals: ``[0] * n``, ``n * [0.0]``, ``[0.0, 0.0]``, ``[0 for _ in
    range(n)]``, ``{"g": 0.0, "d": 0.0}``, ``torch.zeros(n)`` (never a numpy array: adding a
    tensor that requires grad into one raises at once)."""
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply):
        return any(isinstance(side, cst.List) and side.elements and
                   all(_zero_like(ctx, e.value) for e in side.elements) for side in (value.left, value.right))
    if isinstance(value, cst.List):
        return bool(value.elements) and all(_zero_like(ctx, e.value) for e in value.elements)
    if isinstance(value, cst.ListComp):
        return _zero_like(ctx, value.elt)
    if isinstance(value, cst.Dict):
        return bool(value.elements) and all(isinstance(e, cst.DictElement) and _zero_like(ctx, e.value)
                                            for e in value.elements)
    return _zero_like(ctx, value) and isinstance(value, cst.Call)


class _ForwardCalls:
    """OPT604: ``x.forward(...)`` where ``x`` provably holds an ``nn.Module``."""

    def __init__(self, ctx, report) -> None:
        self.ctx = ctx
        self.report = report
        self.module_classes = self._module_classes()

    def _module_classes(self) -> set[str]:
        """Names of classes defined in this file that subclass ``nn.Module`` (transitively)
        and do not override ``__call__``."""
        ctx = self.ctx
        classes: dict[str, cst.ClassDef] = {}

        class V(cst.CSTVisitor):
            def visit_ClassDef(self, node: cst.ClassDef) -> None:
                classes.setdefault(node.name.value, node)

        _walk.visit(ctx.module, V())
        result: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, node in classes.items():
                if name in result:
                    continue
                for base in node.bases:
                    qn = ctx.qualify(base.value) or ""
                    bname = base.value.value if isinstance(base.value, cst.Name) else None
                    if torch_module_class(qn) or (bname in result and not ctx.imports.imported(bname)):
                        if not _defines(node, "__call__"):
                            result.add(name)
                            changed = True
                        break
        return result

    def _builds_module(self, value: cst.BaseExpression) -> bool:
        ctx = self.ctx
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
                value.func.attr.value in MODULE_SELF_RETURNING:
            value = value.func.value
        if not isinstance(value, cst.Call):
            return False
        f = value.func
        if isinstance(f, cst.Name) and f.value in self.module_classes and not ctx.imports.imported(f.value):
            return True
        return torch_module_class(ctx.qualify(f))

    def run(self) -> None:
        ctx = self.ctx
        checker = self

        class V(cst.CSTVisitor):
            def __init__(self) -> None:
                self.funcs: list[cst.FunctionDef] = []
                self.classes: list[cst.ClassDef] = []

            def visit_ClassDef(self, node) -> None:
                self.classes.append(node)

            def leave_ClassDef(self, node) -> None:
                self.classes.pop()

            def visit_FunctionDef(self, node) -> None:
                self.funcs.append(node)

            def leave_FunctionDef(self, node) -> None:
                self.funcs.pop()

            def visit_Call(self, node: cst.Call) -> None:
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value == "forward":
                    func = self.funcs[-1] if self.funcs else None
                    klass = self.classes[-1] if self.classes else None
                    checker.check(node, f.value, func, klass)

        _walk.visit(ctx.module, V())

    def check(self, call: cst.Call, recv, func, klass) -> None:
        ctx = self.ctx
        k = key_of(recv)
        if k is None or k == "self" or k.startswith("super"):
            return
        bypass = forward_harm.wrapper_bypass(ctx, k, func, klass)
        if bypass is not None:
            self.report("OPT604", call,
                        f"`{ctx.code(call.func)}(...)` calls `forward` directly: {bypass} (no gradient "
                        f"synchronisation, no hooks); call the wrapper, `{ctx.code(recv.value)}(...)`")
            return
        if k.startswith("self.") and klass is not None and klass.name.value in self.module_classes:
            return  # a submodule called from its parent's own methods: the parent's __call__ ran
        values = self._module_values(k, func, klass)
        if values is None:
            return
        why = forward_harm.harm(ctx, call, k, values)
        if why is None:
            return
        fix = Fix.safe(f"Call `{ctx.code(recv)}(...)` instead", ctx.replace(call.func, ctx.code(recv)))
        self.report("OPT604", call,
                    f"`{ctx.code(call.func)}(...)` calls the module's `forward` directly, skipping "
                    f"`__call__` where it matters: {why}; call `{ctx.code(recv)}(...)`", fix)

    def _module_values(self, k: str, func, klass) -> list | None:
        """The values assigned to ``k`` when they all provably build an ``nn.Module``."""
        ctx = self.ctx
        if k.startswith("self."):
            if klass is None or k.count(".") != 1:
                return None
            values = values_assigned(klass, k, nested_functions=False)
        elif "." in k:
            return None
        else:
            values = values_assigned(func if func is not None else ctx.module, k, nested_functions=False)
            if func is not None:
                params = {x.name.value: x for x in named_params(func)}
                if k in params:
                    ann = params[k].annotation
                    if ann is None or (ctx.qualify(ann.annotation) or "") not in MODULE_BASES:
                        return None
                    return values if all(v is not None and self._builds_module(v) for v in values) else None
                if not values:
                    values = values_assigned(ctx.module, k, nested_functions=False)
        if not values:
            return None
        return values if all(v is not None and self._builds_module(v) for v in values) else None


def _defines(klass: cst.ClassDef, name: str) -> bool:
    body = klass.body.body if isinstance(klass.body, cst.IndentedBlock) else ()
    return any(isinstance(s, cst.FunctionDef) and s.name.value == name for s in body)
