"""What a function of another project file can do to an optimizer: its effect summary.

A call the iteration model cannot see into is *opaque*: handed the optimizer (or the model),
it might clear or step it, and the order rules stay silent around it. Functions of the
same file are inlined instead; a function imported from another file of the project
(``from utils import clip_gradient``) is read here, once per file version, and summarised
as "never clears, steps or backpropagates" when its body provably does none of that:

- no call named like a clear, a step or a backward (``zero_grad``, ``zero_``, ``step``,
  ``backward``, ``unscale_``, ``update``, ``manual_backward``), no assignment or ``del`` of a
  ``.grad`` (but ``w.grad *= 0.01``, a scale by a number other than zero), no
  ``requires_grad`` change;
- every other call is to a method of a value (``param.grad.data.clamp_(...)``), a builtin, a
  library function (torch, numpy, math; never ``torch.autograd.backward``) or an object one
  builds (``nn.CrossEntropyLoss(weight=w)(x, y)``), or a function or
  method of the same file whose own summary is harmless (three calls deep): a call to any
  other function, or a nested ``def``/``lambda``/``class``, makes the summary unknown (the
  function might pass the optimizer on); a ``global`` statement does only when one of its
  names says optimizer (``global _output_ref`` keeps a forward's outputs alive).

Methods are summarised the same way when the training loop calls them on an object of a
project class (``hidden = model.init_hidden()``, ``model.reset_noise()``): ``self.m(...)``
inside reads method ``m``'s own summary, ``self.sub(x)`` of an attribute the class holds is
that attribute's forward, and a class that holds an optimizer is never summarised.

The answer is only ever "certainly harmless" or "unknown"; unknown keeps the call opaque.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import modules
from optimlint.analysis.call_args import param_names
from optimlint.analysis.copies import SAFE_BUILTINS, own_names
from optimlint.analysis.modules import _NOT_PROJECT, ParsedFile, _find_module, parse_file
from optimlint.analysis.names import dotted
from optimlint.analysis.symbols import callee_name, name_says_module, name_says_optimizer, optimizer_class
from optimlint.analysis.walk import nodes_of
from optimlint.vocabulary import (CLIP_QUALNAMES, GETTER_NAME, GRAD_CLAMP_METHODS, GRAD_MODE_NAMES, GRADIENT_EFFECT_METHODS,
                                  PREDICATE_NAME)

if TYPE_CHECKING:
    from optimlint.context import FileContext

_BUILTINS = SAFE_BUILTINS
# Libraries whose functions never reach an optimizer they are not handed explicitly (torch's
# do write gradients: ``vocabulary.NUMERIC_LIBRARIES`` are those that never do).
_LIBRARIES = ("torch.", "numpy.", "math.", "random.", "time.", "os.path.", "einops.", "torchvision.")
_NOT_LIBRARY = ("torch.autograd.backward", "torch.optim.")
_DEPTH = 3
# Methods of an argument that read or transform tensors and modules (``p.grad.norm()``,
# ``model.parameters()``): any other method of an argument may reach an optimizer it holds.
VALUE_METHODS = frozenset({
    "parameters", "named_parameters", "state_dict", "modules", "named_modules", "children",
    "named_children", "buffers", "named_buffers", "size", "dim", "item", "numel", "keys", "values",
    "items", "get", "append", "extend", "norm", "detach", "cpu", "cuda", "to", "float", "half", "double",
    "long", "int", "bool", "view", "reshape", "clamp", "clamp_", "mul_", "add_", "div_", "sub_", "copy_",
    "clone", "mean", "sum", "max", "min", "abs", "pow", "sqrt", "numpy", "tolist", "format", "split",
    "startswith", "endswith", "train", "eval", "type", "new_zeros", "new_ones", "new_tensor", "squeeze",
    "unsqueeze", "permute", "transpose", "contiguous", "flatten", "softmax", "log_softmax", "argmax",
})
# (not those that run a callable they are handed, or code they load)
_STDLIB = frozenset(sys.stdlib_module_names) - {
    "builtins", "threading", "multiprocessing", "concurrent", "asyncio", "functools", "operator", "atexit",
    "signal", "sched", "contextlib", "importlib", "runpy", "code", "pdb", "inspect", "types", "unittest",
    "_thread", "queue", "weakref", "copyreg"}
_SUMMARIES: dict[int, tuple[cst.FunctionDef, bool]] = {}
_ACTIVE: list[cst.FunctionDef] = []
_HOLDERS: dict[int, tuple[cst.ClassDef, bool]] = {}  # summaries being computed (recursion)


def project_function(ctx: "FileContext", func: cst.BaseExpression) -> tuple[cst.FunctionDef, ParsedFile] | None:
    """The top-level function of another project file that ``func`` (as written in the linted
    file) names through its imports; None for anything else."""
    qn = ctx.qualify(func)
    if qn is None and isinstance(func, cst.Name):
        return _star_imported_function(ctx, func.value)
    if qn is None or "." not in qn.lstrip("."):
        return None
    level = len(qn) - len(qn.lstrip("."))
    module, _, name = qn.rpartition(".")
    if not level and module.split(".", 1)[0] in _NOT_PROJECT:
        return None
    path = _find_module(ctx.path, module, ctx.project_root)
    if path is None:
        return None
    pf = parse_file(path)
    return _function_in(pf, name, ctx.project_root, 0) if pf is not None else None


def _function_in(pf: ParsedFile, name: str, project_root: str | None,
                 depth: int) -> tuple[cst.FunctionDef, ParsedFile] | None:
    """Top-level function ``name`` of ``pf``, or of the module ``pf`` re-exports it from: a
    package's ``__init__`` with ``from .lora import inspect_lora`` or ``from .lora import *``."""
    if name in pf.classes:
        return None
    fn = _top_function(pf, name)
    if fn is not None or depth >= _DEPTH or name in pf.other_names:
        return (fn, pf) if fn is not None else None
    sources = [pf.imports.bindings[name]] if pf.imports.imported(name) else [
        f"{star}{'' if star.endswith('.') else '.'}{name}" for star in pf.imports.star_modules]
    for qn in sources:
        module, _, leaf = qn.rpartition(".")
        if not module or not module.startswith(".") and module.split(".", 1)[0] in _NOT_PROJECT:
            continue
        path = _find_module(pf.path, module, project_root)
        other = parse_file(path) if path is not None else None
        found = _function_in(other, leaf, project_root, depth + 1) if other is not None else None
        if found is not None:
            return found
    return None


