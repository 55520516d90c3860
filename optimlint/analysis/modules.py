"""What an ``nn.Module`` class is made of, read from source (never imported or run).

Given the expression an optimizer's parameter groups are built from (``model``,
``self.model``, ``self``), find the model's class and list what its ``__init__``
assigns: submodules (``self.neck = FPN(...)``, ``nn.Sequential``, torch.nn layers,
project classes) and ``nn.Parameter`` attributes. Classes are resolved in the same
file or, through imports (absolute or relative), in other files of the project,
parsed with LibCST and cached per process by path and mtime.

Everything here answers "proven" or "unknown": an unresolved base class, ``setattr``,
``self.add_module``, a value the analysis cannot classify... make the answer unknown
(``ClassInfo.complete`` False, ``Attr.params`` None), and the rules built on it stay
silent. Only attributes assigned on every path through ``__init__`` (or a helper it
always calls) are ``definite``.
"""

from __future__ import annotations

import collections
import os
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import libcst as cst

from optimlint.analysis import symbols
from optimlint.analysis import walk as _walk
from optimlint.analysis.call_args import keyword_value, param_names
from optimlint.analysis.grad_mode import grad_mode
from optimlint.analysis.names import ImportTable, dotted
from optimlint import run_state
from optimlint.dependencies import record_dependency
from optimlint.parsing import cpython_verdict, parse_module, salvage
from optimlint.vocabulary import (AFFINE_SWITCH, COPY_UPDATING_CALLEE, COPY_WORDS, MODEL_FACTORIES,
                                  MODEL_FACTORY_PREFIXES, MODULE_BASES, MODULE_CONTAINERS, MODULE_SELF_RETURNING,
                                  PARAMETER_CLASSES, PARAMETERLESS, TORCH_NN_HANDED_MODULES, WITH_PARAMETERS,
                                  torch_module_class)

# -- methods that make a class's own parameters or submodules unknowable -----------------------
_OVERRIDES = frozenset({"parameters", "named_parameters", "children", "named_children", "modules",
                        "named_modules", "__getattr__", "__setattr__", "__getattribute__",
                        "_named_members", "__delattr__"})
_DYNAMIC_METHODS = frozenset({"add_module", "register_module", "__setattr__", "_modules",
                              "__dict__", "apply_to_submodules"})

# -- parsed files --------------------------------------------------------------------------


class ParsedFile:
    """A file of the project, its top-level classes and the names it binds otherwise.

    The linted file is built from its tree (``build``). Another project file is read
    statement by statement (``read``): CPython's ``ast`` gives its imports and which
    top-level statement defines or assigns each name, and LibCST parses a statement only
    when it is asked for (a class to analyse, a function to summarise), each once; the whole
    ``module`` is parsed only if asked for (the callers search). Resolving a class through
    a package's ``__init__`` used to parse every file on the way in full."""

    def __init__(self, path: str, module: cst.Module | None, imports: ImportTable,
                 classes: "dict[str, cst.ClassDef] | _LazyClasses", other_names: set[str],
                 rows=None, source: "_Statements | None" = None) -> None:
        self.path = path
        self._module = module
        self.imports = imports
        self.classes = classes  # top-level classes defined exactly once (a mapping)
        self.other_names = other_names  # top-level names bound by something other than one class
        self.rows = rows  # the linted file's piece (optimlint.pieces): its rows -> the file's
        self._source = source

    @property
    def module(self) -> cst.Module:
        if self._module is None:
            self._module = self._source.whole()  # type: ignore[union-attr]
        return self._module

    def method_count(self, name: str, method: str) -> int:
        """How many ``def method`` top-level class ``name`` holds directly in its body, without
        parsing the class when the file is read statement by statement."""
        classes = self.classes
        if isinstance(classes, _LazyClasses):
            return classes.method_count(name, method)
        return _method_count(classes[name], method)

    def class_bases(self, name: str) -> Sequence[cst.Arg]:
        """The bases of top-level class ``name``: from its header alone when the class is
        not parsed yet (a file read statement by statement), else from its tree."""
        classes = self.classes
        if isinstance(classes, _LazyClasses):
            return classes.bases(name)
        return classes[name].bases

    def top_statements(self, name: str) -> list[cst.CSTNode]:
        """The top-level statements that define ``name`` (``def``, ``class``) or hold an
        assignment to it (``name = ...`` in a simple statement line), in order."""
        if self._source is not None:
            return self._source.binding(name)
        return [s for s in self.module.body if _binds_at_top(s, name)]

    @classmethod
    def build(cls, path: str, module: cst.Module, imports: ImportTable | None = None) -> "ParsedFile":
        classes: dict[str, cst.ClassDef] = {}
        other: set[str] = set()
        for stmt in module.body:
            if isinstance(stmt, cst.ClassDef):
                name = stmt.name.value
                if name in classes:
                    other.add(name)
                classes[name] = stmt
            elif isinstance(stmt, cst.FunctionDef):
                other.add(stmt.name.value)
            else:
                # (from the walk index when the linted file is the one built: most of a
                # script is its ``if __name__ == "__main__":`` block)
                for node in _walk.nodes_of(stmt, _BINDERS):
                    if type(node) in _DEFINITIONS:
                        other.add(node.name.value)  # conditionally defined
                    else:
                        t = node.target
                        if type(t) is cst.Name:
                            other.add(t.value)
        return cls(path, module, imports or ImportTable.build(module), classes, other)

    @classmethod
    def read(cls, path: str, text: str) -> "ParsedFile | None":
        """``build``'s answers for the file ``text`` (which CPython parses), from ``ast``,
        with LibCST's statements parsed on demand; None where ``build`` must be used."""
        import ast
        import warnings

        from optimlint.pieces import _LINES, _import_table, _units

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        units = _units(tree.body)
        classes: dict[str, int] = {}
        headers: dict[int, tuple[int, int]] = {}  # a class's unit -> its ``class`` row, its body's
        methods: dict[int, collections.Counter] = {}  # a class's unit -> how many ``def``s of each name
        other: set[str] = set()
        binding: dict[str, list[int]] = {}
        imports = []
        lines = _LINES.findall(text)
        for k, (first_row, last_row, stmts) in enumerate(units):
            for stmt in stmts:
                t = type(stmt)
                if t is ast.ClassDef:
                    if stmt.name in classes:
                        other.add(stmt.name)
                    classes[stmt.name] = k
                    if len(stmts) == 1:
                        first = stmt.body[0]
                        headers[k] = (stmt.lineno, min([first.lineno, *(
                            d.lineno for d in getattr(first, "decorator_list", ()))]))
                        methods[k] = collections.Counter(
                            d.name for d in stmt.body if type(d) is ast.FunctionDef or type(d) is ast.AsyncFunctionDef)
                    binding.setdefault(stmt.name, []).append(k)
                elif t is ast.FunctionDef or t is ast.AsyncFunctionDef:
                    other.add(stmt.name)
                    binding.setdefault(stmt.name, []).append(k)
                elif t is ast.Assign:
                    for target in stmt.targets:
                        if type(target) is ast.Name:
                            binding.setdefault(target.id, []).append(k)
                if (t is ast.ClassDef or t is ast.FunctionDef or t is ast.AsyncFunctionDef) and \
                        not _MAY_IMPORT_OR_PAREN_TARGET.search("".join(lines[first_row - 1:last_row])):
                    continue  # nothing in it the walk below looks for (most classes and functions)
                for node in ast.walk(stmt):
                    nt = type(node)
                    if nt is ast.Import or nt is ast.ImportFrom:
                        imports.append((k, node))
                    elif nt is ast.AnnAssign and node.simple == 0 and type(node.target) is ast.Name:
                        return None  # ``(name): int = 0``: LibCST's grammar lacks it
                    if t is ast.ClassDef or t is ast.FunctionDef or t is ast.AsyncFunctionDef:
                        continue
                    if nt is ast.Assign:
                        other.update(x.id for x in node.targets if type(x) is ast.Name)
                    elif (nt is ast.AnnAssign or nt is ast.AugAssign) and type(node.target) is ast.Name:
                        other.add(node.target.id)
                    elif nt is ast.ClassDef or nt is ast.FunctionDef or nt is ast.AsyncFunctionDef:
                        other.add(node.name)  # conditionally defined
        bindings, stars = _import_table(imports)
        source = _Statements(text, lines, [(u[0], u[1]) for u in units],
                             {name: sorted(set(ks)) for name, ks in binding.items()}, headers, methods)
        return cls(path, None, ImportTable(bindings, stars), _LazyClasses(classes, source), other,
                   source=source)


