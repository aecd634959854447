"""Hypothesis strategies for the fuzz suite: OTLP requests built field by field (ids of every
length, any attribute value, times and counts at and past their limits), JSON values of every
type, and documents shaped like a route's valid body with their leaves regenerated, wrong-typed,
dropped or added to. `fuzz_bodies` combines them with the seeded mutator (driven by a random
that hypothesis draws, so a failure shrinks to a minimal body and mutation)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.proto.otlp_json import encode_traces
from tests.security.mutator import HOSTILE_VALUES, mutate_bytes, mutate_json

INT64 = st.integers(-(2**63), 2**63 - 1)
UINT64 = st.integers(0, 2**64 - 1)
EDGE_INTS = st.sampled_from((0, -1, 1, 2**31 - 1, 2**32, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1))
# Hypothesis's own text favours the awkward: control characters, surrogates' neighbours, RTL, NUL.
TEXT = st.text(max_size=24) | st.sampled_from(("", "x" * 300, "\u0000", "é" * 50, "🙂", "0" * 32))
IDS = st.binary(min_size=16, max_size=16) | st.binary(min_size=8, max_size=8) | st.binary(max_size=20)


def _any_value(value: AnyValue, drawn: Any) -> None:
    kind, payload = drawn
    if kind == "array":
        value.array_value.SetInParent()
        for item in payload:
            _any_value(value.array_value.values.add(), item)
    elif kind == "kvlist":
        value.kvlist_value.SetInParent()
        for key, item in payload:
            entry = value.kvlist_value.values.add()
            entry.key = key
            _any_value(entry.value, item)
    elif kind != "empty":
        setattr(value, kind, payload)


ANY_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.tuples(st.just("string_value"), TEXT) | st.tuples(st.just("bool_value"), st.booleans())
    | st.tuples(st.just("int_value"), INT64 | EDGE_INTS.filter(lambda n: -(2**63) <= n < 2**63))
    | st.tuples(st.just("double_value"), st.floats()) | st.tuples(st.just("bytes_value"), st.binary(max_size=40))
    | st.just(("empty", None)),
    lambda children: st.tuples(st.just("array"), st.lists(children, max_size=4))
    | st.tuples(st.just("kvlist"), st.lists(st.tuples(TEXT, children), max_size=4)),
    max_leaves=6,
)
ATTRIBUTES = st.lists(st.tuples(TEXT | st.sampled_from(("service.name", "spanhouse.tenant", "gen_ai.system")),
                                ANY_VALUES), max_size=4)
# Past max_attributes_per_span (20): many cheap attributes rather than many drawn ones.
MANY_ATTRIBUTES = st.integers(21, 30).map(lambda count: [(f"k{index}", ("int_value", index)) for index in range(count)])


def _put(attributes: Any, drawn: list[tuple[str, Any]]) -> None:
    for key, value in drawn:
        attribute: KeyValue = attributes.add()
        attribute.key = key
        _any_value(attribute.value, value)


@st.composite
def spans(draw: st.DrawFn, span: Span) -> None:
    span.trace_id, span.span_id = draw(IDS), draw(IDS)
    span.parent_span_id = draw(st.just(b"") | IDS)
    span.trace_state = draw(st.just("") | TEXT)
    span.name = draw(TEXT)
    span.kind = draw(st.integers(-3, 8))  # open enum: unknown values parse
    span.start_time_unix_nano = draw(UINT64 | st.just(1_700_000_000_000_000_000))
    span.end_time_unix_nano = draw(UINT64 | st.just(1_700_000_000_100_000_000))
    span.flags = draw(st.integers(0, 2**32 - 1))
    _put(span.attributes, draw(ATTRIBUTES | MANY_ATTRIBUTES))
    span.dropped_attributes_count = draw(st.integers(0, 2**32 - 1))
    for _ in range(draw(st.integers(0, 1))):
        event = span.events.add()
        event.name, event.time_unix_nano = draw(TEXT), draw(UINT64)
        _put(event.attributes, draw(ATTRIBUTES))
    for _ in range(draw(st.integers(0, 1))):
        link = span.links.add()
        link.trace_id, link.span_id, link.trace_state = draw(IDS), draw(IDS), draw(TEXT)
        _put(link.attributes, draw(ATTRIBUTES))
    if draw(st.integers(0, 9)) == 0:  # past max_events_per_span and max_links_per_span (5)
        for index in range(6):
            span.events.add().name = f"e{index}"
            span.links.add().span_id = index.to_bytes(8, "big")
    span.status.code = draw(st.integers(-1, 4))
    span.status.message = draw(TEXT)


@st.composite
def otlp_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_spans = request.resource_spans.add()
        _put(resource_spans.resource.attributes, draw(ATTRIBUTES))
        resource_spans.schema_url = draw(st.just("") | TEXT)
        for _ in range(draw(st.integers(0, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name, scope_spans.scope.version = draw(TEXT), draw(TEXT)
            for _ in range(draw(st.integers(0, 3))):
                draw(spans(scope_spans.spans.add()))
            if scope_spans.spans and draw(st.integers(0, 9)) == 0:  # past max_spans_per_request (50)
                for _ in range(50):
                    scope_spans.spans.add().CopyFrom(scope_spans.spans[0])
    return request


def _json_text(document: Any) -> bytes:
    """json, not orjson: it writes integers past 64 bits, NaN and Infinity, and lone surrogates."""
    return json.dumps(document).encode()


JSON_SCALARS = (st.none() | st.booleans() | st.integers() | EDGE_INTS | st.integers(-(2**70), 2**70)
                | st.floats() | TEXT | st.sampled_from(HOSTILE_VALUES[:12]))
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS, lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=6)


def _leaf(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        same: st.SearchStrategy[Any] = st.booleans()
    elif isinstance(value, int):
        same = st.integers() | EDGE_INTS | st.just(value)
    elif isinstance(value, float):
        same = st.floats() | st.just(value)
    elif isinstance(value, str):
        same = (st.just(value) | TEXT | st.from_regex(r"\A[0-9a-f]{0,40}\Z")
                | st.from_regex(r"\A20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z?\Z"))
    else:
        same = JSON_VALUES
    # Mostly the leaf's own type, sometimes any JSON value at all.
    return st.one_of(same, same, same, JSON_VALUES)


def shaped_like(value: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Documents shaped like `value`: same keys and nesting, leaves regenerated; keys dropped
    and added, lists shortened and lengthened, any node occasionally of another type."""
    if isinstance(value, dict) and depth < 8:
        fields = {key: shaped_like(child, depth + 1) for key, child in value.items()}
        shaped = (st.fixed_dictionaries(fields)
                  | st.fixed_dictionaries({}, optional=fields)
                  | st.tuples(st.fixed_dictionaries(fields), st.dictionaries(TEXT, JSON_VALUES, max_size=2))
                  .map(lambda pair: {**pair[0], **pair[1]}))
        return shaped if depth == 0 else st.one_of(shaped, shaped, shaped, shaped, JSON_VALUES)
    if isinstance(value, list) and value and depth < 8:
        items = st.one_of(*(shaped_like(item, depth + 1) for item in value[:3]))
        shaped = st.lists(items, max_size=len(value) + 2) | st.lists(items, min_size=1, max_size=1)
        return shaped if depth == 0 else st.one_of(shaped, shaped, shaped, JSON_VALUES)
    return _leaf(value)


