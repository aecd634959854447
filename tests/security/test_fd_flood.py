"""A flood of idle connections on one port cannot starve the others: a collector process with a
low open-file limit keeps taking OTLP while thousands of connections hit its query API, and its
log stays small (no EMFILE, no traceback per connection)."""

from __future__ import annotations

import asyncio
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_ports
from tests.security.helpers import otlp_request
from tests.support.configs import collector_config

OPEN_FILE_LIMIT = 1024  # the collector's hard (and so soft) limit in this test
FLOOD_CONNECTIONS = 3000  # three times the limit
FLOOD_SECONDS = 6.0
MAX_LOG_BYTES = 64 * 1024


@pytest.fixture
def many_descriptors() -> Iterator[None]:
    """This test process holds the flood's sockets: it needs more than its usual soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FLOOD_CONNECTIONS + 512
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise AssertionError(f"the test needs an open-file hard limit of {needed}, this machine has {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILE_LIMIT, OPEN_FILE_LIMIT))


async def _post_otlp(session: aiohttp.ClientSession, port: int, trace_byte: int) -> int:
    body = otlp_request(spans=5, trace_byte=trace_byte).SerializeToString()
    async with session.post(f"http://127.0.0.1:{port}/v1/traces", data=body,
                            headers={"Content-Type": "application/x-protobuf"},
                            timeout=aiohttp.ClientTimeout(total=10)) as response:
        await response.read()
        return response.status


async def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the collector exited"
            try:
                if await _post_otlp(session, port, 0xA0) == 200:
                    return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("the collector did not start")


def _flood(port: int, count: int, seconds: float) -> list[socket.socket]:
    """Opens `count` connections to `port` within `seconds` and keeps them (never sends a byte)."""
    held = []
    interval = seconds / count
    for _ in range(count):
        connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        connection.setblocking(False)
        connection.connect_ex(("127.0.0.1", port))
        held.append(connection)
        time.sleep(interval)
    return held


async def test_an_idle_connection_flood_on_the_query_api_does_not_stop_otlp(tmp_path: Path,
                                                                               many_descriptors: None) -> None:
    http_port, query_port, metrics_port = free_ports(("http", "query", "metrics")).values()
    config = tmp_path / "collector.yaml"
    text = collector_config("security/fd_flood").replace("{dir}", str(tmp_path))
    for name, port in (("http", http_port), ("query", query_port), ("metrics", metrics_port)):
        text = text.replace(f"{{port:{name}}}", str(port))
    config.write_text(text)
    log_path = tmp_path / "collector.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "spanhouse.collector", "run", "--config", str(config)],
                                   stdout=log, stderr=subprocess.STDOUT, preexec_fn=_limit_open_files)
    held: list[socket.socket] = []
    try:
        await _wait_ready(http_port, process)
        flood = asyncio.ensure_future(asyncio.to_thread(_flood, query_port, FLOOD_CONNECTIONS, FLOOD_SECONDS))
        statuses = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            index = 0
            while not flood.done():
                statuses.append(await _post_otlp(session, http_port, index % 200 + 1))
                index += 1
                await asyncio.sleep(0.1)
            held = await flood
            for _ in range(10):  # and while the flood's connections are all held
                statuses.append(await _post_otlp(session, http_port, 0xB0))
        assert len(statuses) >= 20 and set(statuses) == {200}, statuses
        assert process.poll() is None
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{metrics_port}/metrics") as reply:
            metrics = await reply.text()
        series = f'spanhouse_listener_refused_connections{{listener="127.0.0.1:{query_port}"}} '
        refused = re.search(re.escape(series) + r"([0-9.]+)", metrics)
        assert refused is not None and float(refused.group(1)) > 0, metrics  # the cap did the work
    finally:
        for connection in held:
            connection.close()
        process.terminate()
        process.wait(30)
    text = log_path.read_bytes()
    assert len(text) < MAX_LOG_BYTES, text[-2000:]
    assert b"Traceback" not in text and b"out of system resource" not in text, text[-2000:]
    assert b"open-file limit 1024" in text  # the budget the caps were cut to
