"""OTLP/JSON decoding and encoding: exact round trips, the spec's rules, and malformed input."""

from __future__ import annotations

import base64
import math
import time
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from spanhouse.proto.errors import MalformedPayloadError
from spanhouse.proto.otlp_json import MAX_ANY_VALUE_DEPTH, decode_traces, encode_message_json, encode_traces
from spanhouse.proto.status import build_status, decode_status, encode_retry_status, encode_status

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")


def same(left: ExportTraceServiceRequest, right: ExportTraceServiceRequest) -> bool:
    # Compared as bytes because NaN != NaN would make `==` fail on a correct round trip.
    return left.SerializeToString(deterministic=True) == right.SerializeToString(deterministic=True)


def every_any_value() -> list[KeyValue]:
    nested = AnyValue(kvlist_value={"values": [
        {"key": "inner", "value": {"array_value": {"values": [{"int_value": -1}, {"bool_value": False}]}}},
    ]})
    values = {
        "string": AnyValue(string_value="héllo \"quoted\"\n"),
        "empty_string": AnyValue(string_value=""),
        "true": AnyValue(bool_value=True),
        "false": AnyValue(bool_value=False),
        "int": AnyValue(int_value=42),
        "int_zero": AnyValue(int_value=0),
        "int_min": AnyValue(int_value=-(2**63)),
        "int_max": AnyValue(int_value=2**63 - 1),
        "double": AnyValue(double_value=3.141592653589793),
        "double_zero": AnyValue(double_value=0.0),
        "double_negative_zero": AnyValue(double_value=-0.0),
        "double_tiny": AnyValue(double_value=5e-324),
        "nan": AnyValue(double_value=math.nan),
        "infinity": AnyValue(double_value=math.inf),
        "negative_infinity": AnyValue(double_value=-math.inf),
        "bytes": AnyValue(bytes_value=bytes(range(256))),
        "empty_bytes": AnyValue(bytes_value=b""),
        "array": AnyValue(array_value={"values": [{"string_value": "a"}, {"double_value": 1.5}, {}]}),
        "empty_array": AnyValue(array_value={}),
        "kvlist": nested,
        "empty_kvlist": AnyValue(kvlist_value={}),
        "empty_value": AnyValue(),
        "strindex": AnyValue(string_value_strindex=7),
    }
    pairs = [KeyValue(key=key, value=value) for key, value in values.items()]
    pairs.append(KeyValue(key="no_value"))
    pairs.append(KeyValue(key_strindex=3, value=AnyValue(string_value="by index")))
    return pairs


def full_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add(schema_url="https://opentelemetry.io/schemas/1.26.0")
    resource_spans.resource.attributes.extend(every_any_value())
    resource_spans.resource.dropped_attributes_count = 2
    resource_spans.resource.entity_refs.add(
        schema_url="s", type="service", id_keys=["service.name"], description_keys=["a", "b"])
    scope_spans = resource_spans.scope_spans.add(schema_url="scope-schema")
    scope_spans.scope.name = "my.library"
    scope_spans.scope.version = "1.0.0"
    scope_spans.scope.attributes.add(key="scope.attr", value=AnyValue(int_value=1))
    scope_spans.scope.dropped_attributes_count = 1
    span = scope_spans.spans.add(
        trace_id=TRACE_ID, span_id=SPAN_ID, parent_span_id=PARENT_ID, trace_state="a=b,c=d",
        flags=0x301, name="GET /items", kind=2, start_time_unix_nano=2**64 - 1,
        end_time_unix_nano=1544712661000000000, dropped_attributes_count=3, dropped_events_count=4,
        dropped_links_count=5, status={"code": 2, "message": "boom"})
    span.attributes.extend(every_any_value())
    span.events.add(time_unix_nano=1544712660500000000, name="exception", dropped_attributes_count=1,
                    attributes=[KeyValue(key="exception.message", value=AnyValue(string_value="x"))])
    span.events.add()  # an event with nothing set is still an event
    span.links.add(trace_id=TRACE_ID, span_id=PARENT_ID, trace_state="k=v", flags=1,
                   dropped_attributes_count=6,
                   attributes=[KeyValue(key="l", value=AnyValue(bool_value=True))])
    # A second scope with an unknown enum value (open enum) and an empty status.
    other = resource_spans.scope_spans.add()
    other.spans.add(trace_id=TRACE_ID, span_id=SPAN_ID, kind=42, status={})
    request.resource_spans.add()  # and an empty resource
    return request


