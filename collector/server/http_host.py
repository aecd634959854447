"""One aiohttp server per listening address, shared by every receiver that serves routes there.

Receivers add their routes while starting; the service opens the sockets once all receivers
have started and closes them first on shutdown, so no request arrives at a stopped stage."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from aiohttp import web

from spanhouse.collector.core.metrics import Metrics
from spanhouse.collector.server.fd_budget import UNLIMITED, ConnectionBudget
from spanhouse.collector.server.listener import Listener, ListenerSettings, open_listener

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class _Server:
    app: web.Application
    listener: Listener | None = None
    owners: set[str] = field(default_factory=set)
    settings: ListenerSettings | None = None


class HttpServers:
    def __init__(self, budget: ConnectionBudget = UNLIMITED, metrics: Metrics | None = None) -> None:
        self._servers: dict[str, _Server] = {}
        self._budget = budget
        self._metrics = metrics

    def add_route(self, address: str, method: str, path: str, handler: Handler, owner: str,
                  settings: ListenerSettings | None = None) -> None:
        server = self._servers.get(address)
        if server is None:
            # Body limits are enforced per route by the receivers while streaming the body,
            # so aiohttp's own whole-body cap is lifted here.
            server = self._servers[address] = _Server(web.Application(client_max_size=0))
        server.app.router.add_route(method, path, handler)
        server.owners.add(owner)
        if settings is not None:
            server.settings = settings if server.settings is None else server.settings.merged(settings)

    async def start(self) -> None:
        budget = self._budget
        for address, server in self._servers.items():
            settings = server.settings or ListenerSettings()
            settings = replace(settings, max_connections=budget.cap(settings.max_connections))
            server.listener = await open_listener(server.app, address, settings, ", ".join(sorted(server.owners)),
                                                  budget.backlog, self._metrics)
            logger.info("listening on %s://%s for %s (at most %d connections)",
                        "https" if settings.ssl_context else "http", address, ", ".join(sorted(server.owners)),
                        settings.max_connections)

    async def stop(self) -> None:
        for server in self._servers.values():
            if server.listener is not None:
                await server.listener.close()
                server.listener = None

    def bound_port(self, address: str) -> int:
        """The port actually bound (useful when the config asked for port 0)."""
        listener = self._servers[address].listener
        assert listener is not None
        return listener.bound_port
