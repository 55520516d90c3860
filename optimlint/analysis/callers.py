"""Loops of other project files that call a step function of the linted file.

A *step function* (``def train(self, replay_buffer, batch_size): ... critic_loss.backward();
self.critic_optimizer.step()``) that never clears its optimizer is a bug only if something
calls it repeatedly without clearing in between: SPEC's "OPT101 needs a visible loop, since a
caller may clear". Same-file callers are inlined by the iteration model; this module finds the
callers in other files of the project (``policy.train(replay_buffer, 256)`` inside the
``for t in range(max_timesteps)`` loop of ``main.py``), once per linted file:

- candidate files are the project's ``.py`` files whose text names the function (``.train(``)
  and the linted module (its file stem, as an import would); big trees (more than
  ``MAX_FILES`` files) are not scanned;
- a call counts when it sits in a ``for``/``while`` loop and its receiver is built from the
  linted class (every assignment of the receiver's name constructs it), or, for a module-level
  function, when the name is imported from the linted module;
- the loop must not clear anything (no ``zero_grad``, no ``.grad`` writes) and every other
  method it calls on the receiver must be one whose summary never clears, steps or
  backpropagates (``policy.select_action(state)``); anything else keeps the caller unknown.

Every file parsed is recorded as a dependency of the linted file's cached result; the list of
project files is read once per process, and each file's text is searched once per version.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import modules, summaries, symbols
from optimlint.analysis.call_args import arg, named_params, positional_params
from optimlint.analysis.call_targets import built_class, calls_of_scope, instance_of, receiver, target_of
from optimlint.analysis.names import key_of
from optimlint.analysis.positions import Positions
from optimlint.analysis.walk import nodes_of

if TYPE_CHECKING:
    from optimlint.context import FileContext

MAX_FILES = 3000
_SKIP_DIRS = frozenset({"node_modules", "site-packages", "build", "dist", "__pycache__", "venv", "env"})
_CLEARS = re.compile(r"zero_grad|\.grad\s*=[^=]|grad\.zero_|set_to_none|(clear|reset)_?grads?\b")
_FILES: dict[str, list[str] | None] = {}
_POSITIONS: dict[int, tuple[cst.Module, Positions]] = {}
_MENTIONS: dict[tuple[str, str, tuple[str, ...]], tuple[tuple[int, int], bool]] = {}


@dataclass(frozen=True)
class Caller:
    path: str  # the calling file, as found under the project root
    row: int  # the row of the loop (of the ``Engine(...)`` call, for ``engine``)
    engine: bool = False  # ignite's ``Engine(process_function)``: it calls the function on every batch


def loop_callers(ctx: "FileContext", func: cst.FunctionDef, klass: cst.ClassDef | None,
                 clearing: bool = True, stepping: bool = False) -> list[Caller]:
    """Loops in other project files that call ``func`` (a method of ``klass``, or a
    module-level function) every iteration and (with ``clearing``) never clear anything
    themselves; (with ``stepping``) never step anything an optimizer's name or the receiver
    holds (``agent.learn()`` then ``agent.optimizer.step()``: the step is the loop's)."""
    name = func.name.value
    if name.startswith("__") and not (name == "__call__" and klass is not None) or not ctx.path or ctx.path == "-":
        return []
    if klass is None:
        engines = ignite_engines(ctx, func)
        if engines:
            return engines
    here = os.path.realpath(ctx.path)
    stem = os.path.splitext(os.path.basename(here))[0]
    root = os.path.realpath(ctx.project_root or os.path.dirname(here))
    # (an instance called, ``self.steprunner(*batch)``: the files that build the class)
    needle = f"{klass.name.value}(" if name == "__call__" else f".{name}(" if klass is not None else f"{name}("
    # the module's stem (``import td3``) or, for a method, the class's name (re-exported by a
    # package: ``from a2c_ppo_acktr import algo`` then ``algo.A2C_ACKTR(...)``)
    names = (stem, klass.name.value) if klass is not None else (stem,)
    found: list[Caller] = []
    if klass is not None and needle in ctx.source:
        # ``pi.train_net()`` in ``main()`` of the same file: a method called on an object is
        # not inlined into the loop (a module-level function is, and is reported there)
        found.extend(_callers_in(modules.linted_file(ctx), name, klass, here, root, clearing, stepping))
    for path in _project_files(root):
        if path == here or not _mentions(path, needle, names):
            continue
        pf = modules.parse_file(path)
        if pf is None:
            continue
        found.extend(_callers_in(pf, name, klass, here, root, clearing, stepping))
    if not found and klass is not None:
        found.extend(_runner_callers(ctx, name, klass, here, root, clearing, stepping))
    if not found and klass is not None:
        found.extend(base_class_loops(ctx, name, klass, clearing, stepping))
    return found


def base_class_loops(ctx: "FileContext", name: str, klass: cst.ClassDef,
                     clearing: bool = True, stepping: bool = False) -> list[Caller]:
    """Loops of a base class's method that call ``self.<name>(...)``, the method ``klass``
    overrides (a template method: ``Epoch.run`` loops over the batches calling
    ``self.batch_update(x, y)``, which ``TrainEpoch`` implements), where ``klass`` does not
    override the looping method itself. Bases are followed through the project (at most 8
    classes); the loop is read as ``loop_callers`` reads any other, its other ``self`` calls
    as methods of ``klass``."""
    if not ctx.path or ctx.path == "-":
        return []
    root = os.path.realpath(ctx.project_root or os.path.dirname(os.path.realpath(ctx.path)))
    linted = modules.linted_file(ctx)
    own = {s.name.value for s in klass.body.body if isinstance(s, cst.FunctionDef)}
    out: list[Caller] = []
    todo: list[tuple[modules.ParsedFile, cst.ClassDef]] = [(linted, klass)]
    seen = 0
    while todo and seen < 8:
        pf, cur = todo.pop(0)
        seen += 1
        for base in cur.bases:
            r = modules.resolve_name(pf, base.value, root)
            node = r.node if r is not None else None
            if node is None:
                continue
            if r.file is not linted:  # the class as a statement of the whole tree (rows, positions)
                node = next((s for s in r.file.module.body if isinstance(s, cst.ClassDef)
                             and s.name.value == node.name.value), None)
                if node is None:
                    continue
            todo.append((r.file, node))
            for meth in node.body.body:
                if not isinstance(meth, cst.FunctionDef) or meth.name.value in own:
                    continue
                for loop in _own_loops(meth.body):
                    calls = [c for c in nodes_of(loop, cst.Call) if isinstance(c.func, cst.Attribute)
                             and c.func.attr.value == name and key_of(c.func.value) == "self"]
                    if not calls or (stepping and _loop_steps(loop, calls[0])):
                        continue
                    if not clearing or _loop_never_clears_of(r.file, loop, calls[0], linted, klass, root):
                        out.append(Caller(r.file.path, _row(r.file, loop)))
    return out


def project_in_sight(ctx: "FileContext") -> bool:
    """The project's files are read for callers (its tree holds at most ``MAX_FILES``), so "no
    file calls it" means none does, not "the tree was too big to look"."""
    if not ctx.path or ctx.path == "-":
        return False
    here = os.path.realpath(ctx.path)
    return bool(_project_files(os.path.realpath(ctx.project_root or os.path.dirname(here))))


def calls_from_other_files(ctx: "FileContext", name: str):
    """``(file, scope, call)`` for each call of ``name`` (a top-level function or class of the
    linted file) in another project file that imports it from the linted module, spelled
    ``name(...)`` or ``module.name(...)``; ``scope`` is the function (or module) whose own
    statements hold the call. Only files whose text names the function and the module's stem
    are parsed."""
    if not ctx.path or ctx.path == "-":
        return
    here = os.path.realpath(ctx.path)
    stem = os.path.splitext(os.path.basename(here))[0]
    root = os.path.realpath(ctx.project_root or os.path.dirname(here))
    imports_it = re.compile(rf"^[ \t]*(from|import)[ \t][^\n]*\b{re.escape(stem)}\b", re.M)
    for path in _project_files(root):
        if path == here or not _mentions(path, f"{name}(", (stem,)) or not _mentions_pattern(path, imports_it):
            continue
        pf = modules.parse_file(path)
        if pf is None:
            continue
        for scope in [pf.module, *nodes_of(pf.module, cst.FunctionDef)]:
            for call in calls_of_scope(scope):
                if target_of(pf, scope, call, name, None, here, root) is not None:
                    yield pf, scope, call


def _runner_callers(ctx: "FileContext", name: str, klass: cst.ClassDef, here: str, root: str,
                    clearing: bool, stepping: bool) -> list[Caller]:
    """Loops of a *runner*, a project function handed an instance of ``klass`` (``def
    run_steps(agent): while True: ... agent.step()``, called as ``run_steps(DQNAgent(config))``
    or ``agent = DQNAgent(config); run_steps(agent)``), that call the method on that parameter.
    Only files whose text builds the class (``DQNAgent(``) are read for the handing call."""
    cname = klass.name.value
    out: list[Caller] = []
    seen: set[tuple[str, int]] = set()
    others = [p for p in _project_files(root) if p != here and _mentions(p, cname + "(", (cname,))]
    for pf in [modules.linted_file(ctx), *filter(None, map(modules.parse_file, others))]:
        for scope in [pf.module, *nodes_of(pf.module, cst.FunctionDef)]:
            for call in calls_of_scope(scope):
                for runner, rpf, param in _handed_parameters(pf, scope, call, klass, here, root):
                    if (rpf.path, id(runner)) not in seen:
                        seen.add((rpf.path, id(runner)))
                        out.extend(_runner_loops(rpf, runner, param, name, ctx, klass, root, clearing, stepping))
    return out


def _handed_parameters(pf, scope, call: cst.Call, klass: cst.ClassDef, target: str, root: str):
    """(runner def, its file, parameter name) for each argument of ``call`` that is an
    instance of ``klass`` (built right there, or a name built from it), when the callee is a
    top-level function of the project."""
    f = call.func
    if not isinstance(f, cst.Name):
        return
    handed: list[tuple[int | None, str | None]] = []
    positional = 0
    for a in call.args:
        if a.star:
            return  # (``*args``: positions unknown from here on)
        v = a.value
        if isinstance(v, cst.Call):
            ok = instance_of(pf, v, klass, target, root) is not None
        else:
            ok = isinstance(v, cst.Name) and built_class(pf, scope, v.value, klass, target, root) is not None
        if ok:
            handed.append((positional if a.keyword is None else None, a.keyword.value if a.keyword else None))
        if a.keyword is None:
            positional += 1
    if not handed:
        return
    found = summaries._function_in(pf, f.value, root, 0)
    if found is None:
        return
    runner, rpf = found
    params = positional_params(runner)
    names = {p.name.value for p in named_params(runner)}
    for index, keyword in handed:
        if keyword is not None and keyword in names:
            yield runner, rpf, keyword
        elif index is not None and index < len(params):
            yield runner, rpf, params[index].name.value


def _runner_loops(rpf, runner: cst.FunctionDef, param: str, name: str, ctx, klass: cst.ClassDef,
                  root: str, clearing: bool, stepping: bool) -> list[Caller]:
    out: list[Caller] = []
    if param in {n for t in nodes_of(runner.body, (cst.AssignTarget,)) for n in [key_of(t.target)] if n}:
        return out  # (the parameter rebound in the runner)
    linted = modules.linted_file(ctx)
    for loop in _own_loops(runner.body):
        calls = [c for c in nodes_of(loop, cst.Call) if isinstance(c.func, cst.Attribute)
                 and c.func.attr.value == name and key_of(c.func.value) == param]
        if not calls or (stepping and _loop_steps(loop, calls[0])):
            continue
        if not clearing or _loop_never_clears_of(rpf, loop, calls[0], linted, klass, root):
            out.append(Caller(rpf.path, _row(rpf, loop)))
    return out


# Hooks Lightning runs once per training batch (``Callback`` and ``LightningModule`` alike).
_BATCH_HOOKS = frozenset({"on_train_batch_start", "on_train_batch_end"})


def ignite_engines(ctx: "FileContext", func: cst.FunctionDef) -> list[Caller]:
    """The ``Engine(func)`` calls of ignite in this file (``return Engine(_update)`` in the
    factory that defines ``_update``): the engine runs ``func`` on every batch, and clears and
    steps nothing of its own. Only a call in the scope that defines ``func``."""
    if "ignite" not in ctx.source:
        return []
    return ctx.cached(("optimlint.ignite_engines", id(func)), lambda: _ignite_engines(ctx, func))


def _ignite_engines(ctx: "FileContext", func: cst.FunctionDef) -> list[Caller]:
    parent = ctx.parents.get(func)
    scope = ctx.parents.get(parent) if isinstance(parent, cst.IndentedBlock) else parent
    if not isinstance(scope, (cst.FunctionDef, cst.Module)):
        return []
    engines = ctx.cached(("optimlint.ignite_engine_calls", id(scope)), lambda: _engine_calls(ctx, scope))
    return engines.get(func.name.value, [])


def _engine_calls(ctx: "FileContext", scope: cst.CSTNode) -> dict[str, list[Caller]]:
    """The ``Engine(name)`` calls of ``scope``'s own statements, by the name handed: read once
    per scope (a module of many functions asked one walk of the module per function)."""
    out: dict[str, list[Caller]] = {}
    for call in calls_of_scope(scope):
        qn = ctx.qualify(call.func) or ""
        if not (qn.startswith("ignite.") and qn.rsplit(".", 1)[-1] == "Engine"):
            continue
        handed = arg(call, 0, "process_function")
        if isinstance(handed, cst.Name):
            out.setdefault(handed.value, []).append(Caller(ctx.path, ctx.start(call).row, engine=True))
    return out


def lightning_batch_hook(ctx: "FileContext", func: cst.FunctionDef, klass: cst.ClassDef | None) -> bool:
    """``func`` is a per-batch hook of a Lightning ``Callback`` subclass
    (``OnlineFineTuner.on_train_batch_end``): the framework is the loop that calls it."""
    if klass is None or func.name.value not in _BATCH_HOOKS:
        return False
    for base in klass.bases:
        qn = ctx.qualify(base.value) or ""
        if qn.startswith(("lightning.", "pytorch_lightning.")) and qn.endswith(".Callback"):
            return True
    return False


def _mentions(path: str, needle: str, names: tuple[str, ...]) -> bool:
    """The file's text holds ``needle`` and one of ``names`` (answers cached per file
    version: the language server asks again on every edit)."""
    return _file_says(path, (needle, names), lambda text: needle in text and any(n in text for n in names))


def _mentions_pattern(path: str, pattern: "re.Pattern[str]") -> bool:
    """``pattern`` matches the file's text (cached as ``_mentions``)."""
    return _file_says(path, (pattern.pattern, ()), lambda text: pattern.search(text) is not None)


def _file_says(path: str, question: tuple, answer) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    key = (path, *question)
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _MENTIONS.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            found = answer(fh.read())
    except OSError:
        return False
    if len(_MENTIONS) > 50_000:
        _MENTIONS.clear()
    _MENTIONS[key] = (stamp, found)
    return found


def _project_files(root: str) -> list[str]:
    if root not in _FILES:
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS]
            out.extend(os.path.realpath(os.path.join(dirpath, f)) for f in filenames if f.endswith(".py"))
            if len(out) > MAX_FILES:
                out = []
                break
        _FILES[root] = sorted(out)
    return _FILES[root] or []