def json_documents(valid: Any, otlp: bool) -> st.SearchStrategy[Any]:
    """JSON documents for a route: shaped like its valid body (for OTLP/JSON also OTLP requests
    generated as protobuf and written as OTLP/JSON), or any JSON value at all."""
    documents = shaped_like(valid)
    if otlp:
        documents = documents | otlp_requests().map(lambda request: orjson.loads(encode_traces(request)))
    return st.one_of(documents, documents, documents, JSON_VALUES)


def fuzz_bodies(kind: str, valid: Any) -> st.SearchStrategy[tuple[bytes, Any]]:
    """Bodies for a route of `kind` ("json", "protobuf" or "grpc"), as sent, each with a random
    the caller may use for hostile headers: generated, then usually mutated by the seeded mutator."""
    if kind == "json":
        documents = json_documents(valid, otlp=isinstance(valid, dict) and "resourceSpans" in valid)
    else:
        documents = otlp_requests()

    @st.composite
    def bodies(draw: st.DrawFn) -> tuple[bytes, Any]:
        rng = draw(st.randoms(use_true_random=False))
        mutated = draw(st.sampled_from((False, True, True)))
        document = draw(documents)
        if kind != "json":
            body = document.SerializeToString()
            return (mutate_bytes(rng, body) if mutated else body), rng
        if mutated:
            try:
                return mutate_json(rng, document), rng
            except (TypeError, OverflowError):  # orjson cannot copy integers past 64 bits or lone surrogates
                return mutate_bytes(rng, _json_text(document)), rng
        return _json_text(document), rng

    return bodies()
