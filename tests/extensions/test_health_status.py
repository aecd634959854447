"""The health check answers with what components report: 503 naming the degraded component and
its error while it lasts, 200 again once the component reports itself recovered."""

from __future__ import annotations

import aiohttp

from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.extensions.health_check import HealthCheck, HealthCheckConfig
from tests.conftest import StubHost, free_port


async def test_a_degraded_component_is_named_in_a_503_until_it_recovers() -> None:
    port = free_port()
    settings = CreateSettings("health_check")
    extension = HealthCheck(settings, HealthCheckConfig(endpoint=f"127.0.0.1:{port}"))
    await extension.start(StubHost())  # type: ignore[arg-type]
    try:
        async with aiohttp.ClientSession() as session:
            settings.status.report_degraded("exporter/clickhouse", "cannot write the queue: No space left on device")
            async with session.get(f"http://127.0.0.1:{port}/") as answer:
                assert answer.status == 503
                body = await answer.json()
            assert body["status"] == "Server degraded"
            assert body["components"]["exporter/clickhouse"]["error"] == \
                "cannot write the queue: No space left on device"
            settings.status.report_ok("exporter/clickhouse")
            async with session.get(f"http://127.0.0.1:{port}/") as answer:
                assert answer.status == 200
    finally:
        await extension.shutdown()
