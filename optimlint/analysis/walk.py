"""Fast read-only traversal of LibCST trees.

``module.visit(visitor)`` rebuilds every node of the tree (``_visit_and_replace_children``
constructs and validates a new dataclass per node) even for a read-only ``CSTVisitor``,
and calls the attribute hooks (``on_visit_attribute``...) for every field. ``visit`` here
makes the same ``visit_X`` / ``leave_X`` calls in the same order (children in LibCST's
own order, read once per class from ``_visit_and_replace_children``) without rebuilding.
Visitors with ``on_visit`` overrides or attribute hooks (``visit_Call_func``) fall back
to ``node.visit``.

A file's checks walk the same tree dozens of times (whole module, then each loop, each
function...). ``track(module)`` (called by ``FileContext``) makes ``visit`` use an
``Index`` of that tree, built once on first use: every node but the trivia (whitespace,
operators, brackets) in visit order (preorder), where each subtree ends, each node's
parent, and the positions of each node type. A visit then touches only the nodes whose
type the visitor has a hook for (a visitor of ``Call`` nodes steps over the ~95% of
nodes that are something else), with the same calls in the same order, pruning
included. ``parent_map`` of the tracked module reads the same index.
"""

from __future__ import annotations

import bisect
import dataclasses
import inspect
import re
import weakref

import libcst as cst

_FIELD = re.compile(r'visit_\w+\(\s*self\s*,\s*"(\w+)"', re.S)
_ATTR_HOOK = re.compile(r"^(visit|leave)_[A-Za-z]+_\w+$")
_LIBCST_BASES = frozenset(cst.CSTVisitor.__mro__)
_ORDER: dict[type, tuple[str, ...] | None] = {}
# What ``_profile`` reads from a visitor class's own attribute names, keyed by those names
# (never by the class: checks define visitor classes inside functions, closures over a
# file's context, so a class object as a key would keep a linted file's tree alive, and
# each lint makes ~150 new classes of a few dozen shapes). Bounded by the shapes in the code.
_SHAPES: dict[tuple, tuple] = {}
_SHAPES_MAX = 4096
# type -> 1 (a node), 2 (a sequence that may hold nodes), 0 (anything else)
_KIND: dict[type, int] = {tuple: 2, list: 2, type(None): 0, str: 0}


def _order(cls: type) -> tuple[str, ...] | None:
    """The fields of ``cls`` in the order LibCST visits them; None if it cannot tell.

    Read from the constants of ``_visit_and_replace_children``'s bytecode (the field names
    passed to ``visit_required(self, "func", ...)`` in call order; tests/test_analysis_index.py checks
    it against the source for every LibCST node class; a leaf's visits nothing), else from
    its source text."""
    try:
        return _ORDER[cls]
    except KeyError:
        pass
    fields: tuple[str, ...] | None = None
    try:
        declared = {f.name for f in dataclasses.fields(cls)}
    except TypeError:
        declared = set()
    try:
        code = cls._visit_and_replace_children.__code__
        fields = tuple(dict.fromkeys(c for c in code.co_consts if type(c) is str and c in declared))
        if not fields and any(n.startswith("visit_") for n in code.co_names):
            fields = None  # visits something, but not by field name: ask the source
    except AttributeError:
        fields = None
    if fields is None:
        fields = _order_from_source(cls, declared)
    _ORDER[cls] = fields
    return fields


def _order_from_source(cls: type, declared: set[str]) -> tuple[str, ...] | None:
    try:
        src = inspect.getsource(cls._visit_and_replace_children)
        fields = tuple(dict.fromkeys(_FIELD.findall(src)))
        return fields if set(fields) <= declared else None
    except (OSError, TypeError):
        return None


def _kind(t: type, value: object) -> int:
    k = _KIND[t] = 1 if isinstance(value, cst.CSTNode) else 2 if (t is tuple or t is list) else 0
    return k


# Whitespace, comments, operators, commas, dots, brackets: 60% of a tree's nodes, whose
# subtrees hold nothing else, and which the checks' visitors never hook. The index leaves
# them out (``visit`` falls back to the full walk for a visitor that hooks one of them, and
# the parent of one is found by a full parent map built on demand).
_TRIVIA_MODULES = ("libcst._nodes.whitespace", "libcst._nodes.op")
_TRIVIA_NAMES = frozenset({"LeftParen", "RightParen", "LeftSquareBracket", "RightSquareBracket",
                           "LeftCurlyBrace", "RightCurlyBrace"})
