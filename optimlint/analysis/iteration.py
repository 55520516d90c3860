"""The training-iteration model: per loop / step function, the ordered events on every path.

Built once per file (``training_model(ctx)``, memoised on the FileContext) and read by
every order / scheduler / AMP / hygiene check. Each scope (the module body and every
function) is walked once in source order; every call is classified into an
``events.EventKind`` (backward, clear, step, ...), a same-module helper (inlined at the
call site, so ``train_step(model, batch, opt)`` called from a loop contributes its
events to that loop's iteration, with its parameters mapped to the caller's
arguments), or an *opaque* call (anything else; kept when it might touch an
optimizer, a module or a scaler: the rules treat it as "maybe", which means silence).

Every ``Event`` records where it runs: the loops around it (outermost first: epoch
loop, then batch loop), the conditional branches (``if``/``elif``/``else``, ``except``,
``match`` arms, loop ``else``) with the loop depth at which each was entered, whether
it is under ``torch.no_grad()``/``inference_mode()`` (or in a function so decorated)
and under ``accelerator.accumulate(...)``. A loop that steps or clears each optimizer of a
container (``for opt in optimizers: opt.step()``, ``Bindings.each_loops``) is no loop level:
its events run once per pass of the loop around it.

An ``Iteration`` is one loop body (with everything nested in it), a step function
(a function that both runs backward and steps an optimizer), an LBFGS closure, or a
Lightning ``training_step`` (``kind`` = "loop", "function", "closure",
"lightning-auto", "lightning-manual"). ``it.always(ev)`` says the event runs on every
pass through the iteration (not under a condition, not in a nested loop);
``it.events`` are in source order, which is execution order for a straight body (a
loop body also reads cyclically: a clear at the end serves the next iteration).

Usage::

    from optimlint.analysis.events import EventKind
    from optimlint.analysis.iteration import training_model

    model = training_model(ctx)
    for it in model.iterations:
        if it.kind != "loop":
            continue
        for ev in it.events:
            if ev.kind is EventKind.SCHED_STEP and it.always(ev):
                ev.node            # the scheduler's .step() Call
                ev.target          # bindings.Binding of the scheduler (ev.target.optimizer: its optimizer)
                ev.loops           # (epoch_loop, batch_loop) For/While nodes around it
                ev.no_grad         # inside a no_grad region
    model.scope_events(func)       # all events of one function (None: module body), helpers inlined
    model.bindings                 # analysis.bindings.Bindings
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterator

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis import bindings as B
from optimlint.analysis import callers, modules, phase_args, summaries, symbols
from optimlint.analysis.assignments import stores, values_assigned
from optimlint.analysis.bindings import Binding, Bindings, key_of
from optimlint.analysis.call_args import arg, named_params, param_names, positional_params
from optimlint.analysis.events import EventKind
from optimlint.analysis.grad_mode import grad_mode
from optimlint.analysis.returned import function_returns, returned_parameter
from optimlint.vocabulary import (APEX_HARMLESS_QUALNAMES, CLIP_FUNCTIONS, CLIP_QUALNAMES, GETTER_NAME, GRAD_CLAMP_METHODS,
                                  MODULE_CLIP_METHODS, GRADIENT_COLLECTIVE_NAME,
                                  LIGHTNING_MODULE_BASES, LIGHTNING_OPTIMIZER_GETTERS,
                                  MODULE_SELF_RETURNING, NOT_OPTIMIZER_STEP_RECEIVER, OPTIMIZER_ATTRIBUTES,
                                  OPTIMIZER_STEPPING_QUALNAMES, PREDICATE_NAME, SCALER_READERS, TORCH_COLLECTIVE, TORCH_FUNCTIONAL_GRADIENTS,
                                  TORCH_PURE_FUNCTION, NUMERIC_LIBRARIES,
                                  PLAIN_STDLIB_MODULES)

if TYPE_CHECKING:
    from optimlint.context import FileContext

MAX_HELPER_DEPTH = 3

# ``type(x) is`` for the statement and expression classes the walker meets on every node it
# reads: LibCST's classes have ABCMeta as their metaclass, whose isinstance costs a Python
# call, and none of these has a subclass (tests/test_iteration_model.py checks it).
_NAME, _ATTRIBUTE, _CALL = cst.Name, cst.Attribute, cst.Call
_SIMPLE_LINES = frozenset({cst.SimpleStatementLine, cst.SimpleStatementSuite})
_DEFINITIONS = frozenset({cst.FunctionDef, cst.ClassDef})
_ASSIGNS = frozenset({cst.Assign, cst.AnnAssign, cst.AugAssign})
_LOOPS = frozenset({cst.For, cst.While})
_TRIES = frozenset({cst.Try, cst.TryStar})

# Calls that never touch gradients, optimizers or modules' state (kept out of "opaque").
_HARMLESS_FUNCS = frozenset({
    "print", "len", "range", "enumerate", "zip", "isinstance", "float", "int", "str", "min", "max",
    "sum", "abs", "round", "list", "tuple", "dict", "set", "sorted", "getattr", "hasattr", "iter", "next",
    "format", "repr", "bool", "type", "id", "open", "any", "all", "map", "filter",
})
_HARMLESS_METHODS = frozenset({
    "item", "detach", "cpu", "numpy", "tolist", "size", "dim", "log", "log_dict", "append", "extend",
    "update", "format", "join", "write", "info", "debug", "warning", "set_description", "set_postfix",
    "add_scalar", "add_scalars", "get", "items", "keys", "values", "mean", "sum", "to", "cuda", "float",
    "half", "eq", "argmax", "max", "min", "view", "reshape", "squeeze", "unsqueeze", "flush", "copy_",
    "get_last_lr", "state_dict", "numel", "clone", "zero_", "fill_", "mul_", "add_", "sub_", "div_",
    "requires_grad_", "contiguous", "permute", "transpose", "split", "chunk", "long", "bool", "type",
    "parameters", "named_parameters", "buffers", "named_buffers", "modules", "named_modules", "children",
    "named_children", "pow", "norm", "abs", "exp", "sqrt", "unsqueeze_", "softmax", "log_softmax",
    "save_pretrained", "push_to_hub", "get_lr", "close", "save_state_dict", "save_state",
    "from_pretrained", "from_config",  # build a new object (a pipeline around the model)
    "add_param_group",  # an optimizer's new group: neither cleared nor stepped
    "lower", "upper", "strip", "startswith", "endswith",  # a string's (``args.optimizer.lower()``: a name)
    # an argument parser's (``parser.add_argument("--lr", ...)``: a script's options)
    "add_argument", "add_argument_group", "add_mutually_exclusive_group", "set_defaults", "parse_args",
    "parse_known_args",
}) | SCALER_READERS  # GradScaler's readers: ``meter.update(scaler.get_scale())``


def _rebinds_itself(value: cst.BaseExpression | None, key: str) -> bool:
    """``model = model.cuda()``, ``model = model.to(device)``: the same object again."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
            value.func.attr.value in MODULE_SELF_RETURNING:
        value = value.func.value
    return value is not None and key_of(value) == key


def _hands_back(value: cst.BaseExpression | None, key: str, klass: cst.ClassDef | None, module: cst.Module) -> bool:
    """``self.target_q = self.target_ini(self.q, self.target_q)``, ``target = soft_update(net,
    target, tau)``: a method of ``klass`` called through ``self`` (its own, not inherited), or a
    function of the module's body, that returns unchanged the argument it is handed for ``key``
    (``returned.returned_parameter``): ``key`` is bound to the same object again."""
    if not isinstance(value, cst.Call):
        return False
    f = value.func
    if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" and klass is not None:
        body, name, skip = klass.body.body, f.attr.value, 1
    elif isinstance(f, cst.Name):
        body, name, skip = module.body, f.value, 0
    else:
        return False
    fns = [d for d in body if isinstance(d, cst.FunctionDef) and d.name.value == name]
    if len(fns) != 1 or (skip and fns[0].decorators):
        return False
    param = returned_parameter(fns[0])
    handed = B.argument_for(value, fns[0], skip, param) if param is not None else None
    return handed is not None and key_of(handed) == key


def _literal_truth(test: cst.BaseExpression) -> bool | None:
    """``if False:`` / ``if 0:`` never run their body, ``if True:`` / ``if 1:`` always do."""
    if type(test) is _NAME and test.value in ("True", "False"):
        return test.value == "True"
    if type(test) is cst.Integer and test.value in ("0", "1"):
        return test.value == "1"
    return None


def _constructs(f: cst.BaseExpression) -> bool:
    """``Name(...)`` / ``pkg.Name(...)`` with a CapWords name: building an object."""
    t = type(f)
    name = f.value if t is _NAME else f.attr.value if t is _ATTRIBUTE else ""
    return name[:1].isupper() and not name.isupper() and "_" not in name


def _attribute_reads(module: cst.Module) -> dict[str, frozenset[str]]:
    """Dotted receiver -> the attributes read off it anywhere in the file."""
    out: dict[str, set[str]] = {}
    for node in _walk.nodes_of(module, (cst.Attribute,)):
        k = key_of(node.value)
        if k is not None:
            out.setdefault(k, set()).add(node.attr.value)
    return {k: frozenset(v) for k, v in out.items()}


# Methods of a module that read it or run it for inference, never touching gradients
# (``model.generate(...)``, ``model.save_pretrained(dir)``, ``model.init_hidden(bs)``).
_MODULE_READ_METHODS = re.compile(
    r"(generate|sample|predict|infer|inference|decode|encode|embed|init_hidden|reset_noise|save_pretrained|"
    r"push_to_hub|save_checkpoint|print_trainable_parameters|num_parameters|get_num_params|"
    r"estimate_mfu|get_input_embeddings|get_output_embeddings|sample_noise)$")
# Words of a call's name that say it may train (clear, step, backpropagate, update): such a
# call stays opaque whatever it is handed (``train_epoch``, ``optimize_parameters``, ``learn``;
# not ``training_losses``).
_TRAINING_WORDS = frozenset({
    "train", "step", "steps", "backward", "update", "updates", "optimize", "optimise", "optim", "opt", "learn",
    "fit", "tune", "finetune", "accumulate", "apply", "grad", "grads", "gradient", "gradients",
    "run", "call", "closure", "hook", "hooks",
})


def _may_train(name: str) -> bool:
    low = name.lower()
    return "backward" in low or "optimi" in low or "zero_grad" in low or \
        any(w in _TRAINING_WORDS for w in low.strip("_").split("_"))

# Functions handed a module whose names say they compute a loss, evaluate, generate, log, plot,
# save or unwrap it (``calc_loss_batch(x, y, model)``, ``evaluate_model(model, loader)``,
# ``diffusion.training_losses(model, x, t)``, ``de_parallel(model)``, MONAI's ``inferer(inputs=x,
# diffusion_model=unet, ...)``): they read the module.
_MODULE_READER_FUNC = re.compile(
    r"^(calc|calculate|compute|eval|evaluate|validate|valid|test|generate|sample|predict|infer|"
    r"log|plot|show|print|save|visuali[sz]e|render|draw|export|unwrap|offload)(_|$)"
    r"|(^|_)(loss|losses|evaluation|validation|accuracy|metrics?|score|parallel|state_dict|inferer)$")
# Methods that average a module into a copy (an EMA's ``update_attr(model)``, BYOL's
# ``update_moving_average()``) and, on an averaged copy (``ema_model.update_parameters(model)``),
# torch's ``AveragedModel`` update: they write the copy, never the trained module's gradients.
_AVERAGING_METHOD = re.compile(r"^(update_attr|update_moving_average|update_ema|ema_update|update_average)$")
_AVERAGED_RECEIVER = re.compile(r"(^|_|\.)(ema|swa|averaged?)(_|$)", re.I)
# Names of parameter or gradient collections (``trainable_params``, ``params_to_clip``, ``grads``,
# ``model.weight``); not ``weight_dtype`` or ``weighting_scheme``.
_ELEMENT = re.compile(r"(\[[^\[\]]*\])+$")  # ``[i]`` ending a key (``lr_schedulers[i]``)
_PARAMS_NAME = re.compile(r"(^|[_.])(params?|parameters|grads?|gradients|weights?)$|(^|\.)(params?|parameters|grads?)_",
                          re.I)
# A name that says it holds a loss (``d_loss_real``, ``errD``, ``g_cost``): a tensor, never an engine.
_LOSS_NAME = re.compile(r"(^|_)(loss|losses|cost|err|error)(_|$)|^err[A-Z]|[a-z]_?[Ll]oss$")
# ... and names of objects that run a backward for the code (``loss_scaler``, ``engine``, ``trainer``).
_RUNNER_NAME = re.compile(r"scal|engine|wrap|trainer|runner|manager|model|optim|accelerat|fabric|strategy", re.I)
# Tensor methods returning a tensor computed from the receiver (``x.mean()``, ``x.view(1)``).
_TENSOR_METHODS = frozenset({"mean", "sum", "view", "reshape", "squeeze", "unsqueeze", "flatten", "mul", "add",
                             "sub", "div", "neg", "abs", "pow", "exp", "log", "norm", "max", "min", "prod"})
