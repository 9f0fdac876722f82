"""The layer rules of docs/architecture.md: what may import what, and no import cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "pipeline", "benchmarks")
#: package -> the first-party packages it must not import (at any depth, even lazily)
FORBIDDEN = {
    "envs": {"agents", "pipeline", "benchmarks", "train", "evaluate"},
    "agents": {"benchmarks", "train", "evaluate"},
    "pipeline": {"benchmarks", "train", "evaluate"},
}
#: the one upward import: load_actor rebuilds an SB3/RLlib run's env and model from the run's
#: config, inside the function that needs it
LAZY_UPWARD = {("agents.loading", "pipeline")}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    for script in ("train", "evaluate"):
        out[script] = ROOT / f"{script}.py"
    return out


def _imports(tree: ast.Module, top_level_only: bool) -> Iterator[str]:
    """First-party modules imported by ``tree``; ``top_level_only`` skips imports inside
    functions and ``if TYPE_CHECKING:`` blocks (they do not run at import time)."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if top_level_only and isinstance(node, ast.If | ast.Try):
            test = getattr(node, "test", None)
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                continue
            yield from _imports(ast.Module(body=node.body, type_ignores=[]), True)
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


MODULES = _modules()
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


@pytest.mark.parametrize("pkg", sorted(FORBIDDEN))
def test_layers(pkg: str) -> None:
    bad = []
    for name, tree in TREES.items():
        if name.split(".")[0] != pkg:
            continue
        for dep in _imports(tree, top_level_only=False):
            top = dep.split(".")[0]
            if top in FORBIDDEN[pkg] or (top == "pipeline" and pkg == "agents"):
                if (name, top) in LAZY_UPWARD and dep not in set(_imports(tree, True)):
                    continue
                bad.append(f"{name} imports {dep}")
    assert not bad, "layer rule broken (docs/architecture.md):\n" + "\n".join(sorted(set(bad)))


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for name, tree in TREES.items():
        deps = set()
        for dep in _imports(tree, top_level_only=True):
            while dep and dep not in MODULES:  # `from a.b import c`: c may be a name, not a module
                dep = dep.rpartition(".")[0]
            if dep and dep != name:
                deps.add(dep)
        graph[name] = deps
    # Tarjan's strongly connected components; a package importing its own submodules from
    # __init__ and a submodule importing the package's leaf modules are not cycles unless
    # the submodule imports the package itself.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"
