"""The read side reaches storage through one typed interface (collector.core.storage): the host
hands out the client the clickhouse exporter provides, says clearly when there is none, and
`spanhouse sql`'s socket is the shell's, not the exporter's."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from spanhouse.collector.core.storage import NoStorageError
from spanhouse.exporters.clickhouse.store import ClickHouseStore
from tests.conftest import StartCollector
from tests.read.collector_setup import request, start_read_collector
from tests.support.configs import collector_config
from tests.support.imports import imported_modules

ROOT: Final = Path(__file__).resolve().parents[2]

NO_STORAGE_CONFIG: Final = collector_config("collector/no_storage")


async def test_the_host_hands_out_the_exporters_store(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    host = running.service.host
    assert host is not None
    storage = host.storage()
    # Behind its sending queue, the exporter's own store: the first one, or by its id.
    assert isinstance(storage, ClickHouseStore)
    assert storage is host.storage("clickhouse") is running.service.exporter("clickhouse").inner.storage_client()
    assert (storage.database, storage.traces_table) == ("otel", "otel_traces")
    assert storage.query("SELECT 42 AS x") == (["x"], [(42,)])
    with pytest.raises(NoStorageError, match=r'no exporter "clickhouse/2" .*\(configured: clickhouse\)'):
        host.storage("clickhouse/2")
    # An adapter's ServiceRoutes get the same client through their Services.
    assert running.service.receiver("agentvista").storage() is storage


async def test_without_storage_the_read_api_answers_retry_later(start_collector: StartCollector) -> None:
    running = await start_collector(NO_STORAGE_CONFIG)
    assert running.service.host is not None
    with pytest.raises(NoStorageError, match="no exporter of this collector provides storage"):
        running.service.host.storage()
    status, body = await request("GET", f"http://127.0.0.1:{running.ports['query']}/api/services")
    assert status == 503
    # The answer says retry later and names nothing internal; the log says why.
    assert body["error"] == f"temporarily unavailable, retry later (request id {body['request_id']})"
    # The vendor read and side-table routes answer 503 in their vendor's shape.
    with pytest.raises(NoStorageError):
        running.service.receiver("agentvista").storage()
    status, body = await request(
        "GET", f"http://127.0.0.1:{running.ports['agentvista']}/api/v1/dashboard/traces/{'ab' * 16}")
    assert status == 503, body
    status, body = await request("POST", f"http://127.0.0.1:{running.ports['aitracer']}/api/ingest/feedback",
                                 {"traceId": "req_1", "rating": "up"}, {"Authorization": "Bearer akt_test"})
    assert (status, body["error"]["code"]) == (503, "unavailable"), body


@pytest.mark.parametrize(("package", "forbidden"), [
    ("exporters/clickhouse", ("collector.sql", "collector.config", "collector.service", "adapters")),
    ("collector/extensions/query_api", ("adapters", "exporters", "collector.service", "collector.sql")),
    ("collector/read", ("adapters", "exporters", "collector.extensions", "collector.service", "collector.sql")),
    # The vendor read and side-table routes use the shared reads and the core's storage interface only.
    ("adapters/agentvista", ("collector.extensions", "exporters", "collector.service", "collector.sql")),
    ("adapters/aitracer", ("collector.extensions", "exporters", "collector.service", "collector.sql")),
])
def test_the_read_side_and_the_exporter_import_neither_the_shell_nor_each_other(
        package: str, forbidden: tuple[str, ...]) -> None:
    for path in sorted((ROOT / package).glob("*.py")):
        wrong = sorted(name for name in imported_modules(path)
                       if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden))
        assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"
