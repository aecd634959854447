"""The `health_check` extension: `GET /` answers 200 once every pipeline is ready, and 503 while
the collector starts or drains or a component reports itself degraded (collector/core/status.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from aiohttp import web

from spanhouse.collector.core.component import CreateSettings, Endpoint, Factory, Host, Kind
from spanhouse.collector.core.config.types import ADDRESS
from spanhouse.collector.server.fd_budget import budget_of
from spanhouse.collector.server.limits import ListenerLimits, small_listener_limits
from spanhouse.collector.server.listener import Listener, ListenerSettings, open_listener

DEFAULT_ENDPOINT: Final = "127.0.0.1:13133"


@dataclass(frozen=True, slots=True)
class HealthCheckConfig:
    endpoint: Annotated[str, ADDRESS] = field(default=DEFAULT_ENDPOINT, metadata={
        "description": "host:port of the health endpoint."})
    path: str = field(default="/", metadata={"description": "Path that answers the health check."})
    limits: ListenerLimits = field(default_factory=small_listener_limits, metadata={
        "description": "Connection limits of the listener (docs/security.md)."})

    def validate(self) -> list[tuple[str, str]]:
        problems = [(f"limits.{key}", message) for key, message in self.limits.validate()]
        if not self.path.startswith("/"):
            problems.append(("path", 'must start with "/"'))
        return problems


class HealthCheck:
    def __init__(self, settings: CreateSettings, config: HealthCheckConfig) -> None:
        self._config = config
        self._status = settings.status
        self._host: Host | None = None
        self._listener: Listener | None = None

    async def start(self, host: Host) -> None:
        self._host = host
        app = web.Application()
        app.router.add_get(self._config.path, self._handle)
        limits, budget = self._config.limits, budget_of(host)
        settings = ListenerSettings(None, limits.header_read_timeout, budget.cap(limits.max_connections),
                                    limits.body_read_timeout)
        self._listener = await open_listener(app, self._config.endpoint, settings, "health_check", budget.backlog,
                                             getattr(host, "telemetry", None))

    async def _handle(self, request: web.Request) -> web.Response:
        ready = bool(self._host is not None and getattr(self._host, "ready", False))
        if not ready:
            return web.json_response({"status": "Server not available"}, status=503)
        degraded = self._status.degraded()
        if degraded:
            # Up, but a component cannot do its job (e.g. its disk is full): out of rotation
            # until it recovers by itself, with the reasons for whoever looks.
            return web.json_response({"status": "Server degraded", "components": {
                item.component: {"status": "degraded", "error": item.reason, "since": item.since}
                for item in degraded}}, status=503)
        return web.json_response({"status": "Server available"})

    async def shutdown(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None


def _endpoints(config: HealthCheckConfig) -> list[Endpoint]:
    return [Endpoint(config.endpoint, "http", (f"GET {config.path}",))]


def _create(settings: CreateSettings, config: Any) -> HealthCheck:
    return HealthCheck(settings, config)


FACTORY = Factory(type="health_check", kind=Kind.EXTENSION, config_class=HealthCheckConfig, create=_create,
                  endpoints=_endpoints, description="HTTP health endpoint (200 ready, 503 otherwise).")
