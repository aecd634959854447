"""When the sending queue is full, every vendor receiver refuses with 429 and Retry-After in
its own documented error shape, and takes requests again once the queue drains."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from spanhouse.exporters.clickhouse.faults import FAULTS_FILE_ENV
from tests.adapters.golden import TESTDATA
from tests.conftest import StartCollector
from tests.support.configs import collector_config

CONFIG = collector_config("receivers/vendor_backpressure")

# (receiver, two cases that each produce spans, how the vendor's error body looks)
VENDORS = [
    ("dynamiq", "documented_example", "multi_run_trace",
     lambda body: body["error"]["code"] == "rate_limited"),
    ("agentvista", "documented_example", "agent_records", lambda body: isinstance(body["detail"], str)),
    ("archal", "traces_span_list", "traces_opaque",
     lambda body: set(body) >= {"error", "code", "message", "detail"}),
    ("zipkin", "client_server_pair", "multiple_services", lambda body: isinstance(body["error"], str)),
]


def case(vendor: str, name: str) -> tuple[str, bytes, dict[str, str]]:
    document = orjson.loads((TESTDATA / vendor / f"{name}.json").read_bytes())
    meta = document["_request"]
    headers = {"Content-Type": "application/json", **meta.get("headers", {})}
    return meta["path"], orjson.dumps(document["body"]), headers


async def post(port: int, vendor: str, name: str) -> tuple[int, Any, dict[str, str]]:
    path, body, headers = case(vendor, name)
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as response:
        payload = await response.read()
        return response.status, orjson.loads(payload) if payload else None, dict(response.headers)


@pytest.mark.parametrize(("vendor", "first", "second", "is_vendor_shape"), VENDORS, ids=[v[0] for v in VENDORS])
async def test_full_queue_answers_429_in_the_vendor_shape(
        vendor: str, first: str, second: str, is_vendor_shape: Any, start_collector: StartCollector,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = tmp_path / "faults"
    faults.write_text("fail")  # ClickHouse "down": what is queued stays queued
    monkeypatch.setenv(FAULTS_FILE_ENV, str(faults))
    collector = await start_collector(CONFIG.replace("{vendor}", vendor))
    port = collector.ports["vendor"]
    status, _, _ = await post(port, vendor, first)
    assert status in (200, 202)
    status, body, headers = await post(port, vendor, second)
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    assert is_vendor_shape(body), body
    faults.write_text("")  # ClickHouse back: the queue drains and the request is taken
    await collector.drain()
    for _ in range(50):
        status, _, _ = await post(port, vendor, second)
        if status != 429:
            break
        await asyncio.sleep(0.1)
    assert status in (200, 202)
