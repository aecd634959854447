"""A client's retry is stored once on every vendor receiver (issue 12, point 8): the same body sent
twice to Dynamiq, Archal, AgentVista, AITracer (native and its OTLP route) and Zipkin gets the
same success answer twice and its spans are stored once, read back from the embedded ClickHouse."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import Collector, StartCollector
from tests.receivers.test_retry_dedup_otlp import two_spans_and_a_bad_one
from tests.support.configs import collector_config

TESTDATA = Path(__file__).resolve().parents[1] / "adapters" / "testdata"
VENDORS = ("dynamiq", "archal", "agentvista", "aitracer", "zipkin")
CONFIG = collector_config("receivers/every_vendor")
# vendor, path, golden case, credential
CASES = [
    ("dynamiq", "/v1/traces", "documented_example", "Bearer dq-access-key"),
    ("archal", "/api/traces", "traces_opaque", "Bearer archal_example"),
    ("archal", "/api/traces", "traces_otlp", "Bearer archal_example"),
    ("agentvista", "/api/v1/traces/batch", "documented_example", "Bearer av_test"),
    ("aitracer", "/api/traces", "native_documented_example", "Bearer akt_test_workspace"),
    ("zipkin", "/api/v2/spans", "client_server_pair", None),
]


def golden_body(vendor: str, case: str) -> bytes:
    return orjson.dumps(orjson.loads((TESTDATA / vendor / f"{case}.json").read_bytes())["body"])


async def send(collector: Collector, vendor: str, path: str, body: bytes, content_type: str,
               authorization: str | None, **headers: str) -> tuple[int, bytes]:
    sent = {"Content-Type": content_type, **headers}
    if authorization:
        sent["Authorization"] = authorization
    url = f"http://127.0.0.1:{collector.ports[vendor]}{path}"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as response:
        return response.status, await response.read()


async def span_rows(collector: Collector) -> tuple[int, int]:
    [(rows, spans)] = await collector.aquery("SELECT count(), uniqExact(TraceId, SpanId) FROM otel.otel_traces")
    return rows, spans


@pytest.fixture
async def vendors(start_collector: StartCollector) -> Collector:
    collector: Collector = await start_collector(CONFIG)
    return collector


@pytest.mark.parametrize(("vendor", "path", "case", "authorization"), CASES, ids=[f"{v}-{c}" for v, _, c, _ in CASES])
async def test_the_same_vendor_body_twice_is_stored_once(vendors: Collector, vendor: str, path: str, case: str,
                                                         authorization: str | None) -> None:
    body = golden_body(vendor, case)
    first = await send(vendors, vendor, path, body, "application/json", authorization)
    assert 200 <= first[0] < 300, first
    stored = await span_rows(vendors)
    assert stored[0] == stored[1] > 0
    second = await send(vendors, vendor, path, body, "application/json", authorization)
    assert second == first
    assert await span_rows(vendors) == stored


async def test_the_aitracer_otlp_route_stores_a_retry_once(vendors: Collector) -> None:
    body = two_spans_and_a_bad_one().SerializeToString()
    answers = [await send(vendors, "aitracer", "/api/integrations/otlp/v1/traces", body, "application/x-protobuf",
                          "Bearer akt_test_workspace") for _ in range(2)]
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert await span_rows(vendors) == (2, 2)


async def test_a_different_idempotency_key_is_another_request(vendors: Collector) -> None:
    """Headers a vendor reads are part of the key: Archal's Idempotency-Key names another session."""
    document = orjson.loads((TESTDATA / "archal" / "session_doc_example.json").read_bytes())
    body = orjson.dumps(document["body"])
    answers: list[Any] = []
    for key in ("run-1", "run-1", "run-2"):
        status, answer = await send(vendors, "archal", "/api/sessions", body, "application/json",
                                    "Bearer archal_example", **{"Idempotency-Key": key})
        assert 200 <= status < 300
        answers.append(orjson.loads(answer))
    assert answers[0] == answers[1]
    assert answers[2]["sessionId"] != answers[0]["sessionId"]


async def test_a_vendor_retry_after_a_restart_is_stored_once(start_collector: StartCollector) -> None:
    collector = await start_collector(CONFIG)
    body = golden_body("dynamiq", "documented_example")
    first = await send(collector, "dynamiq", "/v1/traces", body, "application/json", "Bearer dq-access-key")
    await collector.service.shutdown()
    config = CONFIG
    for vendor in VENDORS:
        config = config.replace(f"{{port:{vendor}}}", str(collector.ports[vendor]))
    restarted = await start_collector(config)
    restarted.ports.update(collector.ports)
    again = await send(restarted, "dynamiq", "/v1/traces", body, "application/json", "Bearer dq-access-key")
    assert again == first
    assert await span_rows(restarted) == (1, 1)


async def test_simultaneous_copies_of_a_vendor_body_are_stored_once(vendors: Collector) -> None:
    """Dynamiq has no idempotency of its own: eight copies at once are one request."""
    body = golden_body("dynamiq", "documented_example")
    answers = await asyncio.gather(*(send(vendors, "dynamiq", "/v1/traces", body, "application/json",
                                          "Bearer dq-access-key") for _ in range(8)))
    assert set(answers) == {answers[0]} and answers[0][0] == 200
    assert await span_rows(vendors) == (1, 1)
