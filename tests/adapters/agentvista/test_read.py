"""AgentVista's read endpoints on a running collector, as the vendor page documents them, over
traces of every source: trace detail, compare-agents, outcomes (stored in the shared feedback
table, visible on the next read), 404 for unknown and other tenants' traces and agents."""

from __future__ import annotations

import time
from typing import Any, Final

import orjson

from spanhouse.adapters.agentvista.plugin import agent_id
from spanhouse.adapters.agentvista.read import AGENT_IDS_NAMESPACE
from spanhouse.adapters.agentvista.state import AGENTS_NAMESPACE
from tests.conftest import Collector, StartCollector
from tests.read.collector_setup import READ_CONFIG, request, start_read_collector, store_known_traces
from tests.read.sample_traces import AGENTVISTA_TRACE_ID, agentvista_body

SECOND_NS: Final = 1_000_000_000
BASE_NS: Final = 1_705_312_800 * SECOND_NS  # 2024-01-15T10:00:00Z, the vendor page's example time
OTLP_TRACE_UUID: Final = "0af76519-16cd-43dd-8448-eb211c80319c"
DOCUMENTED_HEADER_FIELDS: Final = {"trace_id", "agent_name", "status", "started_at", "ended_at", "duration_ms",
                                   "success", "outcome", "error_message", "total_tokens", "total_cost_usd",
                                   "metadata", "spans"}


async def call(running: Collector, method: str, path: str, body: Any = None, token: str | None = None
               ) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await request(method, f"http://127.0.0.1:{running.ports['agentvista']}{path}", body, headers)


