"""Shared test doubles and fixtures: free ports, recording and failing consumers, and a
collector started in-process from a YAML config on loopback."""

from __future__ import annotations

import asyncio
import socket
import textwrap
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spanhouse.collector.config.loader import load_config
from spanhouse.collector.core.component import Traces, span_count
from spanhouse.collector.core.errors import PipelineError
from spanhouse.collector.registry import default_registry
from spanhouse.collector.service import Service
from tests.support.configs import collector_config

# The one Host double and clock double live in tests/support/doubles.py; re-exported here.
from tests.support.doubles import ManualClock as ManualClock
from tests.support.doubles import StubHost as StubHost


def free_port(taken: Collection[int] = ()) -> int:
    """A port nothing listens on now, other than `taken`: the kernel may hand the port it just
    gave out again once the probe is closed, and two placeholders of one config sharing it is a
    config error (seen in CI: the metrics address and the otlp receiver on one port)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in taken:
            return port


def free_ports(names: tuple[str, ...]) -> dict[str, int]:
    """A distinct free port for each name."""
    ports: dict[str, int] = {}
    for name in names:
        ports[name] = free_port(ports.values())
    return ports


@dataclass
class RecordingConsumer:
    """A sink that records every batch it is handed; `mutates_data` is the capability it
    declares to a fan-out (collector/fanout.py)."""

    received: list[Traces] = field(default_factory=list)
    mutates_data: bool = False

    async def consume(self, traces: Traces) -> None:
        self.received.append(traces)

    @property
    def spans(self) -> int:
        return sum(span_count(traces) for traces in self.received)


@dataclass
class FailingConsumer:
    """A consumer that always refuses with the given error."""

    error: PipelineError

    async def consume(self, traces: Traces) -> None:
        raise self.error


@dataclass
class Collector:
    """A running collector with the ports it was given."""

    service: Service
    ports: dict[str, int]
    directory: Path
    config_path: Path

    def query(self, sql: str, exporter_id: str = "clickhouse") -> list[tuple[Any, ...]]:
        assert self.service.host is not None, "the collector is not started"
        _, rows = self.service.host.storage(exporter_id).query(sql)
        return [tuple(row) for row in rows]

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Waits until every exporter's sending queue has stored what it was given."""
        for exporter_id in self.service.config.exporters:
            exporter = self.service.exporter(exporter_id)
            if hasattr(exporter, "wait_idle"):
                await asyncio.wait_for(exporter.wait_idle(), timeout_s)

    async def aquery(self, sql: str, exporter_id: str = "clickhouse") -> list[tuple[Any, ...]]:
        """The rows of `sql` once everything acknowledged so far is stored."""
        await self.drain()
        return await asyncio.to_thread(self.query, sql, exporter_id)


StartCollector = Callable[..., Any]


@pytest.fixture
async def start_collector(tmp_path: Path) -> AsyncIterator[StartCollector]:
    """Starts a collector from a YAML template. `{port:NAME}` placeholders become free ports
    on 127.0.0.1 and `{dir}` the test's directory."""
    started: list[Service] = []

    async def start(template: str, env: dict[str, str] | None = None) -> Collector:
        ports: dict[str, int] = {}
        text = textwrap.dedent(template)
        while "{port:" in text:
            start_index = text.index("{port:")
            end_index = text.index("}", start_index)
            name = text[start_index + 6:end_index]
            if name not in ports:
                ports[name] = free_port(ports.values())
            text = text[:start_index] + str(ports[name]) + text[end_index + 1:]
        text = text.replace("{dir}", str(tmp_path))
        config_path = tmp_path / "collector.yaml"
        config_path.write_text(text)
        config = load_config(config_path, default_registry(), environ=env or {})
        service = Service(config)
        started.append(service)
        await service.start()
        return Collector(service, ports, tmp_path, config_path)

    yield start
    for service in reversed(started):
        await service.shutdown()


BASIC_CONFIG = collector_config("collector/basic")
