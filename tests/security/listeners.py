"""Raw-socket clients for the listener tests: what slow, idle, flooding and malformed clients do,
over real TCP to a running collector."""

from __future__ import annotations

import asyncio
import time

CLOSED_WITHIN_S = 4.0  # every timeout of the test configs is 1 s; the rest is a loaded machine's slack


async def read_until_closed(reader: asyncio.StreamReader, timeout_s: float = CLOSED_WITHIN_S) -> bytes:
    """Everything the server sends until it closes; TimeoutError if it keeps the connection."""
    received = b""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - time.monotonic()))
        except ConnectionError:
            return received
        if not chunk:
            return received
        received += chunk


async def exchange(port: int, request: bytes, timeout_s: float = CLOSED_WITHIN_S) -> bytes:
    """Sends `request` and returns all the server sent until it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await read_until_closed(reader, timeout_s)
    finally:
        writer.close()


async def slowloris(port: int, give_up_s: float = 15.0) -> float:
    """Sends a request's headers a line every 100 ms, never ending them; the seconds until the
    server closed the connection (`give_up_s` if it never did)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    closed = asyncio.ensure_future(reader.read())
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        while time.monotonic() - started < give_up_s:
            done, _ = await asyncio.wait({closed}, timeout=0.1)
            if done:
                return time.monotonic() - started
            try:
                writer.write(b"X-Slow: a\r\n")
                await writer.drain()
            except ConnectionError:
                return time.monotonic() - started
        return give_up_s
    finally:
        closed.cancel()
        writer.close()


async def idle_after_answer(port: int, request: bytes) -> tuple[bytes, float]:
    """Sends one whole keep-alive request, reads its answer, then stays idle: the answer's
    status line and the seconds from the answer until the server closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), CLOSED_WITHIN_S)
        headers = b""
        while not headers.endswith(b"\r\n\r\n"):
            headers += await asyncio.wait_for(reader.readline(), CLOSED_WITHIN_S)
        length = next((int(line.split(b":", 1)[1]) for line in headers.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await asyncio.wait_for(reader.readexactly(length), CLOSED_WITHIN_S)
        answered = time.monotonic()
        await read_until_closed(reader, 15.0)
        return status, time.monotonic() - answered
    finally:
        writer.close()


async def busy_answer(port: int, cap: int) -> bytes:
    """Holds `cap` idle connections and opens one more: what the extra one is told."""
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(cap)]
    try:
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await read_until_closed(reader)
        finally:
            writer.close()
    finally:
        for _, writer in held:
            writer.close()