_EMPTY = cst.Module([])  # renders a node's code


def _star_imported_function(ctx: "FileContext", name: str) -> tuple[cst.FunctionDef, ParsedFile] | None:
    """``name`` defined by no statement of the linted file but by a project module it imports
    with ``from utils import *`` (the first such module that defines it at top level)."""
    if any(isinstance(s, (cst.FunctionDef, cst.ClassDef)) and s.name.value == name for s in ctx.module.body):
        return None
    for stmt in ctx.module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not (isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar)):
                continue
            module = ("." * len(small.relative)) + (dotted(small.module) or "") if small.module or small.relative \
                else None
            if not module or not small.relative and module.split(".", 1)[0] in _NOT_PROJECT:
                continue
            path = _find_module(ctx.path, module, ctx.project_root)
            pf = parse_file(path) if path is not None else None
            if pf is None:
                continue
            if name in pf.classes:
                return None
            found = _function_in(pf, name, ctx.project_root, 0)  # (a package re-exporting it: ``from .optim import *``)
            if found is not None:
                return found
    return None


def no_direct_effect(fn: cst.FunctionDef) -> bool:
    """``fn``'s own body calls nothing that clears, steps, backpropagates or updates
    (``.zero_grad()``, ``.step()``, ``.backward()``, ``zero_grads(...)``) and writes no
    gradient: weaker than :func:`never_touches_optimizers` (the functions it calls are not
    read), for calls whose name already says they compute a loss or evaluate."""
    for node in nodes_of(fn.body, (cst.Call, cst.Assign, cst.AugAssign, cst.AnnAssign)):
        if isinstance(node, cst.Call):
            f = node.func
            name = callee_name(f)
            if name in ("zero_", "fill_"):  # ``p.grad.zero_()``; not ``torch.LongTensor(n).fill_(0)``
                if isinstance(f, cst.Attribute) and "grad" in _EMPTY.code_for_node(f.value):
                    return False
                continue
            if name in GRADIENT_EFFECT_METHODS - {"update"} or "grad" in name.lower() and name not in GRAD_MODE_NAMES:
                return False  # (``meter.update(loss)`` in an evaluation: a metric)
            continue
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        if any(_names_grad(t) for t in targets):
            return False
    return True


