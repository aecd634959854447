"""The `agentvista` adapter: AgentVista as OTLP spans. The entry point `adapters.agentvista:PLUGIN` names it."""

from __future__ import annotations

from adapters.agentvista.plugin import PLUGIN

__all__ = ["PLUGIN"]
