"""Imports point one way (docs/ARCHITECTURE.md): no two modules of ``workbench/`` or
``widgets/`` import each other, directly or around a longer loop.

The graph is read from the source with :mod:`ast` (nothing is imported), and counts every
import statement: module level, inside functions (a lazy import is still a dependency) and
under ``if TYPE_CHECKING:`` (a type-only loop still ties the two modules together). Importing
a submodule also runs its package's ``__init__``; that implicit edge is left out, or every
package re-exporting its submodules would be a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "widgets")

# Pairs tolerated to import each other. Empty: every loop fails. A pair may go here only
# for the span of one change that untangles it.
ALLOWED_PAIRS: set[frozenset[str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` is or lies in (``a.b.C`` -> ``a.b``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of workbench/ and widgets/ it imports}``."""
    known = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        package = module if is_package else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import name`: name is a submodule or an attribute of pkg
                names = [f"{prefix}.{alias.name}" for alias in node.names] or [prefix]
            else:
                continue
            for name in names:
                target = _resolve(name, known)
                if target and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]], allowed: set[frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), once the edges
    between each allowed pair are removed; each sorted, the list sorted."""
    edges = {
        a: {b for b in targets if frozenset({a, b}) not in allowed} for a, targets in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        # recursion depth is bounded by the number of modules (about 150)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert "workbench.cache.store" in graph and "widgets.session" in graph
    assert "workbench.cache.views" in graph["workbench.cache.store"]


def test_cycle_finder_finds_a_loop_and_honours_the_allow_list():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert cycles(graph, set()) == [["a", "b", "c"], ["d", "e"]]
    assert cycles(graph, {frozenset({"d", "e"})}) == [["a", "b", "c"]]


def test_no_import_cycles_beyond_the_allow_list():
    found = cycles(import_graph(), ALLOWED_PAIRS)
    assert not found, "modules that import each other (make the imports point one way):\n" + (
        "\n".join(" <-> ".join(c) for c in found)
    )


def test_cache_store_and_views_point_one_way():
    graph = import_graph()
    assert "workbench.cache.store" not in graph["workbench.cache.views"]