# Tensor methods that bound a gradient where it lies (``p.grad.data.clamp_(-c, c)``, the
# norm clip's ``p.grad.data.mul_(coef)``)
_IN_PLACE_BOUNDS = GRAD_CLAMP_METHODS | {"mul_"}
_CLIPS: dict[int, tuple[cst.FunctionDef, bool]] = {}


def clips_in_place(fn: cst.FunctionDef, qualify) -> bool:
    """``fn`` (a project function; ``qualify`` reads its file's imports) bounds gradients where
    they lie and does nothing else to them: it calls torch's clip functions or clamps a
    ``.grad`` in place (``p.grad.data.clamp_(...)``), and clears, steps and backpropagates
    nothing. Its call is a clip (``commons.clip_grad_value_(net.parameters(), 1.0)``,
    ``clip_gradient(optimizer, 5.0)``). Answers kept per function."""
    hit = _CLIPS.get(id(fn))
    if hit is None or hit[0] is not fn:
        hit = _CLIPS[id(fn)] = (fn, _clips(fn, qualify))
    return hit[1]


def _clips(fn: cst.FunctionDef, qualify) -> bool:
    found = False
    for node in nodes_of(fn.body, (cst.FunctionDef, cst.ClassDef, cst.Call, cst.Assign, cst.AugAssign,
                                   cst.AnnAssign)):
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return False
        if not isinstance(node, cst.Call):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(_names_grad(t) for t in targets) and not _scales_grad(node):
                return False
            continue
        f = node.func
        if qualify(f) in CLIP_QUALNAMES:
            found = True
            continue
        name = callee_name(f)
        if isinstance(f, cst.Attribute) and name in _IN_PLACE_BOUNDS and is_grad_tensor(f.value):
            found = True
            continue
        if name in GRADIENT_EFFECT_METHODS or name in ("backward", "step"):
            return False
    return found


def is_grad_tensor(value: cst.BaseExpression) -> bool:
    """``p.grad`` / ``p.grad.data``: the receiver is a parameter's gradient."""
    while isinstance(value, cst.Attribute) and value.attr.value == "data":
        value = value.value
    return isinstance(value, cst.Attribute) and value.attr.value == "grad"


def _top_function(pf: ParsedFile, name: str) -> cst.FunctionDef | None:
    defs = [s for s in pf.top_statements(name) if isinstance(s, (cst.FunctionDef, cst.ClassDef))]
    return defs[0] if len(defs) == 1 and isinstance(defs[0], cst.FunctionDef) else None


