"""Serves the collector's own metrics as Prometheus text on `service.telemetry.metrics.address`,
behind the same connection protections as every listener (collector.server.listener)."""

from __future__ import annotations

from aiohttp import web

from spanhouse.collector.core.metrics import CONTENT_TYPE, Metrics
from spanhouse.collector.server.limits import DEFAULT_SMALL_LISTENER_MAX_CONNECTIONS
from spanhouse.collector.server.listener import DEFAULT_ACCEPT_BACKLOG, Listener, ListenerSettings, open_listener

DEFAULT_SETTINGS = ListenerSettings(max_connections=DEFAULT_SMALL_LISTENER_MAX_CONNECTIONS)


class MetricsServer:
    def __init__(self, address: str, metrics: Metrics, settings: ListenerSettings = DEFAULT_SETTINGS,
                 backlog: int = DEFAULT_ACCEPT_BACKLOG) -> None:
        self._address = address
        self._metrics = metrics
        self._settings = settings
        self._backlog = backlog
        self._listener: Listener | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        self._listener = await open_listener(app, self._address, self._settings, "service.telemetry.metrics",
                                             self._backlog, self._metrics)

    @property
    def bound_port(self) -> int:
        assert self._listener is not None
        return self._listener.bound_port

    async def _handle(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render().encode(),
                            headers={"Content-Type": CONTENT_TYPE, "X-Content-Type-Options": "nosniff"})

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
