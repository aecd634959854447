"""The exporter's http:// path: configured as for a ClickHouse server, it talks to one through
clickhouse-connect's HTTP client. No server runs here, so tests/support/clickhouse_http serves
the real engine (chdb, ClickHouse 26.9) over the HTTP interface from another process; the
rows, schema, deduplication and errors below are the engine's answers, sent over HTTP."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

from spanhouse.collector.core.errors import RetryableError
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseStartError
from tests.conftest import BASIC_CONFIG, StartCollector, free_port
from tests.receivers.test_otlp_sdk_end_to_end import COLUMNS, assert_agent_traces, emit_agent_trace

from .conftest import MakeExporter, StubHost
from .otlp_samples import ROUND_TRIP_QUERY, expected_rows, full_request, simple_request

REPO_ROOT = Path(__file__).resolve().parents[3]
USER = "spanhouse"
PASSWORD = "s3cret-pass"
EMBEDDED_ENDPOINT_LINE = "    endpoint: chdb://{dir}/clickhouse\n"
SERVER_START_TIMEOUT_S = 30.0


@dataclass
class ClickHouseHttp:
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def clickhouse_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseHttp]:
    """The HTTP interface over the embedded engine, in its own process and data directory,
    shared by this module's tests (each uses a database of its own)."""
    directory = tmp_path_factory.mktemp("clickhouse-http")
    port = free_port()
    log = directory / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.clickhouse_http", "--path", str(directory / "data"),
             "--port", str(port), "--user", USER, "--password", PASSWORD],
            cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the ClickHouse HTTP harness exited ({process.returncode}): {log.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as answer:
                    if answer.read() == b"Ok.\n":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the ClickHouse HTTP harness did not answer in time: {log.read_text()}")
            time.sleep(0.1)
        yield ClickHouseHttp(port, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_config(port: int, database: str, compress: str = "lz4", password: str = PASSWORD) -> str:
    """BASIC_CONFIG with its exporter pointed at a ClickHouse server instead of the embedded engine."""
    assert EMBEDDED_ENDPOINT_LINE in BASIC_CONFIG
    exporter = ("    endpoint: http://127.0.0.1:{port:clickhouse}\n"
                f"    username: {USER}\n"
                f"    password: {password}\n"
                f"    compress: {compress}\n"
                f"    database: {database}\n")
    # The harness already listens: its port replaces the placeholder before the fixture picks one.
    return BASIC_CONFIG.replace(EMBEDDED_ENDPOINT_LINE, exporter).replace("{port:clickhouse}", str(port))


@pytest.mark.parametrize("compress", ["lz4", "none"])
async def test_sdk_spans_reach_the_server_over_http(start_collector: StartCollector, clickhouse_http: ClickHouseHttp,
                                                    compress: str) -> None:
    database = f"otel_{compress}"
    collector = await start_collector(server_config(clickhouse_http.port, database, compress))
    exporter = collector.service.exporter("clickhouse")
    inner = getattr(exporter, "inner", exporter)
    assert isinstance(inner, ClickHouseExporter)
    assert inner.endpoint == clickhouse_http.endpoint and inner.server_version == "26.9.2.1"
    assert inner._connection is not None
    # Inserts are sent with Content-Encoding lz4, or plain.
    assert inner._connection.client.write_compression == (None if compress == "none" else compress)
    grpc_exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{collector.ports['grpc']}", insecure=True)
    http_exporter = HttpSpanExporter(endpoint=f"http://127.0.0.1:{collector.ports['http']}/v1/traces")
    sent = {
        "svc-grpc": await asyncio.to_thread(emit_agent_trace, grpc_exporter, "svc-grpc"),
        "svc-http": await asyncio.to_thread(emit_agent_trace, http_exporter, "svc-http"),
    }
    rows = await collector.aquery(f"SELECT {COLUMNS} FROM {database}.otel_traces ORDER BY ServiceName, Timestamp")
    assert_agent_traces(rows, sent)
    lookups = await collector.aquery(
        f"SELECT TraceId, min(Start), max(End) FROM {database}.otel_traces_trace_id_ts GROUP BY TraceId "
        f"ORDER BY TraceId")
    assert sorted(row[0] for row in lookups) == sorted(str(sent[name]["trace_id"]) for name in sent)


def http_exporter(make_exporter: MakeExporter, server: ClickHouseHttp, database: str, **overrides: Any,
                  ) -> ClickHouseExporter:
    return make_exporter(**{"endpoint": server.endpoint, "username": USER, "password": PASSWORD,
                            "database": database, **overrides})


async def test_every_field_round_trips_over_http(make_exporter: MakeExporter, host: StubHost,
                                                 clickhouse_http: ClickHouseHttp) -> None:
    exporter = http_exporter(make_exporter, clickhouse_http, "otel_fields")
    await exporter.start(host)
    await exporter.consume(full_request())
    _, stored = exporter.storage_client().query(ROUND_TRIP_QUERY.replace("FROM otel.", "FROM otel_fields."))
    assert [tuple(list(cell) if isinstance(cell, tuple) else cell for cell in row) for row in stored] == expected_rows()


async def test_schema_over_http_is_the_embedded_one(make_exporter: MakeExporter, host: StubHost,
                                                    clickhouse_http: ClickHouseHttp) -> None:
    over_http = http_exporter(make_exporter, clickhouse_http, "otel_schema")
    await over_http.start(host)
    embedded = make_exporter("clickhouse/embedded", endpoint="chdb://./engine", database="otel_schema")
    await embedded.start(host)
    for table in ("otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv"):
        statement = f"SHOW CREATE TABLE otel_schema.{table}"
        (created,), = over_http.storage_client().query(statement)[1]
        assert (created,) == embedded.storage_client().query(statement)[1][0]
        assert f"CREATE {'MATERIALIZED VIEW' if table.endswith('_mv') else 'TABLE'} otel_schema.{table}" in created
    shown = over_http.storage_client().query("SHOW CREATE TABLE otel_schema.otel_traces")
    assert "ENGINE = MergeTree" in shown[1][0][0]


async def test_deduplication_token_over_http(make_exporter: MakeExporter, host: StubHost,
                                             clickhouse_http: ClickHouseHttp) -> None:
    exporter = http_exporter(make_exporter, clickhouse_http, "otel_dedup")
    await exporter.start(host)
    batch = simple_request(20)
    payload = batch.SerializeToString()

    def stored() -> int:
        return int(exporter.storage_client().query("SELECT count() FROM otel_dedup.otel_traces")[1][0][0])

    await exporter.export_encoded(payload, 20, "batch-1")
    await exporter.export_encoded(payload, 20, "batch-1")  # a re-send after an unknown outcome: dropped
    assert stored() == 20
    await exporter.export_encoded(payload, 20, "batch-2")  # the same spans as another batch: kept
    assert stored() == 40
    await exporter.consume(batch)  # without a token every insert is kept, even a repeat
    await exporter.consume(batch)
    assert stored() == 80


async def test_wrong_password_refuses_to_start(make_exporter: MakeExporter, host: StubHost,
                                               clickhouse_http: ClickHouseHttp,
                                               start_collector: StartCollector) -> None:
    exporter = http_exporter(make_exporter, clickhouse_http, "otel_auth", password="wrong")
    with pytest.raises(ClickHouseStartError, match=r"code: 516.*Authentication failed"):
        await exporter.start(host)
    assert not exporter.connected and exporter._reconnect_task is None  # no retrying a refusal
    with pytest.raises(ClickHouseStartError, match=r"cannot use ClickHouse at http://.*AUTHENTICATION_FAILED"):
        await start_collector(server_config(clickhouse_http.port, "otel_auth", password="wrong"))


async def test_unreachable_server_starts_and_answers_retryable(make_exporter: MakeExporter, host: StubHost) -> None:
    exporter = make_exporter(endpoint=f"http://127.0.0.1:{free_port()}", timeout=1.0)
    await exporter.start(host)
    with pytest.raises(RetryableError, match="not reachable yet"):
        await exporter.export_encoded(simple_request(3).SerializeToString(), 3, "batch-1")