_TRIVIA: dict[type, bool] = {}


def is_trivia(cls: type) -> bool:
    """Whether nodes of class ``cls`` are trivia (False for anything not a LibCST node)."""
    found = _TRIVIA.get(cls)
    if found is None:
        module = getattr(cls, "__module__", "")
        found = _TRIVIA[cls] = (module in _TRIVIA_MODULES
                                or (module == "libcst._nodes.expression" and cls.__name__ in _TRIVIA_NAMES))
    return found


_TRIVIA_CLASS_NAMES: frozenset[str] | None = None


def _trivia_name(name: str) -> bool:
    """Whether a visitor hook for class ``name`` (``visit_<name>``) names a trivia class."""
    global _TRIVIA_CLASS_NAMES
    if _TRIVIA_CLASS_NAMES is None:
        import sys

        names = set(_TRIVIA_NAMES)
        for module in _TRIVIA_MODULES:
            names.update(n for n, obj in vars(sys.modules[module]).items()
                         if isinstance(obj, type) and obj.__module__ == module)
        _TRIVIA_CLASS_NAMES = frozenset(names)
    return name in _TRIVIA_CLASS_NAMES


def _kept_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """``_children(node)`` without the trivia."""
    cls = type(node)
    try:
        kept = _KEPT[cls]
    except KeyError:
        kept = _KEPT[cls] = _kept_extractor(cls)
    if kept is not None:
        return kept(node)  # type: ignore[operator]
    return _kept_children_generic(node)


def _kept_children_generic(node: cst.CSTNode) -> list[cst.CSTNode]:
    trivia = _TRIVIA
    out: list[cst.CSTNode] = []
    for child in _children(node):
        t = trivia.get(type(child))
        if t is None:
            t = is_trivia(type(child))
        if not t:
            out.append(child)
    return out


def _children(node: cst.CSTNode) -> list[cst.CSTNode]:
    cls = type(node)
    order = _ORDER.get(cls) or _order(cls)
    if order is None:
        return list(node.children)
    out: list[cst.CSTNode] = []
    kinds = _KIND
    for name in order:
        value = getattr(node, name)
        t = type(value)
        k = kinds.get(t)
        if k is None:
            k = _kind(t, value)
        if k == 1:
            out.append(value)
        elif k == 2:
            # the kind lookup above, inlined again for the items (the hot loop of every walk:
            # a helper call per child costs more than the repetition)
            for item in value:
                ti = type(item)
                ki = kinds.get(ti)
                if ki is None:
                    ki = _kind(ti, item)
                if ki == 1:
                    out.append(item)
    return out


# -- per-class extractors of the kept children ---------------------------------------------
# ``_kept_children`` runs for every node of every indexed tree (the index of each linted
# file): the generic loop reads every field, whitespace, commas and brackets included (most
# of them), and looks up the kind of each value. Each LibCST class gets its own extractor,
# generated from its field annotations: the fields that can only hold trivia or plain values
# are not read, a field that always holds one kept node (``Call.func``: a ``BaseExpression``)
# or a sequence of them (``Call.args``) is taken as it is, and any other field is checked
# value by value as the loop does; same children, same order (tests/test_analysis_index.py
# compares both on every node of the project's programs).
_KEPT: dict[type, object] = {}
# type of a value -> 1 (a kept node), 2 (a sequence), 0 (anything else: trivia, None, str...)
_KEPT_KIND: dict[type, int] = {tuple: 2, list: 2, type(None): 0, str: 0}


def _kept_kind(t: type) -> int:
    k = _KEPT_KIND[t] = (0 if is_trivia(t) else 1) if issubclass(t, cst.CSTNode) else 2 if t in (tuple, list) else 0
    return k


def _classes_below(c: type) -> list[type]:
    out, stack = [], [c]
    while stack:
        k = stack.pop()
        if k not in out:
            out.append(k)
            stack.extend(k.__subclasses__())
    return out


