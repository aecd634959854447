"""The `dynamiq` adapter: Dynamiq as OTLP spans. The entry point `spanhouse.adapters.dynamiq:PLUGIN` names it."""

from __future__ import annotations

from spanhouse.adapters.dynamiq.plugin import PLUGIN

__all__ = ["PLUGIN"]
