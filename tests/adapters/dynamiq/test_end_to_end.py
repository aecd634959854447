"""The documented Dynamiq example sent to a running collector over HTTP, read back from ClickHouse
field by field; a rejected request leaves no row."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from spanhouse.adapters.common.ids import span_id_from
from tests.adapters.golden import load_case
from tests.conftest import StartCollector
from tests.support.configs import collector_config

CONFIG = collector_config("adapters/dynamiq")

COLUMNS = ("TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, "
           "SpanAttributes, toUnixTimestamp64Nano(Timestamp), Duration, StatusCode, StatusMessage")


async def rows_when_ready(collector: Any, sql: str, count: int) -> list[tuple[Any, ...]]:
    for _ in range(100):
        rows = await collector.aquery(sql)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} rows expected, got {await collector.aquery(sql)}")


async def test_documented_example_lands_in_clickhouse(start_collector: StartCollector) -> None:
    collector = await start_collector(CONFIG)
    url = f"http://127.0.0.1:{collector.ports['dynamiq']}/v1/traces"
    request, _ = load_case("dynamiq", "documented_example")
    headers = {"Authorization": "Bearer dq-access-key", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=orjson.dumps(request.body), headers=headers) as response:
            assert response.status == 200
            assert await response.json() == {"message": "ok"}
        rejected = {"runs": [dict(request.body["runs"][0], end_time="", id="other-run")]}
        async with session.post(url, data=orjson.dumps(rejected), headers=headers) as response:
            assert response.status == 400
            assert await response.json() == {"error": {"code": "bad_request", "message": "Bad Request",
                                                       "details": {"runs.0.end_time": "cannot be blank"}}}
        async with session.post(url, data=b"{not json", headers=headers) as response:
            assert response.status == 400
            body = await response.json()
            assert (body["error"]["code"], body["error"]["message"]) == ("bad_request", "Bad Request")

    rows = await rows_when_ready(collector, f"SELECT {COLUMNS} FROM otel.otel_traces", 1)
    assert len(rows) == 1, "the rejected requests must leave no row"
    (trace_id, span_id, parent_span_id, name, kind, service, resource, scope, attributes, timestamp, duration,
     status_code, status_message) = rows[0]
    assert trace_id == "6e7f8091a2b34c5d8e6f708192a3b4c5"
    assert (span_id, parent_span_id) == (span_id_from("11d4a6e8-9c2b-4f3a-8e1d-2f6071829301").hex(), "")
    assert (name, kind, service, scope) == ("Workflow", "Internal", "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "dynamiq")
    assert resource == {"service.name": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
                        "dynamiq.workflow.id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
                        "dynamiq.workflow.version": "3"}
    assert timestamp == 1_781_082_921_000_000_000  # 2026-06-10T09:15:21Z
    assert duration == 13_000_000_000
    assert (status_code, status_message) == ("Ok", "")
    assert attributes["dynamiq.run.id"] == "11d4a6e8-9c2b-4f3a-8e1d-2f6071829301"
    assert attributes["dynamiq.run.type"] == "workflow"
    assert attributes["dynamiq.run.status"] == "succeeded"
    assert attributes["dynamiq.trace_id"] == "6e7f8091-a2b3-4c5d-8e6f-708192a3b4c5"
    assert attributes["dynamiq.source_id"] == "4f6e1c2a-7b8d-4e9f-a1b2-c3d4e5f60718"
    assert attributes["session.id"] == attributes["gen_ai.conversation.id"] == "3d3e8a1f-09a6-4f64-9d68-1d2f3a4b5c6d"
    assert attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert orjson.loads(attributes["dynamiq.tags"]) == ["support-triage", "production"]
    assert orjson.loads(attributes["dynamiq.input"]) == {"ticket_subject": "Charged twice for June invoice"}
    assert orjson.loads(attributes["dynamiq.output"]) == {"category": "billing"}
    assert orjson.loads(attributes["dynamiq.metadata"]) == {
        "workflow": {"id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "version": "3"}}
    assert "dynamiq.executions" not in attributes  # an empty list has no child spans and nothing left over
