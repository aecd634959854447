"""The per-token rate limit (`auth.rate_limit`) holds on read routes too: the read API and an
adapter's GET route answer 429 with Retry-After above it, from the same bucket as writes."""

from __future__ import annotations

import aiohttp
import orjson

from tests.conftest import StartCollector
from tests.support.configs import collector_config

READER_TOKEN = "sh-read-limited-0123456789abcdef"
CONFIG = collector_config("security/read_rate_limit")


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(
            url, headers={"Authorization": f"Bearer {READER_TOKEN}"}) as response:
        return response.status, {key.lower(): value for key, value in response.headers.items()}, await response.read()


async def test_read_routes_answer_429_above_the_token_rate(start_collector: StartCollector) -> None:
    collector = await start_collector(CONFIG)
    read_api = f"http://127.0.0.1:{collector.ports['query']}/api/services"
    statuses = [(await get(read_api))[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, headers, raw = await get(read_api)
    assert status == 429, raw
    assert int(headers["retry-after"]) > 0
    assert "rate limit" in orjson.loads(raw)["error"]
    # The same token's bucket on an adapter's read route: refused in AgentVista's shape.
    status, headers, raw = await get(f"http://127.0.0.1:{collector.ports['agentvista']}"
                                     f"/api/v1/dashboard/traces/{'ab' * 16}")
    assert status == 429, raw
    assert int(headers["retry-after"]) > 0
    assert isinstance(orjson.loads(raw)["detail"], str)
