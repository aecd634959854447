"""spanhouse: an OpenTelemetry-compatible trace collector that writes to ClickHouse."""

from __future__ import annotations

__version__ = "0.1.0"