def _callers_in(pf: modules.ParsedFile, name: str, klass: cst.ClassDef | None, target: str,
                root: str, clearing: bool, stepping: bool = False) -> list[Caller]:
    out: list[Caller] = []
    scopes = [pf.module, *nodes_of(pf.module, cst.FunctionDef)]
    for scope in scopes:
        body = scope.body if isinstance(scope, cst.FunctionDef) else scope
        for loop in _own_loops(body):
            calls = [(c, info) for c in nodes_of(loop, cst.Call)
                     if (info := target_of(pf, scope, c, name, klass, target, root)) is not None]
            if not calls or (stepping and _loop_steps(loop, calls[0][0])):
                continue
            if not clearing or _loop_never_clears(pf, loop, *calls[0], name, root):
                out.append(Caller(pf.path, _row(pf, loop)))
    if not out and klass is None:
        out.extend(_loops_through_a_wrapper(pf, name, target, root, clearing, stepping))
    return out


def _loops_through_a_wrapper(pf: modules.ParsedFile, name: str, target: str, root: str,
                             clearing: bool, stepping: bool) -> list[Caller]:
    """Loops of ``pf`` that call a top-level function of ``pf`` (a *wrapper*: ``def
    update_params(batch): ...; a2c_step(policy_net, ..., optimizer_value, ...)``) which calls the
    step function outside any loop of its own: ``for i_iter in ...: update_params(batch)``. The
    wrapper's text, like the loop's, must clear nothing (and, with ``stepping``, step nothing)."""
    wrappers: dict[str, cst.FunctionDef] = {}
    for fn in pf.module.body:
        call = next((c for c in calls_of_scope(fn) if target_of(pf, fn, c, name, None, target, root) is not None),
                    None) if isinstance(fn, cst.FunctionDef) else None
        if call is not None and not (clearing and _CLEARS.search(pf.module.code_for_node(fn))) and \
                not (stepping and _loop_steps(fn, call)):
            wrappers[fn.name.value] = fn
    out: list[Caller] = []
    if not wrappers:
        return out
    for scope in [pf.module, *nodes_of(pf.module, cst.FunctionDef)]:
        if scope in wrappers.values():
            continue
        body = scope.body if isinstance(scope, cst.FunctionDef) else scope
        for loop in _own_loops(body):
            calls = [c for c in nodes_of(loop, cst.Call) if isinstance(c.func, cst.Name) and c.func.value in wrappers]
            if not calls or (stepping and _loop_steps(loop, calls[0])):
                continue
            if not clearing or not _CLEARS.search(pf.module.code_for_node(loop)):
                out.append(Caller(pf.path, _row(pf, loop)))
    return out


