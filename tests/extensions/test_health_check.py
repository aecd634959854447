"""The health check answers 503 until the service is ready and again while it drains."""

from __future__ import annotations

import aiohttp

from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.extensions.health_check import HealthCheck, HealthCheckConfig
from tests.conftest import BASIC_CONFIG, StartCollector, StubHost, free_port


async def status(port: int) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as response:
        return response.status


async def test_503_until_ready_and_while_draining() -> None:
    port = free_port()
    host = StubHost(ready=False)
    extension = HealthCheck(CreateSettings("health_check"), HealthCheckConfig(endpoint=f"127.0.0.1:{port}"))
    await extension.start(host)  # type: ignore[arg-type]
    try:
        assert await status(port) == 503  # starting
        host.ready = True
        assert await status(port) == 200
        host.ready = False  # draining
        assert await status(port) == 503
    finally:
        await extension.shutdown()
        await extension.shutdown()


async def test_a_running_collector_is_healthy_until_it_stops(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    assert await status(collector.ports["health"]) == 200
    assert collector.service.host is not None
    collector.service.host.ready = False  # what shutdown does first, before draining
    assert await status(collector.ports["health"]) == 503
