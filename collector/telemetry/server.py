"""Serves the collector's own metrics as Prometheus text on `service.telemetry.metrics.address`."""

from __future__ import annotations

from aiohttp import web

from collector.config.types import split_address
from collector.telemetry.metrics import Metrics


class MetricsServer:
    def __init__(self, address: str, metrics: Metrics) -> None:
        self._address = address
        self._metrics = metrics
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        host, port = split_address(self._address)
        await web.TCPSite(runner, host, port, reuse_address=True).start()
        self._runner = runner

    async def _handle(self, request: web.Request) -> web.Response:
        return web.Response(text=self._metrics.render(), content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
