"""Fixtures for the clickhouse exporter tests: the Host double (tests/support/doubles.py) and
exporters on the real embedded engine, each in its own directory and always shut down (one
engine directory can be open per process at a time)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from spanhouse.collector.core.component import CreateSettings
from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter
from spanhouse.exporters.clickhouse.factory import FACTORY
from spanhouse.exporters.queue.config import SendingQueueConfig
from tests.support.doubles import StubHost


@pytest.fixture
def host() -> StubHost:
    # The tests look at the fatal errors the exporter reports (a server that refuses it).
    return StubHost(raise_fatal=False)


MakeExporter = Callable[..., ClickHouseExporter]


@pytest.fixture
async def make_exporter(tmp_path: Path) -> AsyncIterator[MakeExporter]:
    """Builds exporters through the factory (config dir = tmp_path, engine in ./engine by
    default) and shuts every one down at teardown, closing the engine."""
    created: list[ClickHouseExporter] = []

    def make(component_id: str = "clickhouse", **overrides: Any) -> ClickHouseExporter:
        # The exporter itself, without the sending queue in front (tests/exporters/queue has those).
        config = ClickHouseConfig(**{"endpoint": "chdb://./engine",
                                     "sending_queue": SendingQueueConfig(enabled=False), **overrides})
        exporter = FACTORY.create(CreateSettings(component_id, tmp_path), config)
        created.append(exporter)
        return exporter

    yield make
    for exporter in reversed(created):
        await exporter.shutdown()


@pytest.fixture
async def started(make_exporter: MakeExporter, host: StubHost) -> ClickHouseExporter:
    exporter = make_exporter()
    await exporter.start(host)
    return exporter