def test_round_trip_of_every_field_kind() -> None:
    original = full_request()
    assert same(decode_traces(encode_traces(original)), original)


@pytest.mark.parametrize("attribute", every_any_value(), ids=lambda pair: pair.key or "key_strindex")
def test_round_trip_of_each_value_type(attribute: KeyValue) -> None:
    original = ExportTraceServiceRequest()
    span = original.resource_spans.add().scope_spans.add().spans.add(trace_id=TRACE_ID, span_id=SPAN_ID)
    span.attributes.append(attribute)
    assert same(decode_traces(encode_traces(original)), original)


def test_round_trip_of_empty_request() -> None:
    assert encode_traces(ExportTraceServiceRequest()) == b"{}"
    assert decode_traces(b"{}") == ExportTraceServiceRequest()
    assert decode_traces(b"") == ExportTraceServiceRequest()


SPEC_EXAMPLE = b"""{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {
        "name": "my.library", "version": "1.0.0",
        "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]
      },
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "kind": 2,
        "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
      }]
    }]
  }]
}"""


def test_spec_example() -> None:
    request = decode_traces(SPEC_EXAMPLE)
    resource_spans = request.resource_spans[0]
    assert resource_spans.resource.attributes[0].value.string_value == "my.service"
    scope_spans = resource_spans.scope_spans[0]
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("my.library", "1.0.0")
    span = scope_spans.spans[0]
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE_ID, SPAN_ID, PARENT_ID)
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.end_time_unix_nano == 1544712661000000000
    assert span.kind == 2
    assert span.attributes[0].key == "my.span.attr"


def test_encoding_follows_otlp_json_rules() -> None:
    document = orjson.loads(encode_traces(decode_traces(SPEC_EXAMPLE)))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span == {
        "traceId": "5b8efff798038103d269b633813fc60c",  # lowercase hex
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "name": "I'm a server span",
        "kind": 2,  # enums as integers
        "startTimeUnixNano": "1544712660000000000",  # 64-bit integers as strings
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}],
    }  # and default values (flags, dropped counts, status) omitted


def test_encoding_of_special_values() -> None:
    value = {pair.key: pair.value for pair in every_any_value()}
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(dropped_attributes_count=3)
    for key in ("nan", "infinity", "negative_infinity", "bytes", "int_max", "int_zero"):
        span.attributes.add(key=key, value=value[key])
    encoded = orjson.loads(encode_traces(request))["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert encoded["droppedAttributesCount"] == 3  # 32-bit integers stay numbers
    assert [attribute["value"] for attribute in encoded["attributes"]] == [
        {"doubleValue": "NaN"}, {"doubleValue": "Infinity"}, {"doubleValue": "-Infinity"},
        {"bytesValue": base64.b64encode(bytes(range(256))).decode()},
        {"intValue": str(2**63 - 1)}, {"intValue": "0"},
    ]


def to_snake_case(node: Any) -> Any:
    if isinstance(node, dict):
        return {"".join("_" + c.lower() if c.isupper() else c for c in key): to_snake_case(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [to_snake_case(item) for item in node]
    return node


def test_snake_case_field_names_are_accepted() -> None:
    original = full_request()
    snake = orjson.dumps(to_snake_case(orjson.loads(encode_traces(original))))
    assert b"resource_spans" in snake and b"string_value" in snake and b"trace_id" in snake
    assert same(decode_traces(snake), original)


def test_enum_names_and_lenient_scalars() -> None:
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "kind": "SPAN_KIND_SERVER",
        "status": {"code": "STATUS_CODE_ERROR"},
        "startTimeUnixNano": 1544712660000000000,  # a number instead of a string
        "droppedAttributesCount": "7",  # a string instead of a number
        "attributes": [
            {"key": "nan", "value": {"doubleValue": "NaN"}},
            {"key": "inf", "value": {"doubleValue": "-Infinity"}},
            {"key": "numeric string", "value": {"doubleValue": "2.5"}},
            {"key": "integer double", "value": {"doubleValue": 3}},
            {"key": "int as number", "value": {"intValue": -5}},
            {"key": "urlsafe unpadded bytes", "value": {"bytesValue": "-_8"}},
        ],
    }]}]}]})
    span = decode_traces(body).resource_spans[0].scope_spans[0].spans[0]
    assert span.kind == 2 and span.status.code == 2
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.dropped_attributes_count == 7
    values = [pair.value for pair in span.attributes]
    assert math.isnan(values[0].double_value)
    assert values[1].double_value == -math.inf
    assert values[2].double_value == 2.5
    assert values[3].double_value == 3.0 and values[3].WhichOneof("value") == "double_value"
    assert values[4].int_value == -5
    assert values[5].bytes_value == b"\xfb\xff"


