"""Reading HTTP request bodies within a size limit, before and after decompression."""

from __future__ import annotations

import asyncio

from aiohttp import web

from spanhouse.collector.core.errors import PayloadTooLargeError, PermanentError, RequestTimeoutError, from_wire
from spanhouse.proto.compression import decompress
from spanhouse.proto.errors import MalformedPayloadError


async def read_body(request: web.Request, max_bytes: int, timeout_s: float | None = None) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed `max_bytes`:
    from Content-Length before reading, or while streaming a chunked body; with 408 when it
    has not all arrived within `timeout_s` (a slow sender holds a connection and memory)."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise PayloadTooLargeError(f"request body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.content.iter_chunked(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLargeError(f"request body exceeds the limit of {max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError as error:
        if timeout_s is not None:
            raise RequestTimeoutError(f"the request body did not arrive within {timeout_s:g}s") from error
        raise PermanentError(f"reading the request body failed: {error}") from error
    except ConnectionError as error:
        raise PermanentError(f"reading the request body failed: {error}") from error
    return b"".join(chunks)


async def read_decoded_body(request: web.Request, max_bytes: int, timeout_s: float | None = None) -> bytes:
    """The body after Content-Encoding is undone, never inflated past `max_bytes`."""
    body = await read_body(request, max_bytes, timeout_s)
    try:
        return decompress(body, request.headers.get("Content-Encoding"), max_bytes)
    except MalformedPayloadError as error:
        raise from_wire(error) from None