# Calls that clear gradients under another name (``pyro.infer.util.zero_grads(params)``,
# ``self.clear_grads()``): a clearing whose target is unknown ("maybe").
_CLEAR_NAME = re.compile(r"(zero|clear|reset)_?grad", re.I)
# A project function named for clipping (``clip_grad_value_``, ``clip_gradient``, ``clamp_grads``):
# read for whether its body clips in place (``summaries.clips_in_place``).
_CLIP_HELPER_NAME = re.compile(r"clip|clamp", re.I)
# A call of a module (its forward) or of a loss function never clears, steps or runs a
# backward; spelled like one when its name says so (``model(x)``, ``self.criterion(out, y)``).
_FORWARD_NAMES = symbols._MODULE_NAME
# An attribute of ``self`` holding the loss function the instance was handed (``self.loss``).
_HELD_LOSS = re.compile(r"(loss|losses|criterion|criterions|loss_fn|loss_func)$")


@dataclass(frozen=True)
class Branch:
    """A conditional region an event is under: ``node`` (If/Try/For/While/Match), its ``arm``."""

    node: cst.CSTNode
    arm: str  # "body", "else", "except", "case<i>"
    loop_depth: int  # len(loops) where the branch was entered


@dataclass(eq=False)
class Event:
    """One event (``kind`` is an EventKind) or one opaque call (``kind`` is None)."""

    kind: EventKind | None
    node: cst.CSTNode  # the call (or the ``p.grad = None`` assignment)
    stmt: cst.CSTNode  # the statement of the analysed scope that runs it (the helper call for inlined ones)
    own_stmt: cst.CSTNode  # the statement in the function that contains ``node``
    func: cst.CSTNode | None  # the function whose body contains ``node`` (None: module body)
    loops: tuple[cst.CSTNode, ...] = ()
    branches: tuple[Branch, ...] = ()
    no_grad: bool = False
    accumulate: bool = False  # under ``with accelerator.accumulate(...)``
    via: tuple[cst.Call, ...] = ()  # helper calls through which it was reached
    target: Binding | None = None  # optimizer / scheduler the event acts on
    target_key: str | None = None  # its spelling in the analysed scope ("self.optimizer"), when known
    own_key: str | None = None  # its spelling where the call is written
    module: str | None = None  # zero_grad/train/eval/clip on a module: its key (analysed scope's terms)
    certain: bool = True  # ZERO_GRAD: certainly clears ``target``; BACKWARD: certainly a backward
    aliased: bool = False  # ZERO_GRAD / TRAIN_MODE / EVAL_MODE on ``module``: another local name may hold it
    scaled: bool = False  # BACKWARD through ``scaler.scale(...)``
    scaler: Binding | None = None  # SCALE/UNSCALE/SCALER_STEP/SCALER_UPDATE/scaled BACKWARD: the scaler
    scaler_key: str | None = None  # the scaler's spelling where the call is written
    accelerate: bool = False  # accelerator.backward / accelerator.clip_grad_norm_ / manual_backward
    # opaque calls only: bindings and keys passed to it; "maybe anything" for engines, unknown steps
    touches: tuple[Binding, ...] = ()
    touch_keys: frozenset[str] = frozenset()
    self_call: bool = False
    touches_all: bool = False
    receiver_key: str | None = None  # opaque ``x.method(...)``: ``x``'s key (analysed scope's terms)
    index: int = 0

    @property
    def direct(self) -> bool:
        return not self.via


@dataclass(eq=False)
class Iteration:
    kind: str  # "loop", "function", "closure", "lightning-auto", "lightning-manual"
    node: cst.CSTNode  # For / While / FunctionDef
    func: cst.CSTNode | None  # the scope it was found in
    depth: int  # index of ``node`` in each event's ``loops`` (-1 for a function body)
    events: list[Event] = field(default_factory=list)
    ctx: "FileContext | None" = field(default=None, repr=False, compare=False)
    _opaque: list[Event] | None = field(default=None, repr=False, compare=False)

    @property
    def opaque(self) -> list[Event]:
        """The opaque calls of this iteration (``_decide_opaque``'s events), decided the first
        time a rule asks (``scope_opaque``)."""
        if self._opaque is None:
            every = scope_opaque(self.ctx, self.func) if self.ctx is not None else []
            self._opaque = self._mine(every)
        return self._opaque

    def opaque_between(self, lo: int, hi: int) -> list[Event]:
        """``[o for o in self.opaque if lo < o.index < hi]``, deciding only the calls met
        between those indexes."""
        if self._opaque is not None:
            return [o for o in self._opaque if lo < o.index < hi]
        if self.ctx is None:
            return []
        return self._mine(scope_opaque_between(self.ctx, self.func, lo, hi, (self.node, self.depth)))

    def touching_all(self) -> list[Event]:
        """The opaque calls that touch every optimizer and module (an engine's
        ``backward``/``step``, a recursive helper): known from the walk, no call decided."""
        if self._opaque is not None:
            return [o for o in self._opaque if o.touches_all]
        return self._mine(scope_touching_all(self.ctx, self.func) if self.ctx is not None else [])

    def _mine(self, events: list[Event]) -> list[Event]:
        depth = self.depth
        if depth < 0:
            return list(events)
        return [e for e in events if len(e.loops) > depth and e.loops[depth] is self.node]

    def always(self, ev: Event) -> bool:
        """Runs on every pass through this iteration: no condition (but an existence test of
        its own receiver, ``if scheduler is not None:``), no nested loop."""
        if len(ev.loops) != self.depth + 1:
            return False
        return not self.conditions(ev)

    def nested(self, ev: Event) -> bool:
        return len(ev.loops) > self.depth + 1

    def conditions(self, ev: Event) -> tuple[Branch, ...]:
        """The branches ``ev`` is under inside this iteration, but those that only test that
        its receiver exists (``if scheduler is not None: scheduler.step()`` steps the
        scheduler whenever there is one)."""
        return tuple(b for b in ev.branches if b.loop_depth > self.depth and not _existence_guard(b, ev))

    def of_kind(self, *kinds: EventKind) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]


def _existence_guard(branch: Branch, ev: Event) -> bool:
    """``branch`` is the body of ``if X:`` / ``if X is not None:`` where X is how ``ev``'s own
    call spells its receiver."""
    key = ev.own_key
    if key is None or branch.arm != "body" or not isinstance(branch.node, cst.If):
        return False
    test = branch.node.test
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and \
            isinstance(test.comparisons[0].operator, cst.IsNot) and \
            isinstance(test.comparisons[0].comparator, cst.Name) and test.comparisons[0].comparator.value == "None":
        test = test.left
    return isinstance(test, (cst.Name, cst.Attribute)) and key_of(test) == key


def exclusive(a: Event, b: Event) -> bool:
    """``a`` and ``b`` are in different arms of one conditional: never on one path."""
    arms = {br.node: br.arm for br in a.branches}
    return any(br.node in arms and arms[br.node] != br.arm for br in b.branches)


def _has_else(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.If) and node.orelse is not None


def covered(it: Iteration, evs: list[Event], held: tuple[Branch, ...]) -> bool:
    """On every pass where the conditions ``held`` hold, one of ``evs`` runs: one under no
    other condition, or one in each arm of an ``if ...: ... else: ...`` (an ``elif`` chain
    ending in ``else``), arm by arm (``if use_amp: scaler.scale(loss).backward() else:
    loss.backward()``). Events of nested loops never cover (they may run zero times)."""
    level = it.depth + 1
    mine = {(b.node, b.arm) for b in held}
    conds = [(e, {(b.node, b.arm) for b in it.conditions(e)}) for e in evs if len(e.loops) == level]
    conds = [(e, c) for e, c in conds if not any(n == m and a != arm for n, a in c for m, arm in mine)]

    def walk(have: set, depth: int) -> bool:
        if any(c <= have for _, c in conds):
            return True
        if depth > 6:
            return False
        tried: set[int] = set()
        for _, c in conds:
            for node, _arm in c - have:
                if id(node) in tried or not _has_else(node) or any(n is node for n, _ in have):
                    continue
                tried.add(id(node))
                if walk(have | {(node, "body")}, depth + 1) and walk(have | {(node, "else")}, depth + 1):
                    return True
        return False

    return walk(mine, 0)


@dataclass
class TrainingModel:
    ctx: "FileContext"
    bindings: Bindings
    scopes: dict[cst.CSTNode | None, list[Event]] = field(default_factory=dict)
    iterations: list[Iteration] = field(default_factory=list)
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)  # module-level defs
    methods: dict[cst.ClassDef, dict[str, cst.FunctionDef]] = field(default_factory=dict)
    lightning_classes: dict[cst.ClassDef, bool] = field(default_factory=dict)  # -> automatic?
    all_functions: list[cst.FunctionDef] = field(default_factory=list)
    parent_func: dict[cst.CSTNode, cst.CSTNode | None] = field(default_factory=dict)
    # (enclosing function, name) -> a def nested in it (None when the name is defined twice)
    local_functions: dict[tuple, cst.FunctionDef | None] = field(default_factory=dict)
    calls_cache: dict[int, list] = field(default_factory=dict, repr=False)

    def scope_events(self, func: cst.CSTNode | None) -> list[Event]:
        return self.scopes.get(func, [])

    def opaque_of(self, func: cst.CSTNode | None) -> list[Event]:
        """The opaque calls of scope ``func``, decided on the first read (``scope_opaque``)."""
        return scope_opaque(self.ctx, func)

    def touching_all_of(self, func: cst.CSTNode | None) -> list[Event]:
        """Scope ``func``'s opaque calls that touch everything (``Iteration.touching_all``)."""
        return scope_touching_all(self.ctx, func)

    def all_events(self) -> Iterator[Event]:
        for evs in self.scopes.values():
            yield from evs

    def method_of(self, klass: cst.ClassDef, name: str, seen: frozenset = frozenset()) -> cst.FunctionDef | None:
        """The method ``name`` an instance of ``klass`` runs: its own, else the first base class
        of this file (depth first) that defines it (``self.predict(x)`` in ``class
        Mixup(ERM)``'s ``update`` runs ``ERM.predict``). None when a base is not of this file."""
        own = self.methods.get(klass, {}).get(name)
        if own is not None or klass in seen:
            return own
        for base in klass.bases:
            node = self.bindings.class_named(base.value)
            if node is None:
                return None
            found = self.method_of(node, name, seen | {klass})
            if found is not None:
                return found
        return None

    def one_pass_functions(self, accept, unlooped) -> Iterator[Iteration]:
        """Top-level functions no iteration holds, each as one pass of its caller's loop (a
        ``"function"`` Iteration): those whose event kinds ``accept(kinds)`` takes and whose
        events of the ``unlooped`` kinds are in no loop of theirs (such loops are iterations
        of their own)."""
        iterated = {it.node for it in self.iterations}
        for func, events in self.scopes.items():
            if func is None or func in iterated or self.parent_func.get(func) is not None:
                continue
            if not accept({e.kind for e in events}):
                continue
            if any(e.loops for e in events if e.kind in unlooped):
                continue
            yield Iteration("function", func, func, -1, list(events), self.ctx)


def training_model(ctx: "FileContext") -> TrainingModel:
    """The file's training model, built once and shared by every check."""
    return ctx.cached(TrainingModel, lambda: _build(ctx))


# ``ctx``'s cache entry of the scopes' opaque calls: scope -> its walker until a rule asks, then
# the decided list. (In the context's cache, not on the model: the walker refers to the model,
# and ``FileContext.release`` must free both by reference counting, with no cycle left.)
_OPAQUE = "optimlint.iteration.opaque"


def scope_opaque(ctx: "FileContext", func: cst.CSTNode | None) -> list[Event]:
    """Scope ``func``'s opaque calls. Most are never read (a rule reads them beside a finding
    it is about to make: a loop that clears, steps and backpropagates asks nothing), so they
    are decided here, on the first read, not when the scope is walked."""
    found = _scope_entry(ctx, func)
    if type(found) is _Walker:
        found = ctx.cached(_OPAQUE, dict)[func] = found.decided()
    return found


def _scope_entry(ctx: "FileContext", func: cst.CSTNode | None) -> "_Walker | list[Event]":
    """Scope ``func``'s walker while its calls wait, its decided list after (none: [])."""
    return ctx.cached(_OPAQUE, dict).get(func) or []


def scope_opaque_between(ctx: "FileContext", func: cst.CSTNode | None, lo: int, hi: int,
                      within: tuple[cst.CSTNode, int]) -> list[Event]:
    """Scope ``func``'s opaque calls with ``lo < index < hi``, deciding only those (and of
    them, with ``within = (loop, depth)``, only those in that loop)."""
    found = _scope_entry(ctx, func)
    if type(found) is _Walker:
        return found.decided_between(lo, hi, within)
    return [o for o in found if lo < o.index < hi]


