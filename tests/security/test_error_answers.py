"""Error answers carry no internals: with ClickHouse really unreachable (an HTTP endpoint on a
closed port, no sending queue) or a part really damaged on disk, the read API, the vendor routes
and OTLP answer a short reason and a request id, in their own shape, and the log holds the
details under that id; a flood of such failures costs a few log lines, not one per request."""

from __future__ import annotations

import glob
import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from spanhouse.collector.core import error_log
from spanhouse.collector.core.error_log import LOG_BURST, ErrorDetailLog
from spanhouse.proto.status import decode_status
from tests.adapters.golden import TESTDATA
from tests.conftest import StartCollector
from tests.security.helpers import otlp_request, post, rows_when_ready
from tests.support.configs import collector_config
from tests.support.doubles import ManualClock

UNREACHABLE = collector_config("security/clickhouse_unreachable")
REQUEST_ID = re.compile(r"request id ([0-9a-f]{16})")


@pytest.fixture(autouse=True)
def fresh_error_log(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its rate is per process: earlier tests' failures must not have used up this test's lines.
    monkeypatch.setattr(error_log, "_LOG", ErrorDetailLog())


def vendor_body(vendor: str, case: str) -> tuple[str, bytes]:
    document = orjson.loads((TESTDATA / vendor / f"{case}.json").read_bytes())
    return document["_request"]["path"], orjson.dumps(document["body"])


async def request(method: str, url: str, body: bytes | None = None,
                  content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.request(
            method, url, data=body, headers={"Content-Type": content_type} if body is not None else {}) as response:
        # Lower-cased: aiohttp writes the header as X-Request-ID.
        return response.status, {key.lower(): value for key, value in response.headers.items()}, await response.read()


def assert_no_internals(text: str, collector: Any) -> None:
    closed = str(collector.ports["closed"])
    for internal in (closed, "http://", "127.0.0.1", "query_id", "query id", "SELECT", "/store/",
                     str(collector.directory), "Traceback", "Exception"):
        assert internal not in text, (internal, text)


async def test_unreachable_clickhouse_is_a_short_reason_and_a_request_id(
        start_collector: StartCollector, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    collector = await start_collector(UNREACHABLE)
    ports = collector.ports
    archal_path, archal_body = vendor_body("archal", "traces_span_list")
    aitracer_path, aitracer_body = vendor_body("aitracer", "native_minimal")
    answers = {
        "read API": await request("GET", f"http://127.0.0.1:{ports['query']}/api/services"),
        "agentvista read": await request(
            "GET", f"http://127.0.0.1:{ports['agentvista']}/api/v1/dashboard/traces/{'ab' * 16}"),
        "archal": await request("POST", f"http://127.0.0.1:{ports['archal']}{archal_path}", archal_body),
        "aitracer": await request("POST", f"http://127.0.0.1:{ports['aitracer']}{aitracer_path}", aitracer_body),
        "otlp": await request("POST", f"http://127.0.0.1:{ports['http']}/v1/traces",
                              otlp_request().SerializeToString(), "application/x-protobuf"),
    }
    logs = caplog.text
    for route, (status, headers, raw) in answers.items():
        assert status == 503, (route, status, raw)
        assert int(headers["retry-after"]) > 0, route
        if route == "otlp":
            text = decode_status(raw)[1]
        else:
            body = orjson.loads(raw)
            text = orjson.dumps(body).decode()
            if route == "read API":
                assert body["request_id"] == headers["x-request-id"]
            if route == "archal":  # Archal's ErrorResponse, with the id in its `detail`
                assert set(body) == {"error", "code", "message", "detail"}
        assert_no_internals(text, collector)
        found = REQUEST_ID.search(text)
        assert found is not None, (route, text)
        request_id = found.group(1)
        assert request_id == headers["x-request-id"], route
        logged = [record.getMessage() for record in caplog.records if request_id in record.getMessage()]
        assert len(logged) == 1, (route, logs)
        assert f"127.0.0.1:{ports['closed']}" in logged[0] or "cannot be read now" in logged[0], logged[0]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['grpc']}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await trace_service_pb2_grpc.TraceServiceStub(channel).Export(otlp_request())
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    details = raised.value.details() or ""
    assert_no_internals(details, collector)
    found = REQUEST_ID.search(details)
    assert found is not None, details
    assert ("x-request-id", found.group(1)) in tuple(raised.value.trailing_metadata() or ())
    assert found.group(1) in caplog.text


async def test_a_damaged_part_is_a_500_without_its_path(start_collector: StartCollector, caplog: Any) -> None:
    collector = await start_collector(collector_config("security/damaged_part"))
    status, _, _ = await post(f"http://127.0.0.1:{collector.ports['http']}/v1/traces",
                              otlp_request(spans=3, trace_byte=0x2D).SerializeToString(),
                              {"Content-Type": "application/x-protobuf"})
    assert status == 200
    await rows_when_ready(collector, f"SELECT 1 FROM otel.otel_traces WHERE TraceId = '{'2d' * 16}'", 3)
    damaged = 0
    for column_file in glob.glob(f"{collector.directory}/clickhouse/store/**/*.bin", recursive=True):
        with Path(column_file).open("r+b") as file:
            file.write(b"\xff" * 64)  # an unknown codec: ClickHouse cannot read the part
        damaged += 1
    assert damaged
    status, headers, raw = await request("GET", f"http://127.0.0.1:{collector.ports['query']}"
                                                "/api/traces?lookback=100000h")
    assert status == 500, raw
    body = orjson.loads(raw)
    assert body == {"error": f"internal error (request id {headers['x-request-id']})",
                    "request_id": headers["x-request-id"]}
    logged = [record for record in caplog.records if headers["x-request-id"] in record.getMessage()]
    assert len(logged) == 1 and "/store/" in logged[0].getMessage()


def test_a_flood_of_failures_is_logged_a_few_times_and_counted(caplog: Any) -> None:
    clock = ManualClock(0.0)
    log = ErrorDetailLog(clock=clock)
    caplog.set_level(logging.WARNING, logger="spanhouse.errors")
    failure = ConnectionError("ClickHouse at http://10.0.0.1:8123 refused")
    logged = sum(log.log(f"{index:016x}", 503, failure) for index in range(10_000))
    assert logged == LOG_BURST
    clock.now += 60.0  # a minute later: the next one is logged, with how many were not
    assert log.log("ffffffffffffffff", 503, failure)
    assert f"({10_000 - LOG_BURST} more like it not logged since the last)" in caplog.records[-1].getMessage()
    assert len(caplog.records) == LOG_BURST + 1