def _loop_steps(loop: cst.CSTNode, call: cst.Call) -> bool:
    """The loop calls ``x.step(...)`` (other than ``call``) where ``x`` is named like an
    optimizer or reached through ``call``'s receiver (``agent.q_net.optimizer.step()``)."""
    recv = key_of(call.func.value) if isinstance(call.func, cst.Attribute) else None
    for other in nodes_of(loop, cst.Call):
        f = other.func
        if other is call or not isinstance(f, cst.Attribute) or f.attr.value != "step":
            continue
        k = key_of(f.value) or ""
        if symbols.name_says_optimizer(k.rsplit(".", 1)[-1]) or (recv and k.startswith(recv + ".")):
            return True
    return False


def _own_loops(body: cst.CSTNode):
    """Outermost loops of a scope's body (not inside nested functions or classes)."""
    stack = list(reversed(getattr(body, "body", []) if not isinstance(body, cst.Module) else body.body))
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.For, cst.While)):
            yield node
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        for block in ("body", "orelse", "handlers", "finalbody"):
            part = getattr(node, block, None)
            if part is None:
                continue
            items = part if isinstance(part, (list, tuple)) else [part]
            for item in items:
                inner = getattr(item, "body", item)
                if isinstance(inner, (list, tuple)):
                    stack.extend(reversed(inner))
                elif isinstance(inner, cst.BaseSuite):
                    stack.extend(reversed(getattr(inner, "body", [])))
                else:
                    stack.append(inner)


