"""`spanhouse sql`: a read-only query on the database of a config's `clickhouse` exporter,
through the running collector when it holds the embedded path, directly otherwise."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from collector.config.model import ServiceConfig
from collector.core.component import CreateSettings
from collector.core.metrics import Metrics
from collector.sql import QueryResult, query_running_collector, socket_path_for
from exporters.clickhouse.exporter import ClickHouseExporter


class _CommandHost:
    telemetry: Metrics | None = None
    http_servers: Any = None

    def report_fatal_error(self, error: BaseException) -> None:
        raise error


def run_read_only_query(config: ServiceConfig, query: str, exporter_id: str | None = None) -> QueryResult:
    candidates = {key: value for key, value in config.exporters.items() if value.type == "clickhouse"}
    if exporter_id is not None:
        if exporter_id not in candidates:
            raise ValueError(f'no clickhouse exporter "{exporter_id}" in {config.path} '
                             f"(configured: {', '.join(candidates) or 'none'})")
        component = candidates[exporter_id]
    elif candidates:
        component = next(iter(candidates.values()))
    else:
        raise ValueError(f"{config.path} configures no clickhouse exporter")
    # Only read: never create the schema from this command.
    exporter_config = dataclasses.replace(component.config, create_schema=False)
    exporter = ClickHouseExporter(CreateSettings(component.id, config.config_dir), exporter_config)
    if exporter_config.is_embedded:
        answered = query_running_collector(socket_path_for(exporter.embedded_path), query)
        if answered is not None:
            return answered
    return asyncio.run(_query_directly(exporter, query))


async def _query_directly(exporter: ClickHouseExporter, query: str) -> QueryResult:
    await exporter.start(_CommandHost())
    try:
        if not exporter.connected:
            raise ConnectionError(f"ClickHouse at {exporter.endpoint} is not reachable")
        columns, rows = await asyncio.to_thread(exporter.query, query)
        return columns, list(rows)
    finally:
        await exporter.shutdown()