def test_unknown_fields_are_ignored_and_null_is_absent() -> None:
    body = orjson.dumps({"resourceSpans": [{"futureField": {"x": [1, 2]}, "scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "name": None, "unknown": "x", "status": None,
        "attributes": [{"key": "a", "value": {"stringValue": "b", "newKind": 1}, "extra": True}],
    }]}]}], "other": 1})
    span = decode_traces(body).resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == TRACE_ID and span.name == "" and not span.HasField("status")
    assert span.attributes[0].value.string_value == "b"


def nested_arrays(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


def nested_kvlists(levels: int, bottom: Any) -> dict[str, Any]:
    value: dict[str, Any] = bottom
    for _ in range(levels):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


def body_with_attribute_value(value: Any) -> bytes:
    return orjson.dumps({"resourceSpans": [{"resource": {"attributes": [{"key": "a", "value": value}]}}]})


def test_nesting_up_to_the_limit_survives_protobuf_and_json() -> None:
    kvlists = nested_kvlists(MAX_ANY_VALUE_DEPTH, {"stringValue": "bottom"})
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"events": [{"attributes": [
        {"key": "a", "value": kvlists}, {"key": "b", "value": nested_arrays(MAX_ANY_VALUE_DEPTH)}]}]}]}]}]})
    request = decode_traces(body)
    # The deepest place an attribute can be, still within upb's nesting limit for parsing.
    assert ExportTraceServiceRequest.FromString(request.SerializeToString()) == request
    assert decode_traces(encode_traces(request)) == request
    value = request.resource_spans[0].scope_spans[0].spans[0].events[0].attributes[1].value
    for _ in range(MAX_ANY_VALUE_DEPTH):
        value = value.array_value.values[0]
    assert value.string_value == "bottom"


def test_errors_deep_in_nested_kvlists_are_found_in_linear_time() -> None:
    body = body_with_attribute_value(nested_kvlists(MAX_ANY_VALUE_DEPTH, {"boolValue": "no"}))
    started = time.perf_counter()
    with pytest.raises(MalformedPayloadError, match=r"(\.kvlistValue\.values\[0\]\.value){31}\.boolValue"):
        decode_traces(body)
    assert time.perf_counter() - started < 1.0


SPAN_PATH = "resourceSpans[0].scopeSpans[0].spans[0]"
ATTRIBUTE_PATH = f"{SPAN_PATH}.attributes[0]"


def with_span(**fields: Any) -> bytes:
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [fields]}]}]})


def with_value(value: Any) -> bytes:
    return with_span(attributes=[{"key": "a", "value": value}])


