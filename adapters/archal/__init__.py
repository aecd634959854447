"""The `archal` adapter: Archal as OTLP spans. The entry point `spanhouse.adapters.archal:PLUGIN` names it."""

from __future__ import annotations

from spanhouse.adapters.archal.plugin import PLUGIN

__all__ = ["PLUGIN"]