def scope_touching_all(ctx: "FileContext", func: cst.CSTNode | None) -> list[Event]:
    """Scope ``func``'s opaque calls that touch everything, without deciding the others."""
    found = _scope_entry(ctx, func)
    if type(found) is _Walker:
        return found.touching_all
    return [o for o in found if o.touches_all]


# ---------------------------------------------------------------------------------------
def _build(ctx: "FileContext") -> TrainingModel:
    bindings = ctx.cached(Bindings, lambda: Bindings.build(ctx))
    model = TrainingModel(ctx, bindings)
    _index_definitions(model)
    scopes: list[cst.CSTNode | None] = [None, *model.all_functions]
    undecided = ctx.cached(_OPAQUE, dict)
    for func in scopes:
        walker = _Walker(model, func)
        walker.run()
        model.scopes[func] = walker.events
        undecided[func] = walker
        _iterations_of(model, func, walker)
    return model


def _index_definitions(model: TrainingModel) -> None:
    _index_body(model, model.ctx.module.body, None, None)


def _index_body(model: TrainingModel, body, parent_func, klass) -> None:
    # (a function of the module, not a closure calling itself: that closure would be cyclic
    # garbage holding the model, and with it the file's tree, until the cyclic collector ran)
    ctx = model.ctx
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef):
            model.all_functions.append(stmt)
            model.parent_func[stmt] = parent_func
            if parent_func is None and klass is None:
                model.functions.setdefault(stmt.name.value, stmt)
            elif klass is None:  # ``def update(data):`` nested in the function that calls it
                key = (parent_func, stmt.name.value)
                # (a decorated one may be wrapped into something else: ``@profileit('cuda')``;
                # ``@torch.no_grad()`` only turns gradients off, which the walk reads)
                wrapped = any(grad_mode(ctx.qualify, d.decorator) is None for d in stmt.decorators)
                model.local_functions[key] = None if key in model.local_functions or wrapped else stmt
            if klass is not None:
                model.methods.setdefault(klass, {}).setdefault(stmt.name.value, stmt)
            _index_body(model, _body(stmt), stmt, None)
        elif isinstance(stmt, cst.ClassDef):
            bases = {ctx.qualify(a.value) for a in stmt.bases}
            # (or a project base class named like one: ``MyLightningModule`` of another file)
            if bases & LIGHTNING_MODULE_BASES or any((q or "").endswith("LightningModule") for q in bases):
                model.lightning_classes[stmt] = not _sets_manual(stmt)
            _index_body(model, _body(stmt), parent_func, stmt)
        else:
            for inner in _child_blocks(stmt):
                _index_body(model, inner, parent_func, klass)