def project_method(pf: ParsedFile, klass: cst.ClassDef | str, name: str,
                   project_root: str | None) -> tuple[cst.FunctionDef, ParsedFile, cst.ClassDef] | None:
    """Method ``name`` of project class ``klass`` (of file ``pf``: its tree, or its name) or of
    its project bases. A class not given as a tree is parsed only when its ``def`` names hold
    ``name`` (``ParsedFile.method_count``)."""
    node = None if isinstance(klass, str) else klass
    class_name = klass if node is None else node.name.value
    for cur_pf, cur_name, cur in _class_and_bases(pf, class_name, project_root, node):
        if cur is None:
            count = cur_pf.method_count(cur_name, name)
            if count != 1:
                if count:
                    return None
                continue
            cur = cur_pf.classes[cur_name]
        defs = [s for s in cur.body.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
        if defs:
            return (defs[0], cur_pf, cur) if len(defs) == 1 else None
    return None


def has_project_method(pf: ParsedFile, class_name: str, name: str, project_root: str | None) -> bool:
    """``project_method`` would find method ``name`` for class ``class_name`` of ``pf``: the
    same walk, read off the classes' ``def`` names (``ast``'s, for a file read statement by
    statement) rather than their trees, so no class is parsed."""
    for cur_pf, cur_name, _ in _class_and_bases(pf, class_name, project_root):
        count = cur_pf.method_count(cur_name, name)
        if count:
            return count == 1
    return False


def _class_and_bases(pf: ParsedFile, class_name: str, project_root: str | None,
                     node: cst.ClassDef | None = None):
    """``(file, class name, tree or None)`` of class ``class_name`` of ``pf`` (its tree: ``node``)
    and then of its project bases, breadth first, 8 classes at most; a class's bases are read
    only when the caller asks for the next one (from the tree, else from the class's header)."""
    todo = [(pf, class_name, node)]
    seen = 0
    while todo and seen < 8:
        cur_pf, cur_name, cur = todo.pop(0)
        seen += 1
        yield cur_pf, cur_name, cur
        for base in (cur.bases if cur is not None else cur_pf.class_bases(cur_name)):
            r = modules.resolve_name(cur_pf, base.value, project_root)
            if r is not None and r.is_class:
                todo.append((r.file, r.name, None))


def never_touches_optimizers(fn: cst.FunctionDef, pf: ParsedFile, klass: cst.ClassDef | None = None,
                             project_root: str | None = None) -> bool:
    """``fn`` (of file ``pf``; a method of ``klass`` when given) certainly neither clears,
    steps nor backpropagates anything (see the module doc)."""
    if klass is not None and holds_optimizer(klass):
        return False
    return _summary(fn, pf, klass, project_root, 0)


def method_never_touches(fn: cst.FunctionDef, pf: ParsedFile, klass: cst.ClassDef | None = None,
                         project_root: str | None = None) -> bool:
    """Like ``never_touches_optimizers`` for a method of a class that may hold an optimizer:
    the method's own body (and the methods it calls on ``self``) never clears, steps or
    backpropagates (``agent.select_action(state)`` of an agent that trains elsewhere)."""
    return _summary(fn, pf, klass, project_root, 0)


def _summary(fn, pf, klass, project_root, depth: int) -> bool:
    if _ACTIVE and _ACTIVE[-1] is fn:
        return True  # direct recursion: harmless if the rest of the body is
    if any(a is fn for a in _ACTIVE) or depth > _DEPTH:
        return False  # mutual recursion, or too deep to follow
    hit = _SUMMARIES.get(id(fn))
    if hit is None or hit[0] is not fn:  # the entry holds ``fn``: its id is not reused
        _ACTIVE.append(fn)
        try:
            verdict = _harmless(fn, pf, klass, project_root, depth)
        finally:
            _ACTIVE.pop()
        hit = _SUMMARIES[id(fn)] = (fn, verdict)
    return hit[1]


def holds_optimizer(klass: cst.ClassDef) -> bool:
    """The class keeps an optimizer (``self.optimizer = Adam(...)``, ``self.opt = opt``)."""
    hit = _HOLDERS.get(id(klass))
    if hit is None or hit[0] is not klass:
        hit = _HOLDERS[id(klass)] = (klass, _assigns_optimizer(klass))
    return hit[1]


def _assigns_optimizer(klass: cst.ClassDef) -> bool:
    for node in nodes_of(klass.body, (cst.Assign, cst.AnnAssign)):
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        for t in targets:
            if isinstance(t, cst.Attribute) and dotted(t.value) == "self" and name_says_optimizer(t.attr.value):
                return True
        v = node.value
        if isinstance(v, cst.Call) and (optimizer_class("torch.optim." + (dotted(v.func) or "").rsplit(".", 1)[-1])):
            return True
    return False


def _library_call(pf: ParsedFile, func: cst.BaseExpression) -> bool:
    """A function of torch, numpy, ... (``_LIBRARIES``) or of Python's standard library
    (``csv.writer(f)``, ``pickle.dump(obj, fh)``): none reaches an optimizer's step or
    gradients."""
    return _library_qualname(pf.imports.qualify(func))


def _library_qualname(qn: str | None) -> bool:
    """``qn`` names something of torch, numpy, ... (``_LIBRARIES``) or of Python's standard
    library, never ``torch.optim`` or ``torch.autograd.backward`` (``_NOT_LIBRARY``)."""
    if not qn or qn.startswith(_NOT_LIBRARY):
        return False
    return qn.startswith(_LIBRARIES) or qn.split(".", 1)[0] in _STDLIB


def _harmless(fn: cst.FunctionDef, pf: ParsedFile, klass: cst.ClassDef | None, project_root, depth: int) -> bool:
    params = param_names(fn) - {"self"}
    if fn.asynchronous is not None or any(_decorator(d) not in ("staticmethod", "torch.no_grad", "torch.inference_mode")
                                          for d in fn.decorators):
        return False
    if klass is None and _works_on_copies(fn, pf, project_root, depth):
        return True  # its backward passes and clears are of copies it made (``model = deepcopy(model)``)
    for node in nodes_of(fn.body, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Del, cst.Call, cst.Assign,
                               cst.AugAssign, cst.AnnAssign, cst.Global, cst.Nonlocal, cst.Yield)):
        if isinstance(node, cst.Global) and not any(name_says_optimizer(n.name.value) for n in node.names):
            continue  # ``global _output_ref``: module-level names rebound, none an optimizer
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Global, cst.Nonlocal, cst.Yield)):
            return False
        if isinstance(node, cst.Del):
            return False
        if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(_names_grad(t) for t in targets) and not _scales_grad(node):
                return False
            continue
        if not _harmless_call(node.func, pf, klass, project_root, depth, params):
            return False
    return True


