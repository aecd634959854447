"""The archal receiver on a running collector: the documented examples and the golden payloads
posted with aiohttp and read back from ClickHouse field by field, idempotent session replay,
preflight, and the documented refusals in Archal's ErrorResponse shape with the collector
serving on after each."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.adapters.golden import TESTDATA
from tests.conftest import Collector, StartCollector
from tests.support.configs import collector_config

CONFIG = collector_config("adapters/archal")

ROWS_SQL = """
SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, toUnixTimestamp64Nano(Timestamp),
       Duration, StatusCode, StatusMessage, SpanAttributes, ResourceAttributes, ScopeName
FROM otel.otel_traces {where} ORDER BY Timestamp, SpanName
"""
SESSION_ID = "env_579dacfe6a9cf331e79ee0f6"  # tenant "default", Idempotency-Key "ci-run-4821-attempt"


def case(name: str) -> tuple[Any, dict[str, str]]:
    document = orjson.loads((TESTDATA / "archal" / f"{name}.json").read_bytes())
    return document["body"], document["_request"].get("headers", {})


async def post(running: Collector, path: str, body: bytes, headers: dict[str, str] | None = None,
               content_type: str = "application/json") -> tuple[int, Any, dict[str, str]]:
    url = f"http://127.0.0.1:{running.ports['archal']}{path}"
    sent = {"Authorization": "Bearer archal_example", **(headers or {}), "Content-Type": content_type}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as response:
        payload = await response.read()
        return response.status, orjson.loads(payload) if payload else None, dict(response.headers)


async def post_case(running: Collector, path: str, name: str) -> tuple[int, Any]:
    body, headers = case(name)
    status, answer, _ = await post(running, path, orjson.dumps(body), headers)
    return status, answer


async def rows(running: Collector, where: str = "") -> list[tuple[Any, ...]]:
    return await running.aquery(ROWS_SQL.format(where=where))


async def test_sessions_land_once_and_preflight_records_nothing(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    status, preflight = await post_case(running, "/api/sessions", "session_doc_example")
    assert status == 200
    assert (preflight["status"], preflight["alive"], preflight["endpoints"]) == ("ended", False, {})
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(0,)]

    status, created = await post_case(running, "/api/sessions", "session_idempotency_key")
    assert status == 200
    assert created["sessionId"] == SESSION_ID
    assert created["status"] == "running" and created["alive"] is True
    port = running.ports["archal"]
    assert created["apiBaseUrls"] == {
        "github": f"http://127.0.0.1:{port}/runtime/{SESSION_ID}/github/api",
        "slack": f"http://127.0.0.1:{port}/runtime/{SESSION_ID}/slack/api"}
    for _ in range(2):  # the same key again: the same session, nothing new stored
        assert await post_case(running, "/api/sessions", "session_idempotency_key") == (200, created)

    [(trace_id, span_id, parent, name, kind, service, start, duration, code, message, attributes, resource,
      scope)] = await rows(running)
    assert (parent, name, kind, service, duration, code, message, resource, scope) == (
        "", "archal.session", "Internal", "archal", 0, "Unset", "", {"service.name": "archal"},
        "spanhouse.adapters.archal")
    assert len(trace_id) == 32 and len(span_id) == 16 and start > 0
    assert attributes == {
        "session.id": SESSION_ID, "gen_ai.conversation.id": SESSION_ID,
        "archal.session.status": "running", "archal.session.expiresAt": created["expiresAt"],
        "archal.session.idempotencyKey": "ci-run-4821-attempt", "archal.session.clones": '["github","slack"]',
        "archal.session.scenarioId": "triage-issues", "archal.session.transport": "cloud",
        "archal.session.ttlSeconds": "3600", "archal.session.scenarioRunCount": "3",
        "archal.session.rateLimit": "100", "archal.session.routing.github.mode": "proxy",
        "archal.session.seeds.github": "small-repo", "archal.session.seeds.slack": "empty-workspace",
        "archal.session.source.kind": "cli", "archal.session.source.version": "0.9.1",
        "archal.session.credential.github.token": "[redacted]",
        "archal.session.credential.github.scopes": '["[redacted]"]',
        "archal.session.runConfig.model": "gpt-4o", "archal.session.runConfig.maxSteps": "40",
        "archal.session.scenarioDraft.title": "Triage new issues",
        "archal.session.runProject.name": "support-agent"}

    # The documented example without preflightOnly creates a session too.
    body, headers = case("session_doc_example")
    status, other, _ = await post(running, "/api/sessions", orjson.dumps(body | {"preflightOnly": False}), headers)
    assert status == 200 and other["sessionId"] != SESSION_ID
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(2,)]


async def test_trace_payloads_land_field_by_field(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    for name in ("traces_span_list", "traces_otlp", "traces_opaque"):
        assert await post_case(running, "/api/traces", name) == (200, {"ok": True}), name

    span_list = await rows(running, "WHERE TraceId = '550e8400e29b41d4a716446655440000'")
    assert [(row[3], row[4], row[5], row[6], row[7], row[8], row[9]) for row in span_list] == [
        ("triage run", "Internal", "support-agent", 1_781_081_990_000_000_000, 8_125_000_000, "Ok", ""),
        ("plan", "Internal", "support-agent", 1_781_081_990_100_000_000, 2_500_000_000, "Unset", ""),
        ("list_issues", "Client", "support-agent", 1_781_081_992_700_000_000, 140_000_000, "Error",
         "403 rate limited"),
    ]
    root, plan, tool = span_list
    assert (root[2], plan[2], tool[2]) == ("", root[1], plan[1])  # parent links
    assert plan[10] == {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai",
        "gen_ai.usage.input_tokens": "812", "gen_ai.usage.output_tokens": "96", "gen_ai.usage.cost": "0.00299",
        "session.id": SESSION_ID, "gen_ai.conversation.id": SESSION_ID,
        "archal.id": "llm-1", "archal.parentId": "run-1", "archal.name": "plan", "archal.type": "llm",
        "archal.model": "gpt-4o", "archal.provider": "openai", "archal.startTime": "2026-06-10T08:59:50.100Z",
        "archal.endTime": "2026-06-10T08:59:52.600Z", "archal.usage.prompt_tokens": "812",
        "archal.usage.completion_tokens": "96", "archal.costUsd": "0.00299",
        "archal.input": '[{"role":"user","content":"Triage the open issues"}]',
        "archal.output": "I will list the issues first."}
    assert root[11] == {"service.name": "support-agent", "archal.traceId": "550e8400-e29b-41d4-a716-446655440000",
                        "archal.sessionId": SESSION_ID, "archal.agentName": "support-agent",
                        "archal.scenario": "triage-issues"}
    assert tool[10]["session.id"] == "env_other"  # the span's own session id wins

    otlp = await rows(running, "WHERE TraceId = '5b8efff798038103d269b633813fc60c'")
    assert [(row[1], row[2], row[3], row[4], row[5], row[7], row[8], row[9], row[12]) for row in otlp] == [
        ("eee19b7ec3c1b174", "", "chat gpt-4o", "Client", "support-agent", 1_250_000_000, "Unset", "",
         "openinference.instrumentation.openai"),
        ("eee19b7ec3c1b175", "eee19b7ec3c1b174", "execute_tool list_issues", "Unspecified", "support-agent",
         100_000_000, "Error", "rate limited by clone", "openinference.instrumentation.openai"),
    ]
    assert otlp[0][10] == {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                           "gen_ai.usage.input_tokens": "812", "session.id": SESSION_ID,
                           "gen_ai.conversation.id": SESSION_ID}
    assert otlp[1][10] == {"session.id": "set-by-the-sdk"}
    assert otlp[0][11] == {"service.name": "support-agent", "archal.sessionId": SESSION_ID,
                           "archal.scenario": "triage-issues"}

    [opaque] = await rows(running, "WHERE SpanName = 'archal.trace'")
    assert opaque[4:10] == ("Internal", "support-agent", 1_781_081_999_000_000_000, 0, "Unset", "")
    body, _ = case("traces_opaque")
    assert orjson.loads(opaque[10]["archal.payload"]) == body
    assert opaque[10]["session.id"] == SESSION_ID
    assert opaque[10]["archal.summary.failed"] == "1"

    # One query finds the session's spans, whatever shape they arrived in.
    assert await running.aquery(
        f"SELECT count() FROM otel.otel_traces WHERE SpanAttributes['session.id'] = '{SESSION_ID}'") == [(4,)]


async def test_refusals_in_the_error_shape_and_serving_on(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    deep = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    refusals: list[tuple[str, bytes, dict[str, str], str, int]] = [
        ("/api/traces", b"{not json", {}, "application/json", 400),
        ("/api/traces", b"", {}, "application/json", 400),
        ("/api/traces", b"[]", {}, "application/json", 400),
        ("/api/traces", b'"a string"', {}, "application/json", 400),
        ("/api/traces", b'{"n": 1e400}', {}, "application/json", 400),
        ("/api/traces", b'{"s": "\\ud800"}', {}, "application/json", 400),
        ("/api/traces", deep, {}, "application/json", 400),
        ("/api/traces", b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', {},
         "application/json", 400),
        ("/api/traces", b"{}", {}, "text/html", 415),
        ("/api/traces", b'{"x": "' + b"y" * 300_000 + b'"}', {}, "application/json", 413),
        ("/api/sessions", b"", {}, "application/json", 400),
        ("/api/sessions", b'{"clones": []}', {}, "application/json", 400),
        ("/api/sessions", b'{"clones": ["github"], "ttlSeconds": 0}', {}, "application/json", 400),
        ("/api/sessions", b'{"clones": ["github"], "ttlSeconds": 1e400}', {}, "application/json", 400),
        ("/api/sessions", b'{"clones": ["github"], "rateLimit": 18446744073709551616}', {}, "application/json",
         400),
        ("/api/sessions", b'{"clones": ["github"]}', {"Idempotency-Key": "k" * 201}, "application/json", 400),
        ("/api/sessions", b'{"clones": ["github"], "unknown": null}', {}, "application/json", 400),
        ("/api/sessions", deep, {}, "application/json", 400),
    ]
    for path, payload, headers, content_type, expected in refusals:
        status, body, _ = await post(running, path, payload, headers, content_type)
        assert status == expected, (path, payload[:60])
        assert set(body) == {"error", "code", "message", "detail"}, body
        assert all(isinstance(value, str) for value in body.values())
        # ...and the collector serves on.
        assert (await post(running, "/api/traces", b'{"ping": true}'))[:2] == (200, {"ok": True})
    assert await running.aquery("SELECT count() FROM otel.otel_traces WHERE SpanName != 'archal.trace'") == [(0,)]
    # The pings: one payload, so one trace id and one span id, stored as often as sent.
    assert await running.aquery("SELECT uniqExact(TraceId, SpanId) FROM otel.otel_traces") == [(1,)]
