"""How every HTTP listener of the collector treats its connections: TLS, how long a connection
may take to send a request's headers and body or sit idle, how many may be open at once (a cap
against slow-client and fd exhaustion), quiet refusal of malformed requests, and a request id on
every answer. Receivers, extensions and the metrics server all listen through `open_listener`."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from spanhouse.collector.core.config.types import split_address
from spanhouse.collector.core.metrics import Counter, Metrics
from spanhouse.collector.core.request_id import REQUEST_ID_HEADER, bind_request_id, new_request_id, unbind_request_id
from spanhouse.collector.server.limits import (
    DEFAULT_BODY_READ_TIMEOUT_S,
    DEFAULT_HEADER_READ_TIMEOUT_S,
    DEFAULT_MAX_CONNECTIONS,
    MAX_HEADER_LINE_BYTES,
)

logger = logging.getLogger(__name__)

# The listen queue: pending connections the kernel holds (no descriptor of ours until accepted).
DEFAULT_ACCEPT_BACKLOG: Final = 128
REQUEST_ID_KEY: Final = web.RequestKey("spanhouse.request_id", str)

# What a connection over the cap is told before it is closed: busy, come back shortly.
_BUSY_ANSWER: Final = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
                       b"Content-Type: text/plain\r\nContent-Length: 38\r\n\r\n"
                       b"too many open connections, retry later")


class ProtocolErrorLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, minus its ERROR with a traceback for every malformed request:
    those are the sender's fault, one per request (a flood fills the logs), and their message
    quotes the offending bytes, which may be a token. They are logged at debug by type only,
    also where aiohttp itself logs them at debug (a first request that is not HTTP)."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.logger.debug("malformed HTTP request refused: %s", type(exc_info).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, exc_info: Any = None, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.logger.debug("malformed HTTP request refused: %s", type(exc_info).__name__)
            return
        self.logger.debug(msg, *args, exc_info=exc_info, **kwargs)


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    ssl_context: ssl.SSLContext | None = None
    # Also the idle keep-alive time and the TLS handshake time.
    header_read_timeout_s: float = DEFAULT_HEADER_READ_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    # Receivers answer a slower body 408 themselves; for a body no handler reads (a GET with
    # one, a refused request) it bounds the time aiohttp spends draining it before closing.
    body_read_timeout_s: float = DEFAULT_BODY_READ_TIMEOUT_S

    def merged(self, other: ListenerSettings) -> ListenerSettings:
        """Receivers sharing an address share one listener: the stricter of each setting, and
        TLS when any of them asks for it."""
        return ListenerSettings(self.ssl_context or other.ssl_context,
                                min(self.header_read_timeout_s, other.header_read_timeout_s),
                                min(self.max_connections, other.max_connections),
                                min(self.body_read_timeout_s, other.body_read_timeout_s))


class _ConnectionCount:
    __slots__ = ("limit", "open", "refused")

    def __init__(self, limit: int, refused: Counter | None = None) -> None:
        self.open = 0
        self.refused = refused or Counter()  # counted, never logged one by one (a flood)
        self.limit = limit


class _CountedProtocol(asyncio.Protocol):
    """Forwards to aiohttp's protocol, counting open connections; over the cap it answers 503
    and closes instead. Counted from connection_made, i.e. after a TLS handshake, whose own
    time is bounded by the listener's ssl_handshake_timeout."""

    __slots__ = ("_count", "_counted", "_inner")

    def __init__(self, inner: asyncio.Protocol, count: _ConnectionCount) -> None:
        self._inner = inner
        self._count = count
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        count = self._count
        if count.open >= count.limit:
            count.refused.add()
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(_BUSY_ANSWER)
            transport.close()
            return
        count.open += 1
        self._counted = True
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._counted:
            return
        self._counted = False
        self._count.open -= 1
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._counted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._counted else None

    def pause_writing(self) -> None:
        if self._counted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._counted:
            self._inner.resume_writing()


