"""One aiohttp server per listening address, shared by every receiver that serves routes there.

Receivers add their routes while starting; the service opens the sockets once all receivers
have started and closes them first on shutdown, so no request arrives at a stopped stage."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from collector.config.types import split_address
from collector.receivers.listener import CappedSite, ListenerSettings, ProtocolErrorLogger

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class _Server:
    app: web.Application
    runner: web.AppRunner | None = None
    owners: set[str] = field(default_factory=set)
    settings: ListenerSettings | None = None


class HttpServers:
    def __init__(self) -> None:
        self._servers: dict[str, _Server] = {}

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
        for address, server in self._servers.items():
            host, port = split_address(address)
            # Bodies are decompressed by the receivers, within their size limits (bombs).
            settings = server.settings or ListenerSettings()
            # aiohttp's keep-alive timer also runs from the start of a connection until a
            # request's headers are complete, which makes it the header read timeout.
            runner = web.AppRunner(server.app, access_log=None, handle_signals=False, auto_decompress=False,
                                   keepalive_timeout=settings.header_read_timeout_s,
                                   logger=ProtocolErrorLogger(logging.getLogger("aiohttp.server")))
            await runner.setup()
            site = CappedSite(runner, host, port, settings)
            try:
                await site.start()
            except OSError as error:
                await runner.cleanup()
                raise OSError(f"{', '.join(sorted(server.owners))}: cannot listen on {address}: "
                              f"{error.strerror or error}") from error
            server.runner = runner
            logger.info("listening on %s://%s for %s", "https" if settings.ssl_context else "http", address,
                        ", ".join(sorted(server.owners)))

    async def stop(self) -> None:
        for server in self._servers.values():
            if server.runner is not None:
                await server.runner.cleanup()
                server.runner = None

    def bound_port(self, address: str) -> int:
        """The port actually bound (useful when the config asked for port 0)."""
        runner = self._servers[address].runner
        assert runner is not None and runner.addresses
        return int(runner.addresses[0][1])
