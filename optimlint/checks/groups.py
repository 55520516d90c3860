"""OPT401-OPT403: parameter groups of a torch optimizer.

The groups and their *sources* (``model.head.parameters()``, a filtered comprehension, a
single parameter) come from ``analysis/param_groups.py``; what that reduction does not
understand makes OPT401/OPT402 silent.

OPT401 also needs the model's class (``analysis.modules``) to know which submodules
exist; OPT403 needs the optimizer's class to know its keys (``vocabulary.OPTIMIZER_KEYS``).
"""

from __future__ import annotations

import re

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis import modules as M
from optimlint.analysis.bindings import key_of
from optimlint.analysis.param_groups import Analysis, Group, Groups, OptimizerSite, Source
from optimlint.analysis.sole_optimizer import only_optimizer_of
from optimlint.checks.base import Check
from optimlint.diagnostics import Fix
from optimlint.vocabulary import (CLIP_FUNCTIONS, COMMON_GROUP_KEYS, KERAS_GROUP_KEYS, MODULE_SELF_RETURNING,
                                  OPTIMIZER_KEYS, close_group_key)


def _overlap_pair(earlier: list[Source], later: list[Source]) -> tuple[Source, Source] | None:
    """A source of ``earlier`` and one of ``later`` that hold the same parameters."""
    for s in earlier:
        if s.kind == "filtered":
            continue
        for t in later:
            if t.kind == "filtered" or not _overlaps(s.path, t.path):
                continue
            if s.kind == "param" and t.kind == "param" and s.path != t.path:
                continue
            # a single tensor holds a module's parameters only when it is the module itself
            if s.kind == "param" and t.kind == "all" and len(s.path) < len(t.path):
                continue
            if t.kind == "param" and s.kind == "all" and len(t.path) < len(s.path):
                continue
            return s, t
    return None


def _overlaps(a: str, b: str) -> bool:
    """``model`` and ``model.head`` (or equal): one holds the other's parameters."""
    if a == b:
        return True
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return long.startswith(short) and long[len(short)] in ".["


def _rel(path: str, root: str) -> tuple[str, ...] | None:
    """``model.neck.fpn`` relative to ``model``: ("neck", "fpn"); subscripts end the path."""
    if path == root:
        return ()
    if not (path.startswith(root) and path[len(root)] in ".["):
        return None
    rest = path[len(root):]
    parts: list[str] = []
    for piece in rest.lstrip(".").split("."):
        if "[" in piece:
            parts.append(piece.split("[", 1)[0] or "[]")
            parts.append("[]")
            break
        parts.append(piece)
    if rest.startswith("["):
        return ("[]",)
    return tuple(parts)


def _common_root(paths: list[str]) -> str | None:
    split = [p.split(".") for p in paths]
    common: list[str] = []
    for parts in zip(*split):
        if len(set(parts)) != 1 or "[" in parts[0]:
            break
        common.append(parts[0])
    return ".".join(common) if common else None


# -- the check -----------------------------------------------------------------------------


# A torch optimizer class called (``SGD(``), imported under another name (``AdamW as A``),
# or a group added later: the only ways this file can hold parameter groups we can check.
# (one pattern per class, each starting with its name: the regex engine then scans for that
# literal, where one alternation after ``\b`` tried every name at every word boundary, 1% of a
# lint; the word boundary before the name is tested at each match)
_MAY_BUILD = [re.compile(r"%s\b\s*(?:\(|as\b)" % name) for name in sorted(OPTIMIZER_KEYS)]
_WORD = re.compile(r"\w")


def _may_build(source: str) -> bool:
    if "add_param_group" in source:
        return True
    for pattern in _MAY_BUILD:
        for m in pattern.finditer(source):
            if m.start() == 0 or _WORD.match(source, m.start() - 1) is None:
                return True
    return False