async def test_trace_detail_as_documented(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    status, trace = await call(running, "GET", f"/api/v1/dashboard/traces/{AGENTVISTA_TRACE_ID}")
    assert status == 200
    assert set(trace) >= DOCUMENTED_HEADER_FIELDS
    assert {key: value for key, value in trace.items() if key != "spans"} == {
        "trace_id": AGENTVISTA_TRACE_ID, "agent_id": agent_id("default", "lead-qualifier"),
        "agent_name": "lead-qualifier", "status": "completed", "started_at": "2024-01-15T10:00:00.000000Z",
        "ended_at": "2024-01-15T10:00:02.000000Z", "duration_ms": 2000.0, "success": True, "outcome": "qualified",
        "error_message": None, "total_tokens": 1500, "total_cost_usd": 0.0045, "metadata": {"campaign": "spring"}}
    (span,) = trace["spans"]
    assert {key: value for key, value in span.items() if key != "attributes"} == {
        "span_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "trace_id": AGENTVISTA_TRACE_ID, "parent_span_id": None,
        "type": "llm", "name": "gpt-4o classify", "status": "completed", "started_at": "2024-01-15T10:00:00.100000Z",
        "ended_at": "2024-01-15T10:00:02.000000Z", "duration_ms": 1700.0, "model": "gpt-4o", "input_tokens": 800,
        "output_tokens": 120, "total_tokens": 920, "cost_usd": 0.0032, "error_message": None, "metadata": None,
        "service_name": "lead-qualifier"}
    # The same UUID in another spelling is the same trace.
    assert (await call(running, "GET", f"/api/v1/dashboard/traces/{AGENTVISTA_TRACE_ID.upper()}"))[1] == trace


async def test_a_trace_of_another_source_reads_in_the_same_shape(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    status, trace = await call(running, "GET", f"/api/v1/dashboard/traces/{OTLP_TRACE_UUID}")
    assert status == 200
    header = {key: value for key, value in trace.items() if key != "spans"}
    assert header == {
        "trace_id": OTLP_TRACE_UUID, "agent_id": agent_id("default", "triage"), "agent_name": "triage",
        "status": "completed", "started_at": "2024-01-15T10:01:00.000000Z", "ended_at": "2024-01-15T10:01:01.200000Z",
        "duration_ms": 1200.0, "success": None, "outcome": None, "error_message": None, "total_tokens": 420,
        "total_cost_usd": 0.75, "metadata": {"service.name": "support-bot", "deployment.environment": "test"}}
    assert [(span["name"], span["type"], span["parent_span_id"], span["status"]) for span in trace["spans"]] == [
        ("invoke_agent triage", "agent", None, "completed"),
        ("chat gpt-4o-mini", "llm", "a1a2a3a4a5a6a7a8", "completed"),
        ("execute_tool lookup_order", "tool", "a1a2a3a4a5a6a7a8", "completed"),
        ("chat gpt-4o", "llm", "a1a2a3a4a5a6a7a8", "failed"),
    ]
    failed = trace["spans"][3]
    assert (failed["error_message"], failed["input_tokens"], failed["total_tokens"], failed["cost_usd"]) == (
        "rate limited", 300, 300, 0.5)
    started = [span["started_at"] for span in trace["spans"]]
    assert started == sorted(started)
    # A failed root: the header says so.
    status, billing = await call(running, "GET", "/api/v1/dashboard/traces/1bf76519-16cd-43dd-8448-eb211c80319d")
    assert (status, billing["status"], billing["error_message"], billing["agent_name"]) == (
        200, "failed", "card declined", "billing")
    assert billing["total_tokens"] is None and billing["total_cost_usd"] is None


async def test_running_and_failed_agentvista_traces(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    body = agentvista_body(BASE_NS)
    header = body["traces"][0]["trace"]
    header.update(status="running", ended_at=None, duration_ms=None, success=None, outcome=None)
    failed = agentvista_body(BASE_NS)["traces"][0]
    failed["trace"].update(trace_id="650e8400-e29b-41d4-a716-446655440000", status="failed",
                           error_message="upstream timeout")
    failed["spans"] = []
    body["traces"].append(failed)
    assert (await call(running, "POST", "/api/v1/traces/batch", body))[0] == 200
    await running.drain()
    _, trace = await call(running, "GET", f"/api/v1/dashboard/traces/{AGENTVISTA_TRACE_ID}")
    assert (trace["status"], trace["ended_at"], trace["duration_ms"], trace["success"]) == (
        "running", None, None, None)
    _, trace = await call(running, "GET", "/api/v1/dashboard/traces/650e8400-e29b-41d4-a716-446655440000")
    assert (trace["status"], trace["error_message"], trace["spans"]) == ("failed", "upstream timeout", [])


async def test_a_trace_and_span_sent_without_a_status_read_back_without_one(start_collector: StartCollector
                                                                           ) -> None:
    # Stored Unset (nothing sent): the read API says null, as sent, not `completed`.
    running = await start_read_collector(start_collector)
    body = agentvista_body(BASE_NS)
    del body["traces"][0]["trace"]["status"]
    del body["traces"][0]["spans"][0]["status"]
    assert (await call(running, "POST", "/api/v1/traces/batch", body))[0] == 200
    await running.drain()
    stored = await running.aquery("SELECT StatusCode FROM otel.otel_traces ORDER BY Timestamp")
    assert stored == [("Unset",), ("Unset",)]
    _, trace = await call(running, "GET", f"/api/v1/dashboard/traces/{AGENTVISTA_TRACE_ID}")
    assert (trace["status"], [span["status"] for span in trace["spans"]]) == (None, [None])


async def test_outcome_is_stored_and_visible_on_the_next_read(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    path = f"/api/v1/dashboard/traces/{AGENTVISTA_TRACE_ID}"
    assert await call(running, "PATCH", f"{path}/outcome", {"success": False, "outcome": "rejected"}) == (
        200, {"trace_id": AGENTVISTA_TRACE_ID, "success": False, "outcome": "rejected"})
    _, trace = await call(running, "GET", path)
    assert (trace["success"], trace["outcome"]) == (False, "rejected")
    # Latest wins; outcome is optional and may be null.
    assert await call(running, "PATCH", f"{path}/outcome", {"success": True}) == (
        200, {"trace_id": AGENTVISTA_TRACE_ID, "success": True, "outcome": None})
    _, trace = await call(running, "GET", path)
    assert (trace["success"], trace["outcome"]) == (True, None)
    # Any source's trace can get an outcome.
    assert (await call(running, "PATCH", f"/api/v1/dashboard/traces/{OTLP_TRACE_UUID}/outcome",
                       {"success": True, "outcome": "escalated"}))[0] == 200
    _, trace = await call(running, "GET", f"/api/v1/dashboard/traces/{OTLP_TRACE_UUID}")
    assert (trace["success"], trace["outcome"]) == (True, "escalated")
    # Stored in the shared side table, keyed by tenant, trace and source.
    rows = await running.aquery("SELECT TenantId, TraceId, Source, Success, Outcome FROM otel.otel_trace_feedback "
                                "FINAL ORDER BY TraceId")
    assert rows == [("default", "0af7651916cd43dd8448eb211c80319c", "agentvista.outcome", True, "escalated"),
                    ("default", "550e8400e29b41d4a716446655440000", "agentvista.outcome", True, "")]


async def test_outcome_refusals(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    path = f"/api/v1/dashboard/traces/{AGENTVISTA_TRACE_ID}/outcome"
    for body, message in [
        ({"outcome": "x"}, "success: field required"),
        ({"success": "yes"}, "success: expected a boolean, got a string"),
        ({"success": True, "outcome": 5}, "outcome: expected a string or null, got a number"),
        ([], 'the body must be a JSON object like {"success": true, "outcome": "qualified"}, got an array'),
    ]:
        assert await call(running, "PATCH", path, body) == (422, {"detail": message}), body
    assert await call(running, "PATCH", "/api/v1/dashboard/traces/650e8400-e29b-41d4-a716-446655440000/outcome",
                      {"success": True}) == (404, {"detail": "Trace not found"})
    assert (await call(running, "PATCH", "/api/v1/dashboard/traces/nope/outcome", {"success": True}))[0] == 422
    assert await running.aquery("SELECT count() FROM otel.otel_trace_feedback") == [(0,)]


async def test_unknown_traces_are_404_and_bad_ids_422(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    assert await call(running, "GET", "/api/v1/dashboard/traces/650e8400-e29b-41d4-a716-446655440000") == (
        404, {"detail": "Trace not found"})
    assert await call(running, "GET", "/api/v1/dashboard/traces/not-a-uuid") == (
        422, {"detail": "trace_id: expected 32 hex digits or a UUID, got 'not-a-uuid'"})


async def test_compare_agents_of_any_source(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    first, second = agent_id("default", "lead-qualifier"), agent_id("default", "triage")
    status, body = await call(running, "GET",
                              f"/api/v1/dashboard/traces/compare-agents?agent_a={first}&agent_b={second}")
    assert status == 200
    assert len(body["agents"]) == 2
    assert body["agents"][0] == {
        "agent_id": first, "agent_name": "lead-qualifier", "trace_count": 1, "success_count": 1,
        "outcome_count": 1, "success_rate": 1.0, "error_count": 0, "error_rate": 0.0, "avg_duration_ms": 2000.0,
        "p50_duration_ms": 2000.0, "p95_duration_ms": 2000.0, "total_tokens": 1500, "avg_tokens_per_trace": 1500.0,
        "total_cost_usd": 0.0045, "avg_cost_per_trace_usd": 0.0045, "first_trace_at": "2024-01-15T10:00:00.000000Z",
        "last_trace_at": "2024-01-15T10:00:00.000000Z"}
    assert (body["agents"][1]["agent_id"], body["agents"][1]["agent_name"], body["agents"][1]["success_rate"]) == (
        second, "triage", None)
    # The same agent twice is two objects too.
    _, same = await call(running, "GET", f"/api/v1/dashboard/traces/compare-agents?agent_a={second}&agent_b={second}")
    assert [agent["agent_name"] for agent in same["agents"]] == ["triage", "triage"]
    # Agents of other sources got agent records, in the ingest route's namespace and shape.
    state = running.service.receiver("agentvista").state
    record = orjson.loads(state.get(AGENTS_NAMESPACE, "default:triage") or b"{}")
    assert record == {"id": second, "name": "triage", "tenant": "default", "created_at": "2024-01-15T10:01:00.000000Z"}
    assert state.get(AGENT_IDS_NAMESPACE, f"default:{second}") == b"triage"
    # Outcomes count in the success rate at once.
    await call(running, "PATCH", f"/api/v1/dashboard/traces/{OTLP_TRACE_UUID}/outcome", {"success": False})
    _, body = await call(running, "GET", f"/api/v1/dashboard/traces/compare-agents?agent_a={first}&agent_b={second}")
    assert (body["agents"][1]["outcome_count"], body["agents"][1]["success_rate"]) == (1, 0.0)


async def test_compare_agents_refusals(start_collector: StartCollector) -> None:
    running = await start_read_collector(start_collector)
    await store_known_traces(running, BASE_NS)
    known = agent_id("default", "triage")
    path = "/api/v1/dashboard/traces/compare-agents"
    assert await call(running, "GET", f"{path}?agent_a={known}") == (422, {"detail": "agent_b: field required"})
    assert await call(running, "GET", f"{path}?agent_a={known}&agent_b=nope") == (
        422, {"detail": "agent_b: 'nope' is not a UUID"})
    assert await call(running, "GET", f"{path}?agent_a={known}&agent_b={agent_id('default', 'ghost')}") == (
        404, {"detail": "Agent not found"})
    assert await call(running, "GET", f"{path}?agent_a={known}&agent_b={agent_id('other', 'triage')}") == (
        404, {"detail": "Agent not found"})


TOKENS: Final = {"acme": "acme-token-0123456789abcdef", "globex": "globex-token-0123456789abcd"}
AUTH_SECTION: Final = f"""
auth:
  rate_limit:
    requests_per_second: 0
  tokens:
    - token: {TOKENS["acme"]}
      tenant: acme
      scopes: [write, read]
    - token: {TOKENS["globex"]}
      tenant: globex
      scopes: [write, read]
"""


async def test_another_tenants_trace_and_agent_are_404(start_collector: StartCollector) -> None:
    running = await start_collector(READ_CONFIG + AUTH_SECTION)
    status, _ = await call(running, "POST", "/api/v1/traces/batch", agentvista_body(time.time_ns()), TOKENS["acme"])
    assert status == 200
    await running.drain()
    path = f"/api/v1/dashboard/traces/{AGENTVISTA_TRACE_ID}"
    assert (await call(running, "GET", path, token=TOKENS["acme"]))[0] == 200
    assert await call(running, "GET", path, token=TOKENS["globex"]) == (404, {"detail": "Trace not found"})
    assert await call(running, "PATCH", f"{path}/outcome", {"success": True}, TOKENS["globex"]) == (
        404, {"detail": "Trace not found"})
    acme_agent = agent_id("acme", "lead-qualifier")
    compare = f"/api/v1/dashboard/traces/compare-agents?agent_a={acme_agent}&agent_b={acme_agent}"
    assert (await call(running, "GET", compare, token=TOKENS["acme"]))[0] == 200
    assert await call(running, "GET", compare, token=TOKENS["globex"]) == (404, {"detail": "Agent not found"})
    assert (await call(running, "GET", path))[0] == 401