def _works_on_copies(fn: cst.FunctionDef, pf: ParsedFile, project_root, depth: int) -> bool:
    """``copies.own_names``: ``fn`` reaches nothing of its caller but tensors it reads."""
    def is_library(name: cst.Name) -> bool:
        # (a library's function, or the library module itself: ``torch`` of ``torch.sign(...)``)
        qn = pf.imports.qualify(name) if pf.imports.imported(name.value) else None
        return bool(qn) and (_library_qualname(qn) or _library_qualname(qn + "."))

    def harmless_function(name: str) -> bool:
        local = _top_function(pf, name) if not pf.imports.imported(name) else None
        return local is not None and local is not fn and _summary(local, pf, None, project_root, depth + 1)

    return own_names(fn, pf.imports.qualify, is_library, harmless_function) is not None


def _decorator(d: cst.Decorator) -> str | None:
    """``@torch.no_grad`` and ``@torch.no_grad()`` alike: the decorator's dotted name."""
    e = d.decorator
    return dotted(e.func) if isinstance(e, cst.Call) and not e.args else dotted(e)


def _harmless_call(f: cst.BaseExpression, pf: ParsedFile, klass, project_root, depth: int,
                   params: set[str]) -> bool:
    if isinstance(f, cst.Attribute):
        if f.attr.value == "load_state_dict" and _names_module(f.value):
            return True  # ``ema_model.load_state_dict(model.state_dict())``: weights, never gradients
        if f.attr.value in GRADIENT_EFFECT_METHODS:
            return False
        root = (dotted(f.value) or "").split(".", 1)[0]
        if root in params and f.attr.value not in VALUE_METHODS and \
                not (GETTER_NAME.search(f.attr.value) or PREDICATE_NAME.search(f.attr.value)):
            # (``scheduler.get_last_lr()``, ``trainer.is_main_process()`` answer; any step or
            # clear of what a getter hands back is a call of its own, read below)
            return False  # ``trainer.fit()`` of an argument: it may hold the optimizer
        if root and pf.imports.imported(root) and not _library_call(pf, f):
            return False  # ``utils.train_step(...)``: another project function
        if klass is not None and dotted(f.value) == "self":
            meth = project_method(pf, klass, f.attr.value, project_root)
            if meth is not None:  # ``self.helper(...)``: the helper's own summary
                return _summary(meth[0], meth[1], meth[2], project_root, depth + 1)
        return True  # a method of a value (``p.grad.data.clamp_(...)``), a submodule's forward
    if isinstance(f, cst.Call):
        # ``nn.CrossEntropyLoss(weight=w)(logits, target)``: a library object built and called
        # at once (a loss module's forward); the inner call is read on its own
        return _library_call(pf, f.func)
    if isinstance(f, cst.Name):
        if f.value in _BUILTINS and not pf.imports.imported(f.value):
            return True
        if f.value in params and name_says_module(f.value):
            return True  # ``model(x)`` of a parameter named for a module: its forward
        if _library_call(pf, f):
            return True
        local = _top_function(pf, f.value) if not pf.imports.imported(f.value) else None
        if local is not None:
            return _summary(local, pf, None, project_root, depth + 1)
        alias = _top_lambda(pf, f.value) if not pf.imports.imported(f.value) else None
        if alias is not None and depth < _DEPTH:
            # ``Variable = lambda *a, **k: autograd.Variable(*a, **k).cuda() if USE_CUDA else ...``
            return all(_harmless_call(c.func, pf, None, project_root, depth + 1, set())
                       for c in nodes_of(alias.body, (cst.Call,)))
    return False


