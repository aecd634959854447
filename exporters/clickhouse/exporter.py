"""The `clickhouse` exporter: spans into the contrib exporter's tables, embedded (chdb) or on
a server over HTTP(S). One Native insert per consume call, converted by `Converter` (worker
processes by default) and sent as raw bytes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from spanhouse.collector.core.component import CreateSettings, Host, Traces, span_count
from spanhouse.collector.core.errors import PipelineError, RetryableError
from spanhouse.collector.core.metrics import Counter, exporter_sent_spans
from spanhouse.collector.core.storage import NoStorageError, StorageProvider
from spanhouse.exporters.clickhouse.columns import COLUMN_NAMES
from spanhouse.exporters.clickhouse.config import EMBEDDED_PREFIX, ClickHouseConfig, resolve_endpoint
from spanhouse.exporters.clickhouse.conversion import Converter
from spanhouse.exporters.clickhouse.errors import classify_insert_error, is_connection_failure
from spanhouse.exporters.clickhouse.faults import FaultInjector
from spanhouse.exporters.clickhouse.native import NativeInsert
from spanhouse.exporters.clickhouse.read_only import read_settings
from spanhouse.exporters.clickhouse.schema import TEXT_INDEX_SETTINGS, schema_statements, supports_text_index
from spanhouse.exporters.clickhouse.store import ClickHouseStore, ClientLock, Connection

logger = logging.getLogger(__name__)

RECONNECT_INITIAL_DELAY_S: Final = 1.0
RECONNECT_MAX_DELAY_S: Final = 30.0
# chdb's message when another engine directory is already open in this process.
EMBEDDED_PATH_TAKEN: Final = "EmbeddedServer already initialized"
# Skip indexes built by merges rather than by every insert (which a merge then rebuilds anyway).
DEFER_INDEX_SETTING: Final = "materialize_skip_indexes_on_insert"


class ClickHouseStartError(RuntimeError):
    """The exporter cannot work with this config (the engine or server refused it)."""


class ClickHouseExporter(StorageProvider):
    def __init__(self, settings: CreateSettings, config: ClickHouseConfig) -> None:
        self._component_id = settings.component_id
        self._config = config
        self._endpoint = resolve_endpoint(config, settings.config_dir)
        self._connection: Connection | None = None
        self._last_connect_error: BaseException | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._host: Host | None = None
        self._shut_down = False
        # Inserts wait their turn without holding a thread; the client lock guards the
        # embedded engine's client against the store's calls from other threads.
        self._insert_lock = asyncio.Lock()
        self._client_lock = ClientLock(config.is_embedded)
        self._store: ClickHouseStore | None = None
        self._sent_spans: Counter | None = None
        self._failed_spans: Counter | None = None
        self._logged_failures: set[str] = set()
        self._faults = FaultInjector.from_environment()
        self._converter = Converter(
            config.conversion_workers,
            None if config.is_embedded or config.compress == "none" else config.compress)
        self._table = f"{config.database}.{config.traces_table_name}"

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def server_version(self) -> str | None:
        return self._connection.server_version if self._connection else None

    # ---- lifecycle ----------------------------------------------------------------

    async def start(self, host: Host) -> None:
        if self._shut_down:
            raise ClickHouseStartError(f"exporter {self._component_id} was shut down; create a new one")
        if self._connection is not None or self._reconnect_task is not None:
            return  # already started
        self._host = host
        self._store = ClickHouseStore(
            self._config.database, self._config.traces_table_name, lambda: self._connection,
            self._unavailable_reason, self._client_lock, self.embedded_path if self._config.is_embedded else None)
        telemetry = getattr(host, "telemetry", None)
        if telemetry is not None:
            self._sent_spans = exporter_sent_spans(telemetry, self._component_id)
            self._failed_spans = telemetry.counter(
                "otelcol_exporter_send_failed_spans", "Spans the exporter failed to send",
                exporter=self._component_id)
        await self._converter.start()
        try:
            self._connection = await asyncio.to_thread(self._connect)
        except Exception as error:
            # The embedded engine has no "not up yet": a failure there is the config's. The
            # Go exporter also fails to start when a server is down, a known complaint; here
            # the collector starts and answers "retry later" until the server is back.
            if self._config.is_embedded or not is_connection_failure(error):
                await self._converter.close()
                hint = ""
                if self._config.is_embedded and EMBEDDED_PATH_TAKEN in str(error):
                    hint = (" (a process can open one embedded engine directory: give every "
                            "clickhouse exporter the same chdb:// endpoint)")
                raise ClickHouseStartError(
                    f"exporter {self._component_id}: cannot use ClickHouse at {self._endpoint}: "
                    f"{error}{hint}") from error
            self._last_connect_error = error
            logger.warning("exporter %s: ClickHouse at %s is unreachable (%s); refusing spans as "
                           "retryable and reconnecting in the background",
                           self._component_id, self._endpoint, error)
            self._reconnect_task = asyncio.create_task(
                self._reconnect(), name=f"{self._component_id} reconnect")

    def storage_client(self) -> ClickHouseStore:
        """Reads and side-table writes on this exporter's database, from `start` on."""
        if self._store is None:
            raise NoStorageError(f"exporter {self._component_id} is not started")
        return self._store

    @property
    def embedded_path(self) -> Path:
        return Path(self._endpoint.removeprefix(EMBEDDED_PREFIX))

    async def shutdown(self) -> None:
        self._shut_down = True
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._insert_lock:  # let an insert in flight finish
            connection, self._connection = self._connection, None
        if connection is not None:
            await asyncio.to_thread(self._close_client, connection.client)
        await self._converter.close()

    async def _reconnect(self) -> None:
        delay = RECONNECT_INITIAL_DELAY_S
        while not self._shut_down:
            await asyncio.sleep(delay)
            attempt = asyncio.ensure_future(asyncio.to_thread(self._connect))
            try:
                # Shielded: the thread runs on when shutdown cancels this task, and a client
                # it opens after all must still be closed.
                connection = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                attempt.add_done_callback(self._close_abandoned)
                raise
            except Exception as error:
                self._last_connect_error = error
                if not is_connection_failure(error):
                    logger.error("exporter %s: ClickHouse at %s refused the connection: %s",
                                 self._component_id, self._endpoint, error)
                    if self._host is not None:
                        self._host.report_fatal_error(error)
                    return
                logger.debug("exporter %s: still cannot reach %s: %s",
                             self._component_id, self._endpoint, error)
                delay = min(delay * 2, RECONNECT_MAX_DELAY_S)
                continue
            if self._shut_down:
                self._close_client(connection.client)
                return
            self._connection = connection
            logger.info("exporter %s: connected to ClickHouse %s at %s",
                        self._component_id, connection.server_version, self._endpoint)
            return

    # ---- the pipeline ---------------------------------------------------------------

    async def consume(self, traces: Traces) -> None:
        spans = span_count(traces)
        if spans:
            await self.export_encoded(traces.SerializeToString(), spans, None)

    async def export_encoded(self, payload: bytes, spans: int, dedup_token: str | None) -> None:
        """One insert of `payload` (serialized export requests, as the queue keeps them) holding
        `spans` spans. With `dedup_token`, a repeat of the same insert (the same batch re-sent
        after an unknown outcome) is dropped by ClickHouse instead of stored twice."""
        if self._connection is None:  # no conversion work while ClickHouse is away
            raise self._failed(RetryableError(self._unavailable_reason()), spans, self._last_connect_error)
        try:
            # Outside the insert lock: the next batch converts while this one is inserted.
            rows = await self._converter.encode(payload)
        except PipelineError as error:
            raise self._failed(error, spans) from error
        if not rows.span_count:
            return
        async with self._insert_lock:
            connection = self._connection
            if connection is None:
                raise self._failed(RetryableError(self._unavailable_reason()), spans, self._last_connect_error)
            try:
                await asyncio.to_thread(self._insert, connection, rows, dedup_token)
            except Exception as error:
                raise self._failed(classify_insert_error(error), spans, error) from error
        if self._sent_spans is not None:
            self._sent_spans.add(rows.span_count)

    def _failed(self, error: PipelineError, span_count: int,
                cause: BaseException | None = None) -> PipelineError:
        if self._failed_spans is not None:
            self._failed_spans.add(span_count)
        # Logged once per kind of failure (class and ClickHouse code), then only counted.
        origin = cause if cause is not None else error
        kind = f"{type(error).__name__}:{type(origin).__name__}:{getattr(origin, 'code', None)}"
        if kind not in self._logged_failures:
            self._logged_failures.add(kind)
            logger.warning("exporter %s: %d spans not stored: %s", self._component_id, span_count, error)
        return error

    def _unavailable_reason(self) -> str:
        if self._shut_down:
            return f"exporter {self._component_id} is shut down"
        if self._last_connect_error is not None:
            return f"ClickHouse at {self._endpoint} is not reachable yet: {self._last_connect_error}"
        return f"exporter {self._component_id} is not started"

    # ---- blocking work, run in threads ------------------------------------------------

    def _insert(self, connection: Connection, rows: NativeInsert, dedup_token: str | None) -> None:
        settings = dict(connection.insert_settings)
        if dedup_token is None:
            # The tables keep a deduplication window for the queue's re-sends, and within it
            # ClickHouse drops a block whose content repeats an earlier one (insert_deduplicate=0
            # does not stop that on a non-replicated table): a fresh token keeps every insert.
            settings["insert_deduplication_token"] = uuid.uuid4().hex
        else:
            settings.update(insert_deduplication_token=dedup_token,
                            deduplicate_blocks_in_dependent_materialized_views=1)
            # Deduplication of async inserts works per buffered flush, not per token: a batch
            # with a token is inserted synchronously.
            settings["async_insert"] = 0
        if self._faults.active:
            self._faults.before_insert(self._config.timeout)
        with self._client_lock.held():
            connection.client.raw_insert(self._table, COLUMN_NAMES, rows.data, settings=settings, fmt="Native",
                                         compression=rows.compression)
        if self._faults.active:
            self._faults.after_insert()

    def _connect(self) -> Connection:
        client = self._open_client()
        try:
            version = str(client.server_version)
            if self._config.create_schema:
                self._create_schema(client, version)
            settings = self._insert_settings(client)
            reads = read_settings(client)
        except BaseException:
            self._close_client(client)
            raise
        logger.debug("exporter %s: ClickHouse %s at %s ready", self._component_id, version, self._endpoint)
        return Connection(client, version, settings, reads)

    def _open_client(self) -> Client:
        if self._config.is_embedded:
            # One embedded engine directory per process: opening a second one raises, and
            # the client must be closed before another directory can be opened.
            return clickhouse_connect.get_client(dsn=self._endpoint)
        url = urlsplit(self._endpoint)
        secure = url.scheme == "https"
        timeout_s = max(1, math.ceil(self._config.timeout))
        return clickhouse_connect.get_client(
            host=url.hostname, port=url.port or (8443 if secure else 8123), secure=secure,
            username=self._config.username, password=self._config.password,
            compress=False if self._config.compress == "none" else self._config.compress,
            connect_timeout=timeout_s, send_receive_timeout=timeout_s,
            # A session would make the server refuse a `query` running beside an insert.
            autogenerate_session_id=False)

    def _insert_settings(self, client: Client) -> dict[str, Any]:
        settings: dict[str, Any]
        if self._config.is_embedded or not self._config.async_insert:
            # The embedded engine (26.9 defaults to async_insert=1) inserts synchronously:
            # one writer, batches already formed upstream, and buffering only adds latency.
            settings = {"async_insert": 0}
        else:
            # Waiting for the flush keeps "consume returned" meaning "stored".
            settings = {"async_insert": 1, "wait_for_async_insert": 1}
        if not self._config.materialize_skip_indexes_on_insert:
            known = client.query("SELECT count() FROM system.settings WHERE name = {name:String}",
                                 parameters={"name": DEFER_INDEX_SETTING}).result_rows[0][0]
            if known:  # older servers build them on insert, as they always did
                settings[DEFER_INDEX_SETTING] = 0
        return settings

    def _create_schema(self, client: Client, server_version: str) -> None:
        gating: tuple[str, ...] = ()
        if supports_text_index(server_version):
            names = ", ".join(f"'{name}'" for name in TEXT_INDEX_SETTINGS)
            rows = client.query(f"SELECT name FROM system.settings WHERE name IN ({names}) "
                                f"AND value = '0'").result_rows
            gating = tuple(str(row[0]) for row in rows)
        for statement in schema_statements(self._config, server_version, gating):
            try:
                client.command(statement.sql, settings=dict(statement.settings) or None)
            except Exception as error:
                if is_connection_failure(error):
                    raise
                raise ClickHouseStartError(f"creating {statement.name} failed: {error}") from error

    @classmethod
    def _close_abandoned(cls, attempt: asyncio.Future[Connection]) -> None:
        if not attempt.cancelled() and attempt.exception() is None:
            cls._close_client(attempt.result().client)

    @staticmethod
    def _close_client(client: Client) -> None:
        try:
            client.close()
        except Exception as error:  # closing is best effort; the process may be ending
            logger.debug("closing the ClickHouse client failed: %s", error)
