"""Factory of the `clickhouse` exporter."""

from __future__ import annotations

from typing import Any, Final

from spanhouse.collector.core.component import CreateSettings, Factory, Kind
from spanhouse.exporters.clickhouse.config import ClickHouseConfig, resolve_endpoint
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter
from spanhouse.exporters.queue.sending_queue import queued

__all__ = ["FACTORY", "resolve_endpoint"]

def _create(settings: CreateSettings, config: ClickHouseConfig) -> Any:
    return queued(settings, config.sending_queue, config.retry_on_failure, ClickHouseExporter(settings, config))


FACTORY: Final = Factory(
    type="clickhouse",
    kind=Kind.EXPORTER,
    config_class=ClickHouseConfig,
    create=lambda settings, config: _create(settings, config),
    description="Writes spans to ClickHouse (embedded chdb or a server) in the OpenTelemetry "
                "Collector contrib exporter's table layout.",
)
