"""The `clickhouse` exporter's storage client (collector.core.storage.StorageClient): reads and
side-table writes on the exporter's connection, for the query API, the vendor read routes and
`spanhouse sql`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from spanhouse.collector.core.storage import QueryResult
from spanhouse.exporters.clickhouse.read_only import readonly_refusal, readonly_statement


@dataclass(slots=True)
class Connection:
    client: Client
    server_version: str
    insert_settings: dict[str, Any]
    read_settings: dict[str, Any]


class ClientLock:
    """Serialises calls on the embedded engine's one client, which inserts share with reads from
    other threads; a server's client needs no lock."""

    def __init__(self, embedded: bool) -> None:
        self._lock = threading.Lock() if embedded else None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self._lock is None:
            yield
            return
        with self._lock:
            yield


class ClickHouseStore:
    """The database of one exporter, through whatever connection it holds now (it reconnects in
    the background while a server is away: calls raise ConnectionError meanwhile)."""

    def __init__(self, database: str, traces_table: str, connection: Callable[[], Connection | None],
                 unavailable_reason: Callable[[], str], lock: ClientLock, embedded_path: Path | None) -> None:
        self._database = database
        self._traces_table = traces_table
        self._connection = connection
        self._unavailable_reason = unavailable_reason
        self._lock = lock
        # The embedded engine's data directory, which only this process can open (`spanhouse
        # sql` asks the collector on a socket beside it); None for a server.
        self.embedded_path = embedded_path

    @property
    def database(self) -> str:
        return self._database

    @property
    def traces_table(self) -> str:
        return self._traces_table

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None,
              readonly: bool = True) -> QueryResult:
        """With `readonly`, the text must be one reading statement (parsed by ClickHouse, see
        read_only.py), and it runs as ClickHouse formatted it, with the server setting
        readonly=1, which also refuses table functions that touch files or URLs and a SETTINGS
        clause in `sql`. A statement is checked before it runs because, on the embedded engine,
        the SETTINGS clause clickhouse-connect adds reaches only the last of several statements,
        and the results of the others stay queued on the handle for the next call."""
        connection = self._current()
        settings = dict(connection.read_settings)
        with self._lock.held():
            if readonly:
                sql = readonly_statement(connection.client, sql)
                settings["readonly"] = 1  # last: after it, no setting could change
            try:
                result = connection.client.query(sql, parameters=_dict(parameters), settings=settings)
            except Exception as error:
                refusal = readonly_refusal(error) if readonly else None
                if refusal is not None:
                    raise refusal from None
                raise
        return list(result.column_names), [tuple(row) for row in result.result_rows]

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        connection = self._current()
        with self._lock.held():
            return connection.client.command(sql, parameters=_dict(parameters))

    def insert_rows(self, table: str, column_names: Sequence[str], columns: Sequence[Sequence[Any]],
                    settings: Mapping[str, Any] | None = None) -> None:
        connection = self._current()
        with self._lock.held():
            connection.client.insert(table, columns, column_names=list(column_names), database=self._database,
                                     column_oriented=True, settings=_dict(settings))

    def _current(self) -> Connection:
        connection = self._connection()
        if connection is None:
            raise ConnectionError(self._unavailable_reason())
        return connection


def _dict(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else dict(values)