def _field_shape(hint) -> str:
    """"skip" (only trivia or plain values), "node" (always one kept node), "nodes" (a
    sequence of kept nodes), else "check" (read value by value)."""
    import collections.abc
    import typing

    from libcst._maybe_sentinel import MaybeSentinel

    seq = typing.get_origin(hint) in (collections.abc.Sequence, list, tuple)
    if seq:
        args = typing.get_args(hint)
        if len(args) != 1:
            return "check"
        hint = args[0]
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        options = list(typing.get_args(hint))
    elif origin is typing.Literal:
        options = [type(a) for a in typing.get_args(hint)]
    elif origin is None and isinstance(hint, type):
        options = [hint]
    else:
        return "check"
    plain = (str, bool, int, type(None), MaybeSentinel)
    if any(typing.get_origin(o) is not None or not isinstance(o, type) for o in options):
        return "check"
    if not any(issubclass(o, cst.CSTNode) and not all(is_trivia(k) for k in _classes_below(o))
               for o in options if o not in plain):
        if all(o in plain or issubclass(o, cst.CSTNode) for o in options):
            return "skip"
        return "check"
    if len(options) == 1 and issubclass(options[0], cst.CSTNode) and \
            not any(is_trivia(k) for k in _classes_below(options[0])):
        return "nodes" if seq else "node"
    return "check"


_CHECK = """    v = node.{name}
    k = kinds.get(type(v))
    if k is None:
        k = kind(type(v))
    if k == 1:
        out.append(v)
    elif k == 2:
        for item in v:
            ki = kinds.get(type(item))
            if ki is None:
                ki = kind(type(item))
            if ki == 1:
                out.append(item)"""


def _kept_extractor(cls: type):
    """``cls``'s extractor of kept children; None where it cannot be built (the generic loop
    then runs)."""
    import typing

    order = _ORDER.get(cls) or _order(cls)
    if order is None or not all(n.isidentifier() for n in order):
        return None
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        return None
    lines = ["def kept(node):", "    out = []"]
    for name in order:
        shape = _field_shape(hints[name]) if name in hints else "check"
        if shape == "node":
            lines.append(f"    out.append(node.{name})")
        elif shape == "nodes":
            lines.append(f"    out.extend(node.{name})")
        elif shape == "check":
            lines.append(_CHECK.format(name=name))
    lines.append("    return out")
    namespace = {"kinds": _KEPT_KIND, "kind": _kept_kind}
    exec("\n".join(lines), namespace)  # noqa: S102 - built from LibCST's own field names
    return namespace["kept"]


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    return _children(node)


def kept_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The children of ``node`` that are not trivia (whitespace, operators, brackets), in
    visit order."""
    return _kept_children(node)


class Index:
    """Every node under ``root`` but the trivia, in visit order, with subtree ends,
    parents and the positions of each node type (by class name, as visitors' hooks are
    named).

    Where ``keep_previous_index`` is on, the index of a module reuses, for each of its
    statements that the previous module indexed (``_LAST``) also held, that statement's
    part of the previous index: a statement object is immutable, so its subtree, in visit
    order, is the same list of nodes. The language server's incremental parse keeps every
    statement an edit did not touch, so an edit's index walks only the re-parsed ones."""

    __slots__ = ("root", "nodes", "end", "parent", "pos", "by_name", "usable", "memo", "_full_parents",
                 "__weakref__")

    def __init__(self, root: cst.CSTNode) -> None:
        self.root = root
        self._full_parents: dict[cst.CSTNode, cst.CSTNode] | None = None
        self.memo: dict = {}  # see ``memo``
        nodes: list[cst.CSTNode] = [root]
        parent: list[int] = [-1]
        end: list[int] = [0]  # the root's, set below
        previous = _LAST[0] if type(root) is cst.Module else None
        reusable = _top_level(previous) if previous is not None else {}
        for top in _kept_children(root):
            j = reusable.get(id(top))
            base = len(nodes)
            if j is not None and previous.nodes[j] is top:  # type: ignore[union-attr]
                stop = previous.end[j]  # type: ignore[union-attr]
                shift = base - j
                nodes.extend(previous.nodes[j:stop])  # type: ignore[union-attr]
                parent.append(0)
                parent.extend([p + shift for p in previous.parent[j + 1:stop]])  # type: ignore[union-attr]
                end.extend([e + shift for e in previous.end[j:stop]])  # type: ignore[union-attr]
            else:
                _walk_into(top, 0, nodes, parent, end)
        end[0] = len(nodes)
        self.nodes = nodes
        self.parent = parent
        self.end = end
        self.pos = {id(x): j for j, x in enumerate(nodes)}
        by_name: dict[str, list[int]] = {}
        for j, x in enumerate(nodes):
            name = type(x).__name__
            bucket = by_name.get(name)
            if bucket is None:
                by_name[name] = [j]
            else:
                bucket.append(j)
        self.by_name = by_name
        # A node object that occurs twice in the tree has two preorder positions: the
        # index could not say which one a visit starts from. The root must not be trivia.
        self.usable = len(self.pos) == len(nodes) and not is_trivia(type(root))
        if type(root) is cst.Module and self.usable and _KEEP_LAST[0]:
            _LAST[0] = self

    def full_parents(self) -> dict[cst.CSTNode, cst.CSTNode]:
        """The parent map of every node, trivia included (built once, on demand)."""
        if self._full_parents is None:
            self._full_parents = _parent_dict(self.root)
        return self._full_parents

    def locate(self, node: cst.CSTNode) -> int | None:
        i = self.pos.get(id(node))
        if i is not None and self.nodes[i] is node:
            return i
        return None

    def parent_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        i = self.locate(node)
        if i is None:
            return None
        p = self.parent[i]
        return self.nodes[p] if p >= 0 else None

    def of_type(self, root: cst.CSTNode, *names: str) -> list[cst.CSTNode]:
        """The nodes under ``root`` (included) whose class is named in ``names``, in visit order."""
        i = self.locate(root)
        if i is None:
            raise KeyError(root)
        return [self.nodes[j] for j in self._slice(i, names)]

    def _slice(self, i: int, names) -> list[int]:
        lo, hi = i, self.end[i]
        picked: list[int] = []
        runs = 0
        for name in names:
            bucket = self.by_name.get(name)
            if not bucket:
                continue
            a = bisect.bisect_left(bucket, lo)
            b = bisect.bisect_left(bucket, hi, a)
            if a < b:
                picked.extend(bucket[a:b])
                runs += 1
        if runs > 1:
            picked.sort()
        return picked


