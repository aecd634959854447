"""A running collector for the read tests: OTLP/HTTP and AgentVista in, embedded ClickHouse,
the query API on a free port; and helpers that store the known traces through the receivers."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.conftest import Collector, StartCollector
from tests.read.sample_traces import agentvista_body, otlp_traces
from tests.support.configs import collector_config

READ_CONFIG = collector_config("read/read_api")


async def start_read_collector(start_collector: StartCollector) -> Collector:
    return await start_collector(READ_CONFIG)


async def request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
                  ) -> tuple[int, Any]:
    data = orjson.dumps(body) if body is not None else None
    sent = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession() as session, session.request(method, url, data=data, headers=sent) as response:
        payload = await response.read()
        try:
            return response.status, orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            return response.status, payload.decode()


async def store_known_traces(running: Collector, base_ns: int) -> None:
    """The AgentVista example at `base_ns` and the OTLP traces a minute later, through the receivers."""
    status, body = await request("POST", f"http://127.0.0.1:{running.ports['agentvista']}/api/v1/traces/batch",
                                 agentvista_body(base_ns))
    assert (status, body) == (200, {"accepted": 1, "rejected": 0, "errors": []})
    payload = otlp_traces(base_ns + 60 * 1_000_000_000).SerializeToString()
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{running.ports['http']}/v1/traces", data=payload,
            headers={"Content-Type": "application/x-protobuf"}) as response:
        assert response.status == 200
    await running.drain()
