"""OTLP requests for the exporter tests, and the rows the contrib exporter would store for them."""

from __future__ import annotations

import math
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

BASE_NS = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z


def value(raw: Any) -> AnyValue:
    """An AnyValue from plain Python: None is the empty value, bytes are bytes_value."""
    result = AnyValue()
    if raw is None:
        pass
    elif isinstance(raw, bool):
        result.bool_value = raw
    elif isinstance(raw, int):
        result.int_value = raw
    elif isinstance(raw, float):
        result.double_value = raw
    elif isinstance(raw, str):
        result.string_value = raw
    elif isinstance(raw, bytes):
        result.bytes_value = raw
    elif isinstance(raw, list):
        result.array_value.values.extend(value(item) for item in raw)
    elif isinstance(raw, dict):
        result.kvlist_value.values.extend(attributes(raw))
    else:
        raise TypeError(raw)
    return result


def attributes(raw: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=value(item)) for key, item in raw.items()]


# Every value type, with Go's AsString for each (pdata's Value.AsString and encoding/json).
EVERY_VALUE_TYPE: dict[str, tuple[Any, str]] = {
    "http.method": ("GET", "GET"),
    "flag": (True, "true"),
    "false_flag": (False, "false"),
    "count": (-42, "-42"),
    "zero": (0, "0"),
    "ratio": (0.25, "0.25"),
    "whole": (2.0, "2"),
    "big": (1e21, "1e+21"),
    "below_big": (1e20, "100000000000000000000"),
    "small": (1.5e-7, "1.5e-7"),
    "mid": (1e-5, "0.00001"),
    "nan": (math.nan, "json: unsupported value: NaN"),
    "inf": (-math.inf, "json: unsupported value: -Inf"),
    "bytes": (b"hello", "aGVsbG8="),
    "empty": (None, ""),
    "empty_string": ("", ""),
    "unicode": ("日本 & <tag>\n", "日本 & <tag>\n"),
    "array": (["a<b", 1, True, 1.5, None, b"\x00\x01", {"z": 1, "a": "x"}],
              '["a\\u003cb",1,true,1.5,null,"AAE=",{"a":"x","z":1}]'),
    "map": ({"b": 2.0, "a": [1, 2], "c": {"d": "é\t\x01"}}, '{"a":[1,2],"b":2,"c":{"d":"é\\t\\u0001"}}'),
    "empty_array": ([], "[]"),
    "empty_map": ({}, "{}"),
    "nested_nan": ([1, math.nan], ""),
}

TRACE_A = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
TRACE_B = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
SPAN_1 = bytes.fromhex("b7ad6b7169203331")
SPAN_2 = bytes.fromhex("00f067aa0ba902b7")
SPAN_3 = bytes.fromhex("1111111111111111")
ZERO_TRACE = bytes(16)


def full_request() -> ExportTraceServiceRequest:
    """Several resources and scopes, every span kind, status, value type, events and links."""
    request = ExportTraceServiceRequest()

    checkout = request.resource_spans.add()
    checkout.resource.attributes.extend(attributes({"service.name": "checkout", "host.count": 3,
                                                    "k8s.ok": True}))
    http_scope = checkout.scope_spans.add()
    http_scope.scope.name = "io.opentelemetry.http"
    http_scope.scope.version = "1.2.3"
    server = http_scope.spans.add(
        trace_id=TRACE_A, span_id=SPAN_1, trace_state="vendor=a,other=b", name="a-server",
        kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=BASE_NS, end_time_unix_nano=BASE_NS + 1_500_000,
        status=Status(code=Status.STATUS_CODE_OK))
    server.attributes.extend(attributes({key: raw for key, (raw, _) in EVERY_VALUE_TYPE.items()}))
    server.events.add(time_unix_nano=BASE_NS + 10, name="exception",
                      attributes=attributes({"exception.type": "ValueError", "attempt": 2}))
    server.events.add(time_unix_nano=BASE_NS + 20, name="retry")
    server.links.add(trace_id=TRACE_B, span_id=SPAN_3, trace_state="congo=t61",
                     attributes=attributes({"link.kind": "follows", "weight": 0.5}))
    server.links.add(trace_id=ZERO_TRACE, span_id=bytes(8))
    client = http_scope.spans.add(
        trace_id=TRACE_A, span_id=SPAN_2, parent_span_id=SPAN_1, name="b-client",
        kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=BASE_NS + 1_000,
        end_time_unix_nano=BASE_NS + 500,  # ends before it starts: Duration 0
        status=Status(code=Status.STATUS_CODE_ERROR, message="upstream said no"))
    client.attributes.extend(attributes({"peer.service": "payments"}))

    unnamed_scope = checkout.scope_spans.add()
    unnamed_scope.spans.add(trace_id=ZERO_TRACE, span_id=SPAN_3, name="c-internal",
                            kind=Span.SPAN_KIND_INTERNAL, start_time_unix_nano=BASE_NS,
                            end_time_unix_nano=BASE_NS + 7)
    checkout.scope_spans.add()  # a scope without spans

    numbered = request.resource_spans.add()
    numbered.resource.attributes.extend(attributes({"service.name": 42}))  # AsString: "42"
    queue_scope = numbered.scope_spans.add()
    queue_scope.scope.name = "queue"
    for name, kind in (("d-producer", Span.SPAN_KIND_PRODUCER), ("e-consumer", Span.SPAN_KIND_CONSUMER),
                       ("f-unspecified", Span.SPAN_KIND_UNSPECIFIED)):
        queue_scope.spans.add(trace_id=TRACE_B, span_id=SPAN_2, name=name, kind=kind,
                              start_time_unix_nano=BASE_NS + 86_400 * 10**9,
                              end_time_unix_nano=BASE_NS + 86_400 * 10**9 + 3)
    odd = queue_scope.spans.add(trace_id=TRACE_B, name="g-odd-enums", start_time_unix_nano=BASE_NS,
                                end_time_unix_nano=BASE_NS)
    odd.kind = 9  # proto3 enums are open: values outside the enum arrive as numbers
    odd.status.code = 7  # type: ignore[assignment]
    request.resource_spans.add()  # a resource without scopes
    return request


