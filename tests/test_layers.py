"""The code's layers, read from its imports (every ``import``, at module level or in a function).

``harness.core`` (numpy) sits below ``harness.tracking`` (MLflow), which sits below
``harness.cli`` (Hydra); ``analysis`` reads runs and sits below ``experiments``, which runs
studies. A module imports only from its own layer and those below it, and no set of modules
imports each other in a ring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "analysis", "experiments", "hydra_plugins")

#: What each layer may not import: the layers above it and the libraries it must do without.
FORBIDDEN = {
    "harness.core": ("harness.tracking", "harness.cli", "analysis", "experiments")
    + ("hydra_plugins", "hydra", "omegaconf", "mlflow"),
    "harness.tracking": ("harness.cli", "analysis", "experiments", "hydra_plugins")
    + ("hydra", "omegaconf"),
    "harness.cli": ("analysis", "experiments"),
    "analysis": ("experiments", "harness.cli"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    return imports_in(path.read_text(encoding="utf-8"), module_name(path).rsplit(".", 1)[0])


def imports_in(source: str, package: str) -> set[str]:
    """Every module ``source`` imports, as written (``from a.b import c`` gives ``a.b`` and
    ``a.b.c``: ``c`` may be a module); a relative import is read from ``package``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def first_party_graph() -> dict[str, set[str]]:
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    modules = {module_name(p): p for p in files}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in imports_of(path) if m in modules and m != name}
    return graph


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


GRAPH = first_party_graph()
ALL_IMPORTS = {
    module_name(p): imports_of(p) for package in PACKAGES for p in (ROOT / package).rglob("*.py")
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer):
    offending = sorted(
        f"{module} imports {name}"
        for module, names in ALL_IMPORTS.items()
        if within(module, layer)
        for name in names
        for banned in FORBIDDEN[layer]
        if within(name, banned)
    )
    assert not offending, "\n".join(offending)


def rings(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` re-exporting its modules is not a ring with them: edges from a
    package to its own submodules are left out."""
    return {m: {n for n in deps if not within(n, m)} for m, deps in graph.items()}


def test_no_modules_import_each_other_in_a_ring():
    assert rings(without_packages(GRAPH)) == []


def test_the_ring_finder_finds_a_ring():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert rings(graph) == [["a", "b", "c"]]


def test_the_layer_check_sees_imports_inside_functions_and_relative_ones():
    source = "def f():\n    from harness.cli.app import to_config\nfrom . import sink\n"
    found = imports_in(source, "harness.tracking")
    assert {"harness.cli.app", "harness.tracking.sink"} <= found


def test_the_public_optimizer_names_still_import():
    import harness.optim as public
    from harness.core import optim as core

    assert public.__all__ == core.__all__
    assert all(getattr(public, name) is getattr(core, name) for name in core.__all__)
