"""What a source file imports, named by repository folder (installed, `collector` is
`spanhouse.collector`): for the tests that check which part may import which."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

NAMESPACE: Final = "spanhouse."


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.removeprefix(NAMESPACE))
        elif isinstance(node, ast.Import):
            names.update(alias.name.removeprefix(NAMESPACE) for alias in node.names)
    return names
