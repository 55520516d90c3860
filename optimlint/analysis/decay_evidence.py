"""OPT302's evidence: what in the code shows that decoupled weight decay (AdamW) was meant
where an Adam-family optimizer adds its ``weight_decay`` to the gradient (L2).

A reader takes a small or config-driven ``weight_decay`` on ``Adam`` for deliberate L2 (a
paper's 1e-4 critic L2, a linear probe's 1e-4, one ``--wdecay`` shared by SGD and Adam).
These say otherwise, each as a short phrase for the finding's message:

- a value of at least 0.01 (AdamW's default and range; L2 values are 1e-5 to 1e-3), written
  in the call, assigned once to the name it reads, a parameter's default, or the default of
  the argparse option it reads;
- decay/no-decay parameter groups (one group with ``weight_decay`` 0 beside a decayed one:
  biases and norms excluded, the AdamW recipe);
- AdamW (or "decoupled") named in a comment, string or identifier of the statement or the
  three lines above it, or in the help of the argparse option it reads; not when an AdamW is
  built right there (a dispatch between the two: Adam is then the deliberate other choice);
- an optimizer-name dispatch where "adamw" builds this Adam (``if name == "adamw":``,
  ``case "adamw":``);
- Keras-ported code (Keras's ``weight_decay`` is decoupled): the file names Keras, or the
  call uses Keras's argument names.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import construction_args as A
from optimlint.analysis import walk as _walk
from optimlint.analysis.argparse_defaults import argparse_options
from optimlint.analysis.bindings import key_of

if TYPE_CHECKING:
    from optimlint.context import FileContext

DECOUPLED_MIN = 0.01
_MENTION = re.compile(r"adamw|decoupled", re.I)
_KERAS = re.compile(r"keras", re.I)
# "L2" said outright: the coupled decay is the author's choice.
_L2 = re.compile(r"(?<![a-z0-9])l2(?![0-9])|ridge", re.I)
KERAS_ARGUMENTS = frozenset({"learning_rate", "beta_1", "beta_2", "epsilon"})
_WINDOW_ABOVE = 3


# --------------------------------------------------------------------------- values
def known_value(ctx: "FileContext", expr: cst.BaseExpression, scope, depth: int = 0) -> tuple[float, str] | None:
    """The number ``expr`` evaluates to when the file shows it, with where it came from."""
    v = A.literal_number(expr)
    if v is not None:
        return v, f"`weight_decay={ctx.code(expr)}`"
    if depth > 3:
        return None
    if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Name) and len(expr.slice) == 1 \
            and isinstance(expr.slice[0].slice, cst.Index):
        # ``config["weight_decay"]`` of a dict literal assigned once
        key = A.string_value(expr.slice[0].slice.value)
        d = A.single_assignment(ctx, scope, expr.value.value)
        if key is not None and isinstance(d, cst.Dict):
            for k, el in A.dict_items(d):
                if k == key:
                    found = known_value(ctx, el.value, scope, depth + 1)
                    return (found[0], f"`{ctx.code(expr)}` is {ctx.code(el.value)}") if found else None
        return None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value != "self":
        opt = argparse_options(ctx).get(expr.attr.value)
        if opt and opt["default"] is not None:
            v = A.literal_number(opt["default"])
            if v is not None:
                return v, f"`{opt['flag']}` defaults to {ctx.code(opt['default'])}"
    k = key_of(expr)
    if k is None or not isinstance(expr, (cst.Name, cst.Attribute)):
        return None
    value = A.single_assignment(ctx, scope, k)
    if value is not None:
        found = known_value(ctx, value, scope, depth + 1)
        return (found[0], f"`{k} = {ctx.code(value)}`") if found else None
    if isinstance(expr, cst.Name):
        for st in A.scope_stores(ctx, scope).of(expr.value):
            if st.kind == "param" and st.value is not None:
                v = A.literal_number(st.value)
                if v is not None:
                    return v, f"`{expr.value}` defaults to {ctx.code(st.value)}"
    return None


def value_evidence(ctx: "FileContext", expr: cst.BaseExpression, scope) -> str | None:
    found = known_value(ctx, expr, scope)
    if found is None or found[0] < DECOUPLED_MIN:
        return None
    return f"{found[1]} (at least {DECOUPLED_MIN}, AdamW's range; L2 values are 1e-5 to 1e-3)"


# --------------------------------------------------------------------------- the call
# Kinds of evidence that name AdamW itself: "L2" said nearby does not outweigh them.
NAMES_ADAMW = frozenset({"dispatch", "mention", "help"})


def call_evidence(ctx: "FileContext", call: cst.Call, groups: list[cst.Dict], scope,
                  at: cst.CSTNode | None = None) -> list[tuple[str, str]]:
    """``(kind, phrase)`` for the evidence that holds for every ``weight_decay`` of one
    construction (``at``: another statement to read around as well, an ``add_param_group``)."""
    out: list[tuple[str, str]] = []
    if _zero_and_decayed_groups(ctx, call, groups, scope):
        out.append(("groups", "decay/no-decay parameter groups (a group with `weight_decay` 0, the AdamW recipe)"))
    dispatch = _adamw_dispatch(ctx, call)
    if dispatch:
        out.append(("dispatch", dispatch))
    for node in (call, at) if at is not None else (call,):
        mention = _mention_near(ctx, node)
        if mention and ("mention", mention) not in out:
            out.append(("mention", mention))
    help_mention = _argparse_mention(ctx, call)
    if help_mention:
        out.append(("help", help_mention))
    if _keras(ctx, call):
        out.append(("keras", "Keras-ported code (Keras's `weight_decay` is decoupled)"))
    return out


def says_l2(ctx: "FileContext", call: cst.Call, value: cst.BaseExpression) -> str | None:
    """"L2" in a comment of the statement or the lines above, a string of the statement, the
    decay value's own spelling (``args.l2``), or the help of the argparse option it reads."""
    stmt = A.statement_of(ctx, call) or call
    pos = ctx.positions[stmt]
    first = max(1, pos.start.line - _WINDOW_ABOVE)
    texts = [line[line.index("#"):] for line in ctx.source_lines[first - 1: pos.end.line] if "#" in line]
    strings: list[str] = []

    class V(cst.CSTVisitor):
        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            strings.append(node.value)

    _walk.visit(stmt, V())
    texts.extend(strings)
    texts.append(ctx.code(value))
    if isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name):
        opt = argparse_options(ctx).get(value.attr.value)
        if opt is not None:
            texts.extend((opt["help"], opt["flag"]))
    for t in texts:
        m = _L2.search(t)
        if m:
            return m.group(0)
    return None