# What ``ParsedFile.read`` walks a class or function for: an import inside it, or a
# parenthesised annotated name (``(x): int = 0``), which starts a statement (at a line's start,
# after ``;``, or after a compound statement's ``:`` on its line). A text without any of these
# holds neither; the pattern also matches much else (a dict's ``"k": (``), which only costs the walk.
_MAY_IMPORT_OR_PAREN_TARGET = re.compile(r"import|^[ \t]*\(|[;:][ \t]*\(", re.M)


def _binds_at_top(stmt: cst.CSTNode, name: str) -> bool:
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return stmt.name.value == name
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Assign) and any(isinstance(t.target, cst.Name) and t.target.value == name
                                              for t in small.targets) for small in stmt.body)


class _Statements:
    """A project file's top-level statements, each parsed by LibCST alone when first asked
    (``ParsedFile.read``); the whole module when asked for it."""

    def __init__(self, text: str, lines: list[str], spans: list[tuple[int, int]],
                 binding: dict[str, list[int]], headers: dict[int, tuple[int, int]] | None = None,
                 methods: "dict[int, collections.Counter] | None" = None) -> None:
        self._text = text
        self._lines = lines
        self._spans = spans
        self._binding = binding
        self._headers = headers or {}
        self._methods = methods or {}
        self._parsed: dict[int, cst.CSTNode] = {}
        self._bases: dict[int, Sequence[cst.Arg]] = {}
        self._whole: cst.Module | None = None

    def class_bases(self, k: int) -> Sequence[cst.Arg]:
        """The bases of the class that is statement ``k``. Unless the class is parsed already,
        LibCST parses its header alone (``class Net(nn.Module):`` and a ``pass``): the same
        base expressions for a fraction of the class's parse."""
        found = self._parsed.get(k)
        if found is not None:
            return found.bases  # type: ignore[attr-defined]
        bases = self._bases.get(k)
        if bases is None:
            header = self._headers.get(k)
            node = None
            if header is not None and header[1] > header[0]:
                text = self._lines[header[0] - 1:header[1] - 1]
                ending = text[-1][len(text[-1].rstrip("\r\n")):] or "\n"
                try:
                    node = parse_module("".join(text) + "    pass" + ending).body[0]
                except (cst.ParserSyntaxError, RecursionError, IndexError, ValueError):
                    node = None
            if not isinstance(node, cst.ClassDef):
                node = self.statement(k)  # the class on one line, or a header that does not parse alone
            bases = self._bases[k] = node.bases  # type: ignore[union-attr]
        return bases

    def method_count(self, k: int, name: str) -> int:
        """How many ``def name`` the class that is statement ``k`` holds directly in its body:
        from ``ast`` when the class is not parsed yet (``read``), else from its tree."""
        found = self._parsed.get(k)
        counts = self._methods.get(k) if found is None else None
        if counts is not None:
            return counts[name]
        return _method_count(self.statement(k), name)  # type: ignore[arg-type]

    def statement(self, k: int) -> cst.CSTNode:
        found = self._parsed.get(k)
        if found is None:
            first, last = self._spans[k]
            try:
                found = parse_module("".join(self._lines[first - 1:last])).body[0]
            except (cst.ParserSyntaxError, RecursionError, IndexError):
                found = self.whole().body[k]  # (not seen: CPython and LibCST agree on these)
            self._parsed[k] = found
        return found

    def binding(self, name: str) -> list[cst.CSTNode]:
        return [self.statement(k) for k in self._binding.get(name, ())]

    def whole(self) -> cst.Module:
        if self._whole is None:
            self._whole = parse_module(self._text)
        return self._whole


class _LazyClasses:
    """``ParsedFile.classes`` of a file read statement by statement: a class is parsed when
    it is looked up."""

    def __init__(self, units: dict[str, int], source: _Statements) -> None:
        self._units = units
        self._source = source

    def __contains__(self, name: object) -> bool:
        return name in self._units

    def __getitem__(self, name: str) -> cst.ClassDef:
        return self._source.statement(self._units[name])  # type: ignore[return-value]

    def bases(self, name: str) -> Sequence[cst.Arg]:
        return self._source.class_bases(self._units[name])

    def method_count(self, name: str, method: str) -> int:
        return self._source.method_count(self._units[name], method)

    def get(self, name: str, default=None):
        return self[name] if name in self._units else default

    def __iter__(self):
        return iter(self._units)

    def __len__(self) -> int:
        return len(self._units)


def _method_count(klass: cst.ClassDef, name: str) -> int:
    return sum(1 for s in klass.body.body if isinstance(s, cst.FunctionDef) and s.name.value == name)


# What binds a top-level name in a statement that is not a class or a function (leaf classes:
# ``walk.nodes_of`` reads them from the index, ``type(node) in`` tests them)
_BINDERS = (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.ClassDef, cst.FunctionDef)
_DEFINITIONS = frozenset({cst.ClassDef, cst.FunctionDef})

_FILES: dict[str, tuple[tuple[int, int], ParsedFile | None]] = {}


def parse_file(path: str) -> ParsedFile | None:
    """The parsed project file at ``path`` (cached by mtime and size), None if unusable."""
    record_dependency(path)  # the linted file's cached result now depends on this one
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _FILES.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    parsed: ParsedFile | None = None
    if st.st_size < 2_000_000:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            # Only what CPython parses reaches LibCST: nesting its native parser cannot take
            # would crash the process (the engine guards the linted files the same way).
            # ``read`` parses with CPython first: a file it reads needs no other verdict.
            parsed = ParsedFile.read(path, text)
            if parsed is None and cpython_verdict(path, text) is not None:
                text = salvage(path, text)  # (a 2017 script's ``async=True``: the rest still reads)
            if parsed is None and text is not None:
                parsed = ParsedFile.read(path, text) or ParsedFile.build(path, parse_module(text))
        except (OSError, UnicodeDecodeError, ValueError, cst.ParserSyntaxError, RecursionError):
            parsed = None
    _FILES[path] = (stamp, parsed)
    return parsed


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(_walk.children(n)))