class CappedSite(web.BaseSite):
    """aiohttp's TCPSite with a cap on open connections and a bounded TLS handshake."""

    __slots__ = ("_count", "_host", "_port", "_settings")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, settings: ListenerSettings,
                 backlog: int = DEFAULT_ACCEPT_BACKLOG, refused: Counter | None = None) -> None:
        super().__init__(runner, ssl_context=settings.ssl_context, backlog=backlog)
        self._host = host
        self._port = port
        self._settings = settings
        self._count = _ConnectionCount(settings.max_connections, refused)

    @property
    def name(self) -> str:
        scheme = "https" if self._settings.ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def open_connections(self) -> int:
        return self._count.open

    @property
    def refused_connections(self) -> int:
        return int(self._count.refused.value)

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        factory: Callable[[], Any] = server
        count = self._count

        def protocol() -> _CountedProtocol:
            return _CountedProtocol(factory(), count)

        ssl_options: dict[str, Any] = {}
        if self._settings.ssl_context is not None:
            ssl_options = {"ssl": self._settings.ssl_context,
                           "ssl_handshake_timeout": self._settings.header_read_timeout_s}
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(protocol, self._host, self._port, reuse_address=True,
                                                backlog=self._backlog, **ssl_options)


class Listener:
    """One listening address serving an aiohttp application with every protection above; made
    by `open_listener`, closed by `close` (safe twice)."""

    def __init__(self, runner: web.AppRunner, site: CappedSite) -> None:
        self._runner: web.AppRunner | None = runner
        self.site = site

    @property
    def bound_port(self) -> int:
        """The port actually bound (useful when the config asked for port 0)."""
        assert self._runner is not None and self._runner.addresses
        return int(self._runner.addresses[0][1])

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def open_listener(app: web.Application, address: str, settings: ListenerSettings, owner: str,
                        backlog: int = DEFAULT_ACCEPT_BACKLOG, metrics: Metrics | None = None) -> Listener:
    """Serves `app` on `address` (host:port); OSError naming `owner` and the address if it
    cannot listen there. Every answer carries X-Request-Id (collector.core.request_id); with
    `metrics`, the listener's open and refused connections are series labelled by address."""
    app.middlewares.append(_request_id_middleware)
    app.on_response_prepare.append(_stamp_request_id)
    # aiohttp's keep-alive timer runs from the start of a connection (and from the end of each
    # answer) until a request's headers are complete, and closes the connection when it fires
    # (bytes trickled in do not push it back): it is the header read timeout and the idle
    # keep-alive limit in one. Bodies are decompressed by the receivers, within their limits.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, auto_decompress=False,
                           keepalive_timeout=settings.header_read_timeout_s,
                           lingering_time=settings.body_read_timeout_s,
                           max_line_size=MAX_HEADER_LINE_BYTES, max_field_size=MAX_HEADER_LINE_BYTES,
                           logger=ProtocolErrorLogger(logging.getLogger("aiohttp.server")))
    await runner.setup()
    host, port = split_address(address)
    refused = None
    if metrics is not None:
        refused = metrics.counter("spanhouse_listener_refused_connections",
                                  "Connections answered 503 and closed over the listener's max_connections",
                                  listener=address)
    site = CappedSite(runner, host, port, settings, backlog, refused)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise OSError(f"{owner}: cannot listen on {address}: {error.strerror or error}") from error
    if metrics is not None:
        metrics.gauge("spanhouse_listener_open_connections", "Connections open on the listener",
                      lambda: float(site.open_connections), listener=address)
    return Listener(runner, site)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Bound for the request's task only: aiohttp runs each request in a task of its own.
    request_id = new_request_id()
    request[REQUEST_ID_KEY] = request_id
    token = bind_request_id(request_id)
    try:
        return await handler(request)
    finally:
        unbind_request_id(token)


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(REQUEST_ID_KEY)
    if isinstance(request_id, str):
        response.headers.setdefault(REQUEST_ID_HEADER, request_id)
