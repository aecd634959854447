"""Receivers are separate components: the adapter receiver serves OTLP under a vendor's path
through the shared library (collector.server.otlp_http), not through the otlp receiver's modules,
and the otlp receiver imports nothing of the adapter receiver."""

from __future__ import annotations

from pathlib import Path

from tests.support.imports import imported_modules

RECEIVERS = Path(__file__).resolve().parents[2] / "collector" / "receivers"
ADAPTER_RECEIVER = ("adapter/receiver.py", "adapter/config.py", "adapter/state_store.py")


def test_the_adapter_receiver_imports_no_module_of_the_otlp_receiver() -> None:
    for name in ADAPTER_RECEIVER:
        otlp_receiver = {module for module in imported_modules(RECEIVERS / name)
                         if module.startswith("collector.receivers.otlp")}
        assert otlp_receiver == set()
    assert "collector.server.otlp_http" in imported_modules(RECEIVERS / "adapter" / "receiver.py")


def test_the_otlp_receiver_imports_nothing_of_the_adapter_receiver() -> None:
    for path in (RECEIVERS / "otlp").glob("*.py"):
        others = {module for module in imported_modules(path) if module.startswith("collector.receivers.")
                  and not module.startswith("collector.receivers.otlp")}
        assert others == set()
