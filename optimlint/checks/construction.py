"""OPT301-OPT304 and OPT307: mistakes made while building a torch optimizer (OPT305 is
``replacement.py``).

Only calls that provably build a ``torch.optim`` optimizer are read (by qualified name, or a
class of the file that subclasses one and keeps its constructor): Keras, TensorFlow and
optax optimizers with the same names are never flagged. Values the analysis cannot read
(a config field, a function parameter passed by an unseen caller) make OPT303 silent. OPT302
fires where the decay is not provably zero and the code shows decoupled decay was meant
(``analysis/decay_evidence.py``); ``require-evidence = false`` drops the second condition.
"""

from __future__ import annotations

import re

import libcst as cst

from optimlint.analysis import construction_args as A
from optimlint.analysis import decay_evidence as evidence_of
from optimlint.analysis.expected_errors import expects_error
from optimlint.analysis.names import dotted
from optimlint.analysis.one_shot_iterators import (assigning_scopes, consumer, loop_around, parameter_iterator,
                                                   runs_before)
from optimlint.analysis.provably_zero import provably_zero
from optimlint.checks.base import Check
from optimlint.diagnostics import Edit, Fix
from optimlint.vocabulary import COUPLED_DECAY_OPTIMIZERS as COUPLED_DECAY
from optimlint.vocabulary import DEFAULT_BETAS
from optimlint.vocabulary import KERAS_BETAS as BETAS
from optimlint.vocabulary import KERAS_NO_EQUIVALENT as NO_EQUIVALENT
from optimlint.vocabulary import KERAS_RENAMES as RENAMES

# Group keys only for names no user code would use as its own marker (``decay`` might be).
GROUP_NO_EQUIVALENT = frozenset(NO_EQUIVALENT) - {"decay"}
# ``name = <anything on the line>parameters(``: the only lines OPT304 can start from.
_ITERATOR_ASSIGN = re.compile(r"^[ \t]*(\w+)[ \t]*(?::[^=\n]*)?=[^=\n][^\n]*parameters\(", re.M)
# ``\bdef\s+(named_)?parameters\s*\(`` as ``_defines_parameters`` searches it: a leading ``\b`` keeps
# ``re`` from scanning for the literal ``def``, and tried at every character it cost 30x more
_DEFINES_PARAMETERS = re.compile(r"def\s+(named_)?parameters\s*\(")
_WORD_CHAR = re.compile(r"\w")


def _iterator_assignments(source: str) -> set[str]:
    """``set(_ITERATOR_ASSIGN.findall(source))``, searched only in the lines that hold
    ``parameters(`` (a match never spans lines, and each line holds at most one): the pattern
    tried at the start of every line of every file cost more than the rest of the check."""
    found: set[str] = set()
    at = source.find("parameters(")
    while at >= 0:
        start = source.rfind("\n", 0, at) + 1
        end = source.find("\n", at)
        end = len(source) if end < 0 else end
        m = _ITERATOR_ASSIGN.match(source, start, end)
        if m:
            found.add(m.group(1))
        at = source.find("parameters(", end)
    return found


def _defines_parameters(source: str) -> bool:
    """``def parameters(`` / ``def named_parameters(`` not preceded by a word character (two
    matches cannot overlap: the boundary is tested on each)."""
    for m in _DEFINES_PARAMETERS.finditer(source):
        if m.start() == 0 or not _WORD_CHAR.match(source, m.start() - 1):
            return True
    return False


def _qual(cls: str, local: bool, call: cst.Call, ctx) -> str:
    return ctx.code(call.func) if local else f"torch.optim.{cls}"


def _string_with(node: cst.SimpleString, text: str) -> str:
    return f"{node.prefix}{node.quote}{text}{node.quote}"