def _names_module(value: cst.BaseExpression) -> bool:
    """``ema_model``, ``self.target_net``: a name (or last attribute) that says module, not optimizer."""
    last = (dotted(value) or "").rsplit(".", 1)[-1]
    return bool(last) and name_says_module(last) and not name_says_optimizer(last)


def _top_lambda(pf: ParsedFile, name: str) -> cst.Lambda | None:
    """The lambda a top-level statement assigns to ``name``, when that is its only binding."""
    found: list[cst.BaseExpression] = []
    for stmt in pf.top_statements(name):
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value == name:
            return None
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and any(
                        isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets):
                    found.append(small.value)
    return found[0] if len(found) == 1 and isinstance(found[0], cst.Lambda) else None


def _scales_grad(node: cst.BaseSmallStatement) -> bool:
    """``self.similarity_weight.grad *= 0.01``: a gradient scaled in place by a number other
    than zero; it is neither cleared nor stepped (``p.grad *= 0`` clears)."""
    if not (isinstance(node, cst.AugAssign) and isinstance(node.operator, (cst.MultiplyAssign, cst.DivideAssign))
            and isinstance(node.target, cst.Attribute) and node.target.attr.value == "grad"):
        return False
    value = node.value
    if not isinstance(value, (cst.Integer, cst.Float)):
        return False
    try:
        return float(value.value.replace("_", "")) != 0
    except ValueError:
        return False


def _names_grad(target: cst.BaseExpression) -> bool:
    """An assignment target that writes a gradient or ``requires_grad``."""
    for node in nodes_of(target, (cst.Attribute,)):
        if node.attr.value in ("grad", "requires_grad"):
            return True
    return isinstance(target, cst.Attribute) and target.attr.value in ("grad", "requires_grad")
