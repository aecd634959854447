"""The exporter's lifecycle, inserts, error classification and queries on the real engine."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.core.errors import PermanentError, RetryableError
from spanhouse.exporters.clickhouse import exporter as exporter_module
from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseStartError
from spanhouse.exporters.clickhouse.factory import FACTORY, resolve_endpoint
from spanhouse.exporters.queue.config import SendingQueueConfig
from spanhouse.exporters.queue.sending_queue import QueuedExporter

from .conftest import MakeExporter, StubHost
from .otlp_samples import ROUND_TRIP_QUERY, expected_rows, full_request, simple_request

SENT = "otelcol_exporter_sent_spans"
FAILED = "otelcol_exporter_send_failed_spans"


def as_lists(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(list(cell) if isinstance(cell, tuple) else cell for cell in row)


async def test_every_field_round_trips(started: ClickHouseExporter, host: StubHost) -> None:
    await started.consume(full_request())
    names, stored = started.storage_client().query(ROUND_TRIP_QUERY)
    assert len(names) == 23
    expected = expected_rows()
    assert len(stored) == len(expected)
    for row, want in zip(stored, expected, strict=True):
        assert as_lists(row) == want
    assert host.telemetry.value(SENT, exporter="clickhouse") == len(expected)
    assert host.telemetry.value(FAILED, exporter="clickhouse") == 0


def insert_queries(exporter: ClickHouseExporter) -> int:
    result = exporter.storage_client().query("SELECT value FROM system.events WHERE event = 'InsertQuery'")[1]
    return int(result[0][0]) if result else 0


async def test_one_insert_per_consume(started: ClickHouseExporter) -> None:
    before = insert_queries(started)
    for _ in range(3):
        await started.consume(simple_request(50))
    assert insert_queries(started) - before == 3
    assert started.storage_client().query("SELECT count() FROM otel.otel_traces")[1] == [(150,)]


async def test_empty_request_inserts_nothing(started: ClickHouseExporter, host: StubHost) -> None:
    await started.consume(simple_request(0))
    assert started.storage_client().query("SELECT count() FROM otel.otel_traces")[1] == [(0,)]
    assert host.telemetry.value(SENT, exporter="clickhouse") == 0


async def test_bad_data_is_a_permanent_error(started: ClickHouseExporter, host: StubHost) -> None:
    # A table constraint the spans break: the server refuses them (VIOLATED_CONSTRAINT, 469),
    # and sending them again would fail again.
    started.storage_client().query("ALTER TABLE otel.otel_traces ADD CONSTRAINT short_spans CHECK Duration < 1000000",
                  readonly=False)
    slow = simple_request(4)
    for span in slow.resource_spans[0].scope_spans[0].spans:
        span.end_time_unix_nano = span.start_time_unix_nano + 5_000_000
    with pytest.raises(PermanentError, match="code 469"):
        await started.consume(slow)
    assert host.telemetry.value(FAILED, exporter="clickhouse") == 4

    await started.consume(simple_request(2))  # the exporter carries on with good spans
    assert host.telemetry.value(SENT, exporter="clickhouse") == 2


async def test_missing_table_is_retryable(make_exporter: MakeExporter, host: StubHost) -> None:
    # Without create_schema nothing is created; the spans are fine, the schema is missing.
    exporter = make_exporter(create_schema=False)
    await exporter.start(host)
    with pytest.raises(RetryableError, match="code 81"):  # UNKNOWN_DATABASE
        await exporter.consume(simple_request(1))
    exporter.storage_client().query("CREATE DATABASE otel", readonly=False)
    with pytest.raises(RetryableError, match="code 60"):  # UNKNOWN_TABLE
        await exporter.consume(simple_request(1))


async def test_consume_before_start_and_after_shutdown_is_retryable(make_exporter: MakeExporter,
                                                                    host: StubHost) -> None:
    exporter = make_exporter()
    with pytest.raises(RetryableError, match="not started"):
        await exporter.consume(simple_request(1))
    await exporter.start(host)
    await exporter.consume(simple_request(1))
    await exporter.shutdown()
    await exporter.shutdown()
    with pytest.raises(RetryableError, match="shut down"):
        await exporter.consume(simple_request(1))
    with pytest.raises(ConnectionError):
        exporter.storage_client().query("SELECT 1")


async def test_shutdown_before_start_is_safe(make_exporter: MakeExporter) -> None:
    exporter = make_exporter()
    await exporter.shutdown()
    await exporter.shutdown()


async def test_shutdown_closes_the_engine(make_exporter: MakeExporter, host: StubHost,
                                          tmp_path: Path) -> None:
    first = make_exporter(endpoint="chdb://./one")
    await first.start(host)
    await first.shutdown()
    # Only one engine directory per process: opening another works only once the first closed.
    second = make_exporter(endpoint="chdb://./two")
    await second.start(host)
    assert second.connected
    assert (tmp_path / "one").is_dir() and (tmp_path / "two").is_dir()


async def test_invalid_ddl_fails_start_and_releases_the_engine(make_exporter: MakeExporter,
                                                               host: StubHost) -> None:
    # A replicated engine needs Keeper, which the embedded engine has not got.
    broken = make_exporter(endpoint="chdb://./broken", table_engine="ReplicatedMergeTree('/t/x', 'r1')")
    with pytest.raises(ClickHouseStartError, match="creating traces_table failed"):
        await broken.start(host)
    assert not broken.connected
    working = make_exporter(endpoint="chdb://./working")
    await working.start(host)
    assert working.connected


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_server_does_not_fail_start(make_exporter: MakeExporter, host: StubHost) -> None:
    exporter = make_exporter(endpoint=f"http://127.0.0.1:{unused_port()}", timeout=1.0)
    await exporter.start(host)  # the Go exporter fails here; spanhouse starts and waits
    assert not exporter.connected
    with pytest.raises(RetryableError, match="not reachable yet"):
        await exporter.consume(simple_request(3))
    assert host.telemetry.value(FAILED, exporter="clickhouse") == 3
    await exporter.shutdown()  # stops the reconnect loop
    assert host.fatal_errors == []


async def test_reconnects_in_the_background_until_shut_down(make_exporter: MakeExporter, host: StubHost,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporter_module, "RECONNECT_INITIAL_DELAY_S", 0.01)
    monkeypatch.setattr(exporter_module, "RECONNECT_MAX_DELAY_S", 0.02)
    exporter = make_exporter(endpoint=f"http://127.0.0.1:{unused_port()}", timeout=1.0)
    await exporter.start(host)
    first_error = exporter._last_connect_error
    for _ in range(200):  # until a background attempt has failed too
        await asyncio.sleep(0.01)
        if exporter._last_connect_error is not first_error:
            break
    assert exporter._last_connect_error is not first_error
    assert not exporter.connected and host.fatal_errors == []
    await exporter.shutdown()
    assert exporter._reconnect_task is None


async def test_second_embedded_directory_is_refused_with_a_hint(make_exporter: MakeExporter,
                                                                host: StubHost) -> None:
    await make_exporter(endpoint="chdb://./one").start(host)
    other = make_exporter("clickhouse/other", endpoint="chdb://./two")
    with pytest.raises(ClickHouseStartError, match="the same chdb:// endpoint"):
        await other.start(host)


async def test_readonly_query(started: ClickHouseExporter) -> None:
    await started.consume(full_request())
    names, result = started.storage_client().query(
        "SELECT SpanName, Duration FROM otel.otel_traces WHERE ServiceName = {service:String} "
        "ORDER BY SpanName", {"service": "checkout"})
    assert names == ["SpanName", "Duration"]
    assert result == [("a-server", 1_500_000), ("b-client", 0), ("c-internal", 7)]
    assert started.storage_client().query("SHOW TABLES FROM otel")[1] == [
        ("otel_trace_feedback",), ("otel_traces",), ("otel_traces_trace_id_ts",), ("otel_traces_trace_id_ts_mv",)]
    assert started.storage_client().query("  -- count\n(SELECT count() FROM otel.otel_traces)")[1] == [(7,)]


@pytest.mark.parametrize("statement", [
    "INSERT INTO otel.otel_traces (SpanName) VALUES ('x')",
    "WITH 1 AS one INSERT INTO otel.otel_traces (SpanName) VALUES ('x')",
    "DROP TABLE otel.otel_traces",
    "ALTER TABLE otel.otel_traces DELETE WHERE 1",
    "SET readonly = 0",
    "CREATE TABLE otel.t (a Int8) ENGINE = Memory",
])
async def test_readonly_query_refuses_writes(started: ClickHouseExporter, statement: str) -> None:
    with pytest.raises(PermissionError, match="read-only"):
        started.storage_client().query(statement)
    # Refused before reaching the engine: its session is not left read-only.
    await started.consume(simple_request(1))
    assert started.storage_client().query("SELECT count() FROM otel.otel_traces")[1] == [(1,)]


async def test_readonly_is_enforced_by_the_server_too(started: ClickHouseExporter) -> None:
    # A SETTINGS clause passes the statement check; readonly=1 refuses it.
    with pytest.raises(PermissionError, match=r"readonly"):
        started.storage_client().query("SELECT 1 SETTINGS readonly = 0")
    # Table functions that read files are refused by the statement check before that.
    with pytest.raises(PermissionError, match=r"file\(\) reaches outside"):
        started.storage_client().query("SELECT * FROM file('/etc/hostname', 'LineAsString')")
    await started.consume(simple_request(1))


def test_resolve_endpoint(tmp_path: Path) -> None:
    assert resolve_endpoint(ClickHouseConfig(), tmp_path) == f"chdb://{tmp_path.resolve()}/data/clickhouse"
    assert resolve_endpoint(ClickHouseConfig(endpoint="chdb:///var/lib/spans/"), tmp_path) == \
        "chdb:///var/lib/spans"
    assert resolve_endpoint(ClickHouseConfig(endpoint="chdb://spans"), tmp_path) == \
        f"chdb://{tmp_path.resolve()}/spans"
    assert resolve_endpoint(ClickHouseConfig(endpoint="chdb://:memory:"), tmp_path) == "chdb://:memory:"
    assert resolve_endpoint(ClickHouseConfig(endpoint="https://ch.example:8443"), tmp_path) == \
        "https://ch.example:8443"


def test_factory(tmp_path: Path) -> None:
    assert FACTORY.type == "clickhouse"
    assert FACTORY.config_class is ClickHouseConfig
    queued = FACTORY.create(CreateSettings("clickhouse/main", tmp_path), ClickHouseConfig())
    # By default the exporter sits behind its persistent sending queue.
    assert isinstance(queued, QueuedExporter)
    exporter = queued.inner
    assert isinstance(exporter, ClickHouseExporter)
    assert not exporter.connected  # no I/O before start
    assert not (tmp_path / "data").exists()
    direct = FACTORY.create(CreateSettings("clickhouse/main", tmp_path),
                            ClickHouseConfig(sending_queue=SendingQueueConfig(enabled=False)))
    assert isinstance(direct, ClickHouseExporter)
