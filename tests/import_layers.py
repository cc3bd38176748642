"""The import graph of ``frlbench``: its cycles, its height (layers) and its upward imports.

Every ``import frlbench...`` and ``from frlbench... import ...`` statement counts: at module
level, inside functions, and under ``if TYPE_CHECKING:`` (a type-only import still ties the two
modules together in the design). An import of ``frlbench.a.b`` is an edge to the module
``frlbench.a.b``; its parent package runs too, but a package importing its own submodules is how
registration works, so that implied edge is not counted.

A **unit** is a top-level module or subpackage of ``frlbench`` (``frlbench.data.era5`` belongs
to the unit ``frlbench.data``): the design's layers are drawn between units, and a package's
modules import each other freely (without a cycle). The **layer count** is the number of units
on the longest import chain between units (a unit importing no other is layer 1); cycles are
looked for both between modules and between units. Each unit also belongs to one of the
design's **tiers**,
bottom up: core → spec/records → data/models/frl/metrics → evaluation →
train/runner/catalog/tools → cli/report. An import into a higher tier is an **upward import**.

``tests/test_imports.py`` asserts on these numbers; to print them::

    python -m tests.import_layers
"""

from __future__ import annotations

import argparse
import ast
import functools
from pathlib import Path

import frlbench

PACKAGE = Path(frlbench.__file__).resolve().parent

TIERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "core",
        (
            "frlbench",
            "frlbench.registry",
            "frlbench.spectral",
            "frlbench.stats",
            "frlbench.errors",
            "frlbench.env",
            "frlbench.geometry",
            "frlbench.static_inputs",
            "frlbench.safeio",
            "frlbench.terminal",
            "frlbench.fingerprint",
        ),
    ),
    (
        "spec/records",
        (
            "frlbench.spec",
            "frlbench.records",
            "frlbench.published",
            "frlbench.profiles",
            "frlbench.validate",
        ),
    ),
    (
        "data/models/frl/metrics",
        (
            "frlbench.data",
            "frlbench.models",
            "frlbench.frl",
            "frlbench.metrics",
            "frlbench.augment",
        ),
    ),
    ("evaluation", ("frlbench.evaluation",)),
    (
        "train/runner/catalog/tools",
        (
            "frlbench.train",
            "frlbench.compiled",
            "frlbench.runner",
            "frlbench.catalog",
            "frlbench.tools",
        ),
    ),
    ("cli/report", ("frlbench.cli", "frlbench.report", "frlbench.tune")),
)
"""The design's tiers, bottom up, each listing its units."""


def module_name(path: Path) -> str:
    """The dotted name of the module at ``path`` inside the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The frlbench modules that module ``name`` imports (any statement, anywhere in it)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "frlbench")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if base.split(".")[0] == "frlbench":
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    found.add(child if child in MODULES else base)
    found.discard(name)
    return {m for m in found if m in MODULES}


def import_graph() -> dict[str, set[str]]:
    """Module → the frlbench modules it imports, for every module of the package."""
    return {name: imports_of(name) for name in MODULES}


def unit_of(name: str) -> str:
    """The unit of module ``name``: ``frlbench`` itself or ``frlbench.<first component>``."""
    return ".".join(name.split(".")[:2])


def unit_graph(graph: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Unit → the other units its modules import (from :func:`import_graph` by default)."""
    graph = import_graph() if graph is None else graph
    units: dict[str, set[str]] = {}
    for src, dsts in graph.items():
        here = units.setdefault(unit_of(src), set())
        here.update(unit_of(d) for d in dsts if unit_of(d) != unit_of(src))
    return units


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first repeated last), or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest import chain of ``graph``, importer first.

    Modules on one cycle count as one step of the chain (it runs over the graph's
    strongly connected components), so the height of a graph with a cycle is still defined.
    """
    component = {node: min(comp) for comp in components(graph) for node in comp}
    condensed: dict[str, set[str]] = {}
    for node, dsts in graph.items():
        here = condensed.setdefault(component[node], set())
        here.update(component[d] for d in dsts if component[d] != component[node])

    @functools.cache
    def chain(node: str) -> tuple[str, ...]:
        below = max((chain(n) for n in sorted(condensed[node])), key=len, default=())
        return (node, *below)

    return list(max((chain(n) for n in sorted(condensed)), key=len, default=()))


def tier_of(name: str) -> int:
    """Index in :data:`TIERS` of the tier the unit of module ``name`` belongs to.

    Raises:
        KeyError: if no tier lists the unit (add it to ``TIERS`` in tests/import_layers.py).
    """
    unit = unit_of(name)
    for index, (_, units) in enumerate(TIERS):
        if unit in units:
            return index
    raise KeyError(f"unit {unit} is in no tier of TIERS in tests/import_layers.py")


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Every ``(importer, imported)`` pair where the imported module sits in a higher tier."""
    return sorted(
        (src, dst) for src, dsts in graph.items() for dst in dsts if tier_of(dst) > tier_of(src)
    )


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` (Tarjan), each a list of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module."""
    found = []
    for comp in components(graph):
        if len(comp) > 1:
            sub = {n: graph[n] & set(comp) for n in comp}
            found.append(find_cycle(sub) or comp)
    return found


def summary() -> str:
    """A short text report: cycles, layers (with the longest chain), upward imports."""
    graph = import_graph()
    units = unit_graph(graph)
    lines = [
        f"modules: {len(graph)}, import edges: {sum(map(len, graph.values()))}, units: {len(units)}"
    ]
    for label, found in (("modules", cycles(graph)), ("units", cycles(units))):
        lines.append(f"cycles between {label}: {len(found)}")
        lines += [f"  {' -> '.join(c)}" for c in found]
    for label, g in (("units", units), ("modules", graph)):
        chain = longest_chain(g)
        lines.append(f"longest chain of {label}: {len(chain)}")
        lines.append(f"  {' -> '.join(chain)}")
    upward = upward_imports(graph)
    lines.append(f"upward imports: {len(upward)}")
    lines += [f"  {s} ({TIERS[tier_of(s)][0]}) -> {d} ({TIERS[tier_of(d)][0]})" for s, d in upward]
    lines.append(f"layers: {len(longest_chain(units))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print :func:`summary`."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print(summary())


if __name__ == "__main__":
    main()
