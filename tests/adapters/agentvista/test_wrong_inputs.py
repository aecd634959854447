"""A battery of wrong inputs sent to the agentvista batch route: each one is answered with a
400 in the vendor's error shape, or with a 200 that rejects the bad trace (AgentVista validates
trace by trace), and never raises."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from spanhouse.adapters.agentvista.plugin import BATCH_PATH, AgentVistaAdapter, AgentVistaConfig
from spanhouse.collector.core.adapter_api import AdapterRequest
from spanhouse.proto.otlp_json import encode_traces
from tests.adapters.golden import RECEIVED_AT_NS, MemoryState

TRACE_ID = "550e8400-e29b-41d4-a716-446655440000"
SPAN_ID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
OTHER_SPAN_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def valid_item() -> dict[str, Any]:
    return {
        "trace": {"trace_id": TRACE_ID, "agent": "lead-qualifier", "status": "completed",
                  "started_at": "2024-01-15T10:00:00Z", "ended_at": "2024-01-15T10:00:02Z",
                  "total_tokens": 1500, "total_cost_usd": "0.004500"},
        "spans": [{"span_id": SPAN_ID, "trace_id": TRACE_ID, "type": "llm", "name": "gpt-4o classify",
                   "started_at": "2024-01-15T10:00:00.100Z", "ended_at": "2024-01-15T10:00:01.800Z",
                   "model": "gpt-4o", "input_tokens": 800, "output_tokens": 120, "cost_usd": "0.003200"}],
    }


def nested(depth: int, leaf: Any = 1, as_list: bool = False) -> Any:
    """`depth` levels of objects (or arrays) built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


def with_trace(**changes: Any) -> dict[str, Any]:
    """A batch of one trace whose header has `changes` (a value of ... removes the field)."""
    item = valid_item()
    for key, value in changes.items():
        if value is ...:
            item["trace"].pop(key, None)
        else:
            item["trace"][key] = value
    return {"traces": [item]}


def with_span(**changes: Any) -> dict[str, Any]:
    item = valid_item()
    for key, value in changes.items():
        if value is ...:
            item["spans"][0].pop(key, None)
        else:
            item["spans"][0][key] = value
    return {"traces": [item]}