MALFORMED = [
    (b"not json", "request body is not valid JSON"),
    (b'{"resourceSpans": [', "request body is not valid JSON"),
    (b"[" * 2000 + b"]" * 2000, "request body is not valid JSON"),
    (b'{"a": "\\ud800"}', "request body is not valid JSON"),
    (b"\xff\xfe", "request body is not valid JSON"),
    (b"[]", "invalid OTLP/JSON: expected an object, got an array"),
    (b'"x"', "invalid OTLP/JSON: expected an object, got string"),
    (b'{"resourceSpans": {}}', "resourceSpans: expected an array, got an object"),
    (b'{"resourceSpans": ["x"]}', "resourceSpans[0]: expected an object, got string"),
    (b'{"resourceSpans": [{"resource": []}]}', "resourceSpans[0].resource: expected an object"),
    (b'{"resourceSpans": [{"scopeSpans": 5}]}', "resourceSpans[0].scopeSpans: expected an array"),
    (b'{"resourceSpans": [{"scopeSpans": [{"scope": {"name": 1}}]}]}',
     "resourceSpans[0].scopeSpans[0].scope.name: expected a string, got number 1"),
    (b'{"resourceSpans": [{"schemaUrl": true}]}', "resourceSpans[0].schemaUrl: expected a string, got true"),
    (orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{}, {}, {}, {"traceId": "xyz0"}]}]}]}),
     "resourceSpans[0].scopeSpans[0].spans[3].traceId: invalid hex"),
    (with_span(spanId="abc"), f"{SPAN_PATH}.spanId: invalid hex (odd length)"),
    (with_span(parentSpanId="ab cd"), f"{SPAN_PATH}.parentSpanId: invalid hex"),
    (with_span(traceId=123), f"{SPAN_PATH}.traceId: expected a hex string, got number 123"),
    (with_span(name=5), f"{SPAN_PATH}.name: expected a string, got number 5"),
    (with_span(name=["x"]), f"{SPAN_PATH}.name: expected a string, got an array"),
    (with_span(startTimeUnixNano="soon"),
     f'{SPAN_PATH}.startTimeUnixNano: expected an integer, got string "soon"'),
    (with_span(startTimeUnixNano=-1), f"{SPAN_PATH}.startTimeUnixNano: expected an integer, got number -1"),
    (with_span(endTimeUnixNano=str(2**64)), f"{SPAN_PATH}.endTimeUnixNano: expected an integer"),
    (with_span(endTimeUnixNano=1.5), f"{SPAN_PATH}.endTimeUnixNano: expected an integer"),
    (with_span(flags=True), f"{SPAN_PATH}.flags: expected an integer, got true"),
    (with_span(droppedAttributesCount=-1), f"{SPAN_PATH}.droppedAttributesCount: expected an integer"),
    (with_span(kind="SPAN_KIND_BOGUS"),
     f"{SPAN_PATH}.kind: expected an integer or one of SPAN_KIND_UNSPECIFIED"),
    (with_span(kind=2**40), f"{SPAN_PATH}.kind: expected an integer or one of"),
    (with_span(kind=[]), f"{SPAN_PATH}.kind: expected an integer or one of"),
    (with_span(status="ok"), f"{SPAN_PATH}.status: expected an object"),
    (with_span(status={"code": "STATUS_CODE_FINE"}),
     f"{SPAN_PATH}.status.code: expected an integer or one of"),
    (with_span(events=[{"timeUnixNano": "x"}]), f"{SPAN_PATH}.events[0].timeUnixNano: expected an integer"),
    (with_span(events={}), f"{SPAN_PATH}.events: expected an array"),
    (with_span(links=[{}, {"traceId": "g" * 32}]),
     f"{SPAN_PATH}.links[1].traceId: invalid hex (not a hex digit)"),
    (with_span(attributes="x"), f"{SPAN_PATH}.attributes: expected an array, got string"),
    (with_span(attributes=["x"]), f"{ATTRIBUTE_PATH}: expected an object, got string"),
    (with_span(attributes=[{"key": 1, "value": {}}]),
     f"{ATTRIBUTE_PATH}.key: expected a string, got number 1"),
    (with_span(attributes=[{"key": "a", "value": "b"}]), f"{ATTRIBUTE_PATH}.value: expected an object"),
    (with_value({"stringValue": 1}), f"{ATTRIBUTE_PATH}.value.stringValue: expected a string, got number 1"),
    (with_value({"boolValue": "true"}),
     f"{ATTRIBUTE_PATH}.value.boolValue: expected true or false, got string \"true\""),
    (with_value({"intValue": 1.5}), f"{ATTRIBUTE_PATH}.value.intValue: expected an integer, got number 1.5"),
    (with_value({"intValue": str(2**63)}), f"{ATTRIBUTE_PATH}.value.intValue: expected an integer"),
    (with_value({"doubleValue": "lots"}),
     f"{ATTRIBUTE_PATH}.value.doubleValue: expected a number, got string \"lots\""),
    (with_value({"doubleValue": True}), f"{ATTRIBUTE_PATH}.value.doubleValue: expected a number, got true"),
    (with_value({"bytesValue": "!!!"}), f"{ATTRIBUTE_PATH}.value.bytesValue: expected a base64 string"),
    (with_value({"bytesValue": "abc=d"}), f"{ATTRIBUTE_PATH}.value.bytesValue: expected a base64 string"),
    (with_value({"arrayValue": []}), f"{ATTRIBUTE_PATH}.value.arrayValue: expected an object"),
    (with_value({"arrayValue": {"values": "x"}}),
     f"{ATTRIBUTE_PATH}.value.arrayValue.values: expected an array"),
    (with_value({"arrayValue": {"values": [{}, 3]}}),
     f"{ATTRIBUTE_PATH}.value.arrayValue.values[1]: expected an object, got number 3"),
    (with_value({"kvlistValue": {"values": [{"key": "k", "value": {"intValue": "x"}}]}}),
     f"{ATTRIBUTE_PATH}.value.kvlistValue.values[0].value.intValue: expected an integer, got string \"x\""),
    (with_value(nested_arrays(MAX_ANY_VALUE_DEPTH + 1)), "arrays and kvlists nested deeper than 31"),
    (with_value(nested_kvlists(MAX_ANY_VALUE_DEPTH + 1, {})), "arrays and kvlists nested deeper than 31"),
    (b'{"resourceSpans": [{"resource": {"entityRefs": [{"idKeys": [1]}]}}]}',
     "resourceSpans[0].resource.entityRefs[0].idKeys: expected an array of strings"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED, ids=[message for _, message in MALFORMED])