# The last usable index of a module, whose statements' parts the next module's index reuses,
# kept only where ``keep_previous_index`` asked (the language server, whose next tree shares
# most statements with the last; elsewhere it would keep a finished file's tree alive).
_LAST: list[Index | None] = [None]
_KEEP_LAST = [False]


def keep_previous_index(on: bool = True) -> None:
    """Keep (or stop keeping) the last module's index for the next one to reuse."""
    _KEEP_LAST[0] = on
    if not on:
        _LAST[0] = None


def _top_level(index: Index) -> dict[int, int]:
    """``{id(node): position}`` of the root's children in ``index``."""
    out: dict[int, int] = {}
    j, n, end = 1, len(index.nodes), index.end
    while j < n:
        out[id(index.nodes[j])] = j
        j = end[j]
    return out


def _walk_into(top: cst.CSTNode, up: int, nodes: list, parent: list, end: list) -> None:
    """Append ``top`` and its subtree (no trivia) in visit order, ``top``'s parent at ``up``."""
    first = len(nodes)
    stack: list[cst.CSTNode] = [top]
    pstack: list[int] = [up]
    # (the hot loop of the index: methods and the extractor table read once)
    pop, push, ppop, ppush = stack.pop, stack.extend, pstack.pop, pstack.extend
    add, add_parent, extractors = nodes.append, parent.append, _KEPT
    while stack:
        node = pop()
        i = len(nodes)
        add(node)
        add_parent(ppop())
        kept = extractors.get(type(node))
        kids = kept(node) if kept is not None else _kept_children(node)
        if kids:
            kids.reverse()
            push(kids)
            ppush([i] * len(kids))
    n = len(nodes)
    size = [1] * (n - first)
    for j in range(n - 1, first, -1):
        size[parent[j] - first] += size[j - first]
    end.extend([first + k + s for k, s in enumerate(size)])


