"""The `dynamiq` adapter: Dynamiq as OTLP spans. The entry point `adapters.dynamiq:PLUGIN` names it."""

from __future__ import annotations

from adapters.dynamiq.plugin import PLUGIN

__all__ = ["PLUGIN"]
