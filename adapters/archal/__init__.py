"""The `archal` adapter: Archal as OTLP spans. The entry point `adapters.archal:PLUGIN` names it."""

from __future__ import annotations

from adapters.archal.plugin import PLUGIN

__all__ = ["PLUGIN"]