def _sets_manual(klass: cst.ClassDef) -> bool:
    found = False

    class V(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            nonlocal found
            for t in node.targets:
                if key_of(t.target) in ("self.automatic_optimization", "automatic_optimization") and \
                        isinstance(node.value, cst.Name) and node.value.value == "False":
                    found = True

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            nonlocal found
            # @property def automatic_optimization(self): return False
            if node.name.value == "automatic_optimization":
                found = True

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            # manual optimization (a parent class may have switched it off): manual_backward,
            # or the optimizers fetched and stepped / a backward run by hand
            f = node.func
            if isinstance(f, cst.Attribute):
                if key_of(f.value) == "self" and f.attr.value == "manual_backward":
                    found = True
                elif key_of(f.value) == "self" and f.attr.value == "optimizers":
                    seen.add("optimizers")
                elif f.attr.value in ("step", "backward"):
                    seen.add("step")

    seen: set[str] = set()
    _walk.visit(klass, V())
    return found or seen == {"optimizers", "step"}


def _body(node) -> list:
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    if isinstance(body, cst.SimpleStatementSuite):
        return [body]
    return list(body) if isinstance(body, (list, tuple)) else []


def _child_blocks(stmt) -> list[list]:
    out = []
    if isinstance(stmt, (cst.If,)):
        out.append(_body(stmt))
        if stmt.orelse is not None:
            out.append(_body(stmt.orelse) if isinstance(stmt.orelse, cst.Else) else [stmt.orelse])
    elif isinstance(stmt, (cst.For, cst.While, cst.With)):
        out.append(_body(stmt))
        if getattr(stmt, "orelse", None) is not None:
            out.append(_body(stmt.orelse))
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        out.append(_body(stmt))
        for h in stmt.handlers:
            out.append(_body(h))
        if stmt.orelse is not None:
            out.append(_body(stmt.orelse))
        if stmt.finalbody is not None:
            out.append(_body(stmt.finalbody))
    elif isinstance(stmt, cst.Match):
        for case in stmt.cases:
            out.append(_body(case))
    return out


@dataclass
class _Frame:
    func: cst.CSTNode | None
    subst: dict[str, str | None]  # helper parameter -> caller's key (None: not a traceable name)
    parent: "_Frame | None"
    via: tuple[cst.Call, ...]
    call_stmt: cst.CSTNode | None  # the statement of the top scope that made the call
    consts: dict[str, str] = field(default_factory=dict)  # helper parameter -> constant argument

    def translate(self, k: str | None) -> str | None:
        """``k`` (in this frame's terms) spelled in the top scope's terms, or None."""
        if k is None:
            return None
        f = self
        while f.parent is not None:
            root, dot, rest = k.partition(".")
            if root == "self":
                pass  # same object across method calls
            elif root in f.subst:
                base = f.subst[root]
                if base is None:
                    return None
                k = base + (dot + rest if rest else "")
            elif f.func is not None and root in _params(f.func):
                return None
            f = f.parent
        return k


def _calls_in(model: "TrainingModel", expr: cst.CSTNode) -> list[cst.Call]:
    """The calls of ``expr`` in evaluation order (inner first), memoised per node: helpers are
    inlined at every call site, so the same statements are walked many times."""
    found = model.calls_cache.get(id(expr))
    if found is None:
        collector = _CallsIn()
        _walk.visit(expr, collector)
        found = model.calls_cache[id(expr)] = collector.found
    return found


class _CallsIn(cst.CSTVisitor):
    """``_calls_in``'s walk (one class: it runs ~120 times a lint, and a class defined in the
    function was built each time)."""

    def __init__(self) -> None:
        self.found: list[cst.Call] = []

    def visit_Lambda(self, node) -> bool:
        return False

    def leave_Call(self, node: cst.Call) -> None:
        self.found.append(node)


def _argument_keys(helper: cst.FunctionDef, call: cst.Call) -> tuple[list[str], dict[str, str | None]]:
    """``helper``'s positional parameter names as ``call`` fills them (``self`` left out for a
    method call), and each parameter's argument key in the caller's terms (None: not a name)."""
    names = [p.name.value for p in positional_params(helper)]
    if names and names[0] == "self" and (isinstance(call.func, cst.Attribute) or
                                         isinstance(call.func, cst.Name) and call.func.value == "self"):
        names = names[1:]
    subst: dict[str, str | None] = {n: None for n in _params(helper)}
    pos = [a for a in call.args if a.keyword is None]
    for i, a in enumerate(pos):
        if a.star:
            break
        if i < len(names):
            subst[names[i]] = key_of(a.value)
    for a in call.args:
        if a.keyword is not None and a.keyword.value in subst:
            subst[a.keyword.value] = key_of(a.value)
    return names, subst


def _local_names(model: "TrainingModel", func: cst.FunctionDef) -> set[str]:
    """Plain names ``func``'s own body assigns (not its nested functions')."""
    return {t.target.value for a in _walk.nodes_of(func.body, (cst.Assign,)) for t in a.targets
            if isinstance(t.target, cst.Name) and _enclosing_def(model, a, func) is func}


def _enclosing_def(model: "TrainingModel", node: cst.CSTNode, stop: cst.FunctionDef) -> cst.CSTNode | None:
    """The innermost function or lambda of ``stop`` around ``node``."""
    cur = model.ctx.parents.get(node)
    while cur is not None and cur is not stop and not isinstance(cur, (cst.FunctionDef, cst.Lambda)):
        cur = model.ctx.parents.get(cur)
    return cur


def _constant_args(helper: cst.FunctionDef, call: cst.Call, names: list[str], frame: _Frame) -> dict[str, str]:
    """``helper``'s parameters that ``call`` gives a constant (``run_epoch("train")``,
    ``step(batch, phase=Phase.VAL)``, a constant the caller was itself given, or a default
    left in place), when the helper never rebinds them."""
    out: dict[str, str] = {}
    for param in named_params(helper):
        if param.default is not None:
            c = phase_args.constant(param.default)
            if c is not None:
                out[param.name.value] = c
    pos = [a for a in call.args if a.keyword is None]
    given: list[tuple[str, cst.BaseExpression]] = []
    for i, a in enumerate(pos):
        if a.star or any(x.star for x in call.args):
            return {}  # ``f(*args)`` / ``f(**kw)``: which parameter gets what is unknown
        if i < len(names):
            given.append((names[i], a.value))
    given += [(a.keyword.value, a.value) for a in call.args if a.keyword is not None]
    for name, value in given:
        c = phase_args.constant(value)
        if c is None and isinstance(value, cst.Name):
            c = frame.consts.get(value.value)
        if c is None:
            out.pop(name, None)
        else:
            out[name] = c
    return {k: v for k, v in out.items() if not stores(helper, k, nested_functions=False)}


def _params(func: cst.FunctionDef) -> set[str]:
    return param_names(func)


class _Walker:
    """Walks one scope in source order, inlining same-module helpers."""

    def __init__(self, model: TrainingModel, func: cst.CSTNode | None) -> None:
        self.model = model
        self.ctx = model.ctx
        self.b = model.bindings
        self.func = func
        self.events: list[Event] = []
        self.opaque: list[Event] = []
        self.loops: list[cst.CSTNode] = []  # every loop met, with its depth (top-scope loops only)
        self.top_loops: list[tuple[cst.CSTNode, int]] = []
        self.closures: list[str] = []
        self._scaled_names: dict[tuple, bool] = {}
        self._alias_cache: dict[str, bool] = {}
        self._passes_last: tuple[cst.Call, _Frame, bool] | None = None
        # the events and the calls left to ``_settle_opaque``, in walk order
        self._order: list[Event | tuple[cst.Call, tuple, bool]] = []
        # the open calls, numbered, that ``decided`` has yet to decide
        self._undecided: list[tuple[int, tuple[cst.Call, tuple, bool]]] = []
        self.touching_all: list[Event] = []  # the opaque events that touch everything, decided first

    # -- driving -----------------------------------------------------------------
    def run(self) -> None:
        frame = _Frame(self.func, {}, None, (), None)
        body = self.ctx.module.body if self.func is None else _body(self.func)
        no_grad = self.func is not None and self._decorated_no_grad(self.func)
        self._block(body, frame, (), (), no_grad, False)
        self._settle_opaque()

    def _settle_opaque(self) -> None:
        """Number the events and the calls the walk left open (``_opaque``) in walk order: an
        open call takes its place in the numbering whether or not its decision makes it an
        event, so events and opaque calls compare by ``index`` as met, and the decisions wait
        for ``decided``. A scope with no event keeps only the calls known to touch everything
        (an engine's ``backward``/``step``): every rule reads opaque calls beside events of
        their iteration or scope, and a quarter of a file's calls are in scopes with none."""
        order, self._order = self._order, []
        if not self.events:
            order = [item for item in order if type(item) is not Event and item[2]]
        self._undecided = []
        for n, item in enumerate(order):
            if type(item) is Event:
                item.index = n
            elif item[2]:  # touches everything: an event, no decision to make
                self._decide_opaque(*item)
                self.opaque[-1].index = n
                self.touching_all.append(self.opaque[-1])
            else:
                self._undecided.append((n, item))

    def decided_between(self, lo: int, hi: int, within: tuple[cst.CSTNode, int]) -> list[Event]:
        """The opaque events numbered between ``lo`` and ``hi`` (exclusive), deciding the open
        calls there (``decided``'s work, on a stretch of the scope); with ``within = (loop,
        depth)`` (depth -1: the whole scope), only the calls in that loop are decided (the
        caller keeps its loop's events of those returned)."""
        undecided = self._undecided
        first = bisect.bisect_right(undecided, lo, key=_number)
        last = bisect.bisect_left(undecided, hi, key=_number)
        if first < last:
            loop, depth = within
            now, later = [], []
            for entry in undecided[first:last]:
                loops = entry[1][1][1]
                (now if depth < 0 or len(loops) > depth and loops[depth] is loop else later).append(entry)
            undecided[first:last] = later
            for n, item in now:
                self._decide_one(n, item)
            if now:
                self.opaque.sort(key=_by_index)
            self._order = []  # (the events just decided were added there: the walk is over)
        opaque = self.opaque  # (in index order)
        return opaque[bisect.bisect_right(opaque, lo, key=_by_index):bisect.bisect_left(opaque, hi, key=_by_index)]

    def _decide_one(self, n: int, item: tuple) -> None:
        before = len(self.opaque)
        self._decide_opaque(*item)
        if len(self.opaque) > before:
            self.opaque[-1].index = n

    def decided(self) -> list[Event]:
        """Decide the open calls (once): the events among them, numbered where they were met.
        The decision reads the call, its frame and the file's bindings, none of which the
        walks change, so deciding late gives what deciding during the walk gave."""
        undecided, self._undecided = self._undecided, []
        for n, item in undecided:
            self._decide_one(n, item)
        self._order = []
        if undecided:
            self.opaque.sort(key=_by_index)  # (those decided earlier came first)
        return self.opaque

    def _decorated_no_grad(self, func: cst.FunctionDef) -> bool:
        for d in func.decorators:
            if grad_mode(self.ctx.qualify, d.decorator) is False:
                return True
        return False

    def _block(self, stmts, frame, loops, branches, no_grad, accumulate) -> None:
        for stmt in stmts:
            self._stmt(stmt, frame, loops, branches, no_grad, accumulate)

    def _stmt(self, stmt, frame, loops, branches, no_grad, accumulate) -> None:
        top_stmt = frame.call_stmt or stmt
        st = (frame, loops, branches, no_grad, accumulate, top_stmt, stmt)
        t = type(stmt)
        if t in _DEFINITIONS:
            return
        if t in _SIMPLE_LINES:
            for small in stmt.body:
                self._small(small, st)
            return
        if t is cst.If:
            self._expr(stmt.test, st)
            decided = _literal_truth(stmt.test)  # ``if False:`` (code switched off by hand)
            if decided is None and frame.consts:
                decided = phase_args.decide(stmt.test, frame.consts)
            if decided is not None:  # ``if phase == "train":`` in a helper called with a constant
                if decided:
                    self._block(_body(stmt), frame, loops, branches, no_grad, accumulate)
                elif stmt.orelse is not None:
                    inner = _body(stmt.orelse) if isinstance(stmt.orelse, cst.Else) else [stmt.orelse]
                    self._block(inner, frame, loops, branches, no_grad, accumulate)
                return
            self._block(_body(stmt), frame, loops, branches + (Branch(stmt, "body", len(loops)),),
                        no_grad, accumulate)
            if stmt.orelse is not None:
                arm = Branch(stmt, "else", len(loops))
                inner = _body(stmt.orelse) if isinstance(stmt.orelse, cst.Else) else [stmt.orelse]
                self._block(inner, frame, loops, branches + (arm,), no_grad, accumulate)
            return
        if t is cst.For and stmt in self.b.each_loops:
            # ``for opt in optimizers: opt.step()``: every optimizer stepped on this pass, one
            # event of the element (an optimizer by name), not a loop of its own
            self._expr(stmt.iter, st)
            self._block(_body(stmt), frame, loops, branches, no_grad, accumulate)
            if stmt.orelse is not None:
                self._block(_body(stmt.orelse), frame, loops, branches, no_grad, accumulate)
            return
        if t in _LOOPS:
            self._expr(stmt.iter if t is cst.For else stmt.test, st)
            if frame.parent is None:
                self.top_loops.append((stmt, len(loops)))
            self._block(_body(stmt), frame, loops + (stmt,), branches, no_grad, accumulate)
            if stmt.orelse is not None:
                self._block(_body(stmt.orelse), frame, loops, branches + (Branch(stmt, "else", len(loops)),),
                            no_grad, accumulate)
            return
        if t is cst.With:
            ng, acc = no_grad, accumulate
            for item in stmt.items:
                call = item.item
                if isinstance(call, cst.Call):
                    mode = grad_mode(self.ctx.qualify, call)
                    if mode is not None:
                        ng = not mode
                    elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "accumulate":
                        acc = True
                        continue
                    elif isinstance(call.func, cst.Attribute) and call.func.attr.value in (
                            "no_sync", "join_uneven_inputs"):
                        # DDP's ``with model.no_sync():`` (Accelerate's ``accelerator.no_sync(model)``)
                        # skips the gradient all-reduce of a micro-batch; unlike Accelerate's
                        # ``accumulate`` it skips no step and no clearing: the window is the script's own
                        continue
                    elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "no_backward_sync":
                        owner = self._resolve(frame, call.func.value)
                        if owner is not None and owner.kind == B.ACCELERATOR:
                            # Fabric's ``with fabric.no_backward_sync(model, enabled=accumulating):``
                            # skips the gradient all-reduce of a micro-batch; the window (and its
                            # step and clear) is the script's own
                            continue
                self._expr(item.item, st)
            self._block(_body(stmt), frame, loops, branches, ng, acc)
            return
        if t in _TRIES:
            self._block(_body(stmt), frame, loops, branches, no_grad, accumulate)
            for h in stmt.handlers:
                self._block(_body(h), frame, loops, branches + (Branch(stmt, "except", len(loops)),),
                            no_grad, accumulate)
            if stmt.orelse is not None:
                self._block(_body(stmt.orelse), frame, loops, branches + (Branch(stmt, "else", len(loops)),),
                            no_grad, accumulate)
            if stmt.finalbody is not None:
                self._block(_body(stmt.finalbody), frame, loops, branches, no_grad, accumulate)
            return
        if t is cst.Match:
            self._expr(stmt.subject, st)
            for i, case in enumerate(stmt.cases):
                self._block(_body(case), frame, loops, branches + (Branch(stmt, f"case{i}", len(loops)),),
                            no_grad, accumulate)
            return

    def _small(self, small, st) -> None:
        kind = type(small)
        if kind in _ASSIGNS:
            value = small.value
            if value is not None:
                self._expr(value, st)
            targets = [t.target for t in small.targets] if kind is cst.Assign else [small.target]
            for t in targets:
                if type(t) is _ATTRIBUTE and t.attr.value == "grad" and not _transforms_grad(t, value):
                    self._emit(EventKind.ZERO_GRAD, small, st, certain=False)
                if type(value) is _CALL and self._is_scale_call(value, st[0]):
                    k = key_of(t)
                    if k:
                        self._scaled_names[(st[0].func, k)] = True
            return
        if kind is cst.Expr:
            self._expr(small.value, st)
            return
        if kind is cst.Return and small.value is not None:
            self._expr(small.value, st)
            return
        for child in _walk.children(small):
            if isinstance(child, cst.BaseExpression):
                self._expr(child, st)

    def _expr(self, expr, st) -> None:
        """Calls in evaluation order (inner calls first), not entering lambdas/comprehension defs."""
        for call in _calls_in(self.model, expr):
            self._call(call, st)

    # -- classification -----------------------------------------------------------------
    def _resolve(self, frame: _Frame, expr, want=None) -> Binding | None:
        k = key_of(expr)
        if k is None:
            return None
        return self._resolve_key(frame, k, want)

    def _resolve_key(self, frame: _Frame, k: str, want=None) -> Binding | None:
        root, dot, rest = k.partition(".")
        if frame.parent is not None and root in frame.subst and frame.subst[root] is not None:
            b = self._resolve_key(frame.parent, frame.subst[root] + (dot + rest if rest else ""), want)
            if b is not None:
                return b
        return self.b.resolve_key(frame.func, k, want)

    def _is_scale_call(self, call: cst.Call, frame: _Frame) -> bool:
        f = call.func
        if isinstance(f, cst.Attribute) and f.attr.value == "scale":
            b = self._resolve(frame, f.value) or self._resolve(frame, f.value, B.SCALER)
            return b is not None and b.kind == B.SCALER
        return False

    def _emit(self, kind, node, st, **kw) -> Event:
        frame, loops, branches, no_grad, accumulate, top_stmt, own_stmt = st
        ev = Event(kind, node, top_stmt, own_stmt, frame.func, loops, branches, no_grad, accumulate,
                   frame.via, **kw)  # (``index``: given by ``_settle_opaque``)
        (self.events if kind is not None else self.opaque).append(ev)
        self._order.append(ev)
        return ev

    def _call(self, call: cst.Call, st) -> None:
        frame = st[0]
        f = call.func
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if type(f) is _ATTRIBUTE:
            attr = f.attr.value
            recv = f.value
            rkey = key_of(recv)
            if attr == "backward" and rkey == "self":
                # a class's own backward (a from-scratch network), never a tensor's
                helper = self._helper(f, frame)
                if helper is not None:
                    self._inline(helper, call, st)
                else:
                    self._opaque(call, st, touches_all=True)
                return
            if attr == "backward" and self.ctx.qualify(f) == "torch.autograd.backward":
                # ``torch.autograd.backward([loss], grads)`` / ``autograd.backward(...)``: the
                # function form of a tensor's backward, not a method of an engine
                self._emit(EventKind.BACKWARD, call, st)
                return
            if attr in ("backward", "manual_backward"):
                self._backward(call, recv, positional, st)
                return
            if attr == "zero_grad":
                b = self._resolve(frame, recv, B.OPTIMIZER)
                if b is not None and b.kind == B.OPTIMIZER:
                    self._emit(EventKind.ZERO_GRAD, call, st, target=b, target_key=frame.translate(rkey),
                               own_key=rkey)
                elif b is not None and b.kind in (B.ENGINE, B.FOREIGN_OPTIMIZER):
                    return
                else:
                    # ``model.zero_grad()`` names a module only when the file uses it as one
                    # (``model.parameters()`` ...); ``for o in opts: o.zero_grad()`` clears "maybe".
                    mod = frame.translate(rkey)
                    if mod not in module_keys(self.ctx) and mod not in self.b.helper_modules:
                        mod = None
                    self._emit(EventKind.ZERO_GRAD, call, st, certain=False, module=mod,
                               own_key=rkey, aliased=self._aliased(mod))
                return
            if attr == "step":
                # ``self.step(batch)``: the class's own training step (a distiller's or a
                # trainer's), read like any other method of the class
                helper = self._helper(f, frame) if rkey == "self" else None
                if helper is not None:
                    self._inline(helper, call, st)
                else:
                    self._step(call, recv, positional, st)
                return
            scaler = self._resolve(frame, recv)
            if scaler is None and attr in ("scale", "unscale_", "update") and \
                    (attr != "update" or not call.args):
                scaler = self._resolve(frame, recv, B.SCALER)
            if scaler is not None and scaler.kind == B.SCALER:
                kinds = {"scale": EventKind.SCALE, "unscale_": EventKind.UNSCALE,
                         "update": EventKind.SCALER_UPDATE}
                if attr in kinds:
                    target = self._resolve(frame, positional[0].value, B.OPTIMIZER) \
                        if attr == "unscale_" and positional else None
                    self._emit(kinds[attr], call, st, scaler=scaler, scaler_key=rkey, target=target,
                               own_key=key_of(positional[0].value) if positional else None)
                    return
            if scaler is None and attr in ("clip_grad_norm_", "clip_grad_value_", "clip_gradients"):
                scaler = self._resolve(frame, recv, B.ACCELERATOR)
            if attr in ("clip_grad_norm_", "clip_grad_value_") and scaler is not None \
                    and scaler.kind == B.ACCELERATOR:
                self._emit(EventKind.CLIP, call, st, accelerate=True,
                           module=self._params_module(positional, frame))
                return
            if attr == "clip_gradients" and scaler is not None and scaler.kind == B.ACCELERATOR:
                # Fabric's ``fabric.clip_gradients(model, optimizer, max_norm=...)``
                mod = frame.translate(key_of(positional[0].value)) if positional else None
                self._emit(EventKind.CLIP, call, st, accelerate=True, module=mod)
                return
            if attr in MODULE_CLIP_METHODS and call.args and rkey and rkey != "self" and scaler is None:
                # FSDP's and fairscale's ``model.clip_grad_norm_(max_norm)``: the wrapped module
                # clips its own (sharded) gradients, a clip like ``torch.nn.utils``'s of its parameters
                mod = frame.translate(rkey)
                if mod in module_keys(self.ctx):
                    self._emit(EventKind.CLIP, call, st, module=mod)
                    return
            if attr in ("train", "eval") and not call.args or (attr == "train" and len(call.args) == 1):
                if attr == "eval" or not call.args:
                    kind = EventKind.TRAIN_MODE if attr == "train" else EventKind.EVAL_MODE
                else:
                    v = call.args[0].value
                    flag = frame.consts.get(v.value, v.value) if isinstance(v, cst.Name) else None
                    if flag not in ("True", "False"):
                        return
                    kind = EventKind.TRAIN_MODE if flag == "True" else EventKind.EVAL_MODE
                if scaler is None or scaler.kind not in (B.OPTIMIZER, B.SCHEDULER, B.SCALER):
                    mod = frame.translate(rkey)
                    # (through an alias, ``model_without_ddp.eval()``: OPT603 resolves the alias)
                    self._emit(kind, call, st, module=mod, own_key=rkey, aliased=self._aliased(mod))
                return
        if type(f) is _NAME and f.value == "self":
            # ``self(z)`` in a module's method: the class's own ``forward``, read like a helper
            klass = self.b.class_of.get(frame.func) if frame.func is not None else None
            forward = self.model.methods.get(klass, {}).get("forward") if klass is not None else None
            if forward is not None and len(frame.via) < MAX_HELPER_DEPTH:
                self._inline(forward, call, st)
                return
        qn = self.ctx.qualify(f)
        if qn not in CLIP_QUALNAMES and self.ctx.imports.star_modules and \
                (f.attr.value if type(f) is _ATTRIBUTE else getattr(f, "value", "")) in CLIP_FUNCTIONS:
            qn = modules.star_qualify(self.ctx, f) or qn  # ``nn.utils.clip_grad_norm_`` through ``from x import *``
        if qn in CLIP_QUALNAMES or self._clip_helper(f, frame):
            self._emit(EventKind.CLIP, call, st, module=self._params_module(positional, frame))
            return
        if qn in ("torch.autograd.backward",):
            self._emit(EventKind.BACKWARD, call, st)
            return
        if qn in OPTIMIZER_STEPPING_QUALNAMES:
            handed = arg(call, 0, "optimizer")
            target = self._resolve(frame, handed, B.OPTIMIZER) if handed is not None else None
            if target is not None and target.kind == B.OPTIMIZER:
                akey = key_of(handed)
                self._emit(EventKind.STEP, call, st, target=target, target_key=frame.translate(akey), own_key=akey)
                return
        helper = self._helper(f, frame)
        if helper is not None:
            self._inline(helper, call, st)
            return
        closure = self._returned_closure(f, frame)
        if closure is not None:
            self._inline(closure[0], call, st, closure[1])
            return
        deep = self._helper(f, frame, any_depth=True)
        if deep is not None and (
                _MODULE_READER_FUNC.search(deep.name.value) and summaries.no_direct_effect(deep)
                or summaries.method_never_touches(deep, modules.linted_file(self.ctx), self.b.class_of.get(deep),
                                                  self.ctx.project_root)):
            # a helper too deep to unfold: named for a log or a save and clearing, stepping and
            # backpropagating nothing in its own body, or summarised as touching nothing
            return
        name = f.attr.value if type(f) is _ATTRIBUTE else f.value if type(f) is _NAME else ""
        if _CLEAR_NAME.search(name):
            self._emit(EventKind.ZERO_GRAD, call, st, certain=False)
            return
        self._opaque(call, st)

    def _aliased(self, mod: str | None) -> bool:
        """``mod`` (a module key of the analysed scope) may name the same module as another key,
        through a local alias: ``model = self.model``, ``net = model.module if ... else model``,
        ``ddp_model = DDP(model)``. A clearing or mode change through one spelling then acts on
        the other's parameters, so neither is "certainly a different module"."""
        if not mod:
            return False
        cache = self._alias_cache
        if mod not in cache:
            cache[mod] = _aliased_in(self.ctx, self.func, mod)
        return cache[mod]

    def _params_module(self, positional, frame) -> str | None:
        if not positional:
            return None
        v = positional[0].value
        if isinstance(v, cst.Call) and isinstance(v.func, cst.Attribute) and \
                v.func.attr.value in ("parameters",):
            return frame.translate(key_of(v.func.value))
        return None

    def _backward(self, call, recv, positional, st) -> None:
        frame = st[0]
        attr = call.func.attr.value
        b = self._resolve(frame, recv)
        if b is None and len(positional) == 1:
            b = self._resolve(frame, recv, B.ACCELERATOR)
        if attr == "manual_backward":
            if key_of(recv) == "self":
                self._emit(EventKind.BACKWARD, call, st, accelerate=True)
            else:
                self._opaque(call, st, touches_all=True)
            return
        if b is not None and b.kind == B.ACCELERATOR:
            self._emit(EventKind.BACKWARD, call, st, accelerate=True)
            return
        if b is not None and b.kind == B.ENGINE:
            self._opaque(call, st, touches_all=True)
            return
        opt = b if b is not None else self._resolve(frame, recv, B.OPTIMIZER) if len(positional) == 1 else None
        if opt is not None and opt.kind == B.OPTIMIZER and len(positional) == 1 and not opt.lightning and \
                (opt.call is None or modules.constructed_class(self.ctx, opt.call.func) is None):
            # (a class of the project defining ``backward`` may step in it: left opaque)
            # ``optimizer.backward(loss)``: a wrapping optimizer's backward (apex's FP16_Optimizer,
            # fairseq's, ColossalAI's) scales the loss, backpropagates it and unscales in its own
            # ``step()``; it neither clears nor steps
            self._emit(EventKind.BACKWARD, call, st, own_key=key_of(positional[0].value))
            return
        if positional and (b is not None or not self._tensor_backward(recv, frame)):
            # ``engine.backward(loss)`` of something we cannot see, or ``t.backward(grad)``.
            self._opaque(call, st, touches_all=True)
            return
        scaled = False
        scaler = None
        scaler_key = None
        if isinstance(recv, cst.Call) and self._is_scale_call(recv, frame):
            scaled = True
            scaler = self._resolve(frame, recv.func.value) or self._resolve(frame, recv.func.value, B.SCALER)
            scaler_key = key_of(recv.func.value)
        elif key_of(recv) and self._scaled_names.get((frame.func, key_of(recv))):
            scaled = True
        self._emit(EventKind.BACKWARD, call, st, scaled=scaled, scaler=scaler, scaler_key=scaler_key,
                   own_key=key_of(recv))

    def _tensor_backward(self, recv: cst.BaseExpression, frame: _Frame) -> bool:
        """``d_loss_real.backward(mone)``: the receiver is a tensor, so the argument is the
        gradient to start from (a WGAN's ``one`` / ``mone``), not a loss handed to an engine's
        ``backward``. A local name that says loss, or one every assignment of which computes a
        tensor (a forward, arithmetic, a tensor method: ``D_real = netD(x); D_real = D_real.mean()``)."""
        if type(recv) is not _NAME:
            return False
        name = recv.value
        if symbols.name_says_optimizer(name) or symbols.name_says_module(name) or name in module_keys(self.ctx) or \
                _RUNNER_NAME.search(name):
            return False
        if _LOSS_NAME.search(name):
            return True
        scope = frame.func if frame.func is not None else self.ctx.module
        values = values_assigned(scope, name, nested_functions=False)
        return bool(values) and all(v is not None and self._computes_tensor(v, frame) for v in values)

    def _computes_tensor(self, value: cst.BaseExpression, frame: _Frame) -> bool:
        if isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)):
            return True
        if type(value) is not _CALL:
            return False
        f = value.func
        if type(f) is _ATTRIBUTE and f.attr.value in _TENSOR_METHODS:
            return True
        return type(f) in (_NAME, _ATTRIBUTE) and self._is_forward(f, frame)

    def _step(self, call, recv, positional, st) -> None:
        frame = st[0]
        rkey = key_of(recv)
        b = self._resolve(frame, recv)
        if b is None or b.kind not in (B.OPTIMIZER, B.SCHEDULER, B.SCALER, B.ENGINE, B.FOREIGN_OPTIMIZER,
                                       B.ACCELERATOR):
            b = self._resolve(frame, recv, B.OPTIMIZER)
            if b is None and len(call.args) <= 1:
                b = self._resolve(frame, recv, B.SCHEDULER)
            if b is None and len(positional) == 1 and len(call.args) == 1:
                b = self._resolve(frame, recv, B.SCALER)
        if b is None and rkey is not None and NOT_OPTIMIZER_STEP_RECEIVER.search(rkey.rsplit(".", 1)[-1]):
            # ``self._profiler.step()``, ``env.step(action)``, ``noise_scheduler.step(out, t, x)``,
            # ``ema_unet.step(params)``: reads what it is given, never clears or steps it
            if self._passes_optimizer(call, frame):
                self._opaque(call, st)
            return
        # (an element's key: ``lr_schedulers[i]`` has none, its container's name speaks for it)
        spelled = rkey if rkey is not None or not isinstance(recv, cst.Subscript) else key_of(recv.value)
        if b is None and spelled is not None and len(call.args) <= 1 and \
                symbols.name_says_scheduler(_ELEMENT.sub("", spelled).rsplit(".", 1)[-1]):
            # ``lr_scheduler.step()`` of a scheduler built where we cannot see (a config, a
            # helper of another package), ``lr_schedulers[i].step()`` of one in a list of them:
            # it moves a learning rate, never clears or steps
            if self._passes_optimizer(call, frame):
                self._opaque(call, st)
            return
        if b is None and rkey is not None and positional and _TASK_RECEIVER.search(rkey.rsplit(".", 1)[-1]) and \
                not self._passes_optimizer(call, frame):
            return  # ``self.task.step(actions)``: an RL task (environment) stepped with actions
        if b is None and isinstance(call.func, cst.Attribute) and self._harmless_method_call(call.func, frame):
            return  # ``self.actor.step()`` of a project class whose ``step`` never clears or steps
        if b is None or b.kind in (B.ENGINE, B.FOREIGN_OPTIMIZER, B.ACCELERATOR):
            # Something steps that we cannot see: maybe an optimizer.
            self._opaque(call, st, touches_all=True)
            return
        if b.kind == B.OPTIMIZER:
            kind = EventKind.STEP_CLOSURE if call.args else EventKind.STEP
            self._emit(kind, call, st, target=b, target_key=frame.translate(rkey), own_key=rkey)
        elif b.kind == B.SCHEDULER:
            self._emit(EventKind.SCHED_STEP, call, st, target=b, target_key=frame.translate(rkey), own_key=rkey)
        elif b.kind == B.SCALER:
            arg = positional[0].value if positional else None
            target = self._resolve(frame, arg, B.OPTIMIZER) if arg is not None else None
            akey = key_of(arg) if arg is not None else None
            self._emit(EventKind.SCALER_STEP, call, st, target=target, scaler=b, scaler_key=rkey,
                       target_key=frame.translate(akey), own_key=akey)

    def _helper(self, f, frame: _Frame, any_depth: bool = False) -> cst.FunctionDef | None:
        """The function of this module that call ``f`` runs, if it is unfolded here (within
        ``MAX_HELPER_DEPTH`` of the analysed scope, unless ``any_depth``)."""
        if len(frame.via) >= MAX_HELPER_DEPTH and not any_depth:
            return None
        t = type(f)
        if t is _NAME:
            if self.ctx.imports.imported(f.value):
                return None
            scope = frame.func
            while scope is not None:  # the innermost enclosing function that defines it
                key = (scope, f.value)
                if key in self.model.local_functions:
                    return self.model.local_functions[key]
                scope = self.model.parent_func.get(scope)
            return self.model.functions.get(f.value)
        if t is _ATTRIBUTE and type(f.value) is _NAME and f.value.value == "self":
            klass = self.b.class_of.get(frame.func) if frame.func is not None else None
            if klass is not None:
                return self.model.method_of(klass, f.attr.value)
        return None

    def _inline(self, helper: cst.FunctionDef, call: cst.Call, st, factory=None) -> None:
        """Walk ``helper``'s body as run by ``call``; ``factory`` is ``(make_loop, its call)``
        when ``helper`` is a closure ``make_loop`` built and returned (``loop = make_loop(model,
        opt)``): the closure's free names that are ``make_loop``'s parameters are its arguments."""
        frame, loops, branches, no_grad, accumulate, top_stmt, own_stmt = st
        f: _Frame | None = frame
        while f is not None:
            if f.func is helper:  # recursion: do not unfold again
                klass = self.b.class_of.get(helper)
                if not summaries.never_touches_optimizers(helper, modules.linted_file(self.ctx), klass,
                                                          self.ctx.project_root):
                    self._opaque(call, st, touches_all=True)
                return
            f = f.parent
        subst: dict[str, str | None] = {}
        consts: dict[str, str] = {}
        for fn, c in ((factory or (None, None)), (helper, call)):
            if fn is None:
                continue
            names, keys = _argument_keys(fn, c)
            if fn is not helper:  # the factory's own locals are no names of the caller
                subst.update({n: None for n in _local_names(self.model, fn)})
            subst.update(keys)
            consts.update(_constant_args(fn, c, names, frame))
        inner = _Frame(helper, subst, frame, frame.via + (call,), top_stmt, consts)
        ng = no_grad or self._decorated_no_grad(helper)
        self._block(_body(helper), inner, loops, branches, ng, accumulate)

    def _returned_closure(self, f, frame: _Frame) -> tuple | None:
        """``main_loop(...)`` where ``main_loop = get_main_loop(cfg, model, opt)`` (assigned once
        in the calling scope) and ``get_main_loop`` returns the ``def main_loop`` nested in it:
        ``(main_loop's def, (get_main_loop's def, its call))``."""
        if type(f) is not _NAME or len(frame.via) >= MAX_HELPER_DEPTH:
            return None
        scope = frame.func if frame.func is not None else self.ctx.module
        values = values_assigned(scope, f.value, nested_functions=False)
        if len(values) != 1 or type(values[0]) is not _CALL:
            return None
        factory = self._helper(values[0].func, frame)
        if factory is None:
            return None
        returns = [r for r in _walk.nodes_of(factory.body, (cst.Return,))
                   if _enclosing_def(self.model, r, factory) is factory]
        if len(returns) != 1 or type(returns[0].value) is not _NAME:
            return None
        closure = self.model.local_functions.get((factory, returns[0].value.value))
        return (closure, (factory, values[0])) if closure is not None else None

    def _is_forward(self, f, frame: _Frame) -> bool:
        """``model(x)``, ``self.net(x)``, ``criterion(out, y)``: a module's forward or a loss."""
        k = key_of(f)
        if k is None or self._resolve_key(frame, k) is not None:
            return False
        if isinstance(f, cst.Name) and (f.value in self.model.functions or self.ctx.imports.imported(f.value) and
                                        not values_assigned(self.ctx.module, f.value, nested_functions=False)):
            return False  # a function, or a module imported and never rebound (``import model``)
        if isinstance(f, cst.Attribute) and key_of(f.value) == "self":
            klass = self.b.class_of.get(frame.func) if frame.func is not None else None
            if klass is not None and f.attr.value in self.model.methods.get(klass, {}):
                return False
        if self._submodule_forward(f, frame) or self._held_loss_function(f, frame):
            return True
        if isinstance(f, cst.Attribute) and self._method_of_project_class(f, frame):
            return False  # ``pi.train_net()``: a method of the object's class, not a submodule named ``*_net``
        keys = module_keys(self.ctx)
        if k in keys or frame.translate(k) in keys:
            return True
        return bool(_FORWARD_NAMES.search(k.rsplit(".", 1)[-1]))

    def _built_with(self, recv: cst.BaseExpression, frame: _Frame) -> list[cst.BaseExpression]:
        """The arguments of the one construction of a local object (``helper = Helper(optimizer)``):
        its methods may act on them."""
        k = key_of(recv)
        if not k or "." in k:
            return []
        scope = frame.func if frame.func is not None else self.ctx.module

        def build() -> list[cst.BaseExpression]:
            values = values_assigned(scope, k, nested_functions=False)
            if len(values) != 1 or not isinstance(values[0], cst.Call) or not _constructs(values[0].func):
                return []
            return [a.value for a in values[0].args if not a.star]

        return self.ctx.cached(("optimlint.built_with", id(scope), k), build)

    def _method_of_project_class(self, f: cst.Attribute, frame: _Frame) -> bool:
        classes = self._project_classes_of(key_of(f.value), frame)
        return bool(classes) and all(
            summaries.has_project_method(c.file, c.name, f.attr.value, self.ctx.project_root) for c in classes)

    def _clip_helper(self, f, frame: _Frame) -> bool:
        """``f`` is a project function named for clipping whose body clips gradients in place
        (``commons.clip_grad_value_(net.parameters(), 1.0)``, ``clip_gradient(optimizer, 5.0)``:
        ``summaries.clips_in_place``): its call is a clip."""
        t = type(f)
        if not (t is _NAME or t is _ATTRIBUTE) or not _CLIP_HELPER_NAME.search(f.value if t is _NAME else f.attr.value):
            return False
        helper = self._helper(f, frame, any_depth=True)
        if helper is not None:
            return summaries.clips_in_place(helper, self.ctx.qualify)
        if not self.ctx.imports.imported((key_of(f) or "").split(".", 1)[0]) and not (
                t is _NAME and self.ctx.imports.star_modules and f.value not in self.model.functions):
            return False
        found = summaries.project_function(self.ctx, f)
        return found is not None and summaries.clips_in_place(found[0], found[1].imports.qualify)

    def _harmless_project_call(self, f: cst.BaseExpression) -> bool:
        """A function of another project file whose body certainly never clears, steps or
        backpropagates (``utils.clip_gradient(optimizer, 5.0)``): not an opaque call."""
        if not isinstance(f, (cst.Name, cst.Attribute)):
            return False
        if not self.ctx.imports.imported((key_of(f) or "").split(".", 1)[0]) and not (
                isinstance(f, cst.Name) and self.ctx.imports.star_modules and f.value not in self.model.functions):
            return False  # neither imported nor possibly from ``from utils import *``
        found = summaries.project_function(self.ctx, f)
        return found is not None and summaries.never_touches_optimizers(*found, project_root=self.ctx.project_root)

    def _harmless_method_call(self, f: cst.BaseExpression, frame: _Frame) -> bool:
        """``model.init_hidden()``, ``self.model.reset_noise()``: a method of a project class
        (the receiver's every assignment builds one: a notebook may rebind ``model`` to a second
        network) whose summaries never touch an optimizer. Also a call of such an object, its
        ``__call__`` (``self.scheduler(self.optimizer, i, epoch)``: a project learning-rate
        schedule writing each group's rate)."""
        if isinstance(f, cst.Attribute):
            aliased = self._aliased_methods(f, frame)
            if aliased:
                linted, root = modules.linted_file(self.ctx), self.ctx.project_root
                klass = self.b.class_of[frame.func]
                return all(summaries.method_never_touches(m, linted, klass, project_root=root) for m in aliased)
            classes = self._project_classes_of(key_of(f.value), frame)
            method = f.attr.value
            inherited = self._base_method_of_another_file(f, frame)
            if inherited is not None:
                return summaries.method_never_touches(*inherited, project_root=self.ctx.project_root)
            if not classes and key_of(f.value) == "self":
                classes = self._project_classes_of(key_of(f), frame)
                method = "__call__"
        elif isinstance(f, cst.Name):
            classes, method = self._project_classes_of(f.value, frame), "__call__"
        else:
            return False
        if not classes:
            return False
        root = self.ctx.project_root
        for klass in classes:
            found = summaries.project_method(klass.file, klass.node, method, root)
            if found is None and method != "__call__" and _held_module_forward(klass, method, root):
                continue  # ``self.q_net.loss(target, q)``: the network's ``self.loss = nn.MSELoss()``
            if found is None or not summaries.method_never_touches(*found, project_root=root):
                return False
        return True

    def _aliased_methods(self, f: cst.Attribute, frame: _Frame) -> list[cst.FunctionDef]:
        """``self.maybe_update_target()`` where the class's every assignment of the attribute
        names its own methods (``self.maybe_update_target = self.polyak_target_update if polyak
        else self.copy_target_update``): those methods; [] for anything else."""
        if key_of(f.value) != "self" or frame.func is None:
            return []
        klass = self.b.class_of.get(frame.func)
        if klass is None or self.model.method_of(klass, f.attr.value) is not None:
            return []
        values = values_assigned(klass, f"self.{f.attr.value}")
        out: list[cst.FunctionDef] = []
        for v in values:
            arms = [v.body, v.orelse] if isinstance(v, cst.IfExp) else [v]
            for arm in arms:
                if not (isinstance(arm, cst.Attribute) and key_of(arm.value) == "self"):
                    return []
                method = self.model.method_of(klass, arm.attr.value)
                if method is None:
                    return []
                out.append(method)
        return out

    def _base_method_of_another_file(self, f: cst.Attribute, frame: _Frame):
        """``self.save_td(loss, frame)`` in a class whose project base of another file
        (``class Model(BaseAgent)``, ``agents/BaseAgent.py``) defines the method, the class
        itself and its bases of this file not (those are inlined): that method, as
        ``summaries.project_method`` gives it. None for anything else (an attribute the
        class assigns, a base not found)."""
        if key_of(f.value) != "self" or frame.func is None:
            return None
        klass = self.b.class_of.get(frame.func)
        name = f.attr.value
        if klass is None or self.model.method_of(klass, name) is not None or \
                values_assigned(klass, key_of(f), nested_functions=False):
            return None
        found = summaries.project_method(modules.linted_file(self.ctx), klass, name, self.ctx.project_root)
        return found if found is not None and found[2] is not klass else None

    def _project_classes_of(self, k: str | None, frame: _Frame) -> "tuple[modules.Resolved, ...]":
        if not k or k == "self":
            return ()
        return self.ctx.cached(("optimlint.project_classes_of", id(frame.func), k),
                               lambda: self._find_project_classes(k, frame))

    def _find_project_classes(self, k: str, frame: _Frame) -> "tuple[modules.Resolved, ...]":
        """The project classes ``k`` is built from, one per distinct class; () when some
        assignment builds something else (or none is seen)."""
        if k.startswith("self.") and k.count(".") == 1:
            klass = self.b.class_of.get(frame.func) if frame.func is not None else None
            values = values_assigned(klass, k, nested_functions=False) if klass is not None else []
        elif "." in k:
            return ()
        else:
            scope = frame.func if frame.func is not None else self.ctx.module
            values = values_assigned(scope, k, nested_functions=False)
            if not values and frame.func is not None and k not in _params(frame.func):
                values = values_assigned(self.ctx.module, k, nested_functions=False)
        klass = self.b.class_of.get(frame.func) if frame.func is not None else None
        built = [self._built_class(v) for v in values
                 if not _rebinds_itself(v, k) and not _hands_back(v, k, klass, self.ctx.module)]
        if not built or any(c is None for c in built):
            return ()
        # (one per class, told apart by file and name: reading ``node`` would parse the class)
        return tuple({(id(c.file), c.name): c for c in built}.values())

    def _built_class(self, value: cst.BaseExpression | None) -> "modules.Resolved | None":
        """``Net(...)``, ``Net(...).to(device)``: the project class it builds."""
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
                value.func.attr.value in MODULE_SELF_RETURNING:
            value = value.func.value
        return modules.constructed_class(self.ctx, value.func) if isinstance(value, cst.Call) else None

    def _may_matter(self, touched, keys: set[str], self_call: bool, frame: _Frame) -> bool:
        """Could this opaque call act on an optimizer at all (``touches`` could say yes)? Only
        then is it worth reading the function it calls (parsing another file). An object of a
        project class that keeps an optimizer may (``self.critic.forward(s, a)`` of a network
        building its own ``self.optimizer``)."""
        if touched or self_call:
            return True
        mkeys = module_keys(self.ctx)
        return any(k in mkeys or k.split(".", 1)[0] in mkeys or _PARAMS_NAME.search(k.rsplit(".", 1)[-1])
                   or symbols.name_says_optimizer(k.rsplit(".", 1)[-1]) for k in keys) or \
            any(summaries.holds_optimizer(c.node) for k in keys if k.startswith("self.") and k.count(".") == 1
                for c in self._project_classes_of(k, frame) if c.node is not None)

    def _is_module_value(self, recv: cst.BaseExpression, frame: _Frame) -> bool:
        """``recv`` is used as a module in this file, or is named like one (``model``, ``self.net``)."""
        k = key_of(recv)
        if k is None or k == "self" or self._resolve_key(frame, k) is not None:
            return False
        keys = module_keys(self.ctx)
        return k in keys or frame.translate(k) in keys or bool(_FORWARD_NAMES.search(k.rsplit(".", 1)[-1]))

    def _reads_module(self, call: cst.Call, frame: _Frame) -> bool:
        """A call that, by its name, computes with a module and never trains it: a method of a
        module of unknown class (``model.loss(z)``, ``model.pi(s)``, ``model.forward(x)``,
        ``model.unshard()``), a function handed a module named for a loss, an evaluation, a log
        or a save (``calc_loss_batch(x, y, model)``), an EMA's update. A call whose name says
        it may train, that is handed an optimizer, or that the project's own code answers for
        (a function or class of the project: its body is read instead) stays opaque."""
        f = call.func
        name = symbols.callee_name(f)
        engine = False  # handed an Accelerator / Fabric, no optimizer: read only a project function's body
        if not name or self._passes_optimizer(call, frame) and not (engine := self._hands_only_an_engine(call, frame)):
            return False
        recv = key_of(f.value) if isinstance(f, cst.Attribute) else None
        if name == "apply" and isinstance(f, cst.Attribute) and len(call.args) == 1 and \
                self._is_module_value(f.value, frame):
            return self._harmless_function(call.args[0].value)
        if engine:
            found = summaries.project_function(self.ctx, f) if isinstance(f, cst.Name) and \
                f.value not in self.model.functions and not _may_train(name) and _MODULE_READER_FUNC.search(name) else None
            return found is not None and summaries.no_direct_effect(found[0])
        if recv == "self" or (recv or "").startswith("self.") and recv.count(".") == 1 and \
                self._resolve_key(frame, recv) is not None:
            return False
        if _AVERAGING_METHOD.match(name) and recv is not None:
            return True
        if name == "update_parameters" and _AVERAGED_RECEIVER.search(recv or ""):
            return True
        if _may_train(name):
            return False
        if isinstance(f, cst.Attribute) and self._is_module_value(f.value, frame):
            methods = self._project_methods(recv, name, frame)
            if not methods:
                return True
            return bool(_MODULE_READER_FUNC.search(name) or _MODULE_READ_METHODS.match(name)) and \
                _all_read(methods)
        if not _MODULE_READER_FUNC.search(name):
            return False
        if isinstance(f, cst.Name):
            if f.value in self.model.functions:
                return False
            found = summaries.project_function(self.ctx, f)
            return found is None or summaries.no_direct_effect(found[0])
        if not self._project_classes_of(recv, frame):
            return True
        return self._reading_methods(recv, name, frame)

    def _harmless_function(self, fn: cst.BaseExpression) -> bool:
        """``fn``, handed to ``module.apply(fn)``, is a function of this file or the project, or a
        lambda calling only such functions, whose own body clears, steps and backpropagates
        nothing (``classifier.apply(lambda m: bn_momentum_adjust(m, momentum))``,
        ``net.apply(weights_init)``): the call visits the submodules and sets what it sets."""
        if isinstance(fn, cst.Lambda):
            calls = list(_walk.nodes_of(fn.body, cst.Call))
            return bool(calls) and all(isinstance(c.func, cst.Name) and self._harmless_function(c.func)
                                       for c in calls)
        if not isinstance(fn, cst.Name):
            return False
        own = self.model.functions.get(fn.value)
        if own is not None:
            return summaries.no_direct_effect(own)
        found = summaries.project_function(self.ctx, fn)
        return found is not None and summaries.no_direct_effect(found[0])

    def _reading_methods(self, recv: str | None, name: str, frame: _Frame) -> bool:
        """Every project class ``recv`` may be built from defines ``name`` (a method named for
        generating, evaluating, logging: ``model.generate_with_cond``), and its own body clears,
        steps and backpropagates nothing."""
        return _all_read(self._project_methods(recv, name, frame))

    def _project_methods(self, recv: str | None, name: str, frame: _Frame) -> list:
        """For each project class ``recv`` may be built from, its method ``name`` (defined or
        inherited from a project base) as ``summaries.project_method`` gives it, or None where
        the class has no such method; only classes that do are listed when any does. (By the
        class's name: it is parsed only when it answers; most such calls are methods of
        ``nn.Module``, ``model.parameters()``, which no project class defines.)"""
        found = [summaries.project_method(k.file, k.name, name, self.ctx.project_root)
                 for k in self._project_classes_of(recv, frame)]
        return found if any(m is not None for m in found) else []

    def _passes_optimizer(self, call: cst.Call, frame: _Frame) -> bool:
        # (asked up to six times for one call by _opaque's cascade and _reads_module: the
        # last answer is kept; it depends only on the call and the frame)
        last = self._passes_last
        if last is not None and last[0] is call and last[1] is frame:
            return last[2]
        answer = self._passes_optimizer_now(call, frame)
        self._passes_last = (call, frame, answer)
        return answer

    def _hands_only_an_engine(self, call: cst.Call, frame: _Frame) -> bool:
        """What ``call`` is handed of the training objects is an ``Accelerator`` / Fabric and no
        optimizer (``save_model_checkpoint(fabric, model, path)``)."""
        found = [self._resolve(frame, a.value) for a in call.args]
        return any(b is not None for b in found) and all(b is None or b.kind == B.ACCELERATOR for b in found) and \
            not any(symbols.name_says_optimizer((key_of(a.value) or "").rsplit(".", 1)[-1]) for a in call.args)

    def _passes_optimizer_now(self, call: cst.Call, frame: _Frame) -> bool:
        return any(self._resolve(frame, a.value) is not None or
                   symbols.name_says_optimizer((key_of(a.value) or "").rsplit(".", 1)[-1]) and
                   not self._options_object(key_of(a.value) or "") for a in call.args)

    def _options_object(self, key: str) -> bool:
        """``opt`` read as a bag of options somewhere in the file (``opt.batch_size``,
        ``opt.lr``): an argparse namespace named like an optimizer, not one."""
        reads = self.ctx.cached("optimlint.attribute_reads", lambda: _attribute_reads(self.ctx.module))
        return bool(reads.get(key, frozenset()) - OPTIMIZER_ATTRIBUTES)

    def _submodule_forward(self, f: cst.BaseExpression, frame: _Frame) -> bool:
        """``self.fc1(x)`` where the class holds a module in ``fc1``: that module's forward."""
        if not (isinstance(f, cst.Attribute) and key_of(f.value) == "self"):
            return False
        klass = self.b.class_of.get(frame.func) if frame.func is not None else None
        if klass is None or f.attr.value in self.model.methods.get(klass, {}):
            return False
        attrs = self.ctx.cached("optimlint.module_attrs", lambda: _module_attrs(self.ctx))
        return f.attr.value in attrs.get(klass, ())

    def _held_loss_function(self, f: cst.BaseExpression, frame: _Frame) -> bool:
        """``self.loss(prediction, y)`` / ``self.criterion(...)``: an attribute named for a loss
        that no class of the hierarchy defines as a method holds the loss function the
        instance was handed (``self.loss = loss`` in a base ``__init__``)."""
        if not (isinstance(f, cst.Attribute) and key_of(f.value) == "self" and _HELD_LOSS.match(f.attr.value)):
            return False
        klass = self.b.class_of.get(frame.func) if frame.func is not None else None
        if klass is None:
            return False
        linted = modules.linted_file(self.ctx)
        return summaries.project_method(linted, klass, f.attr.value, self.ctx.project_root) is None and \
            f"def {f.attr.value}(" not in self.ctx.source

    def _opaque(self, call: cst.Call, st, touches_all: bool = False) -> None:
        """A call the walk does not read as an event: decided by ``_decide_opaque`` once the
        scope is walked (and only if the scope has events)."""
        self._order.append((call, st, touches_all))

    def _decide_opaque(self, call: cst.Call, st, touches_all: bool = False) -> None:
        frame = st[0]
        f = call.func
        if not touches_all:
            # (each of these read once: the cascade below asks them again and again, for the
            # ~90% of a training file's calls that end here)
            t = type(f)
            named = t is _NAME or t is _ATTRIBUTE
            if t is _NAME and f.value in _HARMLESS_FUNCS:
                return
            spelled = (key_of(f) or "") if named else ""
            if named and PREDICATE_NAME.search(spelled):
                return  # ``is_compiled_module(model)``, ``accelerator.is_main_process``: a question
            if _constructs(f) and not self._passes_optimizer(call, frame):
                return  # ``Pipeline(unet=unet)`` wraps the model (for validation), clears nothing
            if named and GETTER_NAME.search(spelled) and not self._passes_optimizer(call, frame):
                return  # ``get_peft_model_state_dict(unet)``, ``get_grad_norm(params)``: reads
            qn = self.ctx.qualify(f)
            if TORCH_PURE_FUNCTION.match(qn or ""):
                return  # ``torch.rand(..., dtype=weight_dtype)``: a new tensor, no gradient touched
            if qn is not None and qn.startswith(NUMERIC_LIBRARIES):
                return  # ``np.isnan(grad_norm)``, ``math.sqrt(...)``: numbers, never a gradient of torch's
            if qn is not None and qn.partition(".")[0] in PLAIN_STDLIB_MODULES:
                return  # ``time.time()``, ``os.makedirs(out_dir)``, ``json.dump(log, fh)``: no torch object touched
            if qn in TORCH_FUNCTIONAL_GRADIENTS:
                return  # ``torch.autograd.grad(outputs, inputs)`` returns gradients, never writes ``.grad``
            if TORCH_COLLECTIVE.match(qn or ""):
                return  # ``dist.all_reduce(grads)``: sums what it is given, never clears or steps
            if named and GRADIENT_COLLECTIVE_NAME.search(f.attr.value if t is _ATTRIBUTE else f.value) and \
                    not self._passes_optimizer(call, frame):
                return  # ``mpi_avg_grads(ac.pi)``, ``average_gradients(model)``: a collective over the gradients
            if t is _ATTRIBUTE:
                attr = f.attr.value
                if attr in _HARMLESS_METHODS:
                    return
                if attr in GRAD_CLAMP_METHODS and summaries.is_grad_tensor(f.value):
                    return  # ``p.grad.nan_to_num_(nan=0.0)``, ``p.grad.data.clamp_(-1, 1)``: sanitised, not cleared
                on_self = key_of(f.value) == "self"
                if on_self and attr.startswith("assert"):
                    return  # unittest's self.assertTrue(...)
                if on_self and attr in LIGHTNING_OPTIMIZER_GETTERS:
                    return  # Lightning hands the optimizers back or toggles requires_grad: nothing cleared
            if qn in APEX_HARMLESS_QUALNAMES:
                return
            if t is _ATTRIBUTE and _MODULE_READ_METHODS.match(f.attr.value) and \
                    self._is_module_value(f.value, frame) and not self._passes_optimizer(call, frame):
                return  # ``model.generate(...)``, ``model.save_pretrained(dir)``: no gradient touched
            if self._is_forward(f, frame) and not self._passes_optimizer(call, frame):
                return
            if t is _ATTRIBUTE and f.attr.value == "forward" and self._is_forward(f.value, frame) and \
                    not self._passes_optimizer(call, frame):
                return  # ``model.forward(x)``: the module's forward, as ``model(x)`` (OPT604's business)
            if self._reads_module(call, frame):
                return
        keys: set[str] = set()
        touched: list[Binding] = []
        exprs = [a.value for a in call.args]
        if type(f) is _ATTRIBUTE:
            exprs.append(f.value)  # ``helper.run(...)`` may touch what ``helper`` holds
            exprs.extend(self._built_with(f.value, frame))  # ... and what it was built with
        elif type(f) is _NAME:
            exprs.append(f)  # ``optim(params)``: calling an object may act on it
        for e in exprs:
            k = key_of(e)
            if k is None:
                continue
            t = frame.translate(k)
            keys.add(t or k)
            b = self._resolve_key(frame, k, B.OPTIMIZER) or self._resolve_key(frame, k)
            if b is not None:
                touched.append(b)
        self_call = type(f) is _ATTRIBUTE and key_of(f.value) == "self" or "self" in keys
        if not (keys or touches_all or self_call):
            return
        if not touches_all and self._may_matter(touched, keys, self_call, frame) and \
                (self._harmless_project_call(f) or self._harmless_method_call(f, frame)):
            return  # read, not guessed: the function never clears, steps or backpropagates
        receiver = key_of(f.value) if isinstance(f, cst.Attribute) else None
        if receiver is not None:
            receiver = frame.translate(receiver) or receiver
        self._emit(None, call, st, touches=tuple(touched), touch_keys=frozenset(keys), self_call=self_call,
                   touches_all=touches_all, receiver_key=receiver)