def _zero_and_decayed_groups(ctx, call, groups, scope) -> bool:
    zero = decayed = False
    wd = A.keyword_arg(call, "weight_decay")
    default_decayed = wd is not None and A.literal_number(wd.value) != 0
    for d in groups:
        items = dict(A.dict_items(d))
        el = items.get("weight_decay")
        if el is None:
            decayed = decayed or default_decayed
        elif A.literal_number(el.value) == 0:
            zero = True
        else:
            decayed = True
    return zero and decayed


def _adamw_dispatch(ctx, call) -> str | None:
    """An ``if``/``case``/conditional expression that picks this call for the name "adamw"."""
    child, cur = call, ctx.parents.get(call)
    while cur is not None and not isinstance(cur, (cst.FunctionDef, cst.ClassDef, cst.Module)):
        if isinstance(cur, cst.If) and child is cur.body and _names_adamw(cur.test):
            return f"`{ctx.code(cur.test)}` builds this Adam: an optimizer-name dispatch where \"adamw\" builds `Adam`"
        if isinstance(cur, cst.IfExp) and child is cur.body and _names_adamw(cur.test):
            return f"`{ctx.code(cur.test)}` builds this Adam: an optimizer-name dispatch where \"adamw\" builds `Adam`"
        if isinstance(cur, cst.MatchCase) and _names_adamw(cur.pattern):
            return "`case` \"adamw\" builds this Adam: an optimizer-name dispatch where \"adamw\" builds `Adam`"
        child, cur = cur, ctx.parents.get(cur)
    return None


def _names_adamw(node: cst.CSTNode) -> bool:
    found = False

    class V(cst.CSTVisitor):
        def visit_SimpleString(self, s: cst.SimpleString) -> None:
            nonlocal found
            v = A.string_value(s)
            if v is not None and v.strip().lower() in ("adamw", "adam_w", "adam-w"):
                found = True

    _walk.visit(node, V())
    return found


def _mention_near(ctx, node: cst.CSTNode) -> str | None:
    """AdamW or "decoupled" in the statement of ``node`` or the lines just above it."""
    stmt = A.statement_of(ctx, node) or node
    pos = ctx.positions[stmt]
    first = max(1, pos.start.line - _WINDOW_ABOVE)
    lines = ctx.source_lines[first - 1: pos.end.line]
    hits = [m.group(0) for line in lines for m in _MENTION.finditer(line)]
    if not hits:
        return None
    if _adamw_built_between(ctx, first, pos.end.line + _WINDOW_ABOVE):
        return None  # a dispatch between AdamW and Adam: Adam is the deliberate other choice
    line = next(i for i, text in enumerate(lines, first) if _MENTION.search(text))
    return f"{hits[0]!r} named on line {line}"


def _adamw_built_between(ctx, lo: int, hi: int) -> bool:
    for oc in A.optimizer_calls(ctx):
        if oc.cls == "AdamW" and lo - _WINDOW_ABOVE <= ctx.positions[oc.call].start.line <= hi:
            return True
    return False


def _argparse_mention(ctx, call) -> str | None:
    wd = A.keyword_arg(call, "weight_decay")
    if wd is None or not isinstance(wd.value, cst.Attribute) or not isinstance(wd.value.value, cst.Name):
        return None
    opt = argparse_options(ctx).get(wd.value.attr.value)
    if opt is None:
        return None
    m = _MENTION.search(opt["help"]) or _MENTION.search(opt["flag"])
    return f"the help of `{opt['flag']}` says {m.group(0)!r}" if m else None


def _keras(ctx, call) -> bool:
    if any(a.keyword is not None and a.keyword.value in KERAS_ARGUMENTS for a in call.args):
        return True
    return ctx.cached(("decay_evidence", "keras"), lambda: bool(_KERAS.search(ctx.source)))