def _no_comment_between(ctx, a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """No ``#`` in the source text between the end of ``a`` and the start of ``b``."""
    ea, sb = ctx.positions[a].end, ctx.positions[b].start
    lines = ctx.source_lines[ea.line - 1: sb.line]
    if not lines:
        return True
    if len(lines) == 1:
        text = lines[0][ea.column: sb.column]
    else:
        text = "\n".join([lines[0][ea.column:], *lines[1:-1], lines[-1][: sb.column]])
    return "#" not in text


class ConstructionCheck(Check):
    codes = ("OPT301", "OPT302", "OPT303", "OPT304", "OPT307")
    needles = (b"optim", b"parameters(")
    # An optimizer construction needs ``torch.optim`` / ``optim`` as a word (not "optimized" in
    # a docstring); OPT304 a line that stores something ``_iterator_value`` accepts.
    # (``\n``, not ``^``, starts the OPT304 line pattern: a literal is scanned for, ``^`` is
    # tried at every position; ``\A`` covers the first line.)
    requires = ((rb"optim(?<!\woptim)\b",
                 rb"\n[ \t]*\w+[ \t]*(?::[^=\n]*)?=[ \t]*(?:(?:[\w.]|\[[^\]\n]*\]|\([^()\n]*\))*"
                 rb"\.(?:named_)?parameters\(|(?:\(|(?:filter|map)\(|[\w.]*chain\b)[^\n]*parameters\()",
                 rb"\A[ \t]*\w+[ \t]*(?::[^=\n]*)?=[ \t]*(?:(?:[\w.]|\[[^\]\n]*\]|\([^()\n]*\))*"
                 rb"\.(?:named_)?parameters\(|(?:\(|(?:filter|map)\(|[\w.]*chain\b)[^\n]*parameters\()"),)

    def check(self) -> None:
        ctx = self.ctx
        self._decay_reported: set[int] = set()
        # Every optimizer construction needs "optim" in the text (torch.optim or a subclass of it).
        for oc in (A.optimizer_calls(ctx) if "optim" in ctx.source else ()):
            if expects_error(ctx, oc.call):
                continue  # a test that checks torch's own error
            self._keras(oc)
            self._adam_decay(oc)
            self._nesterov(oc)
            self._module_as_params(oc)
        self._reused_iterators()

    # -- OPT301 ------------------------------------------------------------------------
    def _keras(self, oc: A.OptimizerCall) -> None:
        ctx = self.ctx
        call, cls = oc.call, oc.cls
        valid = A.valid_keys(cls)
        qual = _qual(cls, oc.local, call, ctx)
        # Renaming a keyword may collide with a positional argument or **kwargs.
        can_rename = len(A.positional(call)) <= 1 and not A.has_star(call)
        kws = {a.keyword.value: a for a in call.args if a.keyword is not None}

        for name, arg in kws.items():
            if name in valid:
                continue
            if name in RENAMES and (name != "rho" or cls == "RMSprop"):
                target = RENAMES[name]
                fix = None
                if target in valid and target not in kws and can_rename:
                    fix = Fix.safe(f"Rename `{name}` to `{target}`", ctx.replace(arg.keyword, target))
                self.report(
                    "OPT301", arg.keyword,
                    f"`{qual}` has no `{name}` argument (Keras's name; TypeError at construction): "
                    f"use `{target}`" + ("" if target in valid else f", which `{qual}` does not take either"),
                    fix)
            elif name in NO_EQUIVALENT:
                self.report(
                    "OPT301", arg.keyword, f"`{qual}` has no `{name}` argument (Keras's name): {NO_EQUIVALENT[name]}")
        self._keras_betas(call, kws, valid, qual, can_rename)
        self._keras_groups(call, cls, kws, valid, qual)

    def _betas_fix(self, ctx, items: dict[str, cst.CSTNode], values: dict[str, cst.BaseExpression],
                   container_items: list, head: str, value_of) -> Fix | None:
        """Edits that turn the ``beta_1``/``beta_2`` items into a single ``betas`` item.

        ``items``: the beta items present (Arg or DictElement); ``container_items``: all items
        of the call or dict in source order; ``head``: the text before the tuple (``betas=``
        or ``"betas": ``); ``value_of(item)``: the item's value node. None when a comment
        sits in the text that would be deleted.
        """
        b1 = ctx.code(values["beta_1"]) if "beta_1" in values else DEFAULT_BETAS[0]
        b2 = ctx.code(values["beta_2"]) if "beta_2" in values else DEFAULT_BETAS[1]
        text = f"{head}({b1}, {b2})"
        present = sorted(items.values(), key=lambda n: A.pos(ctx, n))
        first = present[0]
        if len(present) == 1:
            start, end = ctx.start(_item_start(first)), ctx.end(value_of(first))
            return Fix.safe("Merge into `betas`", Edit(text, start, end))
        second = present[1]
        i1, i2 = container_items.index(first), container_items.index(second)
        if i2 == i1 + 1:
            if not _no_comment_between(ctx, value_of(first), _item_start(second)):
                return None
            return Fix.safe("Merge into one `betas` tuple",
                            Edit(text, ctx.start(_item_start(first)), ctx.end(value_of(second))))
        prev = container_items[i2 - 1]
        if not _no_comment_between(ctx, value_of(prev), _item_start(second)):
            return None
        return Fix.safe("Merge into one `betas` tuple",
                        Edit(text, ctx.start(_item_start(first)), ctx.end(value_of(first))),
                        Edit("", ctx.end(value_of(prev)), ctx.end(value_of(second))))

    def _keras_betas(self, call, kws, valid, qual, can_rename) -> None:
        ctx = self.ctx
        present = {n: kws[n] for n in BETAS if n in kws}
        if not present:
            return
        fix = None
        if "betas" in valid and "betas" not in kws and can_rename:
            fix = self._betas_fix(ctx, present, {n: a.value for n, a in present.items()}, list(call.args),
                                  "betas=", lambda a: a.value)
        for name, arg in present.items():
            hint = ("use `betas=(beta_1, beta_2)`" if "betas" in valid
                    else f"`{qual}` has no `betas` either")
            self.report(
                "OPT301", arg.keyword,
                f"`{qual}` has no `{name}` argument (Keras's name; TypeError at construction): {hint}", fix)

    def _keras_groups(self, call, cls, kws, valid, qual) -> None:
        ctx = self.ctx
        for d in A.group_dicts(call):
            items = dict(A.dict_items(d))
            spread = any(isinstance(e, cst.StarredDictElement) for e in d.elements)
            for key, el in items.items():
                if key in valid:
                    continue
                if key in RENAMES and (key != "rho" or cls == "RMSprop"):
                    target = RENAMES[key]
                    fix = None
                    if target in valid and target not in items and not spread:
                        fix = Fix.safe(f"Rename the key to `{target}`",
                                       ctx.replace(el.key, _string_with(el.key, target)))
                    self.report(
                        "OPT301", el.key,
                        f"param-group key `{key}` is Keras's name and `{qual}` silently ignores it "
                        f"(the group keeps the optimizer's `{target}`): use `{target}`"
                        + ("" if target in valid else f", which `{qual}` does not take either"), fix)
                elif key in GROUP_NO_EQUIVALENT:
                    self.report(
                        "OPT301", el.key,
                        f"param-group key `{key}` is ignored by `{qual}`: {NO_EQUIVALENT[key]}")
            present = {n: items[n] for n in BETAS if n in items}
            if not present:
                continue
            fix = None
            default_known = len(present) == 2 or not any(k in kws for k in ("betas", *BETAS))
            if "betas" in valid and "betas" not in items and not spread and default_known:
                fix = self._betas_fix(ctx, present, {n: e.value for n, e in present.items()},
                                      list(d.elements), _string_with(next(iter(present.values())).key, "betas")
                                      + ": ", lambda e: e.value)
            for name, el in present.items():
                self.report(
                    "OPT301", el.key,
                    f"param-group key `{name}` is Keras's name and `{qual}` silently ignores it: "
                    "use `\"betas\": (beta_1, beta_2)`", fix)

    # -- OPT302 ------------------------------------------------------------------------
    def _adam_decay(self, oc: A.OptimizerCall) -> None:
        ctx = self.ctx
        call, cls = oc.call, oc.cls
        if cls not in COUPLED_DECAY:
            return
        strict = ctx.settings is not None and not getattr(ctx.settings, "adam_weight_decay_require_evidence", True)
        scope = A.enclosing_scope(ctx, call)
        # ``**kw`` read where it is a dict literal the file shows (``kw = dict(lr=..., weight_decay=...)``).
        splatted = A.splatted_keywords(ctx, call, scope) if A.has_double_star(call) else []
        if splatted is None:
            return
        keywords = [(a.keyword.value, a.keyword, a.value) for a in call.args if a.keyword is not None] + splatted
        decs = [value for key, _, value in keywords if key == "decoupled_weight_decay"]
        if any(A.literal_bool(value) is not False for value in decs):
            return
        if decs and not strict:
            return  # ``decoupled_weight_decay=False`` written out: L2 chosen on purpose
        groups = A.group_literals(ctx, call, scope)
        sites: list[tuple[cst.CSTNode, cst.BaseExpression]] = []
        for key, node, value in keywords:
            if key == "weight_decay" and not provably_zero(ctx, value, scope):
                sites.append((node, value))
        for d in groups:
            for key, el in A.dict_items(d):
                if key == "weight_decay" and not provably_zero(ctx, el.value, scope):
                    sites.append((el.key, el.value))
        added = A.added_group_literals(ctx, call, scope)
        for _, d in added:
            for key, el in A.dict_items(d):
                if key == "weight_decay" and not provably_zero(ctx, el.value, scope):
                    sites.append((el.key, el.value))
        if not sites:
            return
        qual = _qual(cls, oc.local, call, ctx)
        fix = self._adamw_fix(ctx, oc) if cls == "Adam" else None
        if cls == "Adam":
            advice = ("decoupled decay (`torch.optim.AdamW`, or `decoupled_weight_decay=True`) is what is "
                      "usually meant; note AdamW multiplies `weight_decay` by `lr`, so the value needs "
                      "retuning")
        else:
            advice = ("decoupled decay (`decoupled_weight_decay=True`, as in AdamW, which multiplies "
                      "`weight_decay` by `lr`) is what is usually meant")
        for site, value in sites:
            adder = next((c for c, d in added if ctx.encloses(d, site)), None)
            evidence = evidence_of.value_evidence(ctx, value, scope)
            found = ([("value", evidence)] if evidence else []) + \
                evidence_of.call_evidence(ctx, call, groups, scope, adder)
            if found and not strict and not any(kind in evidence_of.NAMES_ADAMW for kind, _ in found) \
                    and evidence_of.says_l2(ctx, adder or call, value):
                continue  # "L2" said outright (and AdamW nowhere): the coupled decay is chosen
            if not found and not strict:
                continue
            if found:
                if cls == "Adam":
                    use = "use `torch.optim.AdamW` (or `decoupled_weight_decay=True`)"
                else:
                    use = "pass `decoupled_weight_decay=True`"
                msg = (f"`{qual}` with `weight_decay` adds an L2 term to the gradient, which the adaptive step "
                       f"rescales away for weights with large gradients, but the code points to decoupled "
                       f"decay (AdamW): {'; '.join(p for _, p in found)}. To decouple it, {use}; AdamW "
                       "multiplies `weight_decay` by `lr`, so the value needs retuning. Where L2 is intended, "
                       "add `# noqa: OPT302`")
            else:
                msg = (f"`{qual}` with `weight_decay` adds an L2 term to the gradient, which the adaptive step "
                       f"rescales away for weights with large gradients; {advice}. Where L2 is intended, add "
                       "`# noqa: OPT302`")
            if id(site) in self._decay_reported:
                continue  # one dict splatted into two optimizers: its key is reported once
            self._decay_reported.add(id(site))
            in_splat = any(node is site for _, node, _ in splatted)  # the dict may serve other optimizers
            self.report("OPT302", site, msg, fix if adder is None and not in_splat else None)

    def _adamw_fix(self, ctx, oc: A.OptimizerCall) -> Fix | None:
        if oc.local:
            return None
        f = oc.call.func
        msg = "Use `AdamW` (decoupled weight decay, multiplied by lr: retune the value)"
        if isinstance(f, cst.Attribute):
            if ctx.qualify(f.value) == "torch.optim" and f.attr.value == "Adam":
                return Fix.unsafe(msg, ctx.replace(f.attr, "AdamW"))
            return None
        if not isinstance(f, cst.Name):
            return None
        bound = ctx.imports.bindings
        for local, target in bound.items():
            if target in ("torch.optim.AdamW", "torch.optim.adamw.AdamW"):
                return Fix.unsafe(msg, ctx.replace(f, local))
        if "AdamW" in bound or f.value != "Adam" or ctx.cached(("construction", "AdamW in source"),
                                                              lambda: "AdamW" in ctx.source):
            return None
        # ``from torch.optim import Adam`` at module level: import AdamW beside it.
        for stmt in ctx.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if (isinstance(small, cst.ImportFrom) and not small.relative and small.module is not None
                        and dotted(small.module) == "torch.optim" and not isinstance(small.names, cst.ImportStar)):
                    for alias in small.names:
                        if isinstance(alias.name, cst.Name) and alias.name.value == "Adam" and alias.asname is None:
                            return Fix.unsafe(msg, Edit.insertion(", AdamW", ctx.end(alias.name)),
                                              ctx.replace(f, "AdamW"))
        return None

    # -- OPT303 ------------------------------------------------------------------------
    def _nesterov(self, oc: A.OptimizerCall) -> None:
        ctx = self.ctx
        call = oc.call
        if oc.cls != "SGD" or A.has_star(call):
            return
        nest = A.keyword_arg(call, "nesterov")
        pos = A.positional(call)
        if nest is None or A.literal_bool(nest.value) is not True:
            return
        mom = A.keyword_arg(call, "momentum")
        mom_value = mom.value if mom is not None else (pos[2].value if len(pos) > 2 else None)
        damp = A.keyword_arg(call, "dampening")
        damp_value = damp.value if damp is not None else (pos[3].value if len(pos) > 3 else None)
        problems = []
        if mom_value is None:
            problems.append("no `momentum` (default 0)")
        elif A.literal_number(mom_value) is not None and A.literal_number(mom_value) <= 0:
            problems.append(f"`momentum={ctx.code(mom_value)}`")
        dv = A.literal_number(damp_value) if damp_value is not None else None
        if dv is not None and dv != 0:
            problems.append(f"`dampening={ctx.code(damp_value)}`")
        if not problems:
            return
        self.report(
            "OPT303", nest.keyword,
            f"`SGD(nesterov=True)` with {' and '.join(problems)}: PyTorch raises ValueError "
            "(\"Nesterov momentum requires a momentum and zero dampening\"); set `momentum>0` and "
            "`dampening=0`")

    # -- OPT307 ------------------------------------------------------------------------
    def _module_as_params(self, oc: A.OptimizerCall) -> None:
        ctx = self.ctx
        arg = A.params_arg(oc.call)
        if arg is None:
            return
        scope = A.enclosing_scope(ctx, oc.call)
        candidates = [arg.value]
        for d in A.group_dicts(oc.call):
            candidates.extend(el.value for k, el in A.dict_items(d) if k == "params")
        for v in candidates:
            if isinstance(v, (cst.Name, cst.Attribute, cst.Call)) and A.is_module_expr(ctx, v, scope):
                text = ctx.code(v)
                fix = Fix.safe(f"Pass `{text}.parameters()`", ctx.replace(v, f"{text}.parameters()"))
                self.report(
                    "OPT307", v,
                    f"`{text}` is an `nn.Module`, not its parameters: the optimizer raises TypeError; "
                    f"pass `{text}.parameters()`", fix)

    # -- OPT304 ------------------------------------------------------------------------
    def _reused_iterators(self) -> None:
        ctx = self.ctx
        candidates = _iterator_assignments(ctx.source)
        if not candidates or not A.imports_torch(ctx) or A.imports_other_framework(ctx):
            return
        if _defines_parameters(ctx.source):
            return  # a class of the file may return a list from its own parameters()
        scopes = assigning_scopes(ctx, candidates)
        for scope in scopes:
            for name in sorted(candidates):
                stores = A.scope_stores(ctx, scope).of(name)
                if len(stores) != 1 or stores[0].kind != "assign":
                    continue
                value = stores[0].value
                if value is None or not parameter_iterator(ctx, value):
                    continue
                self._consumed_twice(scope, name, stores[0])

    def _consumed_twice(self, scope, name: str, store: A.Store) -> None:
        ctx = self.ctx
        assign_end = A.end_pos(ctx, store.value)
        consumers = [(n, what) for n in A.uses(ctx, scope, name)
                     if isinstance(n, cst.Name) and A.pos(ctx, n) >= assign_end
                     for what in [consumer(ctx, n)] if what]
        if any(expects_error(ctx, n) for n, _ in consumers):
            return
        if not consumers:
            return
        value_text = ctx.code(store.value)
        fix = Fix.safe(f"Store a list: `{name} = list({value_text})`",
                       ctx.replace(store.value, f"list({value_text})"))
        reported: set[int] = set()
        for i, (node, what) in enumerate(consumers):
            for prev, prev_what in consumers[:i]:
                if runs_before(ctx, prev, node, scope):
                    row = ctx.start(prev).row
                    self.report(
                        "OPT304", node,
                        f"`{name}` is a one-shot iterator (`{value_text}`) already consumed by {prev_what} "
                        f"on line {row}: {what} here sees no parameters; store `list(...)` instead", fix)
                    reported.add(id(node))
                    break
        for node, what in consumers:
            if id(node) in reported:
                continue
            loop = loop_around(ctx, node, store.target, scope)
            if loop is not None:
                self.report(
                    "OPT304", node,
                    f"`{name}` is a one-shot iterator (`{value_text}`) consumed by {what} inside the loop on "
                    f"line {ctx.start(loop).row}: from the second pass on it is empty; store `list(...)` instead",
                    fix)


def _item_start(item: cst.CSTNode) -> cst.CSTNode:
    """Where an Arg (its keyword) or a DictElement (its key) starts."""
    if isinstance(item, cst.Arg) and item.keyword is not None:
        return item.keyword
    if isinstance(item, cst.DictElement):
        return item.key
    return item
