"""The agentvista receiver on a running collector: the documented example posted with aiohttp
and read back from ClickHouse field by field, repeats stored once, the documented refusals, and
the monthly limit's 429, with the collector serving on after each."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from spanhouse.adapters.agentvista.plugin import agent_id
from tests.adapters.golden import TESTDATA
from tests.conftest import Collector, StartCollector
from tests.support.configs import collector_config

CONFIG = collector_config("adapters/agentvista")

ROWS_SQL = """
SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, toUnixTimestamp64Nano(Timestamp),
       Duration, StatusCode, StatusMessage, SpanAttributes, ResourceAttributes, ScopeName
FROM otel.otel_traces ORDER BY Timestamp
"""


def documented_example() -> Any:
    return orjson.loads((TESTDATA / "agentvista" / "documented_example.json").read_bytes())["body"]


async def post(running: Collector, body: bytes, content_type: str = "application/json"
               ) -> tuple[int, Any, dict[str, str]]:
    url = f"http://127.0.0.1:{running.ports['agentvista']}/api/v1/traces/batch"
    headers = {"Content-Type": content_type, "Authorization": "Bearer av_test"}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        payload = await response.read()
        return response.status, orjson.loads(payload) if payload else None, dict(response.headers)


async def test_documented_example_lands_field_by_field(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG % 0)
    status, body, _ = await post(running, orjson.dumps(documented_example()))
    assert (status, body) == (200, {"accepted": 1, "rejected": 0, "errors": []})
    root_id, llm_id = (await running.aquery("SELECT SpanId FROM otel.otel_traces ORDER BY Timestamp"))
    rows = await running.aquery(ROWS_SQL)
    assert rows == [
        ("550e8400e29b41d4a716446655440000", root_id[0], "", "invoke_agent lead-qualifier", "Internal",
         "lead-qualifier", 1_705_312_800_000_000_000, 2_000_000_000, "Ok", "",
         {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "lead-qualifier",
          "gen_ai.agent.id": agent_id("default", "lead-qualifier"), "gen_ai.usage.cost": "0.0045",
          "agentvista.total_cost_usd": "0.004500", "agentvista.trace_id": "550e8400-e29b-41d4-a716-446655440000",
          "agentvista.status": "completed", "agentvista.duration_ms": "2000", "agentvista.success": "true",
          "agentvista.outcome": "qualified", "agentvista.total_tokens": "1500"},
         {"service.name": "lead-qualifier"}, "spanhouse.agentvista"),
        ("550e8400e29b41d4a716446655440000", llm_id[0], root_id[0], "gpt-4o classify", "Client",
         "lead-qualifier", 1_705_312_800_100_000_000, 1_700_000_000, "Ok", "",
         {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": "800",
          "gen_ai.usage.output_tokens": "120", "gen_ai.usage.cost": "0.0032", "agentvista.cost_usd": "0.003200",
          "agentvista.trace_id": "550e8400-e29b-41d4-a716-446655440000",
          "agentvista.span_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "agentvista.type": "llm",
          "agentvista.status": "completed", "agentvista.duration_ms": "1700", "agentvista.total_tokens": "920"},
         {"service.name": "lead-qualifier"}, "spanhouse.agentvista"),
    ]
    # The exact amounts sum exactly in ClickHouse from the kept decimal text.
    (total,) = await running.aquery(
        "SELECT toString(sum(toDecimal128(SpanAttributes['agentvista.cost_usd'], 6))) FROM otel.otel_traces "
        "WHERE SpanAttributes['agentvista.cost_usd'] != ''")
    assert total == ("0.0032",)


async def test_repeats_are_accepted_and_stored_once(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG % 0)
    for _ in range(3):
        status, body, _ = await post(running, orjson.dumps(documented_example()))
        assert (status, body) == (200, {"accepted": 1, "rejected": 0, "errors": []})
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(2,)]


async def test_simultaneous_repeats_are_stored_once(start_collector: StartCollector) -> None:
    """Eight copies of one batch at the same moment: each is answered as accepted (a repeat is
    accepted), and its spans are stored once. The receiver holds a copy whose ids another copy
    is still storing until that one is stored, then translates it again (StateWrite.exclusive)."""
    running = await start_collector(CONFIG % 0)
    body = orjson.dumps(documented_example())
    answers = await asyncio.gather(*(post(running, body) for _ in range(8)))
    assert [(status, payload) for status, payload, _ in answers] == \
        [(200, {"accepted": 1, "rejected": 0, "errors": []})] * 8
    assert await running.aquery("SELECT count(), uniqExact(SpanId) FROM otel.otel_traces") == [(2, 2)]


async def test_refusals_in_the_vendor_shape_and_serving_on(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG % 0)
    example = documented_example()
    span = example["traces"][0]["spans"][0]
    too_many = {"traces": [{"trace": example["traces"][0]["trace"],
                            "spans": [span | {"span_id": f"6ba7b810-9dad-11d1-80b4-{i:012x}"} for i in range(101)]}]}
    deep = b'{"traces": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    for payload in [b"{not json", b"", b"[]", b'{"traces": 5}', orjson.dumps(too_many), deep]:
        status, body, _ = await post(running, payload)
        assert status == 400, payload[:40]
        assert set(body) == {"detail"} and isinstance(body["detail"], str)
    partial = {"traces": [{"trace": {"trace_id": "x", "agent": "a", "started_at": "2024-01-15T10:00:00Z"}},
                          *example["traces"]]}
    status, body, _ = await post(running, orjson.dumps(partial))
    assert (status, body) == (200, {"accepted": 1, "rejected": 1,
                                    "errors": [{"trace_id": "x", "error": 'trace.trace_id: "x" is not a UUID'}]})
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(2,)]


async def test_monthly_limit_answers_429_and_stores_nothing(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG % 3)
    status, _, _ = await post(running, orjson.dumps(documented_example()))
    assert status == 200
    another = documented_example()
    another["traces"][0]["trace"]["trace_id"] = "650e8400-e29b-41d4-a716-446655440000"
    another["traces"][0]["spans"][0]["trace_id"] = "650e8400-e29b-41d4-a716-446655440000"
    status, body, headers = await post(running, orjson.dumps(another))
    assert status == 429
    assert body["detail"].startswith("monthly event limit of 3 events reached: 2 stored in ")
    assert 0 < int(headers["Retry-After"]) <= 31 * 86400
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(2,)]
    # A repeat adds nothing, so it is still accepted at the limit.
    status, _, _ = await post(running, orjson.dumps(documented_example()))
    assert status == 200
