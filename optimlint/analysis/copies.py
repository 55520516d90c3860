"""A function that works on copies of what it is handed: its backward passes and clears
reach no object of its caller.

``ODFA(model, img)`` (an adversarial-example helper) starts with ``model = deepcopy(model)``,
builds fresh input tensors from ``img`` and then backpropagates, clears and reads gradients
of those: the caller's model, and so the caller's optimizer, never sees a gradient of it.
Without this reading the helper's backward makes every call of it opaque, and a training loop
calling it goes silent for every order rule. A function qualifies only when nothing else of
the caller can reach it:

- its leading statements rebind one or more parameters to copies of themselves
  (``p = deepcopy(p)``, ``copy.deepcopy``), before any other statement names them;
- each other parameter appears only as the receiver of a call reading a tensor
  (``img.size()``, ``img.cuda()``), never a name that says module or optimizer, unless its
  default is a plain value (``rate=16``: an option);
- every other name it reads is its own (assigned in it), a builtin, a library import
  (``is_library``: torch, numpy, ...) or a top-level function of its file whose own summary
  is harmless (``harmless_function``);
- no ``global``/``nonlocal``/``yield``, no nested ``def``/``class``.
"""

from __future__ import annotations

import builtins

import libcst as cst

from optimlint.analysis.call_args import param_names
from optimlint.analysis.symbols import name_says_module, name_says_optimizer
from optimlint.vocabulary import TENSOR_READS

# Builtins that reach nothing they are not handed (``summaries`` reads calls of these as harmless).
SAFE_BUILTINS = frozenset(dir(builtins)) - {"exec", "eval", "setattr", "delattr", "getattr", "__import__"}
_BUILTINS = SAFE_BUILTINS - {"globals"}  # (a name read here, not only called)
_COPIES = ("copy.deepcopy",)


def own_names(fn: cst.FunctionDef, qualify, is_library, harmless_function) -> frozenset[str] | None:
    """The names ``fn`` owns (its locals and the parameters it copies) when it works on copies
    of what it is handed (see the module doc); None otherwise. ``qualify(expr)``: the
    qualified name an expression's import gives; ``is_library(expr)``: a library callable;
    ``harmless_function(name)``: a top-level function of the file whose summary is harmless."""
    params = param_names(fn) - {"self"}
    body = list(fn.body.body) if isinstance(fn.body, cst.IndentedBlock) else []
    copied: set[str] = set()
    for stmt in body:
        name = _copy_of_itself(stmt, qualify)
        if name is None or name not in params:
            break
        copied.add(name)
    if not copied or any(name_says_optimizer(p) for p in params):
        return None
    plain = _plain_values(fn)
    owned = set(copied) | _assigned(fn)
    for _ in _nested(fn.body):
        return None
    for node, parent in _names(fn.body):
        name = node.value
        if name in params and name not in copied and name not in plain:
            if name_says_module(name) or not _tensor_read(node, parent):
                return None
            continue
        if name in owned or name in params:
            continue
        if name in _BUILTINS or is_library(node) or harmless_function(name):
            continue
        return None
    return frozenset(owned)


def _copy_of_itself(stmt: cst.CSTNode, qualify) -> str | None:
    """``p = deepcopy(p)``: ``p``."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
        return None
    assign = stmt.body[0]
    if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
        return None
    value = assign.value
    if not (isinstance(value, cst.Call) and qualify(value.func) in _COPIES and len(value.args) == 1):
        return None
    name = assign.targets[0].target.value
    arg = value.args[0].value
    return name if isinstance(arg, cst.Name) and arg.value == name else None


def _plain_values(fn: cst.FunctionDef) -> set[str]:
    """Parameters whose default is a number, a string, ``None``, ``True`` or ``False``
    (``rate=16``): options, read anywhere."""
    out: set[str] = set()
    for p in (*fn.params.params, *fn.params.kwonly_params):
        d = p.default
        if isinstance(d, (cst.Integer, cst.Float, cst.SimpleString)) or \
                isinstance(d, cst.Name) and d.value in ("None", "True", "False"):
            out.add(p.name.value)
    return out


def _tensor_read(node: cst.Name, parent) -> bool:
    """``img`` in ``img.size()`` / ``img.cuda()``: read as a tensor."""
    return isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in TENSOR_READS


def _assigned(fn: cst.FunctionDef) -> set[str]:
    out: set[str] = set()
    stack: list[cst.CSTNode] = [fn.body]
    while stack:
        node = stack.pop()
        target = None
        if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor)):
            target = node.target
        elif isinstance(node, cst.AsName):
            target = node.name
        if target is not None:
            out.update(n.value for n in _target_names(target))
        stack.extend(node.children)
    return out


def _target_names(target: cst.CSTNode):
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for e in target.elements:
            yield from _target_names(e.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _names(root: cst.CSTNode):
    """``(Name, parent)`` for each name ``root`` reads or binds: not an attribute's name, a
    keyword of a call, nor a parameter of a lambda."""
    stack: list[tuple[cst.CSTNode, cst.CSTNode | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, cst.Name):
            yield node, parent
            continue
        if isinstance(node, cst.Attribute):
            stack.append((node.value, node))
            continue
        if isinstance(node, cst.Arg):
            stack.append((node.value, node))
            continue
        for child in node.children:
            stack.append((child, node))


def _nested(root: cst.CSTNode):
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.Yield, cst.Global, cst.Nonlocal)):
            yield node
            continue
        stack.extend(node.children)