class _Tracked:
    """A tree whose ``Index`` is built on first use; held by the file's context."""

    __slots__ = ("root", "_index", "__weakref__")

    def __init__(self, root: cst.CSTNode) -> None:
        self.root = root
        self._index: Index | None = None

    def index(self) -> Index | None:
        index = self._index
        if index is None:
            if self.root is None:  # released, while its context lives on
                return None
            index = self._index = Index(self.root)
        return index if index.usable else None

    def release(self) -> None:
        """Let the tree go now: the index's memo holds analyses that refer back to it (cycles
        the collector would otherwise traverse, with the whole tree, after each file). The
        index the next module reuses (``keep_previous_index``) is kept."""
        index, self._index, self.root = self._index, None, None
        if index is not None and index is not _LAST[0]:
            index.root = None  # type: ignore[assignment]
            index.nodes = index.parent = index.end = []
            index.pos, index.by_name, index.memo, index._full_parents = {}, {}, {}, None

    def built(self) -> Index | None:
        return self._index if self._index is not None and self._index.usable else None


# Weak references: the context owns the tracked tree; when the context goes, so does it.
_TRACKED: list["weakref.ref[_Tracked]"] = []


def track(root: cst.CSTNode) -> _Tracked:
    """Let ``visit`` and ``parent_map`` use an index of ``root``'s tree while the
    returned handle is alive (the caller keeps it)."""
    _TRACKED[:] = [r for r in _TRACKED if r() is not None]
    handle = _Tracked(root)
    _TRACKED.append(weakref.ref(handle))
    return handle


def _find(node: cst.CSTNode) -> tuple[Index, int] | None:
    if _TRACKED:  # the usual case: a node of the newest tree
        handle = _TRACKED[-1]()
        if handle is not None:
            index = handle._index
            if index is None:
                index = handle.index()
            if index is not None and index.usable:
                i = index.pos.get(id(node))
                if i is not None and index.nodes[i] is node:
                    return index, i
    newest = True
    for ref in reversed(_TRACKED):
        handle = ref()
        if handle is None:
            continue
        # Only the newest tree is indexed on demand: an older context may linger until the
        # garbage collector runs, and indexing it would be wasted work.
        index = handle.index() if newest else handle.built()
        newest = False
        if index is None:
            continue
        i = index.locate(node)
        if i is not None:
            return index, i
    return None


def memo(node: cst.CSTNode, key, compute):
    """``compute()``, kept under ``key`` for ``node`` as long as the index of the tracked
    tree that holds ``node`` lives (the file's context); None, and nothing computed, when
    no tracked tree holds ``node``. For an analysis asked many questions about one scope
    (what each name is bound to in a function, or in the module): answering them all from
    one walk of the scope, not one walk per question, keeps a big file's analysis linear."""
    found = _find(node)
    if found is None:
        return None
    index, i = found
    try:
        return index.memo[(i, key)]
    except KeyError:
        value = index.memo[(i, key)] = compute()
        return value


class Occurrences:
    """Where the ``Name`` nodes of one spelling are in a tracked tree."""

    __slots__ = ("_index", "_positions")

    def __init__(self, index: Index, positions: list[int]) -> None:
        self._index = index
        self._positions = positions

    def within(self, node: cst.CSTNode) -> bool:
        """Whether such a ``Name`` is ``node`` or lies under it (True when unsure: a node
        the index does not hold)."""
        index = self._index
        i = index.pos.get(id(node))
        if i is None or index.nodes[i] is not node:
            return not is_trivia(type(node))  # trivia hold no names
        positions = self._positions
        k = bisect.bisect_left(positions, i)
        return k < len(positions) and positions[k] < index.end[i]


def name_occurrences(node: cst.CSTNode, value: str) -> Occurrences | None:
    """The ``Name`` nodes spelled ``value`` in the tracked tree that holds ``node`` (None
    when none holds it): an analysis of one name can step over every subtree without it."""
    found = _find(node)
    if found is None:
        return None
    index = found[0]
    table = index.memo.get("names")
    if table is None:
        table = index.memo["names"] = {}
        nodes = index.nodes
        for j in index.by_name.get("Name", ()):
            spelled = nodes[j].value
            bucket = table.get(spelled)
            if bucket is None:
                table[spelled] = [j]
            else:
                bucket.append(j)
    return Occurrences(index, table.get(value, []))


def index_of(root: cst.CSTNode) -> Index | None:
    """The index of a tracked tree that contains ``root``, or None."""
    found = _find(root)
    return found[0] if found is not None else None


