"""The import graph points down only: wire formats, core, shared libraries, components, shell
(docs/architecture.md). An import that points up, reaches into another component, or closes a
circle fails here with the module and the line that does it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[1]
PACKAGES: Final = ("proto", "collector", "exporters", "adapters")
NAMESPACE: Final = "spanhouse."

WIRE, CORE, SHARED, COMPONENT, SHELL = range(5)
LAYER_NAMES: Final = ("wire format", "core", "shared library", "component", "shell")

# Longest prefix wins; anything of ours not listed here is the shell.
LAYERS: Final = {
    "proto": WIRE,
    "collector.core": CORE,
    "collector.auth": SHARED,
    "collector.server": SHARED,
    "collector.read": SHARED,
    "collector.governance": SHARED,
    "exporters.queue": SHARED,
    "adapters.common": SHARED,
    "collector.receivers": COMPONENT,
    "collector.processors": COMPONENT,
    "collector.extensions": COMPONENT,
    "exporters": COMPONENT,
    "adapters": COMPONENT,
}


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    target: str
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")}


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        # Installed, every folder is `spanhouse.<folder>`; the graph is drawn by folder.
        if isinstance(node, ast.Import):
            names = [alias.name.removeprefix(NAMESPACE) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module.removeprefix(NAMESPACE)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES and name != module:
                yield Import(module, name, node.lineno)


def layer_of(module: str) -> int:
    matches = [prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return LAYERS[max(matches, key=len)] if matches else SHELL


def component_of(module: str) -> str:
    """The package a component is: `adapters.dynamiq`, `exporters.clickhouse`,
    `collector.receivers.otlp`; a single-module component is its own module."""
    parts = module.split(".")
    depth = 3 if parts[0] == "collector" else 2
    return ".".join(parts[:depth])


def refusal(edge: Import) -> str | None:
    source, target = layer_of(edge.module), layer_of(edge.target)
    if target > source:
        return f"a {LAYER_NAMES[source]} imports a {LAYER_NAMES[target]}"
    if source == target == COMPONENT and component_of(edge.module) != component_of(edge.target):
        return "a component imports another component's module"
    return None


def test_imports_point_down_only() -> None:
    known = our_modules()
    wrong = sorted({f"{known[edge.module].relative_to(REPO)}:{edge.line}: {edge.module} imports {edge.target}: "
                    f"{reason}" for module, path in known.items() for edge in imports(module, path, known)
                    if (reason := refusal(edge)) is not None})
    assert wrong == [], "\n".join(wrong)


def test_no_import_closes_a_circle() -> None:
    known = our_modules()
    graph = {module: sorted({edge.target for edge in imports(module, path, known) if edge.target in known})
             for module, path in known.items()}
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in graph[module]:
            if state.get(target) == 1:
                circles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert circles == [], "\n".join(" -> ".join(circle) for circle in circles)
