"""Fixtures for the read tests: an embedded ClickHouse holding the known traces of
sample_traces.py, and the TraceStore over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.read.store import TraceStore
from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter
from spanhouse.exporters.clickhouse.factory import FACTORY
from spanhouse.exporters.queue.config import SendingQueueConfig
from tests.conftest import StubHost
from tests.read.sample_traces import agentvista_traces, otlp_traces

# A fixed moment (2024-01-15T10:00:00Z) so that the answers are exact.
BASE_NS = 1_705_312_800_000_000_000


@dataclass
class StoredTraces:
    exporter: ClickHouseExporter
    store: TraceStore
    base_ns: int


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[StoredTraces]:
    config = ClickHouseConfig(endpoint="chdb://./engine", sending_queue=SendingQueueConfig(enabled=False))
    exporter = FACTORY.create(CreateSettings("clickhouse", tmp_path), config)
    await exporter.start(StubHost())
    try:
        await exporter.consume(agentvista_traces(BASE_NS))
        await exporter.consume(otlp_traces(BASE_NS + 60 * 1_000_000_000))
        # The same traces under another tenant, an hour later: never visible to "default".
        await exporter.consume(otlp_traces(BASE_NS + 3600 * 1_000_000_000, tenant="other"))
        yield StoredTraces(exporter, TraceStore(exporter.storage_client()), BASE_NS)
    finally:
        await exporter.shutdown()