# -- module resolution ---------------------------------------------------------------------
_NOT_PROJECT = ("torch", "torchvision", "numpy", "transformers", "timm", "lightning",
                "pytorch_lightning", "typing", "collections", "functools", "dataclasses")


def _module_file(base: str, parts: list[str]) -> str | None:
    path = os.path.join(base, *parts)
    if _is_file(path + ".py"):
        return path + ".py"
    init = os.path.join(path, "__init__.py")
    if _is_file(init):
        return init
    return None


def _search_roots(from_path: str, project_root: str | None) -> list[str]:
    """Folders an absolute import may be found in: the importing file's folder and its
    ancestors (within the project when the file is in it), the project root and its src/."""
    roots: list[str] = []
    here = os.path.dirname(os.path.abspath(from_path))
    top = os.path.abspath(project_root) if project_root else None
    inside = top is not None and (here + os.sep).startswith(top + os.sep)
    for _ in range(12):
        roots.append(here)
        if inside and here == top:
            break
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    if top:
        roots.extend([top, os.path.join(top, "src")])
    seen: set[str] = set()
    return [r for r in roots if not (r in seen or seen.add(r))]


# ``_find_module``'s answers and the files it saw, during one lint or one engine run (each
# linted file asks the same imports again and again: two thirds of the lookups of a training
# file repeat one, and the files of a run ask the same again): emptied by
# ``forget_module_lookups`` as a lint starts (``lint._run_checks``, each piece of a big file
# too) outside a run, as a run's first lint starts within one, so a file created since is found.
_LOOKUPS: dict[tuple[str, str, str | None], str | None] = {}
_IS_FILE: dict[str, bool] = {}


def forget_module_lookups() -> None:
    """As a lint starts: the files as they are now. Within one engine run they are the same
    for every file (``run_state``): forgotten once, as its first file starts."""
    run = run_state.current()
    if run is not None and _LOOKUPS_RUN[0] == run:
        return
    _LOOKUPS_RUN[0] = run
    _LOOKUPS.clear()
    _IS_FILE.clear()


_LOOKUPS_RUN: list[int | None] = [None]  # the run the lookups were made in (None: a lint alone)


def _is_file(path: str) -> bool:
    try:
        return _IS_FILE[path]
    except KeyError:
        found = _IS_FILE[path] = os.path.isfile(path)
        return found


def _find_module(from_path: str, module: str, project_root: str | None) -> str | None:
    """The file of dotted module ``module`` (``.models`` relative to ``from_path``)."""
    key = (from_path, module, project_root)
    try:
        return _LOOKUPS[key]
    except KeyError:
        found = _LOOKUPS[key] = _lookup_module(from_path, module, project_root)
        return found


def _lookup_module(from_path: str, module: str, project_root: str | None) -> str | None:
    level = len(module) - len(module.lstrip("."))
    parts = [p for p in module[level:].split(".") if p]
    if level:
        base = os.path.dirname(os.path.abspath(from_path))
        for _ in range(level - 1):
            base = os.path.dirname(base)
        if not parts:
            init = os.path.join(base, "__init__.py")
            return init if _is_file(init) else None
        return _module_file(base, parts)
    if not parts or parts[0] in _NOT_PROJECT:
        return None
    for root in _search_roots(from_path, project_root):
        found = _module_file(root, parts)
        if found is not None:
            return found
    return None


class Resolved:
    """What a class expression names: project class ``name`` of ``file``, or a known external
    qualified name (``qualname``).

    The class's tree (``node``) is parsed when first read: most questions that resolve a
    constructor call only ask whether it names a project class and what its bases are
    (``torch_ancestor``: is ``Net(...)`` a torch optimizer or scheduler?), and ``bases``
    reads those from the class header alone in a file read statement by statement."""

    __slots__ = ("file", "name", "qualname", "_node")

    def __init__(self, file: ParsedFile | None = None, name: str | None = None, qualname: str | None = None) -> None:
        self.file = file
        self.name = name
        self.qualname = qualname
        self._node: cst.ClassDef | None = None

    @property
    def is_class(self) -> bool:
        """A project class (not an external name)."""
        return self.name is not None

    @property
    def node(self) -> cst.ClassDef | None:
        if self._node is None and self.name is not None:
            self._node = self.file.classes[self.name]  # type: ignore[union-attr]
        return self._node

    def bases(self) -> "Sequence[cst.Arg]":
        """The class's bases (its ``node.bases``, or the same nodes parsed from its header)."""
        if self._node is not None:
            return self._node.bases
        return self.file.class_bases(self.name)  # type: ignore[union-attr, arg-type]


def resolve_name(pf: ParsedFile, expr: cst.BaseExpression, project_root: str | None,
                 depth: int = 0) -> Resolved | None:
    """Resolve a class expression written in ``pf``; None when unknown."""
    name = dotted(expr)
    if name is None or depth > 6:
        return None
    if "." not in name and name in pf.classes and name not in pf.other_names \
            and not pf.imports.imported(name):
        return Resolved(pf, name)
    if name.split(".")[0] in pf.other_names:
        return None  # also bound by an assignment (``Net = torch.jit.script(Net)``)
    qn = pf.imports.qualify(expr)
    if qn is None and "." not in name and len(pf.imports.star_modules) > 1:
        # ``class DQNAgent(BaseAgent)`` after ``from ..network import *`` and ``from .BaseAgent
        # import *``: the project module among them that defines the class (as for the star
        # imports of a file a name is looked up in, ``_lookup_in_file``)
        for star in pf.imports.star_modules:
            found = resolve_qualified(pf.path, f"{star}{'' if star.endswith('.') else '.'}{name}",
                                      project_root, depth + 1)
            if found is not None and found.is_class:
                return found
        return None
    if qn is None:
        return None
    return resolve_qualified(pf.path, qn, project_root, depth)


def resolve_qualified(from_path: str, qn: str, project_root: str | None, depth: int = 0) -> Resolved | None:
    if depth > 6:
        return None
    level = len(qn) - len(qn.lstrip("."))
    parts = qn[level:].split(".")
    if not level and parts[0] in _NOT_PROJECT:
        return Resolved(qualname=qn)
    for k in range(len(parts) - 1, -1, -1):
        module = "." * level + ".".join(parts[:k])
        if not module.strip("."):
            if not level:
                continue
        path = _find_module(from_path, module, project_root)
        if path is None:
            continue
        rest = parts[k:]
        if len(rest) != 1:
            return None
        target = parse_file(path)
        if target is None:
            return None
        found = _lookup_in_file(target, rest[0], project_root, depth + 1)
        return found
    return Resolved(qualname=qn) if not level else None


_STAR_UNKNOWN = object()


