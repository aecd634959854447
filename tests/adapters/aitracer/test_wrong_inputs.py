"""A battery of wrong inputs on every aitracer route: each is answered with a 4xx in the vendor's
error shape ({"error": {"message", "type", "code", "param"}}; OTLP's own shape on the OTLP
route), stores nothing and never raises; over HTTP, never a 5xx."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from spanhouse.adapters.aitracer.feedback import validate_feedback
from spanhouse.adapters.aitracer.ingest import handle_guardrails, handle_tool_calls
from spanhouse.adapters.aitracer.native import handle_native
from spanhouse.adapters.aitracer.openai_agents import handle_agents
from spanhouse.adapters.aitracer.webhooks import handle_webhook_body
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult
from spanhouse.proto.otlp_json import encode_traces
from tests.adapters.aitracer.test_end_to_end import CONFIG, post
from tests.adapters.golden import RECEIVED_AT_NS, MemoryState
from tests.conftest import StartCollector


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


SPAN = {"object": "trace.span", "id": "span_1", "trace_id": "trace_1", "parent_id": None,
        "started_at": "2026-06-10T08:00:00Z", "ended_at": "2026-06-10T08:00:01Z",
        "span_data": {"type": "custom", "name": "x", "data": {}}, "error": None}
COMMON: list[Any] = [None, [], "x", 42, True, {"": nested(300)}, {"n": 2**70}, {"s": "\ud800"}]

BAD: dict[str, list[Any]] = {
    "native": [*COMMON[:5], {"requestId": ""}, {"requestId": 5}, {"model": ["gpt"]}, {"metrics": []},
               {"metrics": {"promptTokens": -1}}, {"metrics": {"latencyMs": "830"}}, {"metrics": {"latencyMs": 1e308}},
               {"metrics": {"estimatedCostUsd": float("nan")}}, {"metrics": {"totalTokens": 1.5}},
               {"metrics": {"finishReason": 1}}, {"status": {"ok": True}}, {"prompt": nested(300)},
               {"x": 2**70}, {"x": "\udc00"}],
    "agents": [*COMMON[:5], {}, {"data": {}}, {"data": "[]"}, {"data": [None]}, {"data": [{"object": 5}]},
               {"data": [{"object": "trace"}]}, {"data": [{"object": "trace", "id": 5}]},
               {"data": [{"object": "trace", "id": "t", "metadata": []}]},
               {"data": [SPAN | {"id": None}]}, {"data": [SPAN | {"trace_id": ""}]},
               {"data": [SPAN | {"parent_id": "span_1"}]}, {"data": [SPAN | {"span_data": None}]},
               {"data": [SPAN | {"span_data": {"type": 1}}]}, {"data": [SPAN | {"started_at": "yesterday"}]},
               {"data": [SPAN | {"ended_at": "2026-06-10T07:00:00Z"}]}, {"data": [SPAN | {"error": "boom"}]},
               {"data": [SPAN | {"error": {"message": 5}}]}, {"data": [SPAN | {"id": "s" * 300}]},
               {"data": [SPAN | {"span_data": {"type": "custom", "data": nested(300)}}]},
               {"data": [SPAN | {"started_at": 1e300}]}],
    "tools": [*COMMON[:5], {}, {"toolName": ""}, {"toolName": 5}, {"toolCalls": {}}, {"toolCalls": []},
              {"toolCalls": [5]}, {"toolName": "t", "durationMs": -1}, {"toolName": "t", "durationMs": "5"},
              {"toolName": "t", "durationMs": 1e12}, {"toolName": "t", "traceId": 5},
              {"toolName": "t", "traceId": "  "}, {"toolName": "t", "startedAt": "soon"},
              {"toolName": "t", "toolCallId": []}, {"toolName": "t", "parentSpanId": ""},
              {"toolName": "t", "arguments": nested(300)}, {"toolName": "t", "status": 1}],
    "guardrails": [*COMMON[:5], {}, {"guardrailName": "g"}, {"guardrailName": "g", "tripwireTriggered": "yes"},
                   {"results": []}, {"results": "x"}, {"results": [None]},
                   {"guardrailName": 5, "tripwireTriggered": True},
                   {"guardrailName": "g", "tripwireTriggered": True, "stage": 1},
                   {"guardrailName": "g", "tripwireTriggered": True, "info": nested(300)}],
    "webhooks": [*COMMON[:5], {}, {"source": ""}, {"source": 5}, {"alerts": [None]}, {"source": "x", "severity": []},
                 {"alert": "x"}, {"newIssues": "x"}, {"newIssues": [5]}, {"source": "x", "timestamp": "never"},
                 {"source": "x", "payload": nested(300)}],
    "feedback": [*COMMON[:5], {}, {"traceId": "t"}, {"traceId": "", "rating": "up"}, {"traceId": 5, "rating": "up"},
                 {"traceId": "t", "rating": "meh"}, {"traceId": "t", "rating": 2}, {"traceId": "t", "thumbsUp": "yes"},
                 {"traceId": "t", "rating": "up", "score": "high"}, {"traceId": "t", "rating": "up", "score": None}
                 | {"score": float("inf")}, {"traceId": "t", "rating": "up", "comment": 5},
                 {"traceId": "t" * 300, "rating": "up"}, {"traceId": "t", "rating": "up", "comment": "c" * 10_001},
                 {"traceId": "t", "rating": "up", "x": nested(300)}],
}
HANDLERS = {"native": handle_native, "agents": handle_agents, "tools": handle_tool_calls,
            "guardrails": handle_guardrails, "webhooks": handle_webhook_body}
PATHS = {"native": "/api/traces", "agents": "/api/integrations/openai-agents", "tools": "/api/ingest/tool-calls",
         "guardrails": "/api/integrations/openai-guardrails", "webhooks": "/api/ingest/webhooks",
         "feedback": "/api/ingest/feedback"}
CASES = [(route, index, body) for route, bodies in BAD.items() for index, body in enumerate(bodies)]


def send(route: str, body: Any) -> AdapterResult:
    request = AdapterRequest(method="POST", path=PATHS[route], path_params={}, query={}, headers={}, body=body,
                             tenant="default", received_at_ns=RECEIVED_AT_NS)
    return HANDLERS[route](request, MemoryState())


def assert_vendor_error(status: int, body: Any) -> None:
    assert 400 <= status < 500
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code", "param"}
    assert isinstance(body["error"]["message"], str) and len(body["error"]["message"]) < 600
    orjson.dumps(body)


@pytest.mark.parametrize(("route", "index", "body"), CASES, ids=[f"{route}-{index}" for route, index, _ in CASES])
def test_wrong_input_is_a_400(route: str, index: int, body: Any) -> None:
    if route == "feedback":
        from spanhouse.adapters.aitracer.common import InvalidRequestError
        with pytest.raises(InvalidRequestError):
            validate_feedback(body)
        return
    result = send(route, body)
    assert result.response.status == 400, result.response.body
    assert_vendor_error(result.response.status, result.response.body)
    assert result.traces is None
    assert result.state_writes == ()


NASTY: list[Any] = [None, True, 0, -1, 2**63, 1e308, float("nan"), "", " ", "abc", "\ud800", "🤖" * 1000, [], {},
                    [None], {"": None}, nested(300)]


def test_random_mutations_never_raise() -> None:
    """Every field of a valid record of each route set to a nasty value, one or two at a time:
    always a 200 or a 400 that serialises, never an exception."""
    generator = random.Random(20260610)
    valid = {"native": {"actionName": "a", "requestId": "r", "model": "m", "prompt": "p", "response": "r",
                        "status": "completed", "metrics": {"promptTokens": 1, "latencyMs": 2}},
             "tools": {"toolName": "t", "traceId": "r", "arguments": {}, "result": "x", "durationMs": 1},
             "guardrails": {"guardrailName": "g", "tripwireTriggered": True, "traceId": "r", "info": {}},
             "webhooks": {"source": "snyk", "severity": "high", "package": "p", "id": "1"},
             "agents": SPAN}
    for _ in range(400):
        route = generator.choice(list(valid))
        record = dict(valid[route])
        for key in generator.sample(list(record), generator.choice((1, 2))):
            record[key] = generator.choice(NASTY)
        body = {"data": [record]} if route == "agents" else record
        result = send(route, body)
        assert result.response.status in (200, 400), (route, record)
        orjson.dumps(result.response.body)
        if result.traces is not None:
            encode_traces(result.traces)


async def test_over_http_every_route_answers_4xx_never_5xx(start_collector: StartCollector) -> None:
    running = await start_collector(CONFIG)
    raw_bodies = [b"{not json", b"", b"[", b'"\\ud800"', b"[" * 5000 + b"]" * 5000, b"\xff\xfe", b"null"]
    for route, path in [*PATHS.items(), ("proxy", "/api/proxy/openai/responses")]:
        for raw in raw_bodies:
            status, body, _ = await post(running, path, raw)
            assert 400 <= status < 500, (route, raw[:20], status, body)
            if route != "feedback" or status != 503:
                assert_vendor_error(status, body)
        status, body, _ = await post(running, path, b"{}", content_type="text/csv")
        assert status == 415, route
        # (The proxy's last case has a model: refused because an akt_ key is never sent upstream.)
        wrongs = BAD[route][5:] if route in BAD else [{}, {"model": 5}, {"model": ""}, {"input": "hi"}, {"model": "m"}]
        for wrong in wrongs:
            try:
                payload = orjson.dumps(wrong)
            except TypeError:
                continue  # not expressible as JSON on the wire
            if orjson.loads(payload) != wrong:
                continue  # NaN and infinities go out as null: another, valid, request
            status, body, _ = await post(running, path, payload)
            assert 400 <= status < 500, (route, wrong, status, body)
            assert_vendor_error(status, body)
    assert await running.aquery("SELECT count() FROM otel.otel_traces") == [(0,)]
    assert await running.aquery("SELECT count() FROM otel.otel_trace_feedback") == [(0,)]
