"""The packages' layers point down only: mlp_sweep -> analysis -> sweep, and no module imports itself
back through another. Read from the source, function-level imports included."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

LAYERS = ("sweep", "analysis", "mlp_sweep")  # each may import those before it, never those after


def _imports() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (`from sweep import data` counts as sweep.data)."""
    modules = {}
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
                elif isinstance(node, ast.Import):
                    found |= {alias.name for alias in node.names}
            modules[name] = found
    return {name: {m for m in found if m in modules and m != name and m not in LAYERS}
            for name, found in modules.items()}


def test_no_package_imports_a_layer_above_it() -> None:
    upward = [(name, dep) for name, deps in _imports().items() for dep in deps
              if LAYERS.index(dep.split(".")[0]) > LAYERS.index(name.split(".")[0])]
    assert upward == []


def test_no_import_cycles() -> None:
    graph, cycles, state = _imports(), [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_reader_sees_every_module() -> None:
    """The test above would pass vacuously if it read nothing."""
    graph = _imports()
    assert {"sweep.runner", "sweep.folder", "analysis.report", "mlp_sweep.cli"} <= set(graph)
    assert "sweep.folder" in graph["analysis.results"] and "analysis.report" in graph["mlp_sweep.cli"]