def _by_index(ev: Event) -> int:
    return ev.index


def _number(item: tuple[int, tuple]) -> int:
    return item[0]


def _all_read(methods: list) -> bool:
    """``methods`` (``_Walker._project_methods``'s) are there, and each one's own body clears,
    steps and backpropagates nothing."""
    return bool(methods) and all(m is not None and summaries.no_direct_effect(m[0]) for m in methods)


# A call that builds a new (zero, empty, filled) tensor: ``torch.zeros_like(p.grad)``, ``p.grad.new_zeros(...)``
_FRESH_TENSOR = re.compile(r"(^|_)(zeros?|empty|full|ones|fill)(_|$)|_like$|^new_")


def _transforms_grad(target: cst.Attribute, value: cst.BaseExpression | None) -> bool:
    """``param.grad = accelerator.reduce(param.grad, reduction="mean")``, ``p.grad =
    p.grad.clamp(-1, 1)``: the gradient written back transformed (synchronised, clipped),
    never cleared; not ``torch.zeros_like(p.grad)`` or ``p.grad.zero_()``."""
    if type(value) is not _CALL:
        return False
    k = key_of(target)
    f = value.func
    if k is None or _FRESH_TENSOR.search(symbols.callee_name(f)):
        return False
    return (type(f) is _ATTRIBUTE and key_of(f.value) == k) or \
        any(a.keyword is None and not a.star and key_of(a.value) == k for a in value.args)