def star_qualify(ctx, node: cst.BaseExpression) -> str | None:
    """The qualified name of ``node`` (``nn.utils.clip_grad_norm_``) whose root the file binds
    only through star imports of project modules (``from ..network import *``, whose
    ``network_utils.py`` does ``import torch.nn as nn``), or None. ``ImportTable.qualify``
    reads one file and takes a lone star import's word for any unbound name; here each star
    module is read (and its own star imports, a few deep): every one must be a project file,
    and those that hand the name over must agree. A name the file binds itself is not asked."""
    name = dotted(node)
    imports = ctx.imports
    if name is None or not imports.star_modules or not ctx.path or ctx.path == "-":
        return None
    root, _, rest = name.partition(".")
    if root in imports.bindings or root.startswith("_"):
        return None
    linted = linted_file(ctx)
    if root in linted.classes or root in linted.other_names:
        return None
    found = ctx.cached(("optimlint.star_qualify", root),
                       lambda: _star_exported(ctx.path, imports.star_modules, root, ctx.project_root, set()))
    if found is _STAR_UNKNOWN or found is None:
        return None
    return f"{found}.{rest}" if rest else found


def file_qualifier(pf: ParsedFile, project_root: str | None):
    """``qualify(node)`` for code of the project file ``pf``, as ``star_qualify`` reads the
    linted file: a root the file binds only through star imports of project modules (``from
    utils import *``, whose ``utils/torch.py`` does ``import torch``) is what they hand over;
    anything else as ``pf``'s imports say."""
    imports = pf.imports
    memo: dict[str, object] = {}

    def qualify(node: cst.BaseExpression) -> str | None:
        name = dotted(node)
        if name and imports.star_modules:
            root, _, rest = name.partition(".")
            if root not in imports.bindings and root not in pf.classes and root not in pf.other_names:
                if root not in memo:
                    memo[root] = _star_exported(pf.path, imports.star_modules, root, project_root, set())
                found = memo[root]
                if isinstance(found, str):
                    return f"{found}.{rest}" if rest else found
        return imports.qualify(node)

    return qualify


def _star_exported(from_path: str, stars: list[str], name: str, root: str | None, seen: set[str]):
    """What the star imports ``stars`` of ``from_path`` bind ``name`` to: an absolute
    qualified name, None when none of them hands it over, ``_STAR_UNKNOWN`` when one is no
    project file, declares ``__all__``, defines the name itself, or they disagree. ``seen``:
    the files read so far (star imports often form cycles: ``utils/config.py`` and
    ``utils/torch_utils.py`` importing each other; at most ``_STAR_FILES`` are read)."""
    found: set = set()
    for module in stars:
        path = _find_module(from_path, module, root)
        if path in seen:
            continue  # (read already: what it hands over is counted where it was read)
        pf = parse_file(path) if path is not None else None
        if path is None or len(seen) >= _STAR_FILES:
            return _STAR_UNKNOWN
        seen.add(path)
        if pf is None:
            # a file this Python cannot parse (``def f(async=True)``, Python 3.6's): one that
            # never spells the name binds it only through its own star imports
            stars_of = _unparsed_star_imports(path, name)
            if stars_of is None:
                return _STAR_UNKNOWN
            if stars_of:
                found.add(_star_exported(path, stars_of, name, root, seen))
            continue
        if "__all__" in pf.other_names or name in pf.classes or name in pf.other_names:
            return _STAR_UNKNOWN
        bound = pf.imports.bindings.get(name)
        if bound is not None:
            found.add(bound if not bound.startswith(".") else _STAR_UNKNOWN)
        elif pf.imports.star_modules:
            found.add(_star_exported(pf.path, pf.imports.star_modules, name, root, seen))
    found.discard(None)
    if not found:
        return None
    return found.pop() if len(found) == 1 else _STAR_UNKNOWN


_STAR_FILES = 40
_STAR_LINE = re.compile(r"^from[ \t]+([\w.]+)[ \t]+import[ \t]+\*[ \t]*(?:#.*)?$", re.M)