class GroupsCheck(Check):
    codes = ("OPT401", "OPT402", "OPT403")
    # A torch optimizer is named through ``torch.optim`` / ``optim`` (an import or a dotted
    # name), which a group added with ``add_param_group`` needs too (built in the same scope).
    needles = (b"optim",)
    requires = ((rb"optim(?<!\woptim)\b",),)

    def check(self) -> None:
        ctx = self.ctx
        if not _may_build(ctx.source):
            return  # no optimizer class is called (or aliased) here: skip the tree walk
        a = ctx.cached("optimlint.groups", lambda: Analysis(ctx))
        for site in a.sites:
            try:
                groups = a.groups(site)
            except RecursionError:  # pragma: no cover - pathological nesting
                continue
            if groups is None:
                continue
            self._keys(site.cls, groups.groups)
            self._duplicates(groups)
            self._missing(a, site, groups)
        self._added_groups(a)

    # -- OPT403 ---------------------------------------------------------------------------
    def _keys(self, cls: str, groups: list[Group]) -> None:
        known = OPTIMIZER_KEYS[cls] | COMMON_GROUP_KEYS | {"params"}
        for g in groups:
            present = {k for k, _ in g.keys}
            for key, node in g.keys:
                if key in known or key in KERAS_GROUP_KEYS:
                    continue
                match = close_group_key(key, OPTIMIZER_KEYS[cls])  # a misspelt option, not metadata
                if match is None:
                    continue
                fix = None
                if match not in present:
                    if isinstance(node, cst.SimpleString):
                        quote = node.quote
                        prefix = node.prefix
                        text = f"{prefix}{quote}{match}{quote}"
                    else:
                        text = match
                    fix = Fix.safe(f"Rename `{key}` to `{match}`", self.ctx.replace(node, text))
                self.report(
                    "OPT403", node,
                    f"`{cls}` has no param-group option `{key}` (did you mean `{match}`?): PyTorch "
                    f"keeps unknown keys in the group and ignores them, so this group uses the "
                    f"optimizer's default `{match}`", fix)

    def _added_groups(self, a: Analysis) -> None:
        """``opt.add_param_group({...})`` on an optimizer built in the same scope."""
        from optimlint.analysis.bindings import Bindings, OPTIMIZER

        ctx = self.ctx
        if not a.add_groups:
            return
        b = ctx.cached(Bindings, lambda: Bindings.build(ctx))
        for call, stack in a.add_groups:
            funcs = [s for s in stack if isinstance(s, cst.FunctionDef)]
            func = funcs[-1] if funcs else None
            binding = b.resolve(func, call.func.value)
            if binding is None or binding.kind != OPTIMIZER or binding.cls not in OPTIMIZER_KEYS \
                    or binding.by_name:
                continue
            if len(call.args) != 1:
                continue
            g = a._group(call.args[0].value, stack)
            if g is not None:
                self._keys(binding.cls, [g])
                self._added_overlap(a, call, stack, g)

    def _added_overlap(self, a: Analysis, call: cst.Call, stack: tuple, added: Group) -> None:
        """``opt = SGD(model.parameters()); opt.add_param_group({"params": model.head...})``."""
        receiver = call.func.value
        if not isinstance(receiver, cst.Name) or not added.sources:
            return
        built = a.single_value(stack, receiver.value)
        site = next((s for s in a.sites if s.call is built), None)
        if site is None:
            return
        groups = a.groups(site)
        if groups is None:
            return
        for g in groups.groups:
            if g.conditional or not g.sources:
                continue
            hit = _overlap_pair(g.sources, added.sources)
            if hit:
                self._report_overlap(added, hit)
                return

    def _report_overlap(self, later: Group, hit: tuple[Source, Source]) -> None:
        s, t = hit
        same = "the same parameters as" if s.path == t.path and s.kind == t.kind else "parameters already in"
        self.report(
            "OPT402", later.node,
            f"this group's `{self.ctx.code(t.node)}` holds {same} an earlier group (`{self.ctx.code(s.node)}`): "
            f"PyTorch raises ValueError (some parameters appear in more than one parameter group)")

    # -- OPT402 ---------------------------------------------------------------------------
    def _duplicates(self, groups: Groups) -> None:
        gs = [g for g in groups.groups if not g.conditional]
        for j in range(1, len(gs)):
            later = gs[j]
            if not later.sources:
                continue
            for i in range(j):
                hit = _overlap_pair(gs[i].sources or [], later.sources)
                if hit:
                    self._report_overlap(later, hit)
                    break

    # -- OPT401 ---------------------------------------------------------------------------
    def _missing(self, a: Analysis, site: OptimizerSite, groups: Groups) -> None:
        if groups.dynamic or not groups.groups:
            return
        sources: list[Source] = []
        for g in groups.groups:
            if g.sources is None:
                return
            sources.extend(g.sources)
        if not sources or any(s.kind == "filtered" for s in sources):
            return
        paths = [s.path for s in sources]
        if len(set(paths)) < 2:
            return  # one module's parameters: training only that part is deliberate
        common = _common_root(paths)
        if common is None:
            return
        candidates = common.split(".")
        roots = [".".join(candidates[:i]) for i in range(len(candidates), 0, -1)]
        if common in paths:
            roots = roots[1:]  # a group holds the whole of ``common``
        if not roots:
            return
        for root in roots:
            info = self._class_of(self.ctx, a, site, root)
            if info is None:
                continue
            self._report_missing(a, site, root, info, paths)
            return

    def _class_of(self, ctx, a: Analysis, site: OptimizerSite, root: str) -> M.ClassInfo | None:
        parts = root.split(".")
        head = parts[0]
        if head == "self":
            if site.klass is None:
                return None
            info = M.class_info(a.pf, site.klass, ctx.project_root)
        else:
            value_use = a.lookup(site.scopes, head)
            if value_use is None:
                return None
            _, use = value_use
            if use.opaque or not use.values:
                return None
            if any(m in ("__setattr__", "add_module", "register_module") or
                   m == "apply" and not _initialises_only(a.pf, node) for m, node, _ in use.mutations):
                return None
            infos = []
            for v in use.values:
                if _self_reassign(v, head):
                    continue
                ci, _frozen = M.class_of_call_value(a.pf, v, ctx.project_root)
                if ci is None:
                    return None
                infos.append(ci)
            if not infos or any(i is not infos[0] for i in infos):
                return None
            info = infos[0]
        for attr in parts[1:]:
            if info is None or not info.complete:
                return None
            at = info.attrs.get(attr)
            if at is None or at.cls is None:
                return None
            info = at.cls
        if info is None or not info.complete or not info.is_module:
            return None
        return info

    def _report_missing(self, a: Analysis, site: OptimizerSite, root: str, info: M.ClassInfo,
                        paths: list[str]) -> None:
        ctx = self.ctx
        covered: set[tuple[str, ...]] = set()
        for p in paths:
            r = _rel(p, root)
            if r is None:
                return
            covered.add(r)
        extra = self._file_coverage(ctx, a, site, root)
        if extra is None:
            return
        covered |= extra
        for other in a.sites:
            if other is site:
                continue
            if root.split(".")[0] == "self" and other.klass is not site.klass:
                continue  # ``self`` in another class is another object
            # another optimizer built from something we cannot reduce (``Adam(params_of(model.d))``)
            for other_arg in other.call.args:
                for d in M.outer_dotted(other_arg.value):
                    r = _rel(d, root)
                    if r == ():
                        return
                    if r is not None:
                        covered.add(r)
        missing = _missing_in(info, covered, "")
        if missing is None:  # a covered path the class analysis does not know: unproven
            return
        if any(_role_name(m.rsplit(".", 1)[-1]) for m in missing) \
                and not only_optimizer_of(a, site, root.split(".")[0]):
            missing = [m for m in missing if not _role_name(m.rsplit(".", 1)[-1])]
        if not missing:
            return
        # ``trainer.model.neck`` frozen or given to another optimizer elsewhere in the file:
        # the same object under another name, maybe
        elsewhere = self._mentions(ctx, site)
        missing = [m for m in missing if not any(
            len(t) >= len(m.split(".")) and t[-len(m.split(".")):] == tuple(m.split(".")) for t in elsewhere)]
        if not missing:
            return
        names = ", ".join(f"`{root}.{m}`" for m in missing)
        plural = "have" if len(missing) > 1 else "has"
        self.report(
            "OPT401", site.call,
            f"the parameter groups leave out {names}, which {plural} trainable parameters: no "
            f"optimizer updates them; add a group for them (or freeze them with "
            f"`requires_grad_(False)`)")

    def _mentions(self, ctx, site: OptimizerSite) -> list[tuple[str, ...]]:
        """Dotted modules whose parameters the file handles outside this optimizer."""
        found, _counting, subjects, _unknown = ctx.cached("optimlint.groups.coverage", lambda: None) \
            or (None, None, set(), False)
        inside = {id(n) for n in M.walk(site.call)}
        out = [tuple(k.split(".")) for k, node, what in (found or ())
               if id(node) not in inside and not what.startswith("assign:")]
        out.extend(tuple(sj.split(".")) for sj in subjects)
        return out

    def _file_coverage(self, ctx, a: Analysis, site: OptimizerSite, root: str) -> set | None:
        """Paths under ``root`` that the rest of the file gives to an optimizer or freezes;
        None when the file does something with the whole model that we cannot follow."""
        def build():
            found: list[tuple[str, cst.CSTNode, str]] = []
            counting: set[int] = set()

            class V(cst.CSTVisitor):
                def visit_For(self, node: cst.For) -> None:
                    # ``for p in model.parameters(): p.data.clamp_(...)``: a loop reads the
                    # parameters (freezing loops are freeze_subjects' business)
                    for n in M.walk(node.iter):
                        counting.add(id(n))

                def visit_Call(self, node: cst.Call) -> None:
                    f = node.func
                    if _consumer_name(f) in _READERS:
                        for n in M.walk(node):
                            counting.add(id(n))
                    if isinstance(f, cst.Attribute) and f.attr.value in (
                            "parameters", "named_parameters", "requires_grad_", "add_module",
                            "register_module", "register_parameter", "apply"):
                        k = key_of(f.value)
                        if k:
                            found.append((k, node, f.attr.value))
                    elif isinstance(f, cst.Name) and f.value in ("setattr", "delattr") and node.args:
                        k = key_of(node.args[0].value)
                        if k:
                            found.append((k, node, "setattr"))

                def visit_Del(self, node: cst.Del) -> None:
                    # ``del model.head`` changes the model; ``del model.rewards[:]`` empties a list
                    targets = [e.value for e in node.target.elements] if isinstance(node.target, cst.Tuple) \
                        else [node.target]
                    for d in (d for t in targets if not isinstance(t, cst.Subscript) for d in M.outer_dotted(t)):
                        if "." in d:
                            found.append((d.rsplit(".", 1)[0], node, "assign:" + d.rsplit(".", 1)[1]))

                def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
                    k = key_of(node.target) if isinstance(node.target, (cst.Attribute, cst.Subscript)) else None
                    if k and "." in k:
                        found.append((k.rsplit(".", 1)[0], node, "assign:" + k.rsplit(".", 1)[1]))

            _walk.visit(ctx.module, V())
            subjects, unknown = M.freeze_subjects(ctx.module)
            return found, counting, subjects, unknown

        found, counting, subjects, unknown = ctx.cached("optimlint.groups.coverage", build)
        if unknown:
            return None
        inside = {id(n) for n in M.walk(site.call)}
        self_rooted = root.split(".")[0] == "self"
        in_class = {id(n) for n in M.walk(site.klass)} if self_rooted and site.klass else set()
        out: set[tuple[str, ...]] = set()
        for k, node, what in found:
            if id(node) in inside:
                continue
            if self_rooted and id(node) not in in_class:
                continue  # another class's ``self``
            if self_rooted and what.startswith("assign:") and root == "self":
                continue  # the class's own attributes: the class analysis has them
            r = _rel(k, root)
            if r is None:
                if what.startswith("assign:"):
                    continue  # ``self.model = ...`` itself, or a sibling attribute
                if _overlaps(k, root) and len(k) < len(root) and id(node) not in counting:
                    return None  # an ancestor of root used as a whole
                continue
            if what.startswith("assign:"):
                if what != "assign:requires_grad":
                    return None  # the script changes the model's attributes
                out.add(r)
                continue
            if what == "apply" and _initialises_only(a.pf, node):
                continue  # ``generator.apply(weights_init_normal)``
            if what in ("add_module", "register_module", "register_parameter", "setattr", "apply"):
                return None
            if r == ():
                if id(node) in counting or what == "requires_grad_":
                    if what == "requires_grad_":
                        return None
                    continue
                return None
            out.add(r)
        if self_rooted:
            # only the enclosing class's own freezes speak about its ``self``
            subjects = M.freeze_subjects(site.klass)[0] if site.klass else set()
        for s in subjects:
            r = _rel(s, root)
            if r == ():
                return None
            if r is not None:
                out.add(r)
            elif _overlaps(s, root):
                return None
        return out


