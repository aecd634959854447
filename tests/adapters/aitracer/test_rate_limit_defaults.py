"""The aitracer receiver's route limits with the default config (the vendor page: "Bursts beyond
route limits return 429, Retry-After, X-RateLimit-Remaining"): a burst on an ingest route and on
the proxy route gets 429 in AITracer's error shape, every answer carries X-RateLimit-Remaining,
and the per-token limit of the auth section answers its 429 with both headers too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from spanhouse.adapters.aitracer.plugin import DEFAULT_RATE_LIMIT_BURST_REQUESTS
from tests.adapters.aitracer.test_end_to_end import CONFIG, example
from tests.adapters.aitracer.test_proxy import CONFIG as PROXY_CONFIG
from tests.adapters.aitracer.test_proxy import Upstream
from tests.conftest import Collector, StartCollector

# Requests sent at once per wave, and waves at most: the bucket refills while they are answered,
# so waves go on until one is refused (the first ones past the burst, on a fast machine).
WAVE_REQUESTS = DEFAULT_RATE_LIMIT_BURST_REQUESTS // 2
MAX_WAVES = 40
WRITER_TOKEN = "akt_rate_limited_writer_0123456789"
AUTH_CONFIG = CONFIG + f"""
auth:
  tokens:
    - token: {WRITER_TOKEN}
      tenant: acme
      scopes: [write]
      rate_limit:
        requests_per_second: 0.5
        burst: 2
"""

Answer = tuple[int, Any, dict[str, str]]


@pytest.fixture
async def proxy_upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    server.release.set()  # streamed answers run to their end at once
    await server.start()
    yield server
    await server.stop()


async def send(session: aiohttp.ClientSession, running: Collector, path: str, body: bytes,
               token: str = "akt_test_workspace") -> Answer:
    url = f"http://127.0.0.1:{running.ports['aitracer']}{path}"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    async with session.post(url, data=body, headers=headers) as response:
        payload = await response.read()
        parsed = orjson.loads(payload) if response.content_type == "application/json" and payload else payload
        return response.status, parsed, dict(response.headers)


async def burst(running: Collector, path: str, body: bytes, token: str) -> list[Answer]:
    answers: list[Answer] = []
    connector = aiohttp.TCPConnector(limit=WAVE_REQUESTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(MAX_WAVES):
            answers += await asyncio.gather(*(send(session, running, path, body, token)
                                              for _ in range(WAVE_REQUESTS)))
            if any(status == 429 for status, _, _ in answers):
                break
    return answers


def assert_rate_limited(answers: list[Answer], other_statuses: set[int]) -> None:
    """Some answers are 429 with Retry-After, X-RateLimit-Remaining: 0 and AITracer's error body;
    the rest have the expected status; every one says how many requests are left."""
    refused = [answer for answer in answers if answer[0] == 429]
    assert refused, "a burst past the route limit was never refused"
    assert {status for status, _, _ in answers} <= {429, *other_statuses}
    assert all(headers["X-RateLimit-Remaining"].isdigit() for _, _, headers in answers)
    for _, payload, headers in refused:
        assert headers["X-RateLimit-Remaining"] == "0" and int(headers["Retry-After"]) >= 1
        assert payload["error"]["type"] == "rate_limit_error" and payload["error"]["code"] == "rate_limited"
        assert payload["error"]["param"] is None and payload["error"]["message"]


async def test_default_route_limit_on_an_ingest_route(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    async with aiohttp.ClientSession() as session:
        # 2xx answers of the default config carry X-RateLimit-Remaining, on every kind of route.
        native = orjson.dumps(example("aitracer", "native_documented_example"))
        for path, body in [("/api/traces", native), ("/api/integrations/otlp/v1/traces", b'{"resourceSpans":[]}'),
                           ("/api/ingest/tool-calls", orjson.dumps(example("aitracer", "tool_calls_linked")))]:
            status, _, headers = await send(session, running, path, body, "akt_first_workspace")
            assert status == 200 and int(headers["X-RateLimit-Remaining"]) < DEFAULT_RATE_LIMIT_BURST_REQUESTS
    answers = await burst(running, "/api/traces", b"[]", "akt_bursting_workspace")  # a 400: stores nothing
    assert_rate_limited(answers, {400})


async def test_default_route_limit_on_the_proxy_route(start_collector: StartCollector,
                                                      proxy_upstream: Upstream) -> None:
    running = await start_collector(PROXY_CONFIG % (proxy_upstream.port, "detect"))
    path = "/api/proxy/openai/responses"
    async with aiohttp.ClientSession() as session:
        for stream in (False, True):  # the JSON answer and the event stream
            status, _, headers = await send(session, running, path, orjson.dumps(
                {"model": "gpt-4o-mini", "input": "status?", "stream": stream}), "akt_first_workspace")
            assert status == 200 and headers["X-RateLimit-Remaining"].isdigit()
    # A model the preflight refuses: answered without the upstream, so the burst stays local.
    answers = await burst(running, path, orjson.dumps({"model": "o1-refused", "input": "x"}), "akt_bursting")
    assert_rate_limited(answers, {400})
    assert len(proxy_upstream.requests) == 2


async def test_token_rate_limit_429_has_both_headers(start_collector: StartCollector) -> None:
    running = await start_collector(AUTH_CONFIG)
    body = orjson.dumps(example("aitracer", "native_documented_example"))
    async with aiohttp.ClientSession() as session:
        answers = [await send(session, running, "/api/traces", body, WRITER_TOKEN) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 429]
    # The token's bucket is the tighter one: what is left is its count.
    assert [headers["X-RateLimit-Remaining"] for _, _, headers in answers] == ["1", "0", "0"]
    _, payload, headers = answers[2]
    assert 1 <= int(headers["Retry-After"]) <= 2
    assert payload["error"]["type"] == "rate_limit_error" and payload["error"]["code"] == "rate_limited"