def _module_attrs(ctx: "FileContext") -> dict[cst.ClassDef, set[str]]:
    """Per class, the ``self.x`` attributes every assignment sets to a constructed object
    (``self.fc1 = nn.Linear(4, 8)``, ``self.block = ResBlock(64)``: a CapWords call) or to the
    module a project helper hands back, maybe wrapped (``self.dmodel = distrib.wrap(model)``:
    ``_wrapping_helper``), so that ``self.fc1(x)`` is that module's forward. One walk of the
    file: the full class analysis (``modules.class_info``) costs too much per edit in the
    language server."""
    module = ctx.module
    built: dict[cst.ClassDef, set[str]] = {}
    other: dict[cst.ClassDef, set[str]] = {}

    _walk.visit(module, _SelfModuleAttrs(ctx, built, other))
    return {k: v - other.get(k, set()) for k, v in built.items()}


class _SelfModuleAttrs(cst.CSTVisitor):
    """``_module_attrs``' walk. (A class of the module: one made per call would be cyclic
    garbage whose closures held the file's tree until the cyclic collector ran.)"""

    def __init__(self, ctx: "FileContext", built: dict, other: dict) -> None:
        self.ctx = ctx
        self.built = built
        self.other = other
        self.classes: list[cst.ClassDef] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._record(t.target, node.value, augmented=False)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._record(node.target, node.value, augmented=False)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._record(node.target, node.value, augmented=True)

    def _record(self, target, value, augmented: bool) -> None:
        if not self.classes or not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                                    and target.value.value == "self"):
            return
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
                value.func.attr.value in MODULE_SELF_RETURNING:
            value = value.func.value  # ``nn.BCELoss().cuda(device)``: the module built
        if not augmented and _hands_back(value, key_of(target), self.classes[-1], self.ctx.module):
            return  # ``self.target = self.target_ini(self.net, self.target)``: the same module again
        name = (key_of(value.func) or "").rsplit(".", 1)[-1] if isinstance(value, cst.Call) else ""
        table = self.built if not augmented and (name[:1].isupper() or _wrapping_helper(self.ctx, value)) else self.other
        table.setdefault(self.classes[-1], set()).add(target.attr.value)