# Calls that only read parameters (count, clip, print): a model's ``parameters()`` given to
# them says nothing about which optimizer holds what.
_READERS = frozenset(CLIP_FUNCTIONS) | frozenset({
    "sum", "len", "print", "count_parameters", "parameters_to_vector", "any", "all", "max", "min", "format",
    "info", "debug", "warning", "log", "numel", "count_params", "get_n_params"})


def _consumer_name(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


# Parts that adversarial and actor-critic setups train with an optimizer of their own,
# often built in another file: reported as missing only where the file proves no other
# optimizer can reach the model (analysis/sole_optimizer.py).
_ROLE_WORDS = frozenset({"discriminator", "disc", "dis", "netd", "critic", "critics", "adversary",
                         "adversarial", "generator", "gen", "netg", "actor", "policy", "pi", "qf",
                         "q", "value", "vf", "d", "g"})


def _role_name(name: str) -> bool:
    words = [w for w in re.split(r"[_\d]+", name.lower()) if w]
    return any(w in _ROLE_WORDS for w in words) or name in ("D", "G")


def _self_reassign(value: cst.BaseExpression, name: str) -> bool:
    """``model = model.to(device)`` keeps the object."""
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in MODULE_SELF_RETURNING:
        value = value.func.value
        if isinstance(value, cst.Name) and value.value == name:
            return True
    return False


def _missing_in(info: M.ClassInfo, covered: set[tuple[str, ...]], prefix: str) -> list[str] | None:
    """Definite, trainable, parameter-holding attributes of ``info`` that no covered path reaches."""
    if () in covered:
        return []
    if info.freeze_unknown or not info.complete:
        return None
    covered = covered | {tuple(f.split(".")) for f in info.frozen}
    for path in covered:
        if path[0] not in info.attrs:
            return None  # something the class analysis does not know about
    # (an ``if``/``elif`` chain that assigns a covered attribute ran an arm: its other attributes exist)
    chains = {info.attrs[p[0]].chain for p in covered if p and p[0] in info.attrs} - {None}
    out: list[str] = []
    for name, at in info.attrs.items():
        subs = {p[1:] for p in covered if p[0] == name}
        if not subs:
            if (at.definite or at.chain in chains) and at.params is True and not at.frozen and name not in info.entangled \
                    and (at.module is True or at.param) and name not in info.handled \
                    and (info.used is None or name in info.used):
                out.append(prefix + name)
            continue
        if () in subs or "[]" in {p[0] for p in subs}:
            continue
        if at.cls is not None and name not in info.entangled:
            inner = _missing_in(at.cls, subs, prefix + name + ".")
            if inner is None:
                return None
            out.extend(inner)
    return out


# What ``model.apply(fn)`` may do beyond initialising weights: freeze, add or replace modules.
_APPLY_CHANGES = ("requires_grad", "setattr", "add_module", "register_", "__setattr__", "del ")


def _initialises_only(pf: M.ParsedFile, call: cst.CSTNode) -> bool:
    """``generator.apply(weights_init_normal)`` with a top-level function of the file that only
    initialises weights (``nn.init.normal_(m.weight.data, ...)``): the module's parameters and
    their ``requires_grad`` stay as the class built them."""
    if not isinstance(call, cst.Call) or len(call.args) != 1 or not isinstance(call.args[0].value, cst.Name):
        return False
    name = call.args[0].value.value
    defs = [s for s in pf.module.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
    if len(defs) != 1 or name in pf.imports.bindings:
        return False
    text = pf.module.code_for_node(defs[0])
    return not any(word in text for word in _APPLY_CHANGES)
