"""The test support holds one Host double and one clock double (tests/support/doubles.py):
no other test module writes its own stand-in for the running service or a manual clock."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

TESTS: Final = Path(__file__).resolve().parents[1]
DOUBLES: Final = TESTS / "support" / "doubles.py"


def _classes_with(method: str) -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(item, ast.FunctionDef) and item.name == method for item in node.body):
                found.append(f"{path.relative_to(TESTS)}::{node.name}")
    return found


def test_one_host_double() -> None:
    # A Host is what answers report_fatal_error (collector.core.component.Host).
    assert _classes_with("report_fatal_error") == ["support/doubles.py::StubHost"]


def test_one_manual_clock() -> None:
    # A clock double is a class whose instances are called for the time and hold a settable `now`.
    clocks = [name for name in _classes_with("__call__") if "Clock" in name]
    assert clocks == ["support/doubles.py::ManualClock"]