def _wrapping_helper(ctx: "FileContext", value: cst.BaseExpression) -> bool:
    """``distrib.wrap(model)``: a call of a top-level function of this or another project file
    every return of which hands back, as it is or wrapped (``DistributedDataParallel(model,
    ...)``), the parameter the call passes a module for (a name that says module)."""
    if not (isinstance(value, cst.Call) and isinstance(value.func, (cst.Name, cst.Attribute))):
        return False
    f = value.func
    fn = None
    if isinstance(f, cst.Name) and not ctx.imports.imported(f.value):
        fns = [d for d in ctx.module.body if isinstance(d, cst.FunctionDef) and d.name.value == f.value]
        fn = fns[0] if len(fns) == 1 else None
    elif ctx.imports.imported((key_of(f) or "").split(".", 1)[0]):
        found = summaries.project_function(ctx, f)
        fn = found[0] if found is not None else None
    if fn is None:
        return False
    returns = [r.value for r in function_returns(fn)]
    kept = {frozenset(module_value_keys(v)) for v in returns}
    if not returns or len(kept) != 1:
        return False
    keys = kept.pop()
    if len(keys) != 1:
        return False
    param = next(iter(keys))
    if param not in param_names(fn) or stores(fn, param, nested_functions=False):
        return False
    handed = B.argument_for(value, fn, 0, param)
    k = key_of(handed) if handed is not None else None
    return k is not None and symbols.name_says_module(k.rsplit(".", 1)[-1])