def with_item(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    item = valid_item()
    return {"traces": [change(item)]}


def every_field_null() -> dict[str, Any]:
    item = valid_item()
    item["trace"] = dict.fromkeys(item["trace"])
    item["spans"] = [dict.fromkeys(item["spans"][0])]
    return {"traces": [item]}


def null_span_fields() -> dict[str, Any]:
    item = valid_item()
    item["spans"] = [dict.fromkeys(item["spans"][0])]
    return {"traces": [item]}


def parent_loop() -> dict[str, Any]:
    item = valid_item()
    second = copy.deepcopy(item["spans"][0]) | {"span_id": OTHER_SPAN_ID, "parent_span_id": SPAN_ID}
    item["spans"][0]["parent_span_id"] = OTHER_SPAN_ID
    item["spans"].append(second)
    return {"traces": [item]}


def too_many_spans() -> dict[str, Any]:
    item = valid_item()
    template = item["spans"][0]
    item["spans"] = [template | {"span_id": f"6ba7b810-9dad-11d1-80b4-{index:012x}"} for index in range(101)]
    return {"traces": [item]}


# Request-level errors: 400 {"detail": ...} and nothing stored.
BAD_REQUESTS: list[tuple[str, Any]] = [
    ("empty body", None),
    ("array body", [valid_item()]),
    ("string body", "traces"),
    ("number body", 42),
    ("boolean body", True),
    ("empty object", {}),
    ("traces null", {"traces": None}),
    ("traces object", {"traces": valid_item()}),
    ("traces string", {"traces": "[]"}),
    ("traces number", {"traces": 1e308}),
    ("101 spans", too_many_spans()),
    ("deep object body, 5000 levels", nested(5000)),
    ("unicode keys only", {"trâces": [valid_item()], "🔥": None}),
]

# Trace-level errors: 200 with the trace rejected, and nothing stored.
REJECTED_TRACES: list[tuple[str, Any]] = [
    ("trace item null", {"traces": [None]}),
    ("trace item number", {"traces": [7]}),
    ("trace item array", {"traces": [[valid_item()]]}),
    ("trace items nested 5000 levels", {"traces": [nested(5000, as_list=True)]}),
    ("trace header missing", with_item(lambda item: {"spans": item["spans"]})),
    ("trace header null", with_item(lambda item: item | {"trace": None})),
    ("trace header string", with_item(lambda item: item | {"trace": "header"})),
    ("every field null", every_field_null()),
    ("trace_id missing", with_trace(trace_id=...)),
    ("trace_id number", with_trace(trace_id=550)),
    ("trace_id empty", with_trace(trace_id="")),
    ("trace_id not hex", with_trace(trace_id="550e8400-e29b-41d4-a716-44665544000g")),
    ("trace_id huge", with_trace(trace_id="5" * 100_000)),
    ("trace_id lone surrogate", with_trace(trace_id="\ud800" * 36)),
    ("agent missing", with_trace(agent=...)),
    ("agent empty", with_trace(agent="")),
    ("agent blank", with_trace(agent="   ")),
    ("agent number", with_trace(agent=5)),
    ("agent array", with_trace(agent=["lead-qualifier"])),
    ("agent lone surrogate", with_trace(agent="agent\udc00")),
    ("status unknown", with_trace(status="done")),
    ("status number", with_trace(status=1)),
    ("started_at missing", with_trace(started_at=...)),
    ("started_at words", with_trace(started_at="yesterday")),
    ("started_at impossible date", with_trace(started_at="2024-13-45T00:00:00Z")),
    ("started_at boolean", with_trace(started_at=True)),
    ("started_at year 9999", with_trace(started_at="9999-01-01T00:00:00Z")),
    ("started_at before 1970", with_trace(started_at="1969-12-31T23:59:59Z")),
    ("started_at huge number", with_trace(started_at=1e300)),
    ("started_at NaN", with_trace(started_at=float("nan"))),
    ("started_at infinity", with_trace(started_at=float("inf"))),
    ("ended_at before started_at", with_trace(ended_at="2024-01-15T09:00:00Z")),
    ("ended_at object", with_trace(ended_at={"at": 1})),
    ("duration_ms negative", with_trace(ended_at=..., duration_ms=-1)),
    ("duration_ms string", with_trace(duration_ms="2000")),
    ("duration_ms boolean", with_trace(duration_ms=True)),
    ("duration_ms huge", with_trace(ended_at=..., duration_ms=1e308)),
    ("success string", with_trace(success="yes")),
    ("outcome number", with_trace(outcome=3)),
    ("error_message object", with_trace(error_message={"message": "x"})),
    ("total_tokens negative", with_trace(total_tokens=-1)),
    ("total_tokens beyond int64", with_trace(total_tokens=2**64)),
    ("total_tokens 10^30", with_trace(total_tokens=10**30)),
    ("total_tokens fraction", with_trace(total_tokens=1.5)),
    ("total_tokens string", with_trace(total_tokens="1500")),
    ("total_tokens boolean", with_trace(total_tokens=True)),
    ("total_cost_usd 1e999", with_trace(total_cost_usd="1e999")),
    ("total_cost_usd abc", with_trace(total_cost_usd="abc")),
    ("total_cost_usd negative", with_trace(total_cost_usd="-1")),
    ("total_cost_usd empty", with_trace(total_cost_usd="")),
    ("total_cost_usd NaN", with_trace(total_cost_usd="NaN")),
    ("total_cost_usd Infinity", with_trace(total_cost_usd="Infinity")),
    ("total_cost_usd padded", with_trace(total_cost_usd=" 1.0")),
    ("total_cost_usd comma", with_trace(total_cost_usd="1,5")),
    ("total_cost_usd hex", with_trace(total_cost_usd="0x10")),
    ("total_cost_usd 200 digits", with_trace(total_cost_usd="9" * 200)),
    ("total_cost_usd boolean", with_trace(total_cost_usd=True)),
    ("total_cost_usd object", with_trace(total_cost_usd={"amount": "1"})),
    ("total_cost_usd infinity number", with_trace(total_cost_usd=float("inf"))),
    ("total_cost_usd of 5000 digits", with_trace(total_cost_usd=10**5000)),
    ("total_cost_usd negative integer", with_trace(total_cost_usd=-1)),
    ("started_at of 5000 digits", with_trace(started_at=10**5000)),
    ("duration_ms of 5000 digits", with_trace(ended_at=..., duration_ms=10**5000)),
    ("total_cost_usd arabic digits", with_trace(total_cost_usd="\u0661\u066b\u0665")),
    ("metadata string", with_trace(metadata="{}")),
    ("metadata array", with_trace(metadata=[1, 2])),
    ("metadata nested 5000 levels", with_trace(metadata=nested(5000))),
    ("metadata integer beyond 64 bits", with_trace(metadata={"n": 2**70})),
    ("metadata lone surrogate", with_trace(metadata={"note": "\ud83d"})),
    ("extra field nested 5000 levels", with_trace(extra=nested(5000, as_list=True))),
    ("spans string", with_item(lambda item: item | {"spans": "[]"})),
    ("spans object", with_item(lambda item: item | {"spans": {"0": item["spans"][0]}})),
    ("span null", with_item(lambda item: item | {"spans": [None]})),
    ("span number", with_item(lambda item: item | {"spans": [5]})),
    ("span fields all null", null_span_fields()),
    ("span_id missing", with_span(span_id=...)),
    ("span_id not a UUID", with_span(span_id="span_1")),
    ("span_id number", with_span(span_id=12345)),
    ("span trace_id of another trace", with_span(trace_id="11111111-1111-4111-8111-111111111111")),
    ("span trace_id bad", with_span(trace_id="nope")),
    ("span its own parent", with_span(parent_span_id=SPAN_ID)),
    ("span parent not a UUID", with_span(parent_span_id="root")),
    ("spans in a parent loop", parent_loop()),
    ("span type missing", with_span(type=...)),
    ("span type number", with_span(type=3)),
    ("span type empty", with_span(type="")),
    ("span name number", with_span(name=1)),
    ("span model array", with_span(model=["gpt-4o"])),
    ("span started_at missing", with_span(started_at=...)),
    ("span started_at bad", with_span(started_at="2024-01-15 25:61")),
    ("span ended_at before start", with_span(ended_at="2024-01-15T09:00:00Z")),
    ("span cost_usd 1e999", with_span(cost_usd="1e999")),
    ("span cost_usd abc", with_span(cost_usd="abc")),
    ("span cost_usd negative number", with_span(cost_usd=-0.5)),
    ("span input_tokens huge", with_span(input_tokens=10**400)),
    ("span total_tokens of 5000 digits", with_span(total_tokens=10**5000)),
    ("extra field of 5000 digits", with_trace(extra=10**5000)),
    ("span output_tokens negative", with_span(output_tokens=-3)),
    ("span metadata nested 5000 levels", with_span(metadata=nested(5000))),
    ("span extra lone surrogate key", with_span(**{"\udfff": 1})),
]

# Odd but valid: accepted and stored.
ACCEPTED: list[tuple[str, Any]] = [
    ("unicode agent, names and metadata", with_trace(agent="代理-🤖", outcome="qualifié ✓",
                                                     metadata={"ключ": "值", "emoji": "🚀"})),
    ("uppercase and braced UUIDs", with_trace(trace_id="{550E8400-E29B-41D4-A716-446655440000}")),
    ("cost as a JSON number", with_trace(total_cost_usd=0.0045)),
    ("cost as a JSON integer", with_trace(total_cost_usd=3)),
    ("cost with a trailing point", with_trace(total_cost_usd="1.")),
    ("running trace without an end", with_trace(ended_at=..., status="running")),
    ("spans null", with_item(lambda item: item | {"spans": None})),
    ("spans missing", with_item(lambda item: {"trace": item["trace"]})),
    ("extra fields of any type", with_trace(extra={"deep": nested(100)}, flags=[True, 1, "x"],
                                           big=18_446_744_073_709_551_615)),
    ("unknown span type", with_span(type="guardrail", name=...)),
    ("span without trace_id", with_span(trace_id=...)),
    ("span parent outside the batch", with_span(parent_span_id=OTHER_SPAN_ID)),
    ("empty traces list", {"traces": []}),
]


def send(body: Any) -> Any:
    request = AdapterRequest(method="POST", path=BATCH_PATH, path_params={}, query={}, headers={},
                             body=body, tenant="default", received_at_ns=RECEIVED_AT_NS)
    return AgentVistaAdapter(AgentVistaConfig()).handle_batch(request, MemoryState())


def assert_serialisable(result: Any) -> None:
    """What the receiver will do with the result must work: JSON body, OTLP bytes."""
    orjson.dumps(result.response.body)
    if result.traces is not None:
        encode_traces(result.traces)
        result.traces.SerializeToString()


@pytest.mark.parametrize(("case", "body"), BAD_REQUESTS, ids=[case for case, _ in BAD_REQUESTS])
def test_bad_request(case: str, body: Any) -> None:
    result = send(body)
    assert result.response.status == 400
    assert set(result.response.body) == {"detail"}
    assert isinstance(result.response.body["detail"], str)
    assert result.traces is None
    assert result.state_writes == ()
    assert_serialisable(result)


@pytest.mark.parametrize(("case", "body"), REJECTED_TRACES, ids=[case for case, _ in REJECTED_TRACES])
def test_rejected_trace(case: str, body: Any) -> None:
    result = send(body)
    assert result.response.status == 200
    assert result.response.body["accepted"] == 0
    assert result.response.body["rejected"] == 1
    (error,) = result.response.body["errors"]
    assert set(error) == {"trace_id", "error"}
    assert isinstance(error["error"], str)
    assert len(error["error"]) < 400  # a huge value is quoted cut short
    assert result.traces is None
    assert result.state_writes == []
    assert_serialisable(result)


@pytest.mark.parametrize(("case", "body"), ACCEPTED, ids=[case for case, _ in ACCEPTED])
def test_accepted(case: str, body: Any) -> None:
    result = send(body)
    assert result.response.status == 200
    assert result.response.body["rejected"] == 0, result.response.body["errors"]
    assert result.response.body["accepted"] == len(body["traces"])
    assert_serialisable(result)


def test_rejection_messages_name_the_field() -> None:
    messages = {case: send(body).response.body["errors"][0]["error"] for case, body in REJECTED_TRACES}
    assert messages["total_cost_usd 1e999"] == (
        'trace.total_cost_usd: "1e999" is not a non-negative decimal string like "0.004500"')
    assert messages["span cost_usd abc"] == (
        'spans[0].cost_usd: "abc" is not a non-negative decimal string like "0.004500"')
    assert messages["agent missing"] == "trace.agent: field required"
    assert messages["trace_id huge"].startswith('trace.trace_id: "' + "5" * 80 + '..."')
    assert messages["spans in a parent loop"].startswith("spans: parent_span_id links form a loop")
    assert messages["metadata nested 5000 levels"].startswith("trace.metadata: cannot be stored")
    assert messages["total_tokens beyond int64"] == (
        "trace.total_tokens: must be an integer between 0 and 9223372036854775807")


NASTY_VALUES: list[Any] = [None, True, 0, -1, 2**63, 10**5000, 1e308, float("nan"), "", " ", "abc", "1e999",
                           "\ud800", "🤖" * 1000, [], {}, [None], {"": None}, nested(300), nested(300, as_list=True)]


def test_random_mutations_never_raise() -> None:
    """Every field of a valid batch, one at a time and in random pairs, set to a nasty value:
    always a 200 or a 400 that serialises, never an exception."""
    generator = random.Random(20260610)
    paths: list[tuple[str, ...]] = [("trace", key) for key in valid_item()["trace"]]
    paths += [("spans", key) for key in valid_item()["spans"][0]]
    paths += [("trace", "parent_span_id"), ("spans", "parent_span_id"), ("trace", "metadata"), ("spans", "metadata")]
    for _ in range(600):
        item = valid_item()
        for where, key in generator.sample(paths, generator.choice((1, 2))):
            target = item["trace"] if where == "trace" else item["spans"][0]
            target[key] = generator.choice(NASTY_VALUES)
        result = send({"traces": [item, valid_item()]})
        assert result.response.status in (200, 400)
        assert_serialisable(result)
