"""The package's layers hold: no import cycle, at most 8 layers, imports point down only.

The graph, its units and tiers are computed by ``tests/import_layers.py`` (``python -m
tests.import_layers`` prints them); every import statement counts, function-local and
``TYPE_CHECKING`` ones included.
"""

from __future__ import annotations

import pytest

from tests.import_layers import (
    MODULES,
    TIERS,
    cycles,
    find_cycle,
    import_graph,
    longest_chain,
    tier_of,
    unit_graph,
    upward_imports,
)

MAX_LAYERS = 8


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def closure(graph: dict[str, set[str]], roots: set[str]) -> set[str]:
    """Every module reachable from ``roots`` (roots included)."""
    seen, todo = set(), list(roots)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def under(prefix: str) -> set[str]:
    return {m for m in MODULES if m == prefix or m.startswith(prefix + ".")}


def test_the_walk_sees_every_kind_of_import(graph):
    assert sum(map(len, graph.values())) > 200
    # function-local: the CLI imports the model zoo inside its command
    assert "frlbench.tools.zoo" in graph["frlbench.cli.catalog"]
    # TYPE_CHECKING-only imports count too
    assert "frlbench.evaluation.audit_result" in graph["frlbench.report.audit"]


def test_no_import_cycle_between_modules_or_units(graph):
    assert cycles(graph) == []
    assert cycles(unit_graph(graph)) == []


def test_at_most_eight_layers(graph):
    chain = longest_chain(unit_graph(graph))
    assert len(chain) <= MAX_LAYERS, " -> ".join(chain)


def test_imports_point_down_the_tiers(graph):
    assert upward_imports(graph) == []


def test_every_module_has_a_tier():
    for name in MODULES:
        tier_of(name)  # raises KeyError naming a unit no tier lists


def test_registry_is_a_leaf(graph):
    assert graph["frlbench.registry"] == set()
    assert tier_of("frlbench.registry") == 0


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("frlbench.models", "frlbench.runner"),  # backbones never import the runner
        ("frlbench.frl", "frlbench.models"),  # FRL never imports a backbone
        ("frlbench.data", "frlbench.models"),  # data builders never import models
    ],
)
def test_forbidden_directions(graph, importer, forbidden):
    reached = closure(graph, under(importer)) & under(forbidden)
    assert not reached, f"{importer} reaches {sorted(reached)}"


def test_report_knows_nothing_of_torch_models_or_training(graph):
    reached = closure(graph, under("frlbench.report"))
    torch_side = (
        under("frlbench.models")
        | under("frlbench.train")
        | under("frlbench.runner")
        | under("frlbench.data")
        | (under("frlbench.frl") - {"frlbench.frl", "frlbench.frl.variants"})
        | (
            under("frlbench.evaluation")
            - {"frlbench.evaluation", "frlbench.evaluation.audit_result"}
        )
    )
    assert not reached & torch_side, sorted(reached & torch_side)


def test_layer_tools_detect_what_they_measure():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"]]
    assert longest_chain({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"c"}}) == ["a", "b", "c"]
    # a cycle counts as one step of a chain
    assert len(longest_chain({"a": {"b"}, "b": {"a", "c"}, "c": set()})) == 2
    assert TIERS[0][0] == "core"