def _loop_never_clears(pf, loop, call: cst.Call, info, name: str, root: str) -> bool:
    """``info``: ``target_of``'s answer for ``call`` (True for a module-level function)."""
    if info is True:
        return not _CLEARS.search(pf.module.code_for_node(loop))
    return _loop_never_clears_of(pf, loop, call, info.file, info.node, root, name)


def _loop_never_clears_of(pf, loop, call: cst.Call, cls_file, cls_node: cst.ClassDef, root: str,
                          name: str | None = None) -> bool:
    """The loop clears nothing by its text, and every other method it calls on ``call``'s
    receiver (of class ``cls_node`` of ``cls_file``) never clears, steps or backpropagates."""
    if _CLEARS.search(pf.module.code_for_node(loop)):
        return False
    name = name or call.func.attr.value
    recv = receiver(call, name)
    for other in nodes_of(loop, cst.Call):
        f = other.func
        if other is call or not isinstance(f, cst.Attribute) or key_of(f.value) != recv:
            continue
        if f.attr.value == name or f.attr.value in summaries.VALUE_METHODS:
            continue
        meth = summaries.project_method(cls_file, cls_node, f.attr.value, root)
        if meth is None or not summaries.method_never_touches(*meth, project_root=root):
            return False
    return True


def _row(pf, node: cst.CSTNode) -> int:
    hit = _POSITIONS.get(id(pf.module))
    if hit is None or hit[0] is not pf.module:
        hit = _POSITIONS[id(pf.module)] = (pf.module, Positions(pf.module))
    try:
        row = hit[1][node].start.line
    except KeyError:
        return 1
    return pf.rows(row) if pf.rows is not None else row
