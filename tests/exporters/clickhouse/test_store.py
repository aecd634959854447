"""The exporter's storage client (exporters/clickhouse/store.py): handed out from start on, on
the exporter's connection, and no socket of the shell's opened by the component."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanhouse.collector.core.errors import RetryableError
from spanhouse.collector.core.storage import NoStorageError, StorageProvider
from spanhouse.collector.sql import socket_path_for
from tests.exporters.clickhouse.conftest import MakeExporter
from tests.exporters.clickhouse.otlp_samples import simple_request
from tests.support.doubles import StubHost


async def test_the_store_is_handed_out_from_start_on(make_exporter: MakeExporter, host: StubHost,
                                                      tmp_path: Path) -> None:
    exporter = make_exporter()
    assert isinstance(exporter, StorageProvider)  # declared, for the host's lookup
    with pytest.raises(NoStorageError, match="not started"):
        exporter.storage_client()
    await exporter.start(host)
    store = exporter.storage_client()
    await exporter.consume(simple_request(3))
    assert store.query("SELECT count() FROM otel.otel_traces")[1] == [(3,)]
    store.insert_rows("otel_trace_feedback", ["TenantId", "TraceId", "Source"], [["default"], ["ab" * 16], ["test"]])
    assert store.query("SELECT Source FROM otel.otel_trace_feedback")[1] == [("test",)]
    assert store.embedded_path == tmp_path / "engine"
    # `spanhouse sql`'s socket is the collector's shell's (collector/sql_command.py), never the component's.
    assert not socket_path_for(store.embedded_path).exists()
    await exporter.shutdown()
    with pytest.raises(ConnectionError, match="shut down"):
        store.query("SELECT 1")
    assert not isinstance(NoStorageError("x"), ConnectionError) and isinstance(NoStorageError("x"), RetryableError)
