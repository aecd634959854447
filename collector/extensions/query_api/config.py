"""Configuration of the `query_api` extension: where the read API and the trace viewer listen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final

from spanhouse.collector.core.config.types import ADDRESS
from spanhouse.collector.server.limits import ListenerLimits

# Jaeger's query port, where people look for a trace UI.
DEFAULT_ENDPOINT: Final = "127.0.0.1:16686"


@dataclass(frozen=True, slots=True)
class QueryApiConfig:
    endpoint: Annotated[str, ADDRESS] = field(default=DEFAULT_ENDPOINT, metadata={
        "description": "host:port of the read API (JSON under /api/) and the trace viewer (/)."})
    viewer: bool = field(default=True, metadata={
        "description": "Serve the trace viewer at / (the JSON API is served either way)."})
    limits: ListenerLimits = field(default_factory=ListenerLimits, metadata={
        "description": "Connection limits of the listener (docs/security.md)."})

    def validate(self) -> list[tuple[str, str]]:
        return [(f"limits.{key}", message) for key, message in self.limits.validate()]
