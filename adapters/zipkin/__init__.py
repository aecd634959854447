"""The `zipkin` adapter: Zipkin v2 JSON as OTLP spans. The entry point `spanhouse.adapters.zipkin:PLUGIN` names it."""

from __future__ import annotations

from spanhouse.adapters.zipkin.plugin import PLUGIN

__all__ = ["PLUGIN"]
