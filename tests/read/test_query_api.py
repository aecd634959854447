"""The query_api extension on a running collector: every endpoint over HTTP against traces
stored through the receivers, its errors, and tenancy with the `auth` section's read tokens."""

from __future__ import annotations

import time
from typing import Any, Final

from spanhouse.adapters.agentvista.plugin import agent_id
from tests.conftest import Collector, StartCollector
from tests.read.collector_setup import READ_CONFIG, request, start_read_collector, store_known_traces
from tests.read.sample_traces import AGENTVISTA_TRACE_HEX, OTLP_TRACE_HEX, PLAIN_TRACE_HEX

SECOND_NS: Final = 1_000_000_000
# 2024-01-15T10:00:00Z: fixed, so the answers are exact; reads name the window explicitly.
BASE_NS: Final = 1_705_312_800 * SECOND_NS
ALL_TIME: Final = "start=0"


async def get(running: Collector, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await request("GET", f"http://127.0.0.1:{running.ports['query']}{path}", headers=headers)


async def test_search_trace_services_agents_compare_timeseries(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)

    status, body = await get(running, f"/api/traces?{ALL_TIME}")
    assert status == 200
    assert [trace["trace_id"] for trace in body["traces"]] == [PLAIN_TRACE_HEX, OTLP_TRACE_HEX, AGENTVISTA_TRACE_HEX]
    triage = body["traces"][1]
    assert triage == {
        "trace_id": OTLP_TRACE_HEX, "root_service": "support-bot", "root_name": "invoke_agent triage",
        "agent_name": "triage", "agent_id": agent_id("default", "triage"), "started_at": "2024-01-15T10:01:00.000000Z",
        "start_ns": BASE_NS + 60 * SECOND_NS, "duration_ms": 1200.0, "span_count": 4, "error_count": 1,
        "status": "error", "has_root": True, "total_tokens": 420, "total_cost_usd": 0.75}
    assert body["traces"][0]["total_tokens"] is None  # no usage at all reads as null, not 0

    for query, expected in [
        ("service=support-bot", [OTLP_TRACE_HEX]), ("agent=lead-qualifier", [AGENTVISTA_TRACE_HEX]),
        ("status=error", [PLAIN_TRACE_HEX, OTLP_TRACE_HEX]), ("span_name=POST%20/charge", [PLAIN_TRACE_HEX]),
        ("min_duration=1.5s", [AGENTVISTA_TRACE_HEX]), ("max_duration=60ms", [OTLP_TRACE_HEX]),
        ("attribute=gen_ai.tool.name%3Dlookup_order", [OTLP_TRACE_HEX]),
        ("attribute=gen_ai.request.model%3Dgpt-4o&attribute=agentvista.type%3Dllm", [AGENTVISTA_TRACE_HEX]),
        ("q=CLASSIFY", [AGENTVISTA_TRACE_HEX]), ("limit=1", [PLAIN_TRACE_HEX]),
        ("end=2024-01-15T10:00:30Z", [AGENTVISTA_TRACE_HEX]), ("q=%25", []),
    ]:
        status, body = await get(running, f"/api/traces?{ALL_TIME}&{query}")
        assert (status, [trace["trace_id"] for trace in body["traces"]]) == (200, expected), query
    # The default window is the last 24 hours: these 2024 traces are outside it.
    assert (await get(running, "/api/traces"))[1]["traces"] == []

    status, trace = await get(running, f"/api/traces/{OTLP_TRACE_HEX}")
    assert status == 200
    assert [span["name"] for span in trace["spans"]] == [
        "invoke_agent triage", "chat gpt-4o-mini", "execute_tool lookup_order", "chat gpt-4o"]
    tool = trace["spans"][2]
    assert tool["parent_span_id"] == "a1a2a3a4a5a6a7a8" and tool["duration_ms"] == 50.0
    assert tool["events"] == [{"time": "2024-01-15T10:01:00.320000Z", "time_ns": BASE_NS + 60_320_000_000,
                               "name": "order.found", "attributes": {"order.id": "42"}}]
    assert tool["attributes"] == {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"}
    assert trace["summary"]["span_count"] == 4 and trace["outcome"] is None and trace["feedback"] == []
    # The UUID form of an id reads the same trace.
    status, same = await get(running, "/api/traces/0af76519-16cd-43dd-8448-eb211c80319c")
    assert (status, same["trace_id"]) == (200, OTLP_TRACE_HEX)

    status, body = await get(running, "/api/services")
    assert [service["name"] for service in body["services"]] == ["billing", "lead-qualifier", "support-bot"]
    status, body = await get(running, "/api/agents")
    assert [(agent["name"], agent["id"], agent["trace_count"]) for agent in body["agents"]] == [
        (name, agent_id("default", name), 1) for name in ("billing", "lead-qualifier", "triage")]

    status, body = await get(running, f"/api/agents/compare?agent_a={agent_id('default', 'triage')}"
                                      "&agent_b=lead-qualifier")  # by id or by name
    assert status == 200
    assert [(agent["agent_name"], agent["trace_count"], agent["total_tokens"]) for agent in body["agents"]] == [
        ("triage", 1, 420), ("lead-qualifier", 1, 1500)]

    window = "start=2024-01-15T09:00:00Z&end=2024-01-15T11:00:00Z"
    status, body = await get(running, f"/api/timeseries?group_by=model&{window}&step=1h")
    assert status == 200 and body["step_ms"] == 3_600_000
    assert [(bucket["time"], bucket["series"], bucket["count"]) for bucket in body["buckets"]] == [
        ("2024-01-15T10:00:00.000000Z", "gpt-4o", 2), ("2024-01-15T10:00:00.000000Z", "gpt-4o-mini", 1)]
    status, body = await get(running, f"/api/timeseries?{window}&agent=triage")
    assert [(bucket["series"], bucket["count"], bucket["tokens"]) for bucket in body["buckets"]] == [("triage", 1, 420)]


async def test_errors_are_json_with_their_status(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    for path, status, message in [
        ("/api/traces/zzz", 400, "trace_id: expected 32 hex digits or a UUID, got 'zzz'"),
        ("/api/traces/650e8400e29b41d4a716446655440000", 404, "no trace 650e8400e29b41d4a716446655440000"),
        ("/api/traces?limit=0", 400, "limit: must be between 1 and 1000, got 0"),
        ("/api/traces?status=sad", 400, "status: expected one of error, ok, unset, got 'sad'"),
        ("/api/traces?min_duration=soon", 400,
         "min_duration: expected a duration like 250ms, 1.5s or 2m (or milliseconds), got 'soon'"),
        ("/api/traces?attribute=novalue", 400, "attribute: expected key=value, got 'novalue'"),
        ("/api/traces?start=tomorrow", 400,
         "start: expected an ISO 8601 time (2024-01-15T10:00:00Z) or Unix seconds, got 'tomorrow'"),
        ("/api/timeseries?group_by=colour", 400, "group_by: expected agent or model, got 'colour'"),
        ("/api/agents/compare?agent_a=triage", 400, "agent_b: required (an agent id or name)"),
        ("/api/agents/compare?agent_a=triage&agent_b=ghost", 404, "agent_b: no agent 'ghost'"),
    ]:
        assert await get(running, path) == (status, {"error": message}), path
    # Input that looks like SQL is only ever a parameter value.
    status, body = await get(running, f"/api/traces?{ALL_TIME}&service=x'%20OR%201=1%20--&q=%27;DROP")
    assert (status, body["traces"]) == (200, [])
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(7,)]


READ_TOKEN: Final = "acme-reader-token-0123456789"
WRITE_TOKEN: Final = "acme-writer-token-0123456789"
OTHER_TOKEN: Final = "globex-token-0123456789abcd"
AUTH_SECTION: Final = f"""
auth:
  rate_limit:
    requests_per_second: 0
  tokens:
    - token: {WRITE_TOKEN}
      tenant: acme
      scopes: [write]
    - token: {READ_TOKEN}
      tenant: acme
      scopes: [read]
    - token: {OTHER_TOKEN}
      tenant: globex
      scopes: [write, read]
"""


async def test_reads_are_restricted_to_the_tokens_tenant(start_collector: StartCollector) -> None:
    running = await start_collector(READ_CONFIG + AUTH_SECTION)
    from tests.read.sample_traces import agentvista_body

    status, _ = await request("POST", f"http://127.0.0.1:{running.ports['agentvista']}/api/v1/traces/batch",
                              agentvista_body(time.time_ns() - 60 * SECOND_NS),
                              headers={"Authorization": f"Bearer {WRITE_TOKEN}"})
    assert status == 200
    await running.drain()
    assert await running.aquery("SELECT DISTINCT TenantId FROM otel.otel_traces") == [("acme",)]

    status, body = await get(running, "/api/traces", READ_TOKEN)
    assert (status, [trace["trace_id"] for trace in body["traces"]]) == (200, [AGENTVISTA_TRACE_HEX])
    assert (await get(running, f"/api/traces/{AGENTVISTA_TRACE_HEX}", READ_TOKEN))[0] == 200
    # Another tenant's trace is exactly an unknown one.
    assert await get(running, f"/api/traces/{AGENTVISTA_TRACE_HEX}", OTHER_TOKEN) == \
        (404, {"error": f"no trace {AGENTVISTA_TRACE_HEX}"})
    assert (await get(running, "/api/traces", OTHER_TOKEN))[1]["traces"] == []
    assert (await get(running, "/api/agents", OTHER_TOKEN))[1]["agents"] == []
    # The agent id is derived from the tenant too: acme's agent is not globex's.
    assert (await get(running, "/api/agents", READ_TOKEN))[1]["agents"][0]["id"] == agent_id("acme", "lead-qualifier")
    # No token, a wrong one, or one without the read scope.
    assert (await get(running, "/api/traces"))[0] == 401
    assert (await get(running, "/api/traces", "not-a-configured-token-at-all"))[0] == 401
    assert (await get(running, "/api/traces", WRITE_TOKEN))[0] == 403
    # The viewer's files are public: the page asks for the token and sends it with every read.
    assert (await get(running, "/"))[0] == 200
