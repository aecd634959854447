"""Zipkin v2 JSON through a running collector into ClickHouse, read back field by field."""

from __future__ import annotations

import aiohttp
import orjson

from tests.adapters.golden import TESTDATA
from tests.conftest import StartCollector
from tests.support.configs import collector_config

CONFIG = collector_config("adapters/zipkin")


async def post(port: int, body: bytes) -> int:
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}/api/v2/spans", data=body,
            headers={"Content-Type": "application/json"}) as response:
        await response.read()
        return response.status


async def test_client_server_pair_lands_in_clickhouse(start_collector: StartCollector) -> None:
    collector = await start_collector(CONFIG)
    body = orjson.loads((TESTDATA / "zipkin" / "client_server_pair.json").read_bytes())["body"]
    assert await post(collector.ports["zipkin"], orjson.dumps(body)) == 202
    rows = await collector.aquery(
        "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, toUnixTimestamp64Nano(Timestamp), "
        "Duration, StatusCode, SpanAttributes FROM otel.otel_traces ORDER BY Timestamp")
    assert len(rows) == 2
    client, server = rows
    assert client[:9] == ("4bf92f3577b34da6a3ce929d0e0e4736", "5b4185666d50f68b", "00f067aa0ba902b7",
                          "get /api/invoices/{id}", "Client", "frontend", 1781082921000000000, 18250000, "Unset")
    assert server[:9] == ("4bf92f3577b34da6a3ce929d0e0e4736", "7c2d93a1e4f5b6c7", "5b4185666d50f68b",
                          "get /api/invoices/{id}", "Server", "billing", 1781082921002000000, 15125000, "Unset")
    assert client[9]["http.method"] == "GET"
    assert client[9]["http.path"] == "/api/invoices/INV-2026-0611"
    assert client[9]["http.status_code"] == "200"
    assert server[9]["http.route"] == "/api/invoices/{id}"
    # A body that does not validate is a 400 and stores nothing.
    assert await post(collector.ports["zipkin"], b'[{"traceId": "xyz", "id": "1"}]') == 400
    assert await collector.aquery("SELECT count() FROM otel.otel_traces") == [(2,)]
