"""A battery of wrong inputs to both Archal routes: every one is answered with a 4xx in Archal's
ErrorResponse shape, never an exception; odd but valid trace payloads are accepted and stored."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from spanhouse.adapters.archal.json_values import MAX_NESTING_DEPTH
from spanhouse.adapters.archal.plugin import ArchalAdapter, ArchalConfig
from spanhouse.collector.core.adapter_api import AdapterRequest, AdapterResult
from spanhouse.collector.core.component import span_count
from spanhouse.proto.otlp_json import decode_traces, encode_traces
from tests.adapters.golden import RECEIVED_AT_NS, MemoryState

ARCHAL = ArchalAdapter(ArchalConfig())
HANDLERS = {route.path: route.handle for route in ARCHAL.routes}
VALID_SESSION: dict[str, Any] = {"clones": ["github"]}


def nested(levels: int, inner: Any = "bottom", as_list: bool = False) -> Any:
    value = inner
    for _ in range(levels):
        value = [value] if as_list else {"a": value}
    return value


def call(path: str, body: Any, headers: dict[str, str] | None = None) -> AdapterResult:
    request = AdapterRequest(method="POST", path=path, path_params={}, query={}, headers=headers or {},
                             body=body, tenant="default", received_at_ns=RECEIVED_AT_NS)
    return HANDLERS[path](request, MemoryState())


def assert_error_shape(result: AdapterResult, mentions: str) -> None:
    response = result.response
    assert 400 <= response.status < 500, response
    assert set(response.body) == {"error", "code", "message", "detail"}
    assert all(isinstance(value, str) and value for value in response.body.values())
    orjson.dumps(response.body)  # the receiver can send it
    assert mentions in response.body["detail"], response.body["detail"]
    assert result.traces is None and result.state_writes == ()


def session(**fields: Any) -> dict[str, Any]:
    return {**VALID_SESSION, **fields}


NOT_OBJECTS = [None, [], [{}], "", "github", 0, -1, 2**70, 1e400, float("nan"), True, False]

SESSION_CASES: list[tuple[str, Any, dict[str, str], str]] = [
    *[(f"body {value!r}", value, {}, "body") for value in NOT_OBJECTS],
    ("missing clones", {}, {}, "clones"),
    ("missing clones, other fields fine", {"scenarioId": "x", "ttlSeconds": 60}, {}, "clones"),
    ("clones null", session(clones=None), {}, "clones"),
    ("clones a string", session(clones="github"), {}, "clones"),
    ("clones an object", session(clones={"github": True}), {}, "clones"),
    ("clones empty", session(clones=[]), {}, "clones"),
    ("clones of null", session(clones=[None]), {}, "clones[0]"),
    ("clones of numbers", session(clones=["github", 2**70]), {}, "clones[1]"),
    ("clones of arrays", session(clones=[["github"]]), {}, "clones[0]"),
    ("clone not unicode", session(clones=["\ud800"]), {}, "clones[0]"),
    ("ttl zero", session(ttlSeconds=0), {}, "ttlSeconds"),
    ("ttl negative", session(ttlSeconds=-1), {}, "ttlSeconds"),
    ("ttl over a day", session(ttlSeconds=86_401), {}, "ttlSeconds"),
    ("ttl 2**70", session(ttlSeconds=2**70), {}, "ttlSeconds"),
    ("ttl 1e400", session(ttlSeconds=1e400), {}, "ttlSeconds"),
    ("ttl -1e400", session(ttlSeconds=-1e400), {}, "ttlSeconds"),
    ("ttl NaN", session(ttlSeconds=float("nan")), {}, "ttlSeconds"),
    ("ttl fractional", session(ttlSeconds=60.5), {}, "ttlSeconds"),
    ("ttl a string", session(ttlSeconds="60"), {}, "ttlSeconds"),
    ("ttl a boolean", session(ttlSeconds=True), {}, "ttlSeconds"),
    ("ttl null", session(ttlSeconds=None), {}, "ttlSeconds"),
    ("scenarioRunCount zero", session(scenarioRunCount=0), {}, "scenarioRunCount"),
    ("scenarioRunCount 1001", session(scenarioRunCount=1001), {}, "scenarioRunCount"),
    ("scenarioRunCount 1e400", session(scenarioRunCount=1e400), {}, "scenarioRunCount"),
    ("rateLimit zero", session(rateLimit=0), {}, "rateLimit"),
    ("rateLimit 100001", session(rateLimit=100_001), {}, "rateLimit"),
    ("rateLimit 2**70", session(rateLimit=2**70), {}, "rateLimit"),
    ("rateLimit a list", session(rateLimit=[1]), {}, "rateLimit"),
    ("scenarioId null", session(scenarioId=None), {}, "scenarioId"),
    ("scenarioId a number", session(scenarioId=7), {}, "scenarioId"),
    ("transport an object", session(transport={"kind": "cloud"}), {}, "transport"),
    ("preflightOnly a string", session(preflightOnly="true"), {}, "preflightOnly"),
    ("preflightOnly a number", session(preflightOnly=1), {}, "preflightOnly"),
    ("preflightOnly null", session(preflightOnly=None), {}, "preflightOnly"),
    *[(f"{name} null", session(**{name: None}), {}, name)
      for name in ("routing", "seeds", "source", "credential", "runConfig", "scenarioDraft", "runProject")],
    *[(f"{name} an array", session(**{name: []}), {}, name)
      for name in ("routing", "seeds", "source", "credential", "runConfig", "scenarioDraft", "runProject")],
    ("seeds nested 5000 levels", session(seeds={"github": nested(5000)}), {}, "seeds.github.a"),
    ("unknown field", session(ttl=60), {}, "ttl"),
    ("unknown unicode field", session(**{"clönes 🚀": ["github"]}), {}, "clönes 🚀"),
    ("unknown field of 100000 characters", session(**{"x" * 100_000: 1}), {}, "xxx"),
    ("key not unicode", session(**{"\udfff": 1}), {}, "not valid Unicode"),
    ("null everywhere", {name: None for name in (
        "clones", "scenarioId", "preflightOnly", "transport", "ttlSeconds", "scenarioRunCount", "rateLimit",
        "routing", "seeds", "source", "credential", "runConfig", "scenarioDraft", "runProject")}, {}, "clones"),
    ("routing nested 5000 levels", session(routing=nested(5000)), {}, "routing.a.a"),
    ("runConfig nested 5000 lists", session(runConfig={"x": nested(5000, as_list=True)}), {}, "runConfig.x"),
    ("routing with NaN", session(routing={"weight": float("nan")}), {}, "routing.weight"),
    ("Idempotency-Key of 201 characters", VALID_SESSION, {"idempotency-key": "k" * 201}, "Idempotency-Key"),
    ("Idempotency-Key of 100000 characters", VALID_SESSION, {"idempotency-key": "é" * 100_000},
     "Idempotency-Key"),
    ("oversized key and bad body", [], {"idempotency-key": "k" * 300}, "Idempotency-Key"),
]

TRACE_CASES: list[tuple[str, Any, str]] = [
    *[(f"body {value!r}", value, "body") for value in NOT_OBJECTS],
    ("nested 5000 objects", nested(5000), "a.a.a"),
    ("nested 5000 lists", {"steps": nested(5000, as_list=True)}, "steps[0]"),
    ("spans nested 5000", {"spans": [nested(5000)]}, "spans[0]"),
    ("just over the depth limit", nested(MAX_NESTING_DEPTH + 1), "levels"),
    ("infinity", {"x": float("inf")}, "x"),
    ("NaN in a list", {"x": [1, float("nan")]}, "x[1]"),
    ("lone surrogate value", {"name": "\udfff"}, "name"),
    ("lone surrogate key", {"\ud800": 1}, "not valid Unicode"),
    ("OTLP of the wrong type", {"resourceSpans": "x"}, "OTLP/JSON"),
    ("OTLP with bad ids", {"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "zz"}]}]}]}, "spanId"),
    ("OTLP snake case of numbers", {"resource_spans": [1]}, "OTLP/JSON"),
    ("OTLP time of 2**70", {"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": 2**70}]}]}]},
     "startTimeUnixNano"),
    ("OTLP nested 5000", {"resourceSpans": nested(5000, as_list=True)}, "resourceSpans"),
]


@pytest.mark.parametrize(("name", "body", "headers", "mentions"), SESSION_CASES,
                         ids=[case[0] for case in SESSION_CASES])
def test_sessions_refuse_wrong_input(name: str, body: Any, headers: dict[str, str], mentions: str) -> None:
    assert_error_shape(call("/api/sessions", body, headers), mentions)


@pytest.mark.parametrize(("name", "body", "mentions"), TRACE_CASES, ids=[case[0] for case in TRACE_CASES])
def test_traces_refuse_wrong_input(name: str, body: Any, mentions: str) -> None:
    assert_error_shape(call("/api/traces", body), mentions)


ODD_BUT_VALID: list[tuple[str, dict[str, Any]]] = [
    ("empty object", {}),
    ("integer beyond 64 bits", {"n": 2**70, "m": -(2**70), "list": [1, 2**70]}),
    ("largest double", {"n": 1.7976931348623157e308}),
    ("unicode", {"text": "日本語 🚀 \u0000 \u202e", "clé": "valeur"}),
    ("null everywhere", {"a": None, "b": [None], "c": {"d": None}, "sessionId": None, "spans": None}),
    ("empty span list", {"spans": []}),
    ("span list of nulls", {"spans": [None, None]}),
    ("events without values", {"events": [{"name": None, "startTime": None}]}),
    ("nesting at the limit", nested(MAX_NESTING_DEPTH)),
    ("span time of 2**70", {"spans": [{"name": "x", "startTime": 2**70, "endTime": "2**70"}]}),
    ("span times that are not times", {"spans": [{"name": "x", "startTime": "soon", "endTime": -5}]}),
    ("span time of 10**30 digits", {"spans": [{"name": "x", "startTime": "9" * 30}]}),
    ("span time of 5000 digits", {"spans": [{"name": "x", "startTime": "9" * 5000}]}),
    ("huge duration", {"spans": [{"name": "x", "startTime": 1e300, "durationMs": 1e300}]}),
    ("end before start", {"spans": [{"name": "x", "startTime": "2026-06-10T09:00:01Z",
                                     "endTime": "2026-06-10T09:00:00Z"}]}),
    ("year zero", {"spans": [{"name": "x", "startTime": "0000-01-01T00:00:00Z"}]}),
    ("boolean ids", {"spans": [{"id": True, "parentId": 1}]}),
    ("session id a number", {"sessionId": 2**70, "traceId": ""}),
    ("a payload field", {"payload": "x", "spans": [{"name": "x", "startTime": 1, "payload": [1]}]}),
    ("self parent", {"spans": [{"id": "a", "parentId": "a"}]}),
    ("many fields", {f"field{index}": index for index in range(1000)}),
    ("many spans", {"spans": [{"id": index, "parentId": index - 1 or None} for index in range(1, 2001)]}),
    ("OTLP empty", {"resourceSpans": []}),
    ("OTLP with nulls", {"resourceSpans": None, "sessionId": "env_1"}),
]


@pytest.mark.parametrize(("name", "body"), ODD_BUT_VALID, ids=[case[0] for case in ODD_BUT_VALID])
def test_traces_accept_any_valid_object(name: str, body: dict[str, Any]) -> None:
    result = call("/api/traces", body)
    assert result.response.status == 200
    assert result.response.body == {"ok": True}
    assert result.traces is not None
    if not any(key in body for key in ("resourceSpans", "resource_spans")):
        assert span_count(result.traces) >= 1
    # What is accepted can be stored and forwarded: valid protobuf and valid OTLP/JSON.
    result.traces.SerializeToString()
    assert decode_traces(encode_traces(result.traces)) == result.traces
    for resource_spans in result.traces.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                assert span.end_time_unix_nano >= span.start_time_unix_nano > 0


def random_json(generator: random.Random, depth: int = 0) -> Any:
    choice = generator.randrange(10 if depth < 5 else 7)
    scalars: list[Any] = [None, True, 0, -(2**63), 2**64, 2**70, 1.5, -0.0, "", "x", "ünï 🚀", "2026-06-10T09:00:00Z",
                          "550e8400-e29b-41d4-a716-446655440000", 1_781_082_000_000]
    if choice < 7:
        return generator.choice(scalars)
    if choice < 8:
        return [random_json(generator, depth + 1) for _ in range(generator.randrange(4))]
    keys = ["clones", "ttlSeconds", "spans", "events", "steps", "name", "startTime", "endTime", "id", "parentId",
            "traceId", "sessionId", "resourceSpans", "error", "status", "usage", "model", "seeds", "routing", "k"]
    return {generator.choice(keys): random_json(generator, depth + 1) for _ in range(generator.randrange(6))}


def test_random_bodies_never_raise() -> None:
    generator = random.Random(20260610)
    for _ in range(1500):
        body = random_json(generator)
        if isinstance(body, dict) and generator.random() < 0.5:
            # Span-like enough to take the span-list path, with random ids and times.
            body["spans"] = [{"name": "s", "startTime": random_json(generator, 4), "id": random_json(generator, 4),
                              "parentId": random_json(generator, 4)} for _ in range(3)]
        for path in HANDLERS:
            result = call(path, body)
            assert result.response.status in (200, 400)
            orjson.dumps(result.response.body)
            if result.response.status == 400:
                assert set(result.response.body) == {"error", "code", "message", "detail"}
            elif result.traces is not None:
                result.traces.SerializeToString()
