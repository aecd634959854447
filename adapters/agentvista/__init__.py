"""The `agentvista` adapter: AgentVista as OTLP spans. The entry point
`spanhouse.adapters.agentvista:PLUGIN` names it."""

from __future__ import annotations

from spanhouse.adapters.agentvista.plugin import PLUGIN

__all__ = ["PLUGIN"]
