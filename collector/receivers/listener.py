"""How an HTTP listener treats its connections: TLS, how long a connection may take to send a
request's headers, and how many may be open at once (a cap against slow-client exhaustion)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from collector.receivers.limits import DEFAULT_HEADER_READ_TIMEOUT_S, DEFAULT_MAX_CONNECTIONS

logger = logging.getLogger(__name__)

# What a connection over the cap is told before it is closed: busy, come back shortly.
_BUSY_ANSWER: Final = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
                       b"Content-Type: text/plain\r\nContent-Length: 38\r\n\r\n"
                       b"too many open connections, retry later")


class ProtocolErrorLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, minus its ERROR with a traceback for every malformed request:
    those are the sender's fault, one per request (a flood fills the logs), and their message
    quotes the offending bytes, which may be a token. They are logged at debug by type only."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.logger.debug("malformed HTTP request refused: %s", type(exc_info).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    ssl_context: ssl.SSLContext | None = None
    header_read_timeout_s: float = DEFAULT_HEADER_READ_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def merged(self, other: ListenerSettings) -> ListenerSettings:
        """Receivers sharing an address share one listener: the stricter of each setting, and
        TLS when any of them asks for it."""
        return ListenerSettings(self.ssl_context or other.ssl_context,
                                min(self.header_read_timeout_s, other.header_read_timeout_s),
                                min(self.max_connections, other.max_connections))


class _ConnectionCount:
    __slots__ = ("limit", "open", "refused")

    def __init__(self, limit: int) -> None:
        self.open = 0
        self.refused = 0
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
            count.refused += 1
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

    def __init__(self, runner: web.BaseRunner, host: str, port: int, settings: ListenerSettings) -> None:
        super().__init__(runner, ssl_context=settings.ssl_context)
        self._host = host
        self._port = port
        self._settings = settings
        self._count = _ConnectionCount(settings.max_connections)

    @property
    def name(self) -> str:
        scheme = "https" if self._settings.ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def open_connections(self) -> int:
        return self._count.open

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
                                                **ssl_options)
