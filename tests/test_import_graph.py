"""The import graph of optimlint's modules has no cycle, function-local imports included.

A function-local import runs later than a module-level one, but it is a dependency all the
same: ``engine`` importing ``fixing`` inside a function while ``fixing`` imports ``engine``
is a cycle that only the order of calls keeps from failing. The graph is read from the
source (every ``import`` anywhere in a module, ``TYPE_CHECKING`` blocks too), so the test
needs no import and sees the modules exactly as written. docs/internals.md ("Engine layers")
draws the graph this test keeps acyclic.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "optimlint"
ROOT = "optimlint"


def module_files() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """``(imported optimlint module, line)`` for every import statement in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = resolve(target)
            if resolved is None or not resolved.startswith(ROOT):
                continue
            # Importing ``a.b.c`` first runs the ``__init__`` of ``a.b``: an edge to it too.
            parts = resolved.split(".")
            for depth in range(2, len(parts) + 1):
                dependency = ".".join(parts[:depth])
                if dependency != name and not name.startswith(dependency + "."):
                    out.append((dependency, node.lineno))
    return out


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}. Edges into the root package are left out:
    it runs before any of its modules, and imports nothing at module level (tested below)."""
    modules = module_files()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in imports_of(name, path, modules):
            if target != ROOT:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def describe(graph, cycle: list[str]) -> str:
    modules = module_files()
    return "\n".join(f"  {a} -> {b}  ({modules[a].relative_to(PACKAGE.parent)}:{graph[a][b]})"
                     for a, b in zip(cycle, cycle[1:]))


def test_no_cycle_among_optimlint_modules():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle:\n" + describe(graph, cycle)


def test_the_graph_is_read_whole():
    """The reader sees function-local, relative and TYPE_CHECKING imports, and the engine's
    layering as drawn in docs/internals.md (control: the graph is not empty by mistake)."""
    graph = import_graph()
    assert len(graph) >= 60 and sum(map(len, graph.values())) >= 150
    assert "optimlint.checks.base" in graph["optimlint.lint"]  # function-local (start-up time)
    assert "optimlint.results" in graph["optimlint.report"]  # TYPE_CHECKING only
    assert "optimlint.checks" in graph["optimlint.lint"]  # the package of a module imported
    for low, high in [("optimlint.fixing", "optimlint.lint"), ("optimlint.file_lint", "optimlint.fixing"),
                      ("optimlint.parallel", "optimlint.file_lint"), ("optimlint.engine", "optimlint.parallel"),
                      ("optimlint.cache", "optimlint.results"), ("optimlint.config", "optimlint.store")]:
        assert high in graph[low], (low, high)


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}, ["a", "b", "c", "a"]),
    ({"a": {"b": 1}, "b": {}, "c": {"c": 1}}, ["c", "c"]),
    ({"a": {"b": 1, "c": 1}, "b": {"c": 1}, "c": {}}, None),
])
def test_find_cycle(graph, cycle):
    assert find_cycle(graph) == cycle


def test_a_hidden_cycle_is_found(tmp_path, monkeypatch):
    """Control: a cycle through a function-local import, as the engine had one."""
    pkg = tmp_path / "optimlint"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "engine.py").write_text("from optimlint.fixing import fix_text\n")
    (pkg / "fixing.py").write_text("def fix_text():\n    from optimlint import engine\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    graph = import_graph()
    assert find_cycle(graph) == ["optimlint.engine", "optimlint.fixing", "optimlint.engine"]
    assert "(optimlint/fixing.py:2)" in describe(graph, find_cycle(graph))


def test_the_root_package_imports_nothing_at_module_level():
    """Every ``import optimlint.x`` runs ``optimlint/__init__.py`` first: what it imported at
    module level would be loaded by every run (and would make the edges left out above real)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    assert not [node for node in tree.body if isinstance(node, ast.Import)
                or isinstance(node, ast.ImportFrom) and node.module != "__future__"]


def test_the_static_side_never_imports_the_runtime():
    """The runtime needs torch; the linter must not import it (the root's ``watch`` and the
    ``run`` command are the two doors, both function-local)."""
    graph = import_graph()
    doors = {"optimlint", "optimlint.cli"}
    offenders = [(name, target) for name, edges in graph.items() for target in edges
                 if target.startswith("optimlint.runtime") and not name.startswith("optimlint.runtime")
                 and name not in doors]
    assert offenders == []
