"""The adapter packages' imports: no circle among their modules (lazy imports inside functions
count too), and a vendor's package imports no other vendor's, only its own and adapters.common."""

from __future__ import annotations

import ast
from pathlib import Path

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"


def module_name(path: Path) -> str:
    parts = path.relative_to(ADAPTERS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in ADAPTERS.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name.removeprefix("spanhouse.") for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = node.module.removeprefix("spanhouse.")  # installed as spanhouse.<folder>: compared by folder
                targets = [module, *(f"{module}.{alias.name}" for alias in node.names)]
            graph[name].update(target for target in targets if target in modules and target != name)
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of imports, or []: depth-first, a module met again on the current path closes one."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path = [start], {start}
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = todo.pop()
            if nxt in on_path:
                return [*path[path.index(nxt):], nxt]
            if nxt not in done:
                stack.append((nxt, sorted(graph[nxt])))
                path.append(nxt)
                on_path.add(nxt)
    return []


def test_no_import_circle_among_adapter_modules() -> None:
    assert find_circle(import_graph()) == []


def test_the_circle_finder_finds_one() -> None:
    circle = find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert circle[0] == circle[-1] and set(circle) == {"a", "b", "c"}
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_a_vendor_package_imports_no_other_vendor() -> None:
    wrong = []
    for name, targets in import_graph().items():
        parts = name.split(".")
        if len(parts) < 2:
            continue
        own = parts[1]
        wrong += [f"{name} -> {target}" for target in targets
                  if target.split(".")[1] not in (own, "common") and target != "adapters"]
    assert wrong == []


# The plugin contract and the core's data types (pipeline data, config value types, the storage
# interface and its table names, agent ids): what an adapter may take from the core.
CORE_FOR_ADAPTERS = frozenset({"collector.core.adapter_api", "collector.core.component", "collector.core.config.types",
                               "collector.core.storage", "collector.core.agents"})


def test_adapters_take_from_the_core_only_the_contract_and_its_types() -> None:
    taken: dict[str, set[str]] = {}
    for path in ADAPTERS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module.removeprefix("spanhouse.") if isinstance(node, ast.ImportFrom) and node.module else ""
            if module.startswith("collector.core"):
                taken.setdefault(module, set()).add(module_name(path))
    assert {module: users for module, users in taken.items() if module not in CORE_FOR_ADAPTERS} == {}
