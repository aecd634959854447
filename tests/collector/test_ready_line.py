"""The "ready" log line says where the trace viewer and the read API are, on the port the
query_api extension actually bound."""

from __future__ import annotations

import logging
import re

import aiohttp
import pytest

from tests.conftest import StartCollector
from tests.support.configs import collector_config

CONFIG = collector_config("read/read_api")


def ready_line(caplog: pytest.LogCaptureFixture) -> str:
    (line,) = [record.getMessage() for record in caplog.records
               if record.getMessage().startswith("spanhouse is ready")]
    return line


async def status_of(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def test_ready_line_names_the_viewer_and_the_read_api(start_collector: StartCollector,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="spanhouse.collector.service")
    running = await start_collector(CONFIG)
    port = running.ports["query"]
    line = ready_line(caplog)
    assert line.endswith(f"; viewer http://127.0.0.1:{port}/; read API http://127.0.0.1:{port}/api/"), line
    assert await status_of(f"http://127.0.0.1:{port}/") == 200  # the viewer's page is there


async def test_ready_line_shows_the_bound_port_and_no_viewer_when_it_is_off(
        start_collector: StartCollector, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="spanhouse.collector.service")
    unnamed_port = "endpoint: 127.0.0.1:0\n    viewer: false"
    await start_collector(CONFIG.replace("endpoint: 127.0.0.1:{port:query}", unnamed_port))
    line = ready_line(caplog)
    match = re.search(r"; read API (http://127\.0\.0\.1:(\d+)/api/)$", line)
    assert match is not None and int(match.group(2)) > 0 and "viewer" not in line, line
    assert await status_of(match.group(1) + "services") == 200  # the port is the one it listens on