def test_malformed_input_is_a_permanent_error_naming_the_field(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayloadError) as raised:
        decode_traces(body)
    assert type(raised.value) is MalformedPayloadError
    assert message in str(raised.value)


def sdk_request() -> ExportTraceServiceRequest:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "pod.index": 3}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test.library", "2.0.1", schema_url="https://opentelemetry.io/schemas/1.21.0")
    remote = SpanContext(int.from_bytes(TRACE_ID, "big"), int.from_bytes(SPAN_ID, "big"), is_remote=True,
                         trace_flags=TraceFlags(1), trace_state=trace_api.TraceState([("vendor", "value")]))
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER, links=[Link(remote, {"link.attr": 1})],
                                      attributes={"http.method": "GET", "http.status_code": 200,
                                                  "ratio": 0.25, "cached": False, "tags": ["a", "b"],
                                                  "ids": [1, 2, 3], "flags": [True, False],
                                                  "weights": [0.5, 1.5]}) as parent:
        parent.add_event("checkpoint", {"step": 1})
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "upstream failed"))
            child.record_exception(ValueError("bad value"))
        with tracer.start_as_current_span("producer", kind=SpanKind.PRODUCER):
            pass
    provider.shutdown()
    request: ExportTraceServiceRequest = encode_spans(exporter.get_finished_spans())
    return request


def json_format_to_otlp_json(document: Any) -> Any:
    """json_format writes bytes as base64; OTLP/JSON wants ids in hex."""
    if isinstance(document, dict):
        return {key: base64.b64decode(value).hex()
                if key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
                else json_format_to_otlp_json(value) for key, value in document.items()}
    if isinstance(document, list):
        return [json_format_to_otlp_json(item) for item in document]
    return document


@pytest.mark.parametrize("snake_case", [False, True])
def test_decodes_what_the_opentelemetry_sdk_sends(snake_case: bool) -> None:
    original = sdk_request()
    assert len(original.resource_spans[0].scope_spans[0].spans) == 3
    # MessageToDict writes enum names and 64-bit integers as strings, like many clients do.
    document = json_format.MessageToDict(original, preserving_proto_field_name=snake_case)
    decoded = decode_traces(orjson.dumps(json_format_to_otlp_json(document)))
    assert decoded == original
    assert decode_traces(encode_traces(original)) == original


def test_encode_message_json_of_responses_and_statuses() -> None:
    partial = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=2, error_message="2 spans rejected"))
    assert orjson.loads(encode_message_json(partial)) == {
        "partialSuccess": {"rejectedSpans": "2", "errorMessage": "2 spans rejected"}}
    assert encode_message_json(ExportTraceServiceResponse()) == b"{}"
    assert orjson.loads(encode_message_json(build_status(8, "full", retry_after_s=5))) == {
        "code": 8, "message": "full",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "5s"}]}
    assert encode_message_json(full_request()) == encode_traces(full_request())


def test_encode_status_by_content_type() -> None:
    assert orjson.loads(encode_status(3, "bad data", as_json=True)) == {"code": 3, "message": "bad data"}
    assert build_status(3, "bad data").SerializeToString() == encode_status(3, "bad data")


def test_status_bodies_decode_back() -> None:
    for as_json in (False, True):
        assert decode_status(encode_status(3, "bad data", as_json=as_json), as_json=as_json) == (3, "bad data")
    assert decode_status(encode_retry_status(8, "full", 5)) == (8, "full")
    with pytest.raises(ValueError, match=r"not a google\.rpc\.Status"):
        decode_status(b"[1]", as_json=True)
    with pytest.raises(ValueError, match=r"not a google\.rpc\.Status"):
        decode_status(b"\xff\xff")