def _profile(vcls: type):
    """``(plain, enters, leaves, both, trivial)`` for a visitor class: whether ``visit`` can
    walk it without LibCST (no ``on_visit``/``on_leave`` overrides, no attribute hooks such
    as ``visit_Call_func``), the node class names it has its own ``visit_``/``leave_`` for
    (LibCST's defaults do nothing and return None), and whether one of those names a trivia
    class (see ``is_trivia``). All but the overrides follow from the names the classes of its
    MRO before LibCST's bases define: computed once per such set of names (``_SHAPES``)."""
    shape = tuple([tuple(vars(k)) for k in vcls.__mro__ if k not in _LIBCST_BASES])
    found = _SHAPES.get(shape)
    if found is None:
        enters: set[str] = set()
        leaves: set[str] = set()
        attr_hook = False
        for names in shape:
            for n in names:
                if n.startswith("visit_"):
                    if _ATTR_HOOK.match(n):
                        attr_hook = True
                    enters.add(n[6:])
                elif n.startswith("leave_"):
                    if _ATTR_HOOK.match(n):
                        attr_hook = True
                    leaves.add(n[6:])
        both = enters | leaves
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        found = _SHAPES[shape] = (attr_hook, frozenset(enters), frozenset(leaves), frozenset(both),
                                  any(_trivia_name(n) for n in both))
    attr_hook, enters, leaves, both, trivial = found
    plain = (not attr_hook
             and issubclass(vcls, cst.CSTVisitor)
             and vcls.on_visit is cst.CSTVisitor.on_visit
             and vcls.on_leave is cst.CSTVisitor.on_leave
             and vcls.on_visit_attribute is cst.CSTVisitor.on_visit_attribute
             and vcls.on_leave_attribute is cst.CSTVisitor.on_leave_attribute)
    return plain, enters, leaves, both, trivial


def visit(root: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """``root.visit(visitor)`` for a read-only visitor, without rebuilding the tree."""
    vcls = type(visitor)
    # (kept on the class itself: ``_profile`` reads every class of the MRO, and the training
    # model alone visits ~300 small expressions a file with the same visitor class)
    found_profile = vcls.__dict__.get("_optimlint_walk_profile")
    if found_profile is None:
        found_profile = _profile(vcls)
        type.__setattr__(vcls, "_optimlint_walk_profile", found_profile)
    plain, enters, leaves, hooks, trivial = found_profile
    if not plain:
        root.visit(visitor)
        return
    own = getattr(visitor, "__dict__", None)
    own_hooks = bool(own) and any(k.startswith(("visit_", "leave_")) for k in own)
    found = None if own_hooks else _find(root)
    if found is None:
        # (a tree of another file: walked whole, but for the trivia when no hook names one)
        _visit_recursive(root, visitor, trivia=own_hooks or trivial)
        return
    index, i = found
    if trivial:  # the visitor hooks a node type the index leaves out
        _visit_recursive(root, visitor)
        return
    picked = index._slice(i, hooks)
    if not picked:
        return
    nodes, end = index.nodes, index.end
    enter_of: dict[str, object] = {}
    leave_of: dict[str, object] = {}
    pending: list[tuple[int, object, cst.CSTNode]] = []
    k, count = 0, len(picked)
    while k < count:
        j = picked[k]
        while pending and pending[-1][0] <= j:
            _, leave, node = pending.pop()
            leave(node)  # type: ignore[operator]
        node = nodes[j]
        name = type(node).__name__
        try:
            enter, leave = enter_of[name], leave_of[name]
        except KeyError:
            enter = enter_of[name] = getattr(visitor, "visit_" + name) if name in enters else None
            leave = leave_of[name] = getattr(visitor, "leave_" + name) if name in leaves else None
        k += 1
        if enter is not None and enter(node) is False:  # type: ignore[operator]
            # Pruned: jump over the subtree's nodes (a scope's own statements pruning its
            # nested functions would otherwise step over every node of them, per query).
            stop = end[j]
            if k < count and picked[k] < stop:
                k = bisect.bisect_left(picked, stop, k, count)
            if leave is not None:
                leave(node)  # type: ignore[operator]
        elif leave is not None:
            pending.append((end[j], leave, node))
    while pending:
        _, leave, node = pending.pop()
        leave(node)  # type: ignore[operator]


def _visit_recursive(root: cst.CSTNode, visitor: cst.CSTVisitor, trivia: bool = True) -> None:
    """LibCST's visit order without rebuilding; ``trivia`` False steps over the trivia
    subtrees (nothing but trivia under them), for a visitor that hooks no trivia class."""
    enter_of: dict[type, object] = {}
    leave_of: dict[type, object] = {}
    kids_of = _children if trivia or is_trivia(type(root)) else _kept_children

    def rec(node: cst.CSTNode) -> None:
        cls = type(node)
        try:
            enter, leave = enter_of[cls], leave_of[cls]
        except KeyError:
            enter = enter_of[cls] = getattr(visitor, "visit_" + cls.__name__, None)
            leave = leave_of[cls] = getattr(visitor, "leave_" + cls.__name__, None)
        if enter is None or enter(node) is not False:  # type: ignore[operator]
            for child in kids_of(node):
                rec(child)
        if leave is not None:
            leave(node)  # type: ignore[operator]

    rec(root)


class ParentMap:
    """``{child: parent}`` read from a tree's index (``ParentNodeProvider``'s mapping); the
    parent of a trivia node from the full map, built the first time one is asked."""

    __slots__ = ("_index",)

    def __init__(self, index: Index) -> None:
        self._index = index

    def get(self, node: cst.CSTNode, default=None):
        index = self._index
        i = index.pos.get(id(node))
        if i is not None and index.nodes[i] is node:
            p = index.parent[i]
            return index.nodes[p] if p >= 0 else default
        if is_trivia(type(node)):
            return index.full_parents().get(node, default)
        return default

    def __getitem__(self, node: cst.CSTNode) -> cst.CSTNode:
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def __contains__(self, node: object) -> bool:
        return self.get(node) is not None  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._index.full_parents())

    def __iter__(self):
        return iter(self._index.full_parents())

    def items(self):
        return self._index.full_parents().items()


