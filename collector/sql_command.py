"""`spanhouse sql` in the shell: a read-only query on the database of a config's `clickhouse`
exporter, through the running collector when it holds the embedded path, directly otherwise;
and the sockets a running collector answers those queries on."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from spanhouse.collector.config.model import ServiceConfig
from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.core.metrics import Metrics
from spanhouse.collector.core.storage import NoStorageError, StorageClient, StorageProvider, choose_storage
from spanhouse.collector.sql import (
    QueryResult,
    QueryServer,
    SocketSecurityError,
    query_running_collector,
    socket_path_for,
)
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter
from spanhouse.exporters.clickhouse.store import ClickHouseStore

logger = logging.getLogger(__name__)


class _CommandHost:
    """The host of the one exporter the command starts: no listeners, no self-metrics."""

    telemetry: Metrics | None = None
    http_servers: Any = None

    def __init__(self, exporter: ClickHouseExporter) -> None:
        self._providers: dict[str, StorageProvider] = {"command": exporter}

    def report_fatal_error(self, error: BaseException) -> None:
        raise error

    def storage(self, name: str | None = None) -> StorageClient:
        return choose_storage(self._providers, name)


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
    host = _CommandHost(exporter)
    await exporter.start(host)
    try:
        if not exporter.connected:
            raise ConnectionError(f"ClickHouse at {exporter.endpoint} is not reachable")
        columns, rows = await asyncio.to_thread(host.storage().query, query)
        return columns, list(rows)
    finally:
        await exporter.shutdown()


class QuerySockets:
    """A running collector's answers to `spanhouse sql`: one socket per embedded engine it holds
    (only this process can open that path now), each querying through the exporter's store."""

    def __init__(self) -> None:
        self._servers: list[QueryServer] = []

    async def start(self, providers: Mapping[str, StorageProvider]) -> None:
        for exporter_id, provider in providers.items():
            try:
                store = provider.storage_client()
            except NoStorageError:
                continue
            if not isinstance(store, ClickHouseStore) or store.embedded_path is None:
                continue
            server = QueryServer(socket_path_for(store.embedded_path), store.query)
            try:
                await server.start()
            except SocketSecurityError as error:  # spans still flow; the command says why it cannot ask
                logger.error("exporter %s: `spanhouse sql` cannot reach this collector: %s", exporter_id, error)
                continue
            self._servers.append(server)

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            await server.stop()
