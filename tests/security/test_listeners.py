"""Every listener of the collector (an OTLP receiver, the query API, the health check, the
metrics server) has the same protections: a connection cap, header and body read timeouts, an
idle keep-alive limit, malformed requests answered 400 without a traceback, no token in the
log from an over-long header line, and an X-Request-Id on every answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from spanhouse.collector.server.listener import ListenerSettings
from spanhouse.collector.telemetry.server import MetricsServer
from tests.conftest import StartCollector, free_port
from tests.security.helpers import WRITE_TOKEN
from tests.security.listeners import (
    CLOSED_WITHIN_S,
    busy_answer,
    exchange,
    idle_after_answer,
    read_until_closed,
    slowloris,
)
from tests.support.configs import collector_config

CONFIG = collector_config("security/listener_limits")


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    method: str
    path: str

    def request(self, extra_headers: bytes = b"", body: bytes = b"") -> bytes:
        content_type = b"Content-Type: application/x-protobuf\r\n" if self.method == "POST" else b""
        return (f"{self.method} {self.path} HTTP/1.1\r\nHost: x\r\n".encode() + content_type + extra_headers
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


@pytest.fixture
async def targets(start_collector: StartCollector) -> AsyncIterator[list[Target]]:
    collector = await start_collector(CONFIG)
    # The service's metrics server has fixed defaults (10 s, 64 connections); the same class
    # with the test's settings, on the service's own metrics, shows the same protections fast.
    metrics = MetricsServer(f"127.0.0.1:{free_port()}", collector.service.metrics, ListenerSettings(None, 1.0, 3, 1.0))
    await metrics.start()
    ports = collector.ports
    yield [Target("otlp", ports["http"], "POST", "/v1/traces"),
           Target("query_api", ports["query"], "GET", "/api/services"),
           Target("health_check", ports["health"], "GET", "/"),
           Target("metrics", metrics.bound_port, "GET", "/metrics")]
    await metrics.stop()


async def on_every(targets: list[Target], check: Any) -> dict[str, Any]:
    results = await asyncio.gather(*(check(target) for target in targets))
    return {target.name: result for target, result in zip(targets, results, strict=True)}


async def test_connection_cap(targets: list[Target]) -> None:
    answers = await on_every(targets, lambda target: busy_answer(target.port, 3))
    for name, answer in answers.items():
        assert answer.startswith(b"HTTP/1.1 503"), (name, answer[:80])
        assert b"Retry-After: 1" in answer, name


async def test_header_read_timeout_closes_slowloris(targets: list[Target]) -> None:
    closed_after = await on_every(targets, lambda target: slowloris(target.port))
    for name, seconds in closed_after.items():
        assert seconds < CLOSED_WITHIN_S, (name, seconds)


async def test_body_read_timeout(targets: list[Target]) -> None:
    async def send_part_of_a_body(target: Target) -> bytes:
        request = target.request().replace(b"Content-Length: 0", b"Content-Length: 1000") + b"abc"
        try:
            return await exchange(target.port, request)
        except TimeoutError:
            return b"still open"

    answers = await on_every(targets, send_part_of_a_body)
    assert answers.pop("otlp").startswith(b"HTTP/1.1 408")
    for name, answer in answers.items():  # answered without the body, then closed within the timeout
        assert answer.startswith(b"HTTP/1.1 "), (name, answer[:80])


async def test_idle_keep_alive_is_closed(targets: list[Target]) -> None:
    results = await on_every(targets, lambda target: idle_after_answer(target.port, target.request()))
    for name, (status, idle_s) in results.items():
        assert status.startswith(b"HTTP/1.1 200"), (name, status)
        assert idle_s < CLOSED_WITHIN_S, (name, idle_s)


async def test_malformed_requests_are_400_without_traceback(targets: list[Target], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    for malformed in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                      b"GET / HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
                      b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n"):
        answers = await on_every(targets, lambda target, request=malformed: exchange(target.port, request))
        for name, answer in answers.items():
            assert answer.startswith(b"HTTP/1.0 400"), (name, malformed, answer[:80])
    assert "Traceback" not in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING], caplog.text


async def test_over_long_header_line_keeps_the_token_out_of_the_log(targets: list[Target], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    header = f"Authorization: Bearer {WRITE_TOKEN}{'A' * 9000}\r\n".encode()
    answers = await on_every(targets, lambda target: exchange(target.port, target.request(header)))
    for name, answer in answers.items():
        assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400", b"HTTP/1.0 431")), (name, answer[:80])
    assert WRITE_TOKEN not in caplog.text
    assert "Traceback" not in caplog.text


async def test_every_answer_has_a_request_id(targets: list[Target]) -> None:
    seen = set()
    for target in targets:
        for path in (target.path, "/no/such/route"):
            request = Target(target.name, target.port, target.method, path).request(b"Connection: close\r\n")
            answer = await exchange(target.port, request)
            head = answer.split(b"\r\n\r\n", 1)[0].decode()
            ids = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
                   if line.lower().startswith("x-request-id:")]
            assert len(ids) == 1 and len(ids[0]) == 16, (target.name, path, head)
            seen.add(ids[0])
    assert len(seen) == 2 * len(targets)  # one id per request


async def test_a_listener_still_serves_after_each_abuse(targets: list[Target]) -> None:
    for target in targets:
        reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
        writer.write(target.request(b"Connection: close\r\n"))
        answer = await read_until_closed(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), (target.name, answer[:80])