def _iterations_of(model: TrainingModel, func, walker: _Walker) -> None:
    events, ctx = walker.events, model.ctx
    for loop, depth in walker.top_loops:
        it = Iteration("loop", loop, func, depth, ctx=ctx)
        it.events = [e for e in events if len(e.loops) > depth and e.loops[depth] is loop]
        model.iterations.append(it)
    if func is None:
        return
    kinds = {e.kind for e in events}
    steps = kinds & {EventKind.STEP, EventKind.SCALER_STEP}
    klass = model.bindings.class_of.get(func)
    if klass in model.lightning_classes and func.name.value == "training_step":
        kind = "lightning-auto" if model.lightning_classes[klass] else "lightning-manual"
        model.iterations.append(Iteration(kind, func, func, -1, list(events), ctx))
    elif EventKind.BACKWARD in kinds and (steps or callers.ignite_engines(model.ctx, func)):
        # (ignite's ``Engine(_update)`` runs a nested update function per batch: one pass, not a closure)
        model.iterations.append(Iteration("function", func, func, -1, list(events), ctx))
    elif EventKind.BACKWARD in kinds and model.parent_func.get(func) is not None:
        model.iterations.append(Iteration("closure", func, func, -1, list(events), ctx))


# -- questions the rules ask ---------------------------------------------------------------

def same_object(a: Binding | None, b: Binding | None) -> bool | None:
    """True: certainly the same optimizer; False: certainly different; None: cannot tell."""
    if a is None or b is None:
        return None
    if a is b:
        return True
    if a.fresh and b.fresh and a.call is b.call:
        return None  # one helper call run more than once (``for m in models: opt, _ = build(m)``)
    if (a.own_object or b.own_object) and a.name == b.name:
        return None  # (one attribute seen from two classes: a subclass's is its base's)
    if a.by_name and not (a.fresh or a.own_object) or b.by_name and not (b.fresh or b.own_object):
        # (an optimizer a project helper builds at each call, ``build_optimizer(params,
        # cfg)``, is a new object: distinct from any other construction)
        return None
    return False


def module_covers(module: str, owned: str) -> bool:
    """``model.zero_grad()`` clears ``model.head``'s and ``model[0]``'s gradients (prefix on keys)."""
    return owned == module or owned.startswith(module + ".") or owned.startswith(module + "[")


def clears(ev: Event, opt: Binding) -> bool | None:
    """Does clearing event ``ev`` clear ``opt``'s gradients? True / False / None (maybe)."""
    if ev.kind is not EventKind.ZERO_GRAD:
        return False
    if ev.target is not None:
        same = same_object(ev.target, opt)
        return True if same else (None if same is None else False)
    if ev.module is None or opt.modules is None:
        return None
    if all(module_covers(ev.module, m) for m in opt.modules):
        return True
    if ev.aliased or any(module_covers(ev.module, m) or module_covers(m, ev.module) for m in opt.modules):
        return None  # clears part of the optimizer's parameters (or, through an alias, maybe all)
    return False


def touches(ev: Event, opt: Binding | None, module_keys: frozenset[str] = frozenset()) -> bool:
    """May opaque call ``ev`` act on ``opt`` (clear it, step it, run a backward into it)?

    It may when it is passed the optimizer, one of the modules it was built from, or
    (parameters unknown) anything that is used as a module in this file; a call on
    ``self`` may touch an optimizer held in a ``self`` attribute.
    """
    if ev.touches_all:
        return True
    if opt is None:
        return True
    if any(same_object(t, opt) is not False for t in ev.touches if t.kind == B.OPTIMIZER):
        return True
    if opt.name in ev.touch_keys:
        return True
    if ev.self_call and (opt.name.startswith("self") or opt.by_name or
                         any(m.startswith("self") for m in (opt.modules or ()))):
        return True
    if opt.modules is None:
        # parameters unknown: a module of this file, or something named like parameters or
        # gradients (``zero_grads(params)``), may be the optimizer's
        return any(k in module_keys or k.split(".")[0] in module_keys or
                   _PARAMS_NAME.search(k.rsplit(".", 1)[-1]) for k in ev.touch_keys)
    # passing the model (or a parent) may clear it; passing ``model.head`` only when the file
    # uses it as a module (``model.train_targets`` is a tensor); a local list of parameters
    # (``params = [p for p in model.parameters() if ...]``) may be the optimizer's
    return any(module_covers(k, m) or (module_covers(m, k) and (k in module_keys or _PARAMS_NAME.search(k)))
               for k in ev.touch_keys for m in opt.modules) or \
        any("." not in k and _PARAMS_NAME.search(k) for k in ev.touch_keys)



def may_step(ev: Event, opt: Binding | None, module_keys: frozenset[str] = frozenset()) -> bool:
    """May opaque call ``ev`` step ``opt``? Narrower than :func:`touches`: a call handed only
    the model (``unwrap_model(model)``, ``log_grads(model)``) may clear its gradients but holds
    no optimizer to step; a call *on* a module may (a DeepSpeed engine's ``engine.step()``)."""
    if not touches(ev, opt, module_keys):
        return False
    if ev.touches_all or opt is None or ev.self_call or opt.name in ev.touch_keys:
        return True
    if any(same_object(t, opt) is not False for t in ev.touches if t.kind == B.OPTIMIZER):
        return True
    return ev.receiver_key is not None and \
        touches(replace(ev, touches=(), touch_keys=frozenset({ev.receiver_key})), opt, module_keys)


# An RL task object, stepped with the actions (an optimizer's step takes at most a closure).
_TASK_RECEIVER = re.compile(r"(^|_)tasks?$")


# Calls that return the module they are given, or a wrapper sharing its parameters.
_WRAPPER_CALL = re.compile(r"(^|\.)(DistributedDataParallel|DataParallel|DDP|FSDP|FullyShardedDataParallel|"
                           r"compile|prepare|prepare_model|unwrap_model|getattr)$")


def module_value_keys(value: cst.BaseExpression | None) -> set[str]:
    """Keys of the modules ``value`` may evaluate to without building a new one: ``self.model``,
    ``model.module if ... else model``, ``DDP(model)``, ``model.to(device)``, ``accelerator.prepare(model)``."""
    if value is None:
        return set()
    if isinstance(value, (cst.Name, cst.Attribute)):
        k = key_of(value)
        return {k} if k else set()
    if isinstance(value, cst.IfExp):
        return module_value_keys(value.body) | module_value_keys(value.orelse)
    if isinstance(value, cst.BooleanOperation):
        return module_value_keys(value.left) | module_value_keys(value.right)
    if isinstance(value, cst.Call):
        f = value.func
        if isinstance(f, cst.Attribute) and f.attr.value in MODULE_SELF_RETURNING:
            return module_value_keys(f.value)
        name = key_of(f) if isinstance(f, (cst.Name, cst.Attribute)) else None
        if name and _WRAPPER_CALL.search(name):
            out: set[str] = set()
            for a in value.args:
                if a.keyword is None and not a.star:
                    out |= module_value_keys(a.value)
            return out
    return set()


def _loop_target(scope: cst.CSTNode, name: str) -> bool:
    """``name`` is bound by the target of a ``for`` in ``scope`` (``for net, opt in ...``)."""
    return any(isinstance(n, cst.Name) and n.value == name
               for loop in _walk.nodes_of(scope, cst.For) for n in _walk.nodes_of(loop.target, cst.Name))


def _aliased_in(ctx: "FileContext", func: cst.CSTNode | None, mod: str) -> bool:
    """A local name of ``func`` links ``mod`` with another module of the file: ``mod``'s root is
    assigned from another module key, or another module key's root is assigned from ``mod``."""
    scope = func if func is not None else ctx.module
    keys = module_keys(ctx)
    root = mod.partition(".")[0]

    def other_module(k: str, not_root: str) -> bool:
        return k.partition(".")[0] != not_root and any(
            module_covers(m, k) or module_covers(k, m) for m in keys)

    if root != "self":
        if _loop_target(scope, root):
            return True  # ``for net, opt in zip(nets, opts): net.zero_grad()``: any module of the container
        for v in values_assigned(scope, root, nested_functions=False):
            if v is not None and any(other_module(k, root) for k in module_value_keys(v)):
                return True
    for name in {k.partition(".")[0] for k in keys}:
        if name in ("self", root):
            continue
        for v in values_assigned(scope, name, nested_functions=False):
            if v is not None and any(module_covers(k, mod) or module_covers(mod, k)
                                     for k in module_value_keys(v)):
                return True
    return False


def module_keys(ctx: "FileContext") -> frozenset[str]:
    """Keys used as modules anywhere in the file (``.parameters()``, ``.train()``, ``.zero_grad()`` ...)."""

    def build() -> frozenset[str]:
        found: set[str] = set()

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value in (
                        "parameters", "named_parameters", "train", "eval", "state_dict",
                        "load_state_dict", "modules", "children", "requires_grad_"):
                    if f.attr.value in ("train", "eval") and len(node.args) > (f.attr.value == "train"):
                        return  # ``self.train(dataset, output_dir)``: a project method, no module's mode
                    k = key_of(f.value)
                    if k:
                        found.add(k)

        _walk.visit(ctx.module, V())
        found |= _module_copies(ctx, found)
        return frozenset(found)

    return ctx.cached("optimlint.module_keys", build)


_COPY_QUALNAMES = frozenset({"copy.deepcopy"})


def _module_copies(ctx: "FileContext", keys: set[str]) -> set[str]:
    """Keys assigned a copy of a module key: ``self.critic_target = copy.deepcopy(self.critic)``,
    ``ema = deepcopy(model).eval()``: an RL target network, an EMA or momentum encoder is the
    module it copies, and its call is that module's forward (not an opaque call that might
    step an optimizer). A copy of a copy counts; a copy of anything else does not."""
    copies: list[tuple[list[str], str]] = []
    for node in _walk.nodes_of(ctx.module, cst.Assign):
        value = node.value
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
                value.func.attr.value in MODULE_SELF_RETURNING:
            value = value.func.value
        if not (isinstance(value, cst.Call) and len(value.args) == 1 and value.args[0].keyword is None
                and not value.args[0].star and ctx.qualify(value.func) in _COPY_QUALNAMES):
            continue
        source = module_value_keys(value.args[0].value)
        if len(source) != 1:
            continue
        targets = [k for t in node.targets if (k := key_of(t.target))]
        if targets:
            copies.append((targets, source.pop()))
    out: set[str] = set()
    changed = True
    while changed:
        changed = False
        for targets, source in copies:
            if (source in keys or source in out) and not set(targets) <= out:
                out.update(targets)
                changed = True
    return out - keys


def _held_module_forward(klass: "modules.Resolved", attr: str, root: str | None) -> bool:
    """``attr`` is no method of the project class ``klass`` but an attribute every assignment
    of which holds a torch module (``self.loss = nn.MSELoss()`` in ``__init__``), or a project
    module whose ``forward`` never clears, steps or backpropagates: calling it is a forward."""
    info = modules.class_info(klass.file, klass.node, root)
    held = info.attrs.get(attr) if info is not None else None
    if held is None or held.module is not True:
        return False
    if held.cls is None:
        return True
    forward = summaries.project_method(held.cls.file, held.cls.node, "forward", root)
    return forward is not None and summaries.method_never_touches(*forward, project_root=root)