def _unparsed_star_imports(path: str, name: str) -> list[str] | None:
    """The modules a file that does not parse star-imports at its top level, when its text
    never spells ``name`` (nor ``__all__``); None when it does, or cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    if re.search(rf"\b{re.escape(name)}\b", text) or "__all__" in text:
        return None
    return _STAR_LINE.findall(text)


def _lookup_in_file(pf: ParsedFile, name: str, project_root: str | None, depth: int) -> Resolved | None:
    if name in pf.classes and name not in pf.other_names and not pf.imports.imported(name):
        return Resolved(pf, name)
    if pf.imports.imported(name):
        return resolve_qualified(pf.path, pf.imports.bindings[name], project_root, depth)
    for star in pf.imports.star_modules:
        found = resolve_qualified(pf.path, f"{star}{'' if star.endswith('.') else '.'}{name}",
                                  project_root, depth)
        if found is not None and found.is_class:
            return found
    return None


# -- class analysis ------------------------------------------------------------------------


@dataclass
class Attr:
    """One ``self.<name>`` of a class, over every assignment the class makes to it."""

    name: str
    definite: bool = False  # assigned on every path through __init__
    module: bool | None = False  # holds an nn.Module (None: maybe)
    param: bool = False  # holds an nn.Parameter
    params: bool | None = False  # holds trainable parameters (None: unknown)
    frozen: bool = False  # every assignment leaves its parameters without grad
    cls: "ClassInfo | None" = None  # the project class when all assignments agree
    # assigned in every arm of one ``if``/``elif`` chain without ``else`` (the chain's id): there
    # whenever that chain ran an arm (``if conv == "GCN": ... elif conv == "SAGE": ...``)
    chain: int | None = None


@dataclass
class ClassInfo:
    name: str
    file: ParsedFile
    node: cst.ClassDef
    is_module: bool = False  # an nn.Module subclass, proven
    complete: bool = True  # every base resolved, nothing added dynamically
    attrs: dict[str, Attr] = field(default_factory=dict)
    entangled: set[str] = field(default_factory=set)  # attributes that may share parameters
    frozen: set[str] = field(default_factory=set)  # relative paths frozen in the class
    freeze_unknown: bool = False  # something is frozen and we cannot tell what
    # attributes read with gradients on in some method besides __init__ (the forward);
    # None: the class iterates its children, so any attribute may be used
    used: set[str] | None = field(default_factory=set)
    # attributes whose parameters the class handles itself (``.parameters()``,
    # ``load_state_dict``, an EMA / target-network update): not the optimizer's to cover
    handled: set[str] = field(default_factory=set)

    def has_params(self) -> bool | None:
        if any(a.params is True and a.definite and not a.frozen for a in self.attrs.values()):
            return True
        if self.complete and all(a.params is False for a in self.attrs.values()):
            return False
        return None


_CLASSES: dict[tuple[str, int], ClassInfo | None] = {}
_IN_PROGRESS: set[tuple[str, int]] = set()


def class_info(pf: ParsedFile, node: cst.ClassDef, project_root: str | None) -> ClassInfo | None:
    """The analysis of class ``node`` of file ``pf`` (memoised; None on a cycle)."""
    key = (pf.path, id(node))
    cached = _CLASSES.get(key)
    if cached is not None and cached.file is pf:
        return cached
    if key in _IN_PROGRESS:
        return None
    _IN_PROGRESS.add(key)
    try:
        info = _ClassAnalysis(pf, node, project_root).run()
    finally:
        _IN_PROGRESS.discard(key)
    if len(_CLASSES) > 5000:
        _CLASSES.clear()
    _CLASSES[key] = info
    return info


def _through_self_returning(value: cst.BaseExpression) -> tuple[cst.BaseExpression, bool]:
    """``Detector(...).to(dev).requires_grad_(False)`` -> (``Detector(...)``, frozen)."""
    frozen = False
    while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in MODULE_SELF_RETURNING:
        if value.func.attr.value == "requires_grad_" and not _true_arg(value):
            frozen = True
        value = value.func.value
    return value, frozen


def class_of_call_value(pf: ParsedFile, value: cst.BaseExpression, project_root: str | None):
    """(ClassInfo or None, frozen) for ``Detector(...)`` / ``Detector(...).to(dev)``."""
    value, frozen = _through_self_returning(value)
    if not isinstance(value, cst.Call):
        return None, frozen
    r = resolve_name(pf, value.func, project_root)
    if r is None or r.node is None:
        return None, frozen
    return class_info(r.file, r.node, project_root), frozen


def linted_file(ctx) -> ParsedFile:
    """The linted file itself as a ``ParsedFile`` (built once per lint)."""
    def build() -> ParsedFile:
        pf = ParsedFile.build(ctx.path, ctx.module, ctx.imports)
        pf.rows = ctx.rows  # a piece of a big file: its rows -> the file's
        return pf

    return ctx.cached("optimlint.parsed_file", build)


def constructed_class(ctx, func: cst.BaseExpression) -> Resolved | None:
    """The project class a constructor call names in the linted file (``WarmUp``,
    ``utils.WarmUp``, ``models.Net``): resolved through the imports without building the
    linted file's own index unless the name is a class of that file; None for library names
    and anything that is not a project class."""
    name = dotted(func)
    if not name:
        return None
    head = name.split(".", 1)[0]
    if ctx.imports.imported(head):
        qn = ctx.qualify(func)
        if not qn or (not qn.startswith(".") and qn.split(".", 1)[0] in _NOT_PROJECT):
            return None
        found = resolve_qualified(ctx.path, qn, ctx.project_root)
    elif "." not in name and name in ctx.cached("optimlint.class_names", lambda: {
            s.name.value for s in ctx.module.body if isinstance(s, cst.ClassDef)}):
        found = resolve_name(linted_file(ctx), func, ctx.project_root)
    else:
        return None
    return found if found is not None and found.is_class else None


def torch_ancestor(start: Resolved | None, project_root: str | None) -> str | None:
    """The torch qualified name that project class ``start`` derives from through its bases:
    ``torch.optim.lr_scheduler._LRScheduler`` for ``class WarmUpLR(_LRScheduler)`` in
    ``utils.py``; None when no base leads to torch."""
    seen: set[tuple[int, str]] = set()  # (file, class): the class's tree is not needed
    todo = [start] if start is not None and start.is_class else []
    while todo and len(seen) < 12:
        cur = todo.pop(0)
        key = (id(cur.file), cur.name)
        if key in seen:
            continue
        seen.add(key)  # type: ignore[arg-type]
        for base in cur.bases():
            b = resolve_name(cur.file, base.value, project_root)
            if b is None:
                continue
            if b.is_class:
                todo.append(b)
            elif b.qualname and b.qualname.startswith("torch."):
                return b.qualname
    return None


def _true_arg(call: cst.Call) -> bool:
    """``requires_grad_()`` / ``requires_grad_(True)``: turns grad on."""
    if not call.args:
        return True
    v = call.args[0].value
    return isinstance(v, cst.Name) and v.value == "True"


def _literal_bool(expr: cst.BaseExpression | None) -> bool | None:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    return None


@dataclass
class _Value:
    module: bool | None  # None: maybe a module
    param: bool = False
    params: bool | None = None
    frozen: bool = False
    cls: ClassInfo | None = None
    cls_node: object = None


_NOT_MODULE = _Value(False, params=False)
_UNKNOWN = _Value(None, params=None)


class _ClassAnalysis:
    def __init__(self, pf: ParsedFile, node: cst.ClassDef, project_root: str | None) -> None:
        self.pf = pf
        self.node = node
        self.root = project_root
        self.info = ClassInfo(node.name.value, pf, node)
        self.methods: dict[str, cst.FunctionDef] = {}
        self.records: list[tuple[str, _Value, bool]] = []
        self.chains: dict[str, int] = {}  # ``Attr.chain`` of the attributes so assigned

    def run(self) -> ClassInfo:
        info = self.info
        for stmt in self.node.body.body if isinstance(self.node.body, cst.IndentedBlock) else ():
            if isinstance(stmt, cst.FunctionDef):
                if stmt.name.value in self.methods:
                    info.complete = False  # redefined (e.g. under a condition elsewhere)
                self.methods[stmt.name.value] = stmt
            elif not isinstance(stmt, (cst.SimpleStatementLine, cst.ClassDef)):
                info.complete = False  # methods defined conditionally
        if _OVERRIDES.intersection(self.methods):
            info.complete = False  # its own idea of what its parameters are
        self._bases()
        self._dynamic()
        init = self.methods.get("__init__")
        visited: set[str] = set()
        if init is not None:
            self._block(init.body, True, visited | {"__init__"}, visited)
        for name, meth in self.methods.items():
            if name not in visited and name != "__init__":
                self._block(meth.body, False, visited, None)
        self._collect()
        self._freezes()
        self._usage(visited | {"__init__"})
        return info

    def _usage(self, init_like: set[str]) -> None:
        info = self.info
        used: set[str] = set()
        everything = False
        for name, meth in self.methods.items():
            if name in init_like:
                continue
            nograd = _no_grad_method(meth, self.pf)
            for n, quiet in _walk_grad(meth, self.pf, nograd):
                if isinstance(n, cst.Attribute) and isinstance(n.value, cst.Name) and n.value.value == "self":
                    attr = n.attr.value
                    if attr in ("children", "modules", "named_children", "named_modules", "_modules",
                                "__dict__"):
                        everything = True
                    elif not quiet:
                        used.add(attr)
                elif isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in (
                        "getattr", "vars") and n.args and isinstance(n.args[0].value, cst.Name) \
                        and n.args[0].value.value == "self":
                    everything = True
        for n in walk(self.node):
            if isinstance(n, cst.Call):
                f = n.func
                if isinstance(f, cst.Attribute) and f.attr.value in _HANDLING_METHODS:
                    d = dotted(f.value)
                    if d and d.startswith("self."):
                        info.handled.add(d.split(".")[1])
                callee = dotted(f) or ""
                if COPY_UPDATING_CALLEE.search(callee.rsplit(".", 1)[-1]):
                    for a in n.args:
                        for m in walk(a.value):
                            d = dotted(m) if isinstance(m, cst.Attribute) else None
                            if d and d.startswith("self."):
                                info.handled.add(d.split(".")[1])
        for name in info.attrs:
            if _copy_name(name):
                info.handled.add(name)
        if info.used is not None:
            info.used = None if everything else (info.used | used)

    # -- bases ----------------------------------------------------------------------------
    def _bases(self) -> None:
        info = self.info
        for arg in self.node.bases:
            if arg.keyword is not None or arg.star:
                if arg.keyword is None:
                    info.complete = False
                continue
            r = resolve_name(self.pf, arg.value, self.root)
            if r is not None and r.node is None:  # a class outside the project: torch's, or object
                if r.qualname in MODULE_BASES:
                    info.is_module = True
                elif r.qualname not in ("object", "builtins.object"):
                    info.complete = False
                continue
            base = class_info(r.file, r.node, self.root) if r is not None else None
            if base is None:  # unresolved, or a project class that cannot be read
                info.complete = False
                continue
            info.is_module = info.is_module or base.is_module
            info.complete = info.complete and base.complete
            calls_super = self._calls_base_init()
            for name, a in base.attrs.items():
                copy = Attr(**a.__dict__)
                copy.definite = a.definite and calls_super
                self._merge_base(copy)
            info.entangled |= base.entangled
            info.handled |= base.handled
            info.used = None if (base.used is None or info.used is None) else info.used | base.used
            info.frozen |= base.frozen
            info.freeze_unknown = info.freeze_unknown or base.freeze_unknown
        if not self.node.bases:
            info.is_module = False

    def _merge_base(self, a: Attr) -> None:
        self.info.attrs[a.name] = a

    def _calls_base_init(self) -> bool:
        init = self.methods.get("__init__")
        if init is None:
            return True
        body = init.body.body if isinstance(init.body, cst.IndentedBlock) else ()
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for s in stmt.body:
                    if isinstance(s, cst.Expr) and isinstance(s.value, cst.Call):
                        f = s.value.func
                        if isinstance(f, cst.Attribute) and f.attr.value == "__init__":
                            return True
        return False

    # -- dynamic additions ------------------------------------------------------------------
    def _dynamic(self) -> None:
        for n in walk(self.node):
            if isinstance(n, cst.Call):
                f = n.func
                if isinstance(f, cst.Name) and f.value in ("setattr", "delattr", "vars"):
                    if n.args and isinstance(n.args[0].value, cst.Name) and n.args[0].value.value == "self":
                        self.info.complete = False
                elif isinstance(f, cst.Attribute) and f.attr.value == "register_parameter":
                    if not (n.args and isinstance(n.args[0].value, cst.SimpleString)):
                        self.info.complete = False
            elif isinstance(n, cst.Attribute) and n.attr.value in _DYNAMIC_METHODS:
                if isinstance(n.value, cst.Name) and n.value.value == "self":
                    self.info.complete = False
            elif isinstance(n, cst.Del):
                for t in walk(n.target):
                    if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) \
                            and t.value.value == "self":
                        self.info.complete = False

    # -- assignments ------------------------------------------------------------------------
    def _block(self, block, definite: bool, chain: set[str], visited: set[str] | None) -> None:
        body = block.body if isinstance(block, cst.IndentedBlock) else (
            block.body if isinstance(block, cst.SimpleStatementSuite) else ())
        for stmt in body:
            self._stmt(stmt, definite, chain, visited)

    def _stmt(self, stmt, definite: bool, chain: set[str], visited: set[str] | None) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for s in stmt.body:
                self._small(s, definite, chain, visited)
            return
        if isinstance(stmt, cst.If):
            arms = [stmt.body]
            orelse = stmt.orelse
            while isinstance(orelse, cst.If):
                arms.append(orelse.body)
                orelse = orelse.orelse
            has_else = orelse is not None
            if has_else:
                arms.append(orelse.body)
            before = len(self.records)
            for arm in arms:
                self._block(arm, False, chain, visited)
            if definite and (has_else or len(arms) >= 2):
                # an attribute assigned in every arm is definite; without an ``else``, it is
                # there whenever an arm of the chain ran (``Attr.chain``)
                per_arm = []
                for arm in arms:
                    mark = len(self.records)
                    self._block(arm, True, chain, None)
                    per_arm.append({r[0] for r in self.records[mark:]})
                    del self.records[mark:]
                common = set.intersection(*per_arm) if per_arm else set()
                for i in range(before, len(self.records)):
                    n, v, _ = self.records[i]
                    if n in common and has_else:
                        self.records[i] = (n, v, True)
                    elif n in common:
                        self.chains[n] = id(stmt)
            return
        if isinstance(stmt, (cst.With,)):
            self._block(stmt.body, definite, chain, visited)
            return
        if isinstance(stmt, cst.Try):
            self._block(stmt.body, definite, chain, visited)
            for h in stmt.handlers:
                self._block(h.body, False, chain, visited)
            if stmt.orelse is not None:
                self._block(stmt.orelse.body, False, chain, visited)
            if stmt.finalbody is not None:
                self._block(stmt.finalbody.body, definite, chain, visited)
            return
        if isinstance(stmt, (cst.For, cst.While)):
            self._block(stmt.body, False, chain, visited)
            if stmt.orelse is not None:
                self._block(stmt.orelse.body, False, chain, visited)
            return
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return
        # match statements and anything else: assignments inside are not definite
        for n in walk(stmt):
            if isinstance(n, (cst.SimpleStatementLine,)):
                for s in n.body:
                    self._small(s, False, chain, None)

    def _small(self, s, definite: bool, chain: set[str], visited: set[str] | None) -> None:
        if isinstance(s, cst.Assign):
            for t in s.targets:
                self._target(t.target, s.value)
                self._assign(t.target, s.value, definite)
            if len(s.targets) > 1:
                # ``self.backbone = self.encoder = UNet(...)``: one module, two names
                for t in s.targets:
                    for n in walk(t.target):
                        d = dotted(n) if isinstance(n, cst.Attribute) else None
                        if d and d.startswith("self."):
                            self.info.entangled.add(d.split(".")[1])
        elif isinstance(s, cst.AnnAssign) and s.value is not None:
            self._assign(s.target, s.value, definite)
        elif isinstance(s, cst.AugAssign):
            self._assign(s.target, None, False)
        elif isinstance(s, cst.Expr) and isinstance(s.value, cst.Call):
            call = s.value
            f = call.func
            # self._build_layers(): a helper always called from __init__
            if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self":
                name = f.attr.value
                if name == "register_parameter" and len(call.args) >= 2 \
                        and isinstance(call.args[0].value, cst.SimpleString):
                    attr = call.args[0].value.evaluated_value
                    if isinstance(attr, str):
                        self.records.append((attr, self._param_value(call.args[1].value), definite))
                    return
                meth = self.methods.get(name)
                if meth is not None and name not in chain and visited is not None:
                    visited.add(name)
                    self._block(meth.body, definite, chain | {name}, visited)

    def _target(self, target, value) -> None:
        """``self.head.weight = self.embed.weight``: tied weights entangle both."""
        k = dotted(target) if isinstance(target, cst.Attribute) else None
        if k and k.startswith("self.") and k.count(".") >= 2:
            self.info.entangled.add(k.split(".")[1])
            for n in walk(value):
                d = dotted(n) if isinstance(n, cst.Attribute) else None
                if d and d.startswith("self.") and d.count(".") >= 1:
                    self.info.entangled.add(d.split(".")[1])

    def _assign(self, target, value, definite: bool) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._assign(el.value, None, False)
            return
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) \
                and target.value.value == "self":
            name = target.attr.value
            v = self._value(value) if value is not None else _UNKNOWN
            if value is not None:
                refs = module_refs(value) if not self._torch_layer_call(value) else set()
                if refs and v.module is not False:
                    self.info.entangled |= refs | {name}
            self.records.append((name, v, definite))

    def _torch_layer_call(self, value) -> bool:
        """``nn.Linear(128, self.n_words)``: a layer of ``torch.nn`` built from numbers; what it
        reads of ``self`` are sizes, never modules it would share (not a container, a
        parameter, a wrapper or a transformer stack, which are handed modules)."""
        if not isinstance(value, cst.Call):
            return False
        qn = self.pf.imports.qualify(value.func)
        last = (qn or "").rsplit(".", 1)[-1]
        return torch_module_class(qn) and qn.count(".") == 2 and last not in MODULE_CONTAINERS and \
            last not in TORCH_NN_HANDED_MODULES

    # -- values -----------------------------------------------------------------------------
    def _param_value(self, value) -> _Value:
        if isinstance(value, cst.Call) and self.pf.imports.qualify(value.func) in PARAMETER_CLASSES:
            rg = _literal_bool(keyword_value(value, "requires_grad"))
            return _Value(False, param=True, params=True, frozen=rg is False)
        return _UNKNOWN

    def _value(self, value: cst.BaseExpression) -> _Value:
        value, frozen = _through_self_returning(value)
        v = self._raw_value(value)
        if frozen and v.params:
            v = _Value(v.module, v.param, v.params, True, v.cls, v.cls_node)
        return v

    def _raw_value(self, value: cst.BaseExpression) -> _Value:
        if isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
                              cst.Integer, cst.Float, cst.Imaginary, cst.Dict, cst.Set,
                              cst.Comparison, cst.BooleanOperation, cst.UnaryOperation,
                              cst.Lambda, cst.ListComp, cst.DictComp, cst.SetComp,
                              cst.GeneratorExp, cst.List, cst.Tuple)):
            return _NOT_MODULE
        if isinstance(value, cst.Name):
            if value.value in ("None", "True", "False"):
                return _NOT_MODULE
            return _UNKNOWN  # an injected module or a plain value
        if isinstance(value, cst.IfExp):
            a, b = self._value(value.body), self._value(value.orelse)
            return _combine([a, b], either=True)
        if not isinstance(value, cst.Call):
            return _UNKNOWN
        pv = self._param_value(value)
        if pv is not _UNKNOWN:
            return pv
        qn = self.pf.imports.qualify(value.func)
        if qn is not None and qn.startswith("torch.nn.") and not qn.startswith(
                ("torch.nn.functional", "torch.nn.init", "torch.nn.utils")):
            return self._torch_layer(qn.rsplit(".", 1)[-1], value)
        if qn is not None and (qn in MODEL_FACTORIES or (
                qn.startswith(MODEL_FACTORY_PREFIXES) and qn.count(".") == 2)):
            return _Value(True, params=True)
        r = resolve_name(self.pf, value.func, self.root)
        if r is not None and r.node is not None:
            ci = class_info(r.file, r.node, self.root)
            if ci is None:
                return _UNKNOWN
            if not ci.is_module:
                return _UNKNOWN if not ci.complete else _NOT_MODULE
            return _Value(True, params=ci.has_params(), cls=ci, cls_node=id(r.node))
        if qn is not None and qn.split(".")[0] in ("math", "os", "collections", "copy") \
                and qn not in ("copy.deepcopy", "copy.copy"):
            return _NOT_MODULE
        return _UNKNOWN

    def _torch_layer(self, last: str, call: cst.Call) -> _Value:
        if last in MODULE_CONTAINERS:
            elems: list[cst.BaseExpression] = []
            args = [a for a in call.args if a.keyword is None]
            if last == "Sequential":
                if any(a.star for a in args):
                    return _Value(True, params=None)
                elems = [a.value for a in args]
            elif args:
                inner = args[0].value
                if isinstance(inner, (cst.List, cst.Tuple)):
                    if any(isinstance(e, cst.StarredElement) for e in inner.elements):
                        return _Value(True, params=None)
                    elems = [e.value for e in inner.elements]
                elif isinstance(inner, cst.Dict):
                    if any(isinstance(e, cst.StarredDictElement) for e in inner.elements):
                        return _Value(True, params=None)
                    elems = [e.value for e in inner.elements]
                elif isinstance(inner, (cst.ListComp, cst.GeneratorExp)):
                    elems = [inner.elt]
                elif isinstance(inner, cst.DictComp):
                    elems = [inner.value]
                else:
                    return _Value(True, params=None)
            if not elems:
                return _Value(True, params=None)  # filled later, maybe
            vals = [self._value(e) for e in elems]
            return _Value(True, params=_combine(vals).params)
        if last in AFFINE_SWITCH:
            kw, default = AFFINE_SWITCH[last]
            on = _literal_bool(keyword_value(call, kw))
            if last in ("Linear", "Conv2d"):
                return _Value(True, params=True)
            if on is None and keyword_value(call, kw) is not None:
                return _Value(True, params=None)
            return _Value(True, params=default if on is None else on)
        if last in PARAMETERLESS:
            return _Value(True, params=False)
        if last in WITH_PARAMETERS:
            return _Value(True, params=True)
        if last[:1].isupper():
            return _Value(True, params=None)
        return _UNKNOWN

    # -- combine records --------------------------------------------------------------------
    def _collect(self) -> None:
        info = self.info
        own: dict[str, list[tuple[_Value, bool]]] = {}
        for name, v, definite in self.records:
            own.setdefault(name, []).append((v, definite))
        for name, recs in own.items():
            vals = [v for v, _ in recs]
            base = info.attrs.get(name)
            a = Attr(name)
            a.definite = any(d for _, d in recs) or bool(base and base.definite)
            a.chain = None if a.definite else self.chains.get(name)
            combined = _combine(vals + ([_Value(base.module, base.param, base.params, base.frozen,
                                                  base.cls)] if base else []), either=True)
            a.module = combined.module
            a.param = all(v.param for v in vals)
            a.params = combined.params
            a.frozen = all(v.frozen for v in vals if v.params) and any(v.params for v in vals)
            nodes = {v.cls_node for v in vals}
            if len(nodes) == 1 and vals[0].cls is not None and (base is None or base.cls is vals[0].cls):
                a.cls = vals[0].cls
            info.attrs[name] = a

    def _freezes(self) -> None:
        subjects, unknown = freeze_subjects(self.node)
        for s in subjects:
            if s == "self":
                self.info.freeze_unknown = True
            elif s.startswith("self."):
                self.info.frozen.add(s[len("self."):])
        if unknown:
            self.info.freeze_unknown = True


_SIZE_WORDS = re.compile(r"dim|size|num|features|channels|classes|width|depth|count|shape|config|cfg|"
                         r"len|stride|scale|heads|vocab", re.IGNORECASE)


def module_refs(value: cst.CSTNode) -> set[str]:
    """Attributes of ``self`` that ``value`` may hand on as modules: ``Head(self.backbone)``,
    ``self.encoder.layers``; not sizes read from them (``self.backbone.num_features``)."""
    out: set[str] = set()

    def visit(node: cst.CSTNode) -> None:
        if isinstance(node, cst.Attribute):
            d = dotted(node)
            if d is not None and d.startswith("self."):
                parts = d.split(".")
                if len(parts) == 2 or not _SIZE_WORDS.search(parts[-1]):
                    out.add(parts[1])
                return
        for child in _walk.children(node):
            visit(child)

    visit(value)
    return out


def _combine(vals: list[_Value], either: bool = False) -> _Value:
    """Several possible values of one attribute (``either``) or the parts of a container."""
    if not vals:
        return _UNKNOWN
    mods = {v.module for v in vals}
    module = True if mods == {True} else False if mods == {False} else None
    ps = [v.params for v in vals]
    if either:
        params = True if all(p is True for p in ps) else False if all(p is False for p in ps) else None
    else:
        params = True if any(p is True for p in ps) else False if all(p is False for p in ps) else None
    return _Value(module, params=params)


_HANDLING_METHODS = frozenset({"parameters", "named_parameters", "load_state_dict", "copy_",
                               "requires_grad_", "lerp_", "mul_", "add_"})


def _copy_name(name: str) -> bool:
    """``critic_target``, ``ema_model``, ``teacher``, ``model_old``: a copy nobody optimizes."""
    return any(w in COPY_WORDS for w in re.split(r"[_\d]+", name.lower()) if w)


def _no_grad_method(meth: cst.FunctionDef, pf: "ParsedFile") -> bool:
    for dec in meth.decorators:
        if grad_mode(pf.imports.qualify, dec.decorator) is False:
            return True
    return False


def _walk_grad(node: cst.CSTNode, pf: "ParsedFile", quiet: bool) -> Iterator[tuple[cst.CSTNode, bool]]:
    """Nodes under ``node``, each with whether it runs without gradients (no_grad blocks)."""
    stack = [(node, quiet)]
    while stack:
        n, q = stack.pop()
        yield n, q
        if isinstance(n, cst.With) and not q:
            for item in n.items:
                if grad_mode(pf.imports.qualify, item.item) is False:
                    q_body = True
                    break
            else:
                q_body = False
            stack.extend((c, q_body if c is n.body else q) for c in reversed(_walk.children(n)))
            continue
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "detach":
            stack.append((n.func.value, True))
            stack.extend((a, q) for a in reversed(n.args))
            continue
        stack.extend((c, q) for c in reversed(_walk.children(n)))


# -- freezing ------------------------------------------------------------------------------
_PARAM_ITERS = ("parameters", "named_parameters")


_FREEZER = re.compile(r"freeze|requires_grad|trainable|toggle_grad|set_grad|frozen", re.IGNORECASE)


def outer_dotted(expr: cst.CSTNode) -> list[str]:
    """``a.b`` and ``c`` in ``[a.b, c]``, not ``a`` as well."""
    if isinstance(expr, (cst.Name, cst.Attribute)):
        d = dotted(expr)
        if d is not None:
            return [d]
    out: list[str] = []
    for child in _walk.children(expr):
        out.extend(outer_dotted(child))
    return out


def freeze_subjects(root: cst.CSTNode) -> tuple[set[str], bool]:
    """Dotted modules whose parameters get ``requires_grad`` set somewhere under ``root``
    (``model.neck.requires_grad_(False)``, ``for p in self.backbone.parameters():
    p.requires_grad = False``), and whether some setting's subject is unknown."""
    subjects: set[str] = set()
    unknown = False
    loops: list[tuple[set[str], str | None]] = []
    params: list[set[str]] = []

    def loop_vars(target) -> set[str]:
        return {n.value for n in walk(target) if isinstance(n, cst.Name)}

    def iter_subject(it) -> str | None:
        while isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value in (
                "list", "enumerate", "tuple", "iter") and it.args:
            it = it.args[0].value
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in _PARAM_ITERS:
            return dotted(it.func.value)
        return None

    def subject_of(expr, enabling: bool = False) -> str | None:
        """``enabling``: grad turned on (``x.requires_grad_()``), which on a plain tensor
        (an input for a gradient penalty) says nothing about any module."""
        nonlocal unknown
        d = dotted(expr)
        if d is None:
            unknown = unknown or not enabling
            return None
        if "." not in d:
            for names, subj in reversed(loops):
                if d in names:
                    if subj is None:
                        unknown = unknown or not enabling
                    return checked(subj)
            unknown = unknown or not enabling
            return None
        return checked(d)

    def checked(d: str | None) -> str | None:
        nonlocal unknown
        # a function's parameter (``def freeze(module): ...``): what it is depends on callers
        if d is not None and params and d.split(".")[0] in params[-1] and d.split(".")[0] != "self":
            unknown = True
            return None
        return d

    assigned: dict[int, cst.BaseExpression] = {}

    class V(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                assigned[id(t)] = node.value

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            params.append(param_names(node))

        def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
            params.pop()

        def visit_For(self, node: cst.For) -> None:
            loops.append((loop_vars(node.target), iter_subject(node.iter)))

        def leave_For(self, node: cst.For) -> None:
            loops.pop()

        def _comp(self, node) -> None:
            names: set[str] = set()
            subj = None
            f = node.for_in
            while f is not None:
                names |= loop_vars(f.target)
                subj = subj or iter_subject(f.iter)
                f = f.inner_for_in
            loops.append((names, subj))

        def _uncomp(self, node) -> None:
            loops.pop()

        visit_ListComp = visit_GeneratorExp = visit_SetComp = visit_DictComp = _comp
        leave_ListComp = leave_GeneratorExp = leave_SetComp = leave_DictComp = _uncomp

        def visit_Call(self, node: cst.Call) -> None:
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value == "requires_grad_":
                s = subject_of(f.value, _true_arg(node))
                if s:
                    subjects.add(s)
            elif _FREEZER.search(symbols.callee_name(f)):
                # ``freeze(model.neck)``, ``set_requires_grad([net_d_a, net_d_b], False)``,
                # ``model.toggle_trainable(model.neck)``: whatever modules they are handed
                for a in node.args:
                    subjects.update(d for d in outer_dotted(a.value) if d not in ("True", "False", "None"))

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            t = node.target
            if isinstance(t, cst.Attribute) and t.attr.value == "requires_grad":
                parent_value = assigned.get(id(node))
                s = subject_of(t.value, _literal_bool(parent_value) is True)
                if s:
                    subjects.add(s)

    _walk.visit(root, V())
    return subjects, unknown
