"""Factory of the `clickhouse` exporter."""

from __future__ import annotations

from typing import Final

from collector.component import Factory, Kind
from exporters.clickhouse.config import ClickHouseConfig, resolve_endpoint
from exporters.clickhouse.exporter import ClickHouseExporter

__all__ = ["FACTORY", "resolve_endpoint"]

FACTORY: Final = Factory(
    type="clickhouse",
    kind=Kind.EXPORTER,
    config_class=ClickHouseConfig,
    create=lambda settings, config: ClickHouseExporter(settings, config),
    description="Writes spans to ClickHouse (embedded chdb or a server) in the OpenTelemetry "
                "Collector contrib exporter's table layout.",
)