CHECKOUT_RESOURCE = {"service.name": "checkout", "host.count": "3", "k8s.ok": "true"}


def expected_rows() -> list[tuple[Any, ...]]:
    """The stored rows of full_request(), ordered by SpanName, in the column order of
    ROUND_TRIP_QUERY."""
    day_ns = 86_400 * 10**9
    every = {key: text for key, (_, text) in EVERY_VALUE_TYPE.items()}
    queue_row = ("queue", "", {}, 3, "Unset", "", [], [], [], [], [], [], [])
    return [
        (BASE_NS, TRACE_A.hex(), SPAN_1.hex(), "", "vendor=a,other=b", "a-server", "Server", "checkout",
         CHECKOUT_RESOURCE, "io.opentelemetry.http", "1.2.3", every, 1_500_000, "Ok", "",
         [BASE_NS + 10, BASE_NS + 20], ["exception", "retry"],
         [{"exception.type": "ValueError", "attempt": "2"}, {}],
         [TRACE_B.hex(), ""], [SPAN_3.hex(), ""], ["congo=t61", ""],
         [{"link.kind": "follows", "weight": "0.5"}, {}], "default"),
        (BASE_NS + 1_000, TRACE_A.hex(), SPAN_2.hex(), SPAN_1.hex(), "", "b-client", "Client", "checkout",
         CHECKOUT_RESOURCE, "io.opentelemetry.http", "1.2.3", {"peer.service": "payments"}, 0, "Error",
         "upstream said no", [], [], [], [], [], [], [], "default"),
        (BASE_NS, "", SPAN_3.hex(), "", "", "c-internal", "Internal", "checkout", CHECKOUT_RESOURCE,
         "", "", {}, 7, "Unset", "", [], [], [], [], [], [], [], "default"),
        *[(BASE_NS + day_ns, TRACE_B.hex(), SPAN_2.hex(), "", "", name, kind, "42", {"service.name": "42"},
           *queue_row, "default")
          for name, kind in (("d-producer", "Producer"), ("e-consumer", "Consumer"),
                             ("f-unspecified", "Unspecified"))],
        (BASE_NS, TRACE_B.hex(), "", "", "", "g-odd-enums", "", "42", {"service.name": "42"},
         "queue", "", {}, 0, "", "", [], [], [], [], [], [], [], "default"),
    ]


ROUND_TRIP_QUERY = """
SELECT toUnixTimestamp64Nano(Timestamp), TraceId, SpanId, ParentSpanId, TraceState, SpanName,
       SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes,
       Duration, StatusCode, StatusMessage,
       arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp), Events.Name, Events.Attributes,
       Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes, TenantId
FROM otel.otel_traces
ORDER BY SpanName
"""


def simple_request(span_count: int, attribute_count: int = 10) -> ExportTraceServiceRequest:
    """One resource and scope; spans with `attribute_count` string attributes each."""
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.extend(attributes({"service.name": "bench"}))
    scope = resource.scope_spans.add()
    scope.scope.name = "bench"
    for index in range(span_count):
        span = scope.spans.add(
            trace_id=index.to_bytes(16, "big") or bytes(16), span_id=(index + 1).to_bytes(8, "big"),
            name="GET /api/items", kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=BASE_NS + index, end_time_unix_nano=BASE_NS + index + 12_345,
            status=Status(code=Status.STATUS_CODE_OK))
        span.attributes.extend(
            KeyValue(key=f"attribute.{number}", value=AnyValue(string_value=f"v{number}-{index}"))
            for number in range(attribute_count))
    return request
