"""The arguments of a call, by position or keyword, and the parameters of a function that
receive them: the one helper every analysis and check uses."""

from __future__ import annotations

import libcst as cst


def arg(call: cst.Call, index: int, keyword: str, *, star_hides: bool = False) -> cst.BaseExpression | None:
    """The value passed for the parameter at ``index`` named ``keyword``, or None.

    With ``star_hides=True`` a ``*args`` in the call makes a positional answer unknown (None):
    the starred values may come first."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == keyword:
            return a.value
    if star_hides and has_star(call):
        return None
    plain = positional(call)
    return plain[index].value if index < len(plain) else None


def keyword_arg(call: cst.Call, name: str) -> cst.Arg | None:
    """The ``name=...`` argument itself (for a fix that edits or removes it)."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a
    return None


def keyword_value(call: cst.Call, name: str) -> cst.BaseExpression | None:
    a = keyword_arg(call, name)
    return a.value if a is not None else None


def positional(call: cst.Call) -> list[cst.Arg]:
    """The plain positional arguments, starred ones left out."""
    return [a for a in call.args if a.keyword is None and not a.star]


def has_star(call: cst.Call) -> bool:
    return any(a.star for a in call.args)


def has_double_star(call: cst.Call) -> bool:
    return any(a.star == "**" for a in call.args)


def named_params(fn: cst.FunctionDef | cst.Lambda) -> tuple[cst.Param, ...]:
    """The parameters a caller can name: positional-only, ordinary and keyword-only
    (not ``*args`` / ``**kwargs``)."""
    p = fn.params
    return (*p.posonly_params, *p.params, *p.kwonly_params)


def every_param(fn: cst.FunctionDef | cst.Lambda) -> list[cst.Param]:
    """Every parameter, ``*args`` and ``**kwargs`` included: the names the call binds."""
    stars = (fn.params.star_arg, fn.params.star_kwarg)
    return [*named_params(fn), *(p for p in stars if isinstance(p, cst.Param))]


def param_names(fn: cst.FunctionDef | cst.Lambda) -> set[str]:
    """The names of ``named_params(fn)``."""
    return {x.name.value for x in named_params(fn)}


def positional_params(fn: cst.FunctionDef | cst.Lambda) -> list[cst.Param]:
    """The parameters a positional argument can fill, in order (``self`` first in a method)."""
    return [*fn.params.posonly_params, *fn.params.params]


def argument_for(call: cst.Call, callee: cst.FunctionDef, skip: int, name: str) -> cst.BaseExpression | None:
    """The expression ``call`` passes for parameter ``name`` of ``callee`` (None: a default,
    or a call through ``*args`` / ``**kwargs`` that cannot be mapped)."""
    if any(a.star for a in call.args):
        return None
    params = positional_params(callee)[skip:]
    positional = [a.value for a in call.args if a.keyword is None]
    for i, param in enumerate(params):
        if param.name.value == name:
            if i < len(positional):
                return positional[i]
            break
    return next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)
