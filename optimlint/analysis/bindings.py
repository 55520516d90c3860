"""What each name or attribute holds: optimizers, schedulers, scalers, accelerators, engines.

One pass over the module collects, per scope (module, each function, each class's
``self.x`` attributes), the assignments whose value the analysis can classify:

- ``opt = torch.optim.Adam(model.parameters())``: an optimizer (class ``Adam``, built
  from the parameters of ``model``), also configured ``optimizer-factories``;
- ``sched = StepLR(opt, ...)``: a scheduler tied to ``opt``'s binding;
- ``scaler = torch.amp.GradScaler()``; ``accelerator = accelerate.Accelerator()``;
  ``engine, opt, _, _ = deepspeed.initialize(...)`` (an engine and a DeepSpeed-owned
  optimizer, which are never treated as torch optimizers);
- ``model, opt, loader = accelerator.prepare(model, opt, loader)``: each target keeps
  what the corresponding argument held; ``opt2 = opt`` is an alias;
- ``opt = self.optimizers()`` / ``a, b = self.optimizers()`` (Lightning, manual);
- ``self.x = ...`` in any method is visible as ``self.x`` in every method of the class;
- a parameter annotated ``torch.optim.Optimizer`` (or a subclass) is an optimizer; one
  annotated ``L.Fabric`` / ``Accelerator`` is an accelerator;
- ``for opt in optimizers:`` over a container of optimizers (schedulers): the target is
  one of them by name; a loop that steps or clears it is an *each* loop (``each_loops``);
- SPEC's name rule: an unannotated parameter or ``self`` attribute whose name says
  optimizer (scheduler) is one when its ``step()`` is called (the caller, the
  iteration model, asks with ``want=...``), unless its assignments show otherwise; so is a
  local named like an optimizer assigned from a call the analysis cannot see into, or one
  named like an optimizer or a scheduler taken out of a container (``optimizer =
  state["optimizer"]``, ``scheduler = state["scheduler"]``).

Usage::

    from optimlint.analysis.bindings import Bindings

    b = ctx.cached(Bindings, lambda: Bindings.build(ctx))
    binding = b.resolve(func, call.func.value)   # func: the enclosing FunctionDef or None
    if binding and binding.kind == "optimizer":
        binding.cls          # "Adam", or None when only the name/annotation says optimizer
        binding.modules      # frozenset({"model"}) or None when unknown
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis import grown_lists, modules, symbols
from optimlint.analysis.assignments import stores, values_assigned
from optimlint.analysis.returned import (
    returned_construction,
    returned_constructions,
    returned_object,
    returned_objects,
    returned_params_source,
)
from optimlint.analysis.built_runners import target_value_pairs
from optimlint.analysis.carried import carried_construction
from optimlint.analysis.summaries import project_function
from optimlint.analysis.unreached_params import calls_reaching
from optimlint.analysis.call_args import (  # noqa: F401  (argument_for: re-exported)
    arg, argument_for, every_param, keyword_value, named_params, param_names, positional_params)
from optimlint.analysis.class_vars import held_optimizer_class
from optimlint.analysis.handed_elsewhere import constructions_handed
from optimlint.analysis.names import dotted, key_of  # noqa: F401  (key_of: re-exported)
from optimlint.vocabulary import ACCELERATOR_QUALNAMES, DEEPSPEED_INIT, MODULE_SELF_RETURNING, OPTIMIZER_BASES

if TYPE_CHECKING:
    from optimlint.context import FileContext

OPTIMIZER = "optimizer"
SCHEDULER = "scheduler"
SCALER = "scaler"
ACCELERATOR = "accelerator"  # accelerate.Accelerator / lightning Fabric
ENGINE = "engine"  # DeepSpeed engine
FOREIGN_OPTIMIZER = "foreign-optimizer"  # owned by DeepSpeed etc.: never a torch optimizer

_FOREIGN_ROOTS = frozenset({
    "tensorflow", "tf", "keras", "tf_keras", "optax", "jax", "flax", "haiku", "paddle", "mxnet", "mx",
    "mindspore", "chainer", "sklearn", "scipy", "numpy", "np",
})


_NOTHING: "MappingProxyType" = MappingProxyType({})  # an empty table to look up in (never written)


@dataclass(eq=False)
class Binding:
    """One object the analysis can follow. Identity (``is``) means "the same object"."""

    kind: str
    name: str  # the spelling where it was bound: "opt", "self.optimizer"
    cls: str | None = None  # "Adam", "StepLR", a factory qualname; None when unknown
    node: cst.CSTNode | None = None  # the construction call (or the parameter)
    modules: frozenset[str] | None = None  # optimizer: keys of modules its params come from
    optimizer: "Binding | None" = None  # scheduler: the optimizer it drives
    by_name: bool = False  # only SPEC's name rule / an annotation says what it is
    lightning: bool = False  # from Lightning's self.optimizers()
    call: cst.Call | None = None  # the construction call, when there is one
    carried: bool = False  # ``self.q_eval.optimizer``: built by an object the instance holds
    fresh: bool = False  # a project helper read to build it anew at ``call`` (``build_optimizer(...)``)
    # ``optimizer = get_optimizer(model)``: a project helper returns a torch optimizer it builds
    # over the parameters of ``modules`` (known); its construction is not at ``call``
    from_helper: bool = False
    # ``self.actor_opt``, known by its name, that its class builds once by a call of its own
    # (``Bindings._built_once``): another attribute so built is another object
    own_object: bool = False
    # a parameter handed a scheduler or optimizer that callers in another project file build:
    # that construction, in the caller's tree (read for its class and period, never located here)
    built_elsewhere: cst.Call | None = None

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Binding({self.kind}, {self.name!r}, cls={self.cls!r})"


def updated_modules(opt: Binding, scope: cst.CSTNode | None = None) -> frozenset[str] | None:
    """The modules whose parameters ``opt`` updates: its binding's, or read off its construction
    with ``itertools.chain(G.parameters(), D.parameters())`` taken as both (for checks that only
    ask which modules an optimizer trains; the binding keeps None, see ``parameter_modules``).
    ``scope``: where the construction is, to follow a name it is handed (``Adam(ge_chain)``)."""
    if opt.modules:
        return opt.modules
    return parameter_modules(arg(opt.call, 0, "params"), scope, chains=True) if opt.call is not None else None


def drawn_from_container(b: Binding | None) -> bool:
    """``b`` is the target of ``for opt in optimizers:``: each element in turn, spelled by a
    name that means nothing outside that loop (no fix may write it elsewhere)."""
    return b is not None and isinstance(b.node, cst.For)


def _torch_base(ctx: "FileContext", func: cst.BaseExpression) -> str | None:
    """SCHEDULER / OPTIMIZER for a project class deriving from a torch scheduler / optimizer
    (``class WarmUpLR(_LRScheduler)`` in the project's ``utils.py``); its granularity, group
    keys and step are the project's own, so the binding carries no torch class name.
    Memoised per spelling (``models.Net``) for the file: the answer reads only the file's
    imports and classes, and a file builds the same classes many times."""
    memo = ctx.cached("optimlint.torch_base", dict)
    spelled = dotted(func)
    try:
        return memo[spelled]
    except KeyError:
        found = memo[spelled] = _torch_base_of(ctx, func)
        return found


def _torch_base_of(ctx: "FileContext", func: cst.BaseExpression) -> str | None:
    qn = modules.torch_ancestor(modules.constructed_class(ctx, func), ctx.project_root)
    if qn is None:
        return None
    if qn.startswith("torch.optim.lr_scheduler."):
        return SCHEDULER
    if qn in OPTIMIZER_BASES or symbols.optimizer_class(qn):
        return OPTIMIZER
    return None


def name_says_scaler(name: str) -> bool:
    """``scaler``, ``grad_scaler``, ``amp_scaler``, ``loss_scaler``: asked only for a receiver of
    ``.scale(loss)`` / ``.unscale_(opt)`` / ``.step(opt)`` (no sklearn scaler has those)."""
    return name in ("scaler", "grad_scaler", "gradscaler", "amp_scaler", "loss_scaler")


def parameter_modules(expr: cst.BaseExpression | None, scope: cst.CSTNode | None = None,
                      depth: int = 0, chains: bool = False) -> frozenset[str] | None:
    """Keys of the modules whose ``.parameters()`` feed an optimizer's params argument; a
    parameter named in a list (``[model.embed.weight]``) counts as its module's (``model.embed``).
    With ``scope``, a name in the argument (``dict(params=head_params)``) is followed to what
    ``scope`` assigns it (twice at most): the union when an ``if`` assigns it in each arm
    (``named = list(net.head.named_parameters())`` or ``list(net.named_parameters())``).

    None when something else (a name we cannot trace) also feeds it. With ``chains``,
    ``itertools.chain(G.parameters(), D.parameters())`` gives the modules of each (asked only
    by OPT101's clears through other optimizers: a binding knowing them would make every
    opaque call on a module holding them a possible clear).
    """
    if expr is None:
        return None
    walk = _ParameterModules(scope, depth, chains)
    _walk.visit(expr, walk)
    if walk.unknown or not walk.found:
        return None
    return frozenset(walk.found)


class _ParameterModules(cst.CSTVisitor):
    """``parameter_modules``' walk: the modules found, and whether something else feeds the
    parameters. (A class of the module: one made per call would be cyclic garbage whose
    closures held the scope's tree until the cyclic collector ran.)"""

    def __init__(self, scope: cst.CSTNode | None, depth: int, chains: bool) -> None:
        self.scope = scope
        self.depth = depth
        self.chains = chains
        self.found: set[str] = set()
        self.unknown = False

    def follow(self, name: str) -> bool:
        """Every assignment of ``name`` in ``scope`` feeds parameters of known modules."""
        if self.scope is None or self.depth >= 2:
            return False
        values = values_assigned(self.scope, name, nested_functions=False)
        inner = [parameter_modules(v, self.scope, self.depth + 1, self.chains) for v in values if v is not None]
        if values and len(inner) == len(values) and all(i is not None for i in inner):
            self.found.update(*inner)
            return True
        grown = grown_modules(self.scope, name, self.depth + 1)  # ``decay = []`` filled in a loop
        if grown is None:
            return False
        self.found.update(grown)
        return True

    def visit_Call(self, node: cst.Call) -> bool:
        f = node.func
        if isinstance(f, cst.Attribute) and f.attr.value in ("parameters", "named_parameters"):
            k = key_of(f.value)
            if k is None:
                self.unknown = True
            else:
                self.found.add(k)
            return False
        if isinstance(f, cst.Name) and f.value in ("sorted", "list", "tuple", "set") and node.args and \
                node.args[0].keyword is None and not node.args[0].star:
            _walk.visit(node.args[0].value, self)  # ``sorted(params, key=...)``: the same parameters
            return False
        if isinstance(f, cst.Name) and f.value == "filter" and len(node.args) == 2 and \
                not any(a.keyword or a.star for a in node.args):
            # ``filter(lambda p: p.requires_grad, model.parameters())``: some of the same parameters
            _walk.visit(node.args[1].value, self)
            return False
        if self.chains and key_of(f) in ("chain", "itertools.chain"):
            # ``itertools.chain(G.parameters(), D.parameters())``: the parameters of each
            for a in node.args:
                _walk.visit(a.value, self)
            return False
        if isinstance(f, cst.Name) and f.value == "dict":
            # ``dict(params=[...], lr=0.3)``: a group; only its parameters matter
            params = arg(node, 0, "params")
            if params is not None:
                _walk.visit(params, self)
            return False
        return True

    def visit_Element(self, node: cst.Element) -> bool:
        v = node.value
        if isinstance(v, cst.Attribute) and key_of(v.value) is not None and key_of(v.value) != "self":
            self.found.add(key_of(v.value))  # ``[model.embed.weight]``: a parameter of ``model.embed``
            return False
        return True

    def visit_Name(self, node: cst.Name) -> bool:
        # A bare name feeding params (``params``, ``groups``) is traced only through its one
        # assignment in ``scope``.
        if node.value not in ("p", "n", "x", "lambda", "True", "False", "None") and not self.follow(node.value):
            self.unknown = True
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.unknown = True
        return False

    def visit_DictElement(self, node: cst.DictElement) -> bool:
        # {"params": model.head.parameters(), "lr": 1e-3}: only the params value matters.
        if isinstance(node.key, cst.SimpleString) and node.key.evaluated_value != "params":
            return False
        return True

    def visit_Arg(self, node: cst.Arg) -> bool:
        return True

    def visit_ListComp(self, node) -> bool:
        return self._comprehension(node)

    def visit_GeneratorExp(self, node) -> bool:
        return self._comprehension(node)

    def _comprehension(self, node) -> bool:
        # ``[p for n, p in model.named_parameters() if "bias" not in n]``: the parameters come
        # from the iterables; the filter and the comprehension's own names add none
        bound: set[str] = set()
        comp = node.for_in
        while comp is not None:
            _walk.visit(comp.iter, self)
            bound |= {n.value for n in _names_in(comp.target)}
            comp = comp.inner_for_in
        if not (isinstance(node.elt, cst.Name) and node.elt.value in bound):
            _walk.visit(node.elt, self)
        return False


def params_modules(scope: cst.CSTNode, params: cst.BaseExpression | None) -> frozenset[str] | None:
    """The modules an optimizer's ``params`` argument takes parameters from, following a name
    to what ``scope`` assigns it. A name assigned in several branches (``if train_highway:
    groups = [...] else: groups = [...]``) gives the union: the optimizer holds parameters of
    some of those modules, never of another one."""
    if not isinstance(params, cst.Name):
        return parameter_modules(params, scope)
    values = values_assigned(scope, params.value, nested_functions=False)
    if not values or any(v is None for v in values):
        return parameter_modules(params) or grown_modules(scope, params.value)
    found = [parameter_modules(v, scope) for v in values]
    if any(f is None for f in found):
        return grown_modules(scope, params.value)
    return frozenset().union(*found)


def grown_modules(scope: cst.CSTNode, name: str, depth: int = 0) -> frozenset[str] | None:
    """The modules a list of parameters or groups built empty and grown in place takes its
    parameters from (``groups = []; groups.append(group)`` with ``group["params"] = [p for
    n, p in model.named_parameters() if ...]``); None unless every element is read."""
    elements = grown_lists.grown_elements(scope, name)
    if elements is None or depth > 2:
        return None
    found: set[str] = set()
    for el in elements:
        mods = None
        if isinstance(el, cst.Name):
            group = grown_lists.dict_value(scope, el.value)
            set_params = grown_lists.subscript_params(scope, el.value)
            if set_params is not None:
                inner = [parameter_modules(v, scope, depth + 1) for v in set_params]
                mods = None if any(i is None for i in inner) else frozenset().union(*inner)
            elif group is not None:
                mods = parameter_modules(group, scope, depth + 1)
            else:
                mods = parameter_modules(el, scope, depth + 1)
        else:
            mods = parameter_modules(el, scope, depth + 1)
        if mods is None:
            return None
        found |= mods
    return frozenset(found) or None


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    if isinstance(node, cst.Name):
        return [node]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for e in node.elements for n in _names_in(e.value)]
    return []


@dataclass
class Bindings:
    """Per-scope tables of what names and attributes hold."""

    ctx: "FileContext"
    module_scope: dict[str, Binding] = field(default_factory=dict)
    function_scopes: dict[cst.CSTNode, dict[str, Binding]] = field(default_factory=dict)
    class_attrs: dict[cst.ClassDef, dict[str, Binding]] = field(default_factory=dict)
    class_of: dict[cst.CSTNode, cst.ClassDef] = field(default_factory=dict)
    params_of: dict[cst.CSTNode, dict[str, cst.Param]] = field(default_factory=dict)
    # keys assigned from something the analysis cannot classify, per scope (None: module)
    opaque_assigned: dict[cst.CSTNode | None, set[str]] = field(default_factory=dict)
    enclosing: dict[cst.CSTNode, cst.CSTNode | None] = field(default_factory=dict)  # nested def -> outer def
    # names assigned from another framework's call (tf, optax, paddle ...) or from a non-call, per scope
    foreign_assigned: dict[cst.CSTNode | None, set[str]] = field(default_factory=dict)
    # names assigned an element of a container (``scheduler = state["scheduler"]``), per scope
    taken_out: dict[cst.CSTNode | None, set[str]] = field(default_factory=dict)
    # ``for opt in optimizers: opt.step()``: loops that act once on each element of a container
    # of optimizers or schedulers (see ``_Collector.visit_For``)
    each_loops: set[cst.For] = field(default_factory=set)
    # every call of a function, method or class of this file: callee -> [(call, caller, skip)]
    # (``_CallSites``), and the functions also named other than in a call (passed around)
    call_sites: dict[cst.FunctionDef, list] = field(default_factory=dict)
    referenced: set[cst.FunctionDef] = field(default_factory=set)
    # keys of the modules handed to project helpers that build an optimizer over them
    # (``get_optimizer(model)``): modules of the file though no ``.parameters()`` is written here
    helper_modules: set[str] = field(default_factory=set)
    _by_name: dict[tuple, Binding] = field(default_factory=dict)
    _inherited: dict[tuple, Binding | None] = field(default_factory=dict)
    _classes: dict[str, cst.ClassDef | None] | None = None

    @classmethod
    def build(cls, ctx: "FileContext") -> "Bindings":
        b = cls(ctx)
        _walk.visit(ctx.module, _Collector(b))
        _bind_from_callers(b)
        return b

    # -- lookup --------------------------------------------------------------
    def scope_table(self, func: cst.CSTNode | None) -> dict[str, Binding]:
        return self.module_scope if func is None else self.function_scopes.setdefault(func, {})

    def resolve(self, func: cst.CSTNode | None, expr: cst.BaseExpression | None,
                want: str | None = None) -> Binding | None:
        """What ``expr`` holds inside function ``func`` (None: module level).

        ``want`` ("optimizer" / "scheduler") enables SPEC's name rule for an unannotated
        parameter or ``self`` attribute (the caller has seen its ``step()`` called).
        """
        k = key_of(expr)
        if k is None:
            return None
        return self.resolve_key(func, k, want)

    def callers_hand(self, func: cst.CSTNode | None, name: str, kind: str) -> bool:
        """Every call of ``func`` in this file (a function named nowhere but in calls) that may
        run a use of its parameter ``name`` hands it a construction of ``kind``: two training
        calls with their own schedulers, while the evaluation calls' stand-ins
        (``DummyScheduler()``) go to a branch their constant arguments rule out
        (``unreached_params``)."""
        if func is None or func in self.referenced or name not in self.params_of.get(func, _NOTHING):
            return False
        reaching = calls_reaching(func, name, self.call_sites.get(func, []))
        for call, caller, skip in reaching:
            handed = argument_for(call, func, skip, name)
            bound = self.resolve(caller, handed) if handed is not None else None
            if bound is None or bound.kind != kind or bound.by_name:
                return False
        return bool(reaching)

    def resolve_key(self, func: cst.CSTNode | None, k: str, want: str | None = None) -> Binding | None:
        # (asked for nearly every name of every call the training model reads: no new empty
        # dict per lookup, and the name rule only where ``want`` asks for it)
        if func is not None:
            b = self.function_scopes.get(func, _NOTHING).get(k)
            if b is not None:
                return b
            if k.startswith("self."):
                klass = self.class_of.get(func)
                if klass is not None:
                    b = self.class_attrs.get(klass, _NOTHING).get(k)
                    if b is None and k.count(".") == 1:
                        b = self.inherited(klass, k)
                    elif b is None and k.count(".") == 2 and want in (None, OPTIMIZER):
                        b = self.carried(klass, k)
                    if b is not None:
                        return b
            elif "." not in k and k in self.params_of.get(func, _NOTHING):
                # A parameter shadows module-level names.
                return self._name_rule(func, k, want) if want is not None else None
            outer = self.enclosing.get(func)
            if outer is not None:
                root = k.split(".", 1)[0]
                if root != "self" and root not in self.params_of.get(func, _NOTHING) and \
                        root not in self.opaque_assigned.get(func, _NOTHING):
                    # a closure reads its enclosing function's names
                    return self.resolve_key(outer, k, want)
        b = self.module_scope.get(k)
        if b is not None:
            return b
        return self._name_rule(func, k, want) if want is not None else None

    def inherited(self, klass: cst.ClassDef, k: str) -> Binding | None:
        """What ``self.x`` (``k``) holds in ``klass`` when only a base class of this file
        assigns it (``self.optimizer`` built in ``ERM.__init__``, stepped in ``class
        IRM(ERM)``'s ``update``): the first base, depth first, whose attribute is bound. None
        when ``klass`` or a class on the way assigns it itself (its own value, even one the
        analysis cannot read, replaces the base's), or a base is not found by name."""
        memo = self._inherited.get((klass, k), _NOTHING)
        if memo is not _NOTHING:
            return memo
        self._inherited[(klass, k)] = None  # (a cycle of bases finds nothing)
        found = None
        if not stores(klass, k):
            for base in klass.bases:
                node = self.class_named(base.value)
                if node is None:
                    continue
                found = self.class_attrs.get(node, _NOTHING).get(k) or self.inherited(node, k)
                if found is not None or stores(node, k):
                    break
        self._inherited[(klass, k)] = found
        return found

    def carried(self, klass: cst.ClassDef, k: str) -> Binding | None:
        """What ``self.q_eval.optimizer`` (``k``) holds in ``klass`` when every assignment of
        ``self.q_eval`` in the class builds one project class whose own ``__init__`` assigns
        ``self.optimizer`` a torch optimizer (an agent stepping its network's optimizer): that
        optimizer, over the held object's parameters (``self.parameters()`` there is
        ``self.q_eval`` here). One binding per (class, key); None when anything else is seen."""
        memo = self._inherited.get((klass, k), _NOTHING)
        if memo is not _NOTHING:
            return memo
        self._inherited[(klass, k)] = None
        holder, attr = k.rsplit(".", 1)
        values = values_assigned(klass, holder, nested_functions=False)
        built = {self._carrier(v, "self." + attr) for v in values} if values else {None}
        inner = built.pop() if len(built) == 1 else None
        found = None
        if inner is not None:
            cls, node, own = inner
            mods = None if own is None else frozenset(holder + m[len("self"):] for m in own)
            # (a construction of another file is no node of this one: none is kept)
            node = node if node is not None and self.ctx.encloses(self.ctx.module, node) else None
            found = Binding(OPTIMIZER, k, cls=cls, node=node, call=node, modules=mods, carried=True)
        self._inherited[(klass, k)] = found
        return found

    def _carrier(self, value: cst.BaseExpression | None, attr: str):
        """(optimizer class, construction, modules in the carrier's terms) of ``attr`` in the
        project class ``value`` builds (``DeepQNetwork(lr, ...)``, maybe ``.to(device)``)."""
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
                value.func.attr.value in MODULE_SELF_RETURNING:
            value = value.func.value
        if not isinstance(value, cst.Call):
            return None
        node = self.class_named(value.func)
        if node is not None:
            b = self.class_attrs.get(node, _NOTHING).get(attr) or self.inherited(node, attr)
            if b is None or b.kind != OPTIMIZER or b.by_name or b.call is None:
                return None
            own = b.modules if b.modules is not None and all(
                m == "self" or m.startswith(("self.", "self[")) for m in b.modules) else None
            return b.cls, b.call, own
        if isinstance(value.func, cst.Name) and value.func.value in self._class_names():
            return None  # (a class of this file defined twice)
        found = carried_construction(self.ctx, value.func, attr)
        if found is None:
            return None
        cls, call, holder = found
        own = params_modules(holder, arg(call, 0, "params"))
        if own is not None and not all(m == "self" or m.startswith(("self.", "self[")) for m in own):
            own = None
        return cls, call, own

    def _class_names(self) -> set[str]:
        return {node.name.value for node in self.class_attrs}

    def class_named(self, expr: cst.BaseExpression) -> cst.ClassDef | None:
        """The class of this file a base expression names (one class of that name)."""
        if not isinstance(expr, cst.Name):
            return None
        if self._classes is None:
            self._classes = {}
            for node in self.class_attrs:
                name = node.name.value
                self._classes[name] = None if name in self._classes else node
        return self._classes.get(expr.value)

    def _name_rule(self, func: cst.CSTNode | None, k: str, want: str | None) -> Binding | None:
        if want is None:
            return None
        last = k.rsplit(".", 1)[-1]
        is_param = func is not None and "." not in k and k in self.params_of.get(func, {})
        is_attr = k.startswith("self.") and k.count(".") == 1
        # ``D.optim`` / ``agent.optimizer`` of a parameter ``D``: an optimizer the caller's object
        # carries (BigGAN's ``D.optim.step()``), named like one; or a scheduler so carried
        # (``optimizer.scheduler.step()`` of a project's optimizer wrapper handed in)
        is_param_attr = want in (OPTIMIZER, SCHEDULER) and func is not None and k.count(".") == 1 and \
            k.split(".", 1)[0] in self.params_of.get(func, _NOTHING)
        # ``self.policy.optimizer``: the same, carried by an object the instance holds (an RL
        # algorithm stepping its policy's optimizer)
        is_param_attr = is_param_attr or (want == OPTIMIZER and k.startswith("self.") and k.count(".") == 2)
        if not (is_param or is_attr) and want in (OPTIMIZER, SCHEDULER, SCALER) and "." not in k:
            # ``optimizer = build_optimizer(cfg, model)`` / nanoGPT's
            # ``optimizer = model.configure_optimizers(...)``: a variable named like an optimizer,
            # assigned from a call the analysis cannot see into (never a tf/optax/... one), or
            # taken out of a container (``optimizer = state["optimizer"]``); a scheduler only in
            # the latter case (the state dict a training script builds for its loop and its
            # checkpoints: a helper of another package may build a scheduler of its own kind),
            # or when every call assigning it is handed the optimizer
            # (``lr_scheduler = train_util.get_scheduler_fix(args, optimizer, n)``): built over
            # it, of a kind unknown (no period to judge, but an order)
            owner = next((f for f in (func, None) if k in self.opaque_assigned.get(f, set())
                          and (f is None or k not in self.params_of.get(f, {}))), False)
            built = None
            if want == OPTIMIZER:
                says = symbols.name_says_optimizer(last)
            elif want == SCALER:
                # ``scaler, autocast_kwargs = get_autocast_scaler(args)`` of a helper that cannot
                # be read: named like one, as a parameter would be (asked only of a receiver of
                # ``.scale(loss)`` / ``.unscale_(opt)`` / ``.step(opt)``)
                says = name_says_scaler(last)
            else:
                says = symbols.name_says_scheduler(last) and owner is not False and \
                    (bool(built := self._built_on_optimizer(owner, k)) or k in self.taken_out.get(owner, _NOTHING))
            if owner is not False and k not in self.foreign_assigned.get(owner, set()) and says:
                ident = (owner, k, want)
                b = self._by_name.get(ident)
                if b is None:
                    # (a scheduler built by one call keeps it: what the name holds is its result)
                    one = built[0] if built and len(built) == 1 else None
                    b = self._by_name[ident] = Binding(want, k, by_name=True, node=one, call=one,
                                                       modules=self._built_from(owner, k))
                return b
        if not (is_param or is_attr or is_param_attr):
            return None
        if want == OPTIMIZER and not symbols.name_says_optimizer(last):
            return None
        if want == SCHEDULER and not symbols.name_says_scheduler(last):
            return None
        if want == SCALER and not name_says_scaler(last):
            return None
        if want == ACCELERATOR and last not in ("accelerator", "fabric"):
            # ``self.accelerator`` of a step runner handed it by a trainer of another package,
            # ``def train(fabric, ...)``: asked only of a receiver of ``.backward(loss)`` or a clip
            return None
        scope = self.class_of.get(func) if is_attr else func
        if is_param and k in self.opaque_assigned.get(func, set()):
            return None
        ident = (scope, k, want)
        b = self._by_name.get(ident)
        if b is None:
            # (``self.optimizer = config.optimizer_fn(self.network.parameters())``: the one
            # assignment the class makes says whose parameters it holds)
            mods = self._built_from(scope, k) if is_attr and want == OPTIMIZER and scope is not None else None
            own = is_attr and want == OPTIMIZER and scope is not None and self._built_once(scope, k)
            b = Binding(want, k, by_name=True, modules=mods, own_object=own)
            self._by_name[ident] = b
        return b

    def _built_once(self, klass: cst.CSTNode, k: str) -> bool:
        """The class assigns ``k`` once, from a call handed no optimizer (``self.actor_opt =
        config.actor_opt_fn(self.network.actor_params)``): an object of its own, not another
        attribute's optimizer handed back (``accelerator.prepare(optimizer)``)."""
        values = values_assigned(klass, k, through_wrappers=True)
        if len(values) != 1 or not isinstance(values[0], cst.Call):
            return False
        return not any(symbols.name_says_optimizer((key_of(a.value) or "").rsplit(".", 1)[-1])
                       for a in values[0].args)


    def _built_on_optimizer(self, owner: cst.CSTNode | None, k: str) -> list[cst.Call]:
        """The calls ``owner`` assigns ``k`` when every value it assigns (``accelerator.prepare``
        handing it back is none) is a call handed an optimizer: a name or attribute bound to
        one, or named like one; else []."""
        scope = owner if owner is not None else self.ctx.module
        values = values_assigned(scope, k, nested_functions=False, through_wrappers=True)
        calls: list[cst.Call] = []
        for v in values:
            if isinstance(v, cst.Subscript) and isinstance(v.value, cst.Name) and v.value.value != k:
                # ``lr_scheduler = lr_schedulers[0]`` of ``lr_schedulers = [get_scheduler_fix(args,
                # optimizer, n) for optimizer in optimizers]``: an element of a list so built
                held = values_assigned(scope, v.value.value, nested_functions=False)
                v = held[0].elt if len(held) == 1 and isinstance(held[0], cst.ListComp) else None
            if not isinstance(v, cst.Call) or not self.hands_optimizer(owner, v) or not self.project_factory(v):
                return []
            calls.append(v)
        # (one factory for all: the first of its calls says what each builds)
        factories = {key_of(c.func) for c in calls}
        return calls[:1] if len(factories) == 1 and None not in factories else calls

    def project_factory(self, call: cst.Call) -> bool:
        """``call`` runs a top-level function of the project (this file, or another file its
        imports name): a factory whose result the project chose, not another package's helper,
        which may build a scheduler of its own kind (stepped with an epoch, or on updates)."""
        f = call.func
        if isinstance(f, cst.Name) and not self.ctx.imports.imported(f.value):
            return any(isinstance(s, cst.FunctionDef) and s.name.value == f.value for s in self.ctx.module.body)
        return project_function(self.ctx, f) is not None

    def hands_optimizer(self, owner: cst.CSTNode | None, call: cst.Call) -> bool:
        """``call`` (in ``owner``) is handed an optimizer: an argument bound to one, or named
        like one."""
        return any(self._names_optimizer(owner, a.value) for a in call.args if not a.star)

    def _names_optimizer(self, owner: cst.CSTNode | None, expr: cst.BaseExpression) -> bool:
        k = key_of(expr)
        if k is None:
            return False
        held = self.resolve_key(owner, k)
        if held is not None:
            return held.kind == OPTIMIZER
        return symbols.name_says_optimizer(k.rsplit(".", 1)[-1])

    def _built_from(self, owner: cst.CSTNode | None, k: str) -> frozenset[str] | None:
        """Modules whose parameters an optimizer of an unknown class was built from:
        ``optimizer = AdamW(grouped_parameters, ...)`` (transformers', bitsandbytes', a
        project's) takes its parameters first, as torch's do."""
        scope = owner if owner is not None else self.ctx.module
        # (tuple targets are wrappers handing the same optimizer back: ``model, optimizer =
        # amp.initialize(model, optimizer)``, ``accelerator.prepare(...)``)
        values = [v for v in values_assigned(scope, k, nested_functions=False) if v is not None]
        if len(values) != 1 or not isinstance(values[0], cst.Call):
            return None
        return params_modules(scope, arg(values[0], 0, "params"))


# A container named for the optimizers (schedulers) it holds: ``optimizers``, ``self.optimizers``,
# ``gan_optimizers``, ``lr_schedulers`` (never ``opts``: options as often as optimizers)
_OPTIMIZERS_NAME = re.compile(r"^(\w+_)?(optimizers|optimisers|optims)$")
_SCHEDULERS_NAME = re.compile(r"^(\w+_)?(lr_)?schedulers$")


def _drawn(target: cst.BaseExpression, it: cst.BaseExpression):
    """``(element target, container, part)`` for each name a ``for`` target draws from a
    container: ``for o in opts`` (part "seq"), ``for o in opts.values()``, ``for k, o in
    opts.items()`` ("values"), ``enumerate(...)``, ``zip(...)``, a literal tuple."""
    if isinstance(it, cst.Call) and not any(a.star or a.keyword for a in it.args):
        f = it.func
        if isinstance(f, cst.Attribute) and not it.args and f.attr.value in ("values", "items"):
            if f.attr.value == "values":
                yield target, f.value, "values"
            elif isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
                yield target.elements[1].value, f.value, "values"
        elif isinstance(f, cst.Name) and f.value == "enumerate" and len(it.args) == 1 and \
                isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
            yield from _drawn(target.elements[1].value, it.args[0].value)
        elif isinstance(f, cst.Name) and f.value == "zip" and isinstance(target, (cst.Tuple, cst.List)) and \
                len(target.elements) == len(it.args):
            for t, a in zip(target.elements, it.args):
                yield from _drawn(t.value, a.value)
        return
    if isinstance(it, (cst.Name, cst.Attribute, cst.List, cst.Tuple)):
        yield target, it, "seq"


def _acts_on(body: cst.CSTNode, name: str) -> bool:
    """``body`` calls ``name.step(...)`` or ``name.zero_grad(...)``, or hands ``name`` to a
    ``.step(...)`` (``scaler.step(opt)``)."""
    for call in _walk.nodes_of(body, cst.Call):
        f = call.func
        if not isinstance(f, cst.Attribute):
            continue
        if f.attr.value in ("step", "zero_grad") and isinstance(f.value, cst.Name) and f.value.value == name:
            return True
        if f.attr.value in ("step", "unscale_") and any(
                isinstance(a.value, cst.Name) and a.value.value == name for a in call.args):
            return True
    return False


class _Collector(cst.CSTVisitor):
    """One pass: assignments, parameters, classes. Functions are visited in source order."""

    def __init__(self, b: Bindings) -> None:
        self.b = b
        self.ctx = b.ctx
        self.funcs: list[cst.FunctionDef] = []
        self.classes: list[cst.ClassDef] = []
        self._elements: list[Binding | None] | None = None  # the last container's elements read
        self.scopes: list[cst.CSTNode] = []

    # -- scopes --------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.classes.append(node)
        self.scopes.append(node)
        self.b.class_attrs.setdefault(node, {})
        return True

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.pop()
        self.scopes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        enclosing_class = self.classes[-1] if self.classes and self._directly_in_class(node) else None
        if enclosing_class is None and self.funcs:
            # a nested function sees its enclosing method's class for ``self``
            outer = self.funcs[-1]
            if outer in self.b.class_of:
                enclosing_class = self.b.class_of[outer]
        if enclosing_class is not None:
            self.b.class_of[node] = enclosing_class
        self.b.enclosing[node] = self.funcs[-1] if self.funcs else None
        self.funcs.append(node)
        self.scopes.append(node)
        table = self.b.scope_table(node)
        for param in named_params(node):
            if param.annotation is not None:
                self._annotated(table, param)
        self.b.params_of[node] = {param.name.value: param for param in every_param(node)}
        return True

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.funcs.pop()
        self.scopes.pop()

    def _directly_in_class(self, node: cst.FunctionDef) -> bool:
        """The innermost open scope is a class (a method), not a function."""
        return bool(self.scopes) and isinstance(self.scopes[-1], cst.ClassDef)

    def _annotated(self, table: dict[str, Binding], param: cst.Param) -> None:
        ann = param.annotation.annotation
        qn = self.ctx.qualify(ann) if isinstance(ann, (cst.Name, cst.Attribute)) else None
        if qn in OPTIMIZER_BASES or symbols.optimizer_class(qn):
            table[param.name.value] = Binding(OPTIMIZER, param.name.value, symbols.optimizer_class(qn),
                                              node=param, by_name=True)
        elif qn is not None and (qn in ACCELERATOR_QUALNAMES or qn.rsplit(".", 1)[-1].endswith("Accelerator")):
            # ``def fit(fabric: L.Fabric, ...)``, ``accelerator: Accelerator`` or a project's subclass
            # (``accelerator: MyAccelerator``): the caller's object (its backward is a backward)
            table[param.name.value] = Binding(ACCELERATOR, param.name.value, qn.rsplit(".", 1)[-1], node=param)

    # -- assignments ----------------------------------------------------------
    def _table_for(self, key: str) -> dict[str, Binding]:
        func = self.funcs[-1] if self.funcs else None
        if key.startswith("self.") and func is not None and func in self.b.class_of:
            return self.b.class_attrs.setdefault(self.b.class_of[func], {})
        return self.b.scope_table(func)

    def _lookup(self, expr: cst.BaseExpression | None) -> Binding | None:
        func = self.funcs[-1] if self.funcs else None
        return self.b.resolve(func, expr)

    def _bind(self, target: cst.BaseExpression, value: Binding | None, opaque: bool = True) -> None:
        k = key_of(target)
        if k is None:
            return
        table = self._table_for(k)
        if value is not None:
            # The first classified value wins; a later one replaces only a name-rule guess.
            if k not in table or table[k].by_name:
                table[k] = value
        elif opaque:
            func = self.funcs[-1] if self.funcs else None
            self.b.opaque_assigned.setdefault(func, set()).add(k)

    def visit_Assign(self, node: cst.Assign) -> bool:
        for t in node.targets:
            self._assign(t.target, node.value)
        return True

    def visit_For(self, node: cst.For) -> bool:
        """``for opt in optimizers:`` / ``for net, opt in zip(nets, optimizers):`` /
        ``for name, opt in optimizers.items():`` over a container of optimizers (or of
        schedulers): the target is one of them (which one is not known, so it is one by name).
        A container is one when its one assignment is a literal list, tuple or dict whose every
        element is an optimizer (a list comprehension building one), or, assigned nothing the
        file shows, when its name says it holds optimizers (``self.optimizers``) and the loop
        steps or clears its target. A loop whose body steps or clears the element it draws is
        an *each* loop (``each_loops``): one step of every optimizer on every pass of the
        loop around it, not a loop of its own."""
        for target, seq, part in _drawn(node.target, node.iter):
            if not isinstance(target, cst.Name):
                continue
            acts = _acts_on(node.body, target.value)
            self._elements = None
            kind = self._container_kind(seq, part, acts)
            if kind is not None:
                # (the parameters of every optimizer of a literal container, when each is known:
                # ``model.zero_grad()`` then clears them all)
                mods = [b.modules for b in self._elements or ()]
                modules = frozenset().union(*mods) if kind == OPTIMIZER and mods and \
                    all(m is not None for m in mods) else None
                self._bind(target, Binding(kind, target.value, by_name=True, node=node, modules=modules))
                if acts:
                    self.b.each_loops.add(node)
        return True

    def _container_kind(self, seq: cst.BaseExpression, part: str, acts: bool) -> str | None:
        """OPTIMIZER / SCHEDULER when every element ``seq`` yields (its values for ``part`` ==
        "values") is one of that kind."""
        if isinstance(seq, (cst.List, cst.Tuple)):
            return self._elements_kind(seq, part)
        k = key_of(seq)
        if k is None or "[" in k:
            return None
        func = self.funcs[-1] if self.funcs else None
        if k.startswith("self.") and k.count(".") == 1:
            klass = self.b.class_of.get(func) if func is not None else None
            values = values_assigned(klass, k, nested_functions=False) if klass is not None else []
        elif "." in k:
            values = []
        else:
            values = values_assigned(func if func is not None else self.ctx.module, k, nested_functions=False)
            if not values and func is not None and k not in self.b.params_of.get(func, _NOTHING):
                values = values_assigned(self.ctx.module, k, nested_functions=False)
        literal = [v for v in values if isinstance(v, (cst.List, cst.Tuple, cst.Dict, cst.ListComp))]
        if literal:
            if len(values) != 1:
                return None
            return self._elements_kind(values[0], part)
        if not acts:
            return None
        last = k.rsplit(".", 1)[-1]
        if _OPTIMIZERS_NAME.match(last):
            return OPTIMIZER
        if _SCHEDULERS_NAME.match(last):
            return SCHEDULER
        return None

    def _elements_kind(self, value: cst.BaseExpression, part: str) -> str | None:
        if isinstance(value, cst.ListComp):
            kind = self._value(value.elt, value.elt) if part == "seq" else None
            return kind.kind if kind is not None and kind.kind in (OPTIMIZER, SCHEDULER) else None
        if isinstance(value, cst.Dict):
            if part != "values" or any(not isinstance(e, cst.DictElement) for e in value.elements):
                return None
            elements = [e.value for e in value.elements]
        elif part == "seq" and isinstance(value, (cst.List, cst.Tuple)):
            if any(isinstance(e, cst.StarredElement) for e in value.elements):
                return None
            elements = [e.value for e in value.elements]
        else:
            return None
        found = [self._lookup(e) if isinstance(e, (cst.Name, cst.Attribute)) else
                 self._value(e, e) if isinstance(e, cst.Call) else None for e in elements]
        self._elements = found
        kinds = {b.kind if b is not None else None for b in found}
        return kinds.pop() if found and len(kinds) == 1 and kinds <= {OPTIMIZER, SCHEDULER} else None

    def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
        if node.value is not None:
            self._assign(node.target, node.value)
        return True

    def _assign(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        k = key_of(target)
        if k is not None and "." not in k:
            func = self.funcs[-1] if self.funcs else None
            if not self._unknown_call(value):
                self.b.foreign_assigned.setdefault(func, set()).add(k)
            elif isinstance(value, cst.Subscript):
                self.b.taken_out.setdefault(func, set()).add(k)
        if isinstance(target, (cst.Tuple, cst.List)):
            elts = [e.value for e in target.elements]
            self._assign_tuple(elts, value)
            return
        self._bind(target, self._value(value, target))

    def _unknown_call(self, value: cst.BaseExpression) -> bool:
        """A call the analysis cannot see into, and not another framework's (tf, optax, ...); or
        an element taken out of a container (``optimizer = state["optimizer"]``,
        ``opt = optimizers[i]``: what its caller put there, as unknown as a call's result)."""
        if isinstance(value, cst.Subscript):
            return True
        if not isinstance(value, cst.Call):
            return False
        qn = self.ctx.qualify(value.func) or ""
        return qn.split(".", 1)[0] not in _FOREIGN_ROOTS

    def _assign_tuple(self, targets: list[cst.BaseExpression], value: cst.BaseExpression) -> None:
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(targets):
            for t, v in zip(targets, value.elements):
                self._bind(t, self._value(v.value, t))
            return
        if isinstance(value, cst.Call):
            qn = self.ctx.qualify(value.func)
            f = value.func
            if isinstance(f, cst.Attribute) and f.attr.value == "prepare":
                owner = self._lookup(f.value)
                if owner is not None and owner.kind == ACCELERATOR:
                    args = [a.value for a in value.args if a.keyword is None and not a.star]
                    for i, t in enumerate(targets):
                        self._bind(t, self._lookup(args[i]) if i < len(args) else None)
                    return
            if qn in DEEPSPEED_INIT:
                for i, t in enumerate(targets):
                    kind = ENGINE if i == 0 else FOREIGN_OPTIMIZER if i == 1 else None
                    self._bind(t, Binding(kind, key_of(t) or "", node=value, call=value) if kind else None)
                return
            if isinstance(f, cst.Attribute) and f.attr.value == "optimizers" and key_of(f.value) == "self":
                for t in targets:
                    self._bind(t, Binding(OPTIMIZER, key_of(t) or "", node=value, lightning=True,
                                          by_name=True, call=value))
                return
            if isinstance(f, cst.Attribute) and f.attr.value == "lr_schedulers" and key_of(f.value) == "self":
                # ``g_sch, d_sch = self.lr_schedulers()`` (Lightning, manual optimization)
                for t in targets:
                    self._bind(t, Binding(SCHEDULER, key_of(t) or "", node=value, lightning=True,
                                          by_name=True, call=value))
                return
            # (read only where a target is named like an optimizer or scheduler: reading the
            # helper may parse another file, and most unpacked calls return data)
            names = [(key_of(t) or "").rsplit(".", 1)[-1] for t in targets]
            handed = returned_objects(self.ctx, value, len(targets)) if any(
                symbols.name_says_scheduler(n) or symbols.name_says_optimizer(n) or "accelerator" in n.lower()
                or name_says_scaler(n) for n in names) else []
            if any(handed):
                for i, (t, r) in enumerate(zip(targets, handed)):
                    built = returned_construction(self.ctx, value, i, len(targets)) \
                        if r is not None and r.kind == "scheduler" and r.cls else None
                    self._bind(t, self._handed_back(t, r, value, self._handed_params(value, i, len(targets)))
                               if built is None else
                               Binding(SCHEDULER, key_of(t) or "", r.cls, node=built, call=built,
                                       optimizer=self._sole_optimizer_handed(value)))
                return
        for t in targets:
            self._bind(t, None)

    def _handed_params(self, call: cst.Call, index: int | None, count: int) -> frozenset[str] | None:
        """The modules whose parameters the optimizer a project helper returns (at ``index`` of
        its tuple) is built over, where the helper builds it over a parameter it is handed:
        ``optimizer, msg = build_optimizer(decoder.parameters(), cfg)``."""
        func = self.funcs[-1] if self.funcs else None
        found = returned_params_source(self.ctx, call, index, count,
                                       self.b.class_of.get(func) if func is not None else None)
        if found is None:
            return None
        fn, name = found
        skip = 1 if isinstance(call.func, cst.Attribute) and key_of(call.func.value) == "self" else 0
        return self._params_modules(argument_for(call, fn, skip, name))

    def _handed_back(self, target: cst.BaseExpression, r, call: cst.Call,
                     modules: frozenset[str] | None = None) -> Binding | None:
        """``..., scheduler = setup(cfg)``: what the project helper builds at that position. Its
        construction is in the helper, so the class is not read here (no period arguments);
        an optimizer stays as certain as the name rule makes it; ``modules``: whose parameters
        it holds, where the call hands them (``_handed_params``). A scheduler is built over the
        one optimizer the call hands the helper, if it hands one (``scheduler, msg =
        build_scheduler(optimizer, steps, cfg)``)."""
        if r is None:
            return None
        if r.kind == "scheduler":
            return Binding(SCHEDULER, key_of(target) or "", None, node=call, call=call,
                           optimizer=self._sole_optimizer_handed(call))
        if r.kind == "accelerator":  # its construction (and its arguments) is in the helper
            return Binding(ACCELERATOR, key_of(target) or "", r.cls, node=call, call=call)
        if r.kind == "scaler":  # ``scaler, autocast_kwargs = get_autocast_scaler(args)``
            return Binding(SCALER, key_of(target) or "", "GradScaler", node=call, call=call)
        return Binding(OPTIMIZER, key_of(target) or "", None, node=call, call=call, by_name=True, modules=modules,
                       fresh=True)

    def _sole_optimizer_handed(self, call: cst.Call) -> Binding | None:
        """The one optimizer among ``call``'s arguments, None when it hands none or several."""
        handed = {id(b): b for b in (self._lookup(a.value) for a in call.args if not a.star)
                  if b is not None and b.kind == OPTIMIZER}
        return next(iter(handed.values())) if len(handed) == 1 else None

    def _either_arm(self, arms: list[cst.BaseExpression], target: cst.BaseExpression) -> Binding | None:
        """``accelerator = (Accelerator(log_with=...) if args.with_tracking else Accelerator())``:
        the object both arms build, where they build one of the same kind and class (an
        accelerator's, with the same accumulation window); the first arm's construction."""
        found = [self._value(a, target) for a in arms]
        if any(b is None or b.call is None for b in found):
            return None
        first, second = found
        if first.kind != second.kind or first.kind != ACCELERATOR or first.cls != second.cls:
            return None
        windows = {None if w is None else self.ctx.code(w)
                   for w in (keyword_value(b.call, "gradient_accumulation_steps") for b in found)}
        return first if len(windows) == 1 else None

    def _params_modules(self, params: cst.BaseExpression | None) -> frozenset[str] | None:
        func = self.funcs[-1] if self.funcs else None
        return params_modules(func if func is not None else self.ctx.module, params)

    def _value(self, value: cst.BaseExpression, target: cst.BaseExpression) -> Binding | None:
        name = key_of(target) or ""
        if isinstance(value, (cst.Name, cst.Attribute, cst.Subscript)):
            return self._lookup(value)  # alias
        if isinstance(value, cst.IfExp):
            # ``scaler = torch.cuda.amp.GradScaler() if use_amp else None``: the object, where
            # there is one (every use of it is under the same flag, or fails on None)
            arms = [value.body, value.orelse]
            built = [a for a in arms if not (isinstance(a, cst.Name) and a.value == "None")]
            if len(built) == 2:
                return self._either_arm(built, target)
            return self._value(built[0], target) if len(built) == 1 else None
        if not isinstance(value, cst.Call):
            return None
        f = value.func
        if isinstance(f, cst.Attribute) and f.attr.value == "prepare":
            owner = self._lookup(f.value)
            if owner is not None and owner.kind == ACCELERATOR:
                args = [a.value for a in value.args if a.keyword is None and not a.star]
                return self._lookup(args[0]) if len(args) == 1 else None
        if isinstance(f, cst.Attribute) and f.attr.value == "optimizers" and key_of(f.value) == "self":
            return Binding(OPTIMIZER, name, node=value, lightning=True, by_name=True, call=value)
        if isinstance(f, cst.Attribute) and f.attr.value == "lr_schedulers" and key_of(f.value) == "self":
            return Binding(SCHEDULER, name, node=value, lightning=True, by_name=True, call=value)
        kind = symbols.classify_call(self.ctx, value)
        if kind is not None:
            if kind.kind == "optimizer":
                return Binding(OPTIMIZER, name, kind.cls, node=value, call=value,
                               modules=self._params_modules(arg(value, 0, "params")))
            if kind.kind == "scheduler":
                return Binding(SCHEDULER, name, kind.cls, node=value, call=value,
                               optimizer=self._lookup(arg(value, 0, "optimizer")))
            if kind.kind == "scaler":
                return Binding(SCALER, name, "GradScaler", node=value, call=value)
        elif isinstance(f, (cst.Name, cst.Attribute)):
            base = _torch_base(self.ctx, f)
            if base == SCHEDULER:
                return Binding(SCHEDULER, name, None, node=value, call=value,
                               optimizer=self._lookup(arg(value, 0, "optimizer")))
            if base == OPTIMIZER:
                return Binding(OPTIMIZER, name, None, node=value, call=value, by_name=True,
                               modules=self._params_modules(arg(value, 0, "params")))
            held, cls = held_optimizer_class(self.ctx, self.funcs[-1] if self.funcs else None, value)
            if held:  # ``optimizer_cls = torch.optim.AdamW`` earlier: ``optimizer_cls(params, ...)``
                return Binding(OPTIMIZER, name, cls, node=value, call=value,
                               modules=self._params_modules(arg(value, 0, "params")))
        qn = self.ctx.qualify(f)
        if qn in ACCELERATOR_QUALNAMES:
            return Binding(ACCELERATOR, name, qn.rsplit(".", 1)[-1], node=value, call=value)
        last = name.rsplit(".", 1)[-1]
        if any(w in last.lower() for w in ("opt", "sched", "accelerator")) or name_says_scaler(last):
            # ``model_optim = self._select_optimizer()``, ``accelerator = prepare_accelerator(args)``:
            # what the helper returns (read only for such names: reading it may parse another file)
            func = self.funcs[-1] if self.funcs else None
            klass = self.b.class_of.get(func) if func is not None else None
            handed = returned_object(self.ctx, value, klass)
            mods = None
            if handed is not None and handed.kind == "optimizer":
                mods = self._handed_params(value, None, 1) or \
                    _factory_modules(returned_constructions(self.ctx, value, klass), value)
            bound = self._handed_back(target, handed, value, mods)
            if bound is not None and bound.kind == OPTIMIZER and mods is not None:
                bound.from_helper = True
                self.b.helper_modules.update(mods)
            return bound
        return None


def _factory_modules(built, call: cst.Call) -> frozenset[str] | None:
    """The modules whose parameters the optimizer a project helper builds and returns holds,
    named as ``call``'s caller names them: ``get_optimizer(model, lr)`` with ``return
    torch.optim.SGD(model.parameters(), lr)`` holds ``model``'s; ``self._select_optimizer()``
    with ``optim.Adam(self.model.parameters())`` holds ``self.model``'s. None when a return
    builds from anything but the helper's parameters (or, through ``self``, the instance's),
    or the returns disagree."""
    if built is None:
        return None
    found: set[frozenset[str]] = set()
    for construction in built.calls:
        mods = parameter_modules(arg(construction, 0, "params"), built.fn)
        if not mods:
            return None
        mapped = set()
        for key in mods:
            head, _, rest = key.partition(".")
            if head == "self" and built.through_self:
                mapped.add(key)
                continue
            handed = argument_for(call, built.fn, int(built.through_self), head) \
                if head in param_names(built.fn) else None
            handed_key = key_of(handed) if handed is not None else None
            if handed_key is None:
                return None
            mapped.add(handed_key + ("." + rest if rest else ""))
        found.add(frozenset(mapped))
    return found.pop() if len(found) == 1 else None


# -- parameters bound by their callers -------------------------------------------------
_FOLLOWED = (OPTIMIZER, SCHEDULER, SCALER, ACCELERATOR)


class _CallSites(cst.CSTVisitor):
    """Every call of a function, method or class of this file: ``(callee, call, caller)``."""

    def __init__(self, b: Bindings) -> None:
        self.b = b
        self.stack: list[cst.CSTNode] = []
        self.functions: dict[str, cst.FunctionDef] = {}
        self.inits: dict[str, cst.FunctionDef] = {}
        for stmt in b.ctx.module.body:
            if isinstance(stmt, cst.FunctionDef):
                self.functions[stmt.name.value] = stmt
            elif isinstance(stmt, cst.ClassDef):
                init = next((m for m in getattr(stmt.body, "body", ()) if isinstance(m, cst.FunctionDef)
                             and m.name.value == "__init__"), None)
                if init is not None:
                    self.inits[stmt.name.value] = init
        self.sites: dict[cst.FunctionDef, list[tuple[cst.Call, cst.CSTNode | None, int]]] = {}
        self.referenced: set[cst.FunctionDef] = set()  # named other than in a call: passed around

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.append(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_Call(self, node: cst.Call) -> None:
        f = node.func
        caller = self.stack[-1] if self.stack else None
        callee, skip = None, 0
        if isinstance(f, cst.Name):
            callee = self.functions.get(f.value)
            if callee is None and f.value in self.inits:
                callee, skip = self.inits[f.value], 1
        elif isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" and \
                caller is not None:
            klass = self.b.class_of.get(caller)
            if klass is not None:
                callee = next((m for m in getattr(klass.body, "body", ()) if isinstance(m, cst.FunctionDef)
                               and m.name.value == f.attr.value), None)
                skip = 1
        if callee is not None:
            self.sites.setdefault(callee, []).append((node, caller, skip))

    def visit_Arg(self, node: cst.Arg) -> None:
        v = node.value
        if isinstance(v, cst.Name) and v.value in self.functions and not self._local(v.value):
            self.referenced.add(self.functions[v.value])  # ``pool.map(train, ...)``: callers unseen

    def _local(self, name: str) -> bool:
        """``name`` is a parameter or local of the enclosing function, not the module's function
        (``train, val, test = load(...)``, then ``transform(train)``: a data split)."""
        func = self.stack[-1] if self.stack else None
        if func is None:
            return False
        return name in self.b.params_of.get(func, {}) or bool(values_assigned(func, name, nested_functions=False))


def _bind_from_callers(b: Bindings) -> None:
    """A parameter of a function of this file that every call site gives the same optimizer,
    scheduler or scaler holds it (``train(model, loader, optimizer, scheduler)`` called once from
    ``main``; ``Trainer(model, optimizer, scheduler)`` and ``self.scheduler = scheduler``): the
    rules then know its class and construction. Only where every call is seen and agrees."""
    sites = _CallSites(b)
    _walk.visit(b.ctx.module, sites)
    b.call_sites, b.referenced = sites.sites, sites.referenced
    _bind_from_other_files(b, sites)
    for _ in range(3):  # chains: main -> fit -> train_epoch
        changed = False
        for callee, calls in sites.sites.items():
            if callee in sites.referenced:
                continue
            table = b.function_scopes.setdefault(callee, {})
            for name in b.params_of.get(callee, {}):
                if name in table or name in b.opaque_assigned.get(callee, set()) or name == "self":
                    continue
                def passed(call, skip, name=name):
                    return argument_for(call, callee, skip, name)

                found = _agreed(b, calls, passed)
                if found is None and len(calls) > 1:
                    # (an evaluation call handing stand-ins to a branch its constants rule out)
                    reaching = calls_reaching(callee, name, calls)
                    if reaching and len(reaching) < len(calls):
                        found = _agreed(b, reaching, passed)
                if found is not None:
                    table[name] = found
                    changed = True
            changed |= _bind_elements(b, callee, calls, table)
            if callee.name.value == "__init__" and callee in b.class_of:
                changed |= _bind_attributes(b, b.class_of[callee], callee, table)
        if not changed:
            return


def _bind_from_other_files(b: Bindings, sites: "_CallSites") -> None:
    """A scheduler or optimizer parameter of a top-level function, or of a top-level class's
    ``__init__``, that this file never calls or hands around: the construction its callers in
    other project files build (``handed_elsewhere``), where they all agree. Asked only for a
    parameter named like one that the function steps or clears (or, in ``__init__``, keeps on
    ``self``). One construction handed to two parameters is one object."""
    candidates = [(n, f, 0) for n, f in sites.functions.items()] + [(n, f, 1) for n, f in sites.inits.items()]
    for name, callee, skip in candidates:
        if callee in sites.sites or callee in sites.referenced:
            continue
        table = b.function_scopes.setdefault(callee, {})
        params: dict[str, str] = {}
        for p in b.params_of.get(callee, {}):
            if p in table or p == "self" or p in b.opaque_assigned.get(callee, _NOTHING):
                continue
            kind = SCHEDULER if symbols.name_says_scheduler(p) else OPTIMIZER if symbols.name_says_optimizer(p) else None
            if kind is not None and _used_as(callee, p, ("step",) if kind == SCHEDULER else ("step", "zero_grad"),
                                             kept=bool(skip)):
                params[p] = kind
        if not params:
            continue
        handed = constructions_handed(b.ctx, name, callee, skip, params)
        built: dict[int, Binding] = {}
        for p, h in handed.items():
            if id(h.call) not in built:
                built[id(h.call)] = Binding(params[p], p, h.cls, node=b.params_of[callee][p], built_elsewhere=h.call)
            table[p] = built[id(h.call)]
        if handed and skip:
            _bind_attributes(b, b.class_of[callee], callee, table)


def _used_as(fn: cst.FunctionDef, param: str, methods: tuple[str, ...], kept: bool) -> bool:
    """``param.<method>(...)`` in ``fn`` for one of ``methods`` or, with ``kept``,
    ``self.<attr> = param`` there."""
    for node in _walk.nodes_of(fn.body, (cst.Call, cst.Assign)):
        if isinstance(node, cst.Call):
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value in methods and \
                    isinstance(f.value, cst.Name) and f.value.value == param:
                return True
        elif kept and isinstance(node.value, cst.Name) and node.value.value == param and \
                any((key_of(t.target) or "").startswith("self.") for t in node.targets):
            return True
    return False


def _agreed(b: Bindings, calls, passed, with_caller: bool = False) -> Binding | None:
    """The one optimizer, scheduler or scaler (bound by construction, not by name) that every
    call site passes: ``passed(call, skip[, caller])`` is the expression it passes."""
    found = None
    for call, caller, skip in calls:
        arg = passed(call, skip, caller) if with_caller else passed(call, skip)
        bound = b.resolve(caller, arg) if arg is not None else None
        if bound is None or bound.kind not in _FOLLOWED or bound.by_name or (found is not None and bound is not found):
            return None
        found = bound
    return found


def _element_stores(b: Bindings, callee: cst.FunctionDef) -> list[tuple[str, str, int, int | None]]:
    """``(name, parameter, index, length)`` for each local of ``callee`` whose one binding
    takes an element out of a parameter the function never rebinds: ``optim_g, optim_d =
    optims`` (length 2) or ``opt = optimizers[0]`` (length None)."""
    params = b.params_of.get(callee, _NOTHING)
    out = []
    for node in _walk.nodes_of(callee.body, cst.Assign):
        v = node.value
        if len(node.targets) != 1:
            continue
        target = node.targets[0].target
        if isinstance(v, cst.Subscript):
            index = _constant_index(v)
            source, pairs = (v.value.value, [(target, index)]) if isinstance(v.value, cst.Name) and \
                index is not None else (None, [])
            length = None
        elif isinstance(v, cst.Name) and isinstance(target, (cst.Tuple, cst.List)) and \
                not any(isinstance(e, cst.StarredElement) for e in target.elements):
            source, pairs = v.value, [(e.value, i) for i, e in enumerate(target.elements)]
            length = len(target.elements)
        else:
            continue
        if source not in params or stores(callee, source, nested_functions=False):
            continue
        for t, i in pairs:
            k = key_of(t)
            if k is not None and "." not in k and k not in params and \
                    [s.node for s in stores(callee, k, nested_functions=False)] == [node]:
                out.append((k, source, i, length))
    return out


def _constant_index(sub: cst.Subscript) -> int | None:
    if len(sub.slice) != 1 or not isinstance(sub.slice[0].slice, cst.Index):
        return None
    v = sub.slice[0].slice.value
    return int(v.value) if isinstance(v, cst.Integer) else None


def _elements_passed(b: Bindings, caller: cst.CSTNode | None, arg: cst.BaseExpression) -> list | None:
    """The elements of the literal list or tuple ``arg`` is (``[optim_g, optim_d]``), or that
    the one assignment of the name ``arg`` in the caller (or the module) builds."""
    if isinstance(arg, cst.Name):
        scope = caller if caller is not None else b.ctx.module
        values = values_assigned(scope, arg.value, nested_functions=False)
        if not values and caller is not None and arg.value not in b.params_of.get(caller, _NOTHING):
            values = values_assigned(b.ctx.module, arg.value, nested_functions=False)
        arg = values[0] if len(values) == 1 else None
    if not isinstance(arg, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in arg.elements):
        return None
    return [e.value for e in arg.elements]


def _bind_elements(b: Bindings, callee: cst.FunctionDef, calls, table: dict[str, Binding]) -> bool:
    """A local taken out of a parameter (``optim_g, optim_d = optims``) holds the element every
    call site puts at that position of the list or tuple it passes (``train(..., [optim_g,
    optim_d], ...)``, or a name assigned one such literal): the same optimizer, scheduler or
    scaler at every call, as for a parameter."""
    changed = False
    for name, param, index, length in _element_stores(b, callee):
        if name in table:
            continue
        def element(call, skip, caller, param=param, index=index, length=length):
            arg = argument_for(call, callee, skip, param)
            elements = _elements_passed(b, caller, arg) if arg is not None else None
            if elements is None or (length is not None and len(elements) != length) or \
                    not -len(elements) <= index < len(elements):
                return None
            return elements[index]

        found = _agreed(b, calls, element, with_caller=True)
        if found is not None:
            table[name] = found
            changed = True
    return changed


def _bind_attributes(b: Bindings, klass: cst.ClassDef, init: cst.FunctionDef, table: dict[str, Binding]) -> bool:
    """``self.x = param`` in ``__init__`` for a parameter bound by the callers, when nothing
    else in the class assigns ``self.x``."""
    attrs = b.class_attrs.setdefault(klass, {})
    assigned: dict[str, list[cst.BaseExpression]] = {}

    class V(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                # (``self.net, self.optimizer = net, optimizer``: element by element)
                for target, value in target_value_pairs(t.target, node.value):
                    k = key_of(target)
                    if k is not None and k.startswith("self."):
                        assigned.setdefault(k, []).append(value if len(node.targets) == 1 else None)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            k = key_of(node.target)
            if k is not None:
                assigned.setdefault(k, []).append(None)

    _walk.visit(klass, V())
    everywhere, assigned = assigned, {}
    _walk.visit(init, V())
    changed = False
    for k, values in assigned.items():
        if k in attrs or len(everywhere[k]) != 1 or not isinstance(values[0], cst.Name):
            continue
        bound = table.get(values[0].value)
        if bound is not None and values[0].value in b.params_of.get(init, {}):
            attrs[k] = bound
            changed = True
    return changed