def parent_map(root: cst.CSTNode):
    """``{child: parent}`` for every node under ``root`` (ParentNodeProvider's mapping)."""
    found = _find(root)
    if found is not None and found[1] == 0:
        return ParentMap(found[0])
    return _parent_dict(root)


def _parent_dict(root: cst.CSTNode) -> dict[cst.CSTNode, cst.CSTNode]:
    parents: dict[cst.CSTNode, cst.CSTNode] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in _children(node):
            parents[child] = node
            stack.append(child)
    return parents


def nodes_of(root: cst.CSTNode, types: tuple[type, ...] | type):
    """The nodes under ``root`` (included) of one of ``types``, in visit order.

    Read from the walk index when a tracked tree holds ``root`` and ``types`` are node
    classes the index keeps by name (no trivia, no subclasses): the nodes of those classes
    in ``root``'s span of the preorder, the same nodes in the same order as the walk below,
    without visiting the ~95% of nodes of other classes."""
    names = _INDEXED.get(types)
    if names is None:
        names = _INDEXED[types] = _indexed_names(types)
    if names:
        found = _find(root)
        if found is not None:
            index, i = found
            nodes = index.nodes
            return iter([nodes[j] for j in index._slice(i, names)])
        # (an untracked tree: the same classes have no trivia under them to step into)
        return _kept_nodes_of(root, _LEAF_SETS.get(names) or _LEAF_SETS.setdefault(
            names, frozenset(getattr(cst, n) for n in names)))
    return _nodes_of(root, types)


# ``nodes_of``'s index names -> the classes, for the walk of an untracked tree
_LEAF_SETS: dict[tuple[str, ...], frozenset] = {}


def _kept_nodes_of(root: cst.CSTNode, classes: frozenset):
    """``_nodes_of`` for leaf classes that are not trivia: an exact type test, and no step
    into a trivia subtree (which holds only trivia)."""
    stack = [root]
    pop, push = stack.pop, stack.extend
    while stack:
        node = pop()
        if type(node) in classes:
            yield node
        kids = _kept_children(node)
        if kids:
            kids.reverse()
            push(kids)


# types given to ``nodes_of`` -> the class names to read from the index, or () to walk
_INDEXED: dict = {}


def _indexed_names(types) -> tuple[str, ...]:
    classes = types if isinstance(types, tuple) else (types,)
    if not all(isinstance(t, type) and issubclass(t, cst.CSTNode) and not t.__subclasses__()
               and not is_trivia(t) and getattr(cst, t.__name__, None) is t for t in classes):
        return ()
    return tuple(dict.fromkeys(t.__name__ for t in classes))


def _nodes_of(root: cst.CSTNode, types: tuple[type, ...] | type):
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, types):
            yield node
        stack.extend(reversed(children(node)))
