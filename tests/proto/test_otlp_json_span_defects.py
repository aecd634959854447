"""A malformed field inside one span of an OTLP/JSON body costs that span alone (issue 12, point 9):
the decoder names it, drop_invalid_spans removes and counts it like a protobuf span with a bad id."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from spanhouse.proto.errors import MalformedPayloadError
from spanhouse.proto.otlp_json import decode_traces, decode_traces_keeping_valid_spans
from spanhouse.proto.validate import drop_invalid_spans

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def good_span(number: int, **fields: Any) -> dict[str, Any]:
    return {"traceId": TRACE_ID, "spanId": f"{number:016x}", "name": f"span-{number}",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000000000100", **fields}


def body_of(*spans: dict[str, Any]) -> bytes:
    return orjson.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeSpans": [{"scope": {"name": "lib"}, "spans": list(spans)}]}]})


def decoded(body: bytes) -> tuple[list[str], int, str]:
    traces, defects = decode_traces_keeping_valid_spans(body)
    rejected, message = drop_invalid_spans(traces, defects)
    names = [span.name for resource in traces.resource_spans for scope in resource.scope_spans
             for span in scope.spans]
    return names, rejected, message


def test_the_issues_example_keeps_the_two_valid_spans() -> None:
    names, rejected, message = decoded(body_of(good_span(1), good_span(2), good_span(3, traceId="abc")))
    assert names == ["span-1", "span-2"]
    assert rejected == 1
    assert message == ('1 span rejected: resource_spans[0].scope_spans[0].spans[2]: '
                       'traceId: invalid hex (odd length): string "abc"')


SPAN_DEFECTS = [
    ({"traceId": "abc"}, 'traceId: invalid hex (odd length): string "abc"'),
    ({"traceId": "zz" * 16}, "traceId: invalid hex (not a hex digit)"),
    ({"spanId": 12}, "spanId: expected a hex string, got number 12"),
    ({"parentSpanId": "ab cd"}, "parentSpanId: invalid hex"),
    ({"startTimeUnixNano": "soon"}, 'startTimeUnixNano: expected an integer, got string "soon"'),
    ({"endTimeUnixNano": 1.5}, "endTimeUnixNano: expected an integer, got number 1.5"),
    ({"end_time_unix_nano": -1}, "end_time_unix_nano: expected an integer, got number -1"),
    ({"kind": "SPAN_KIND_BOGUS"}, "kind: expected an integer or one of SPAN_KIND_UNSPECIFIED"),
    ({"kind": 2**40}, "kind: expected an integer or one of"),
    ({"status": {"code": "STATUS_CODE_FINE"}}, "status.code: expected an integer or one of"),
    ({"events": [{"timeUnixNano": "x"}]}, "events[0].timeUnixNano: expected an integer"),
    ({"links": [{"traceId": "g" * 32}]}, "links[0].traceId: invalid hex (not a hex digit)"),
    ({"attributes": [{"key": "a", "value": {"intValue": "many"}}]},
     'attributes[0].value.intValue: expected an integer, got string "many"'),
]


@pytest.mark.parametrize(("fields", "reason"), SPAN_DEFECTS, ids=[reason for _, reason in SPAN_DEFECTS])
def test_each_kind_of_span_defect_rejects_that_span_only(fields: dict[str, Any], reason: str) -> None:
    names, rejected, message = decoded(body_of(good_span(1), good_span(2, **fields), good_span(3)))
    assert names == ["span-1", "span-3"]
    assert rejected == 1
    assert message.startswith("1 span rejected: resource_spans[0].scope_spans[0].spans[1]: " + reason)


def test_decode_and_id_defects_are_counted_together_at_their_places() -> None:
    """A JSON defect and a protobuf-style id defect (valid hex of the wrong length) in one request:
    one count, one message, each span named by its index in the request as sent."""
    spans = [good_span(1, traceId="abc"), good_span(2), good_span(3, spanId="0102"),
             good_span(4, kind="NOPE"), good_span(5, startTimeUnixNano="x")]
    names, rejected, message = decoded(body_of(*spans))
    assert names == ["span-2"]
    assert rejected == 4
    assert message == (
        '4 spans rejected: resource_spans[0].scope_spans[0].spans[0]: traceId: invalid hex (odd length): '
        'string "abc"; resource_spans[0].scope_spans[0].spans[2]: span_id must be 8 bytes, got 2; '
        "resource_spans[0].scope_spans[0].spans[3]: kind: expected an integer or one of SPAN_KIND_UNSPECIFIED, "
        "SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER, "
        'got string "NOPE"; and 1 more')


def test_indexes_count_across_resources_and_scopes() -> None:
    body = orjson.dumps({"resourceSpans": [
        {"scopeSpans": [{"spans": [good_span(1)]}]},
        {"scopeSpans": [{"spans": [good_span(2)]}, {"spans": [good_span(3), good_span(4, traceId="x")]}]}]})
    names, rejected, message = decoded(body)
    assert (names, rejected) == (["span-1", "span-2", "span-3"], 1)
    assert message.startswith("1 span rejected: resource_spans[1].scope_spans[1].spans[1]: traceId:")


NOT_OTLP = [
    (b"not json", "request body is not valid JSON"),
    (b"[]", "invalid OTLP/JSON: expected an object, got an array"),
    (b'{"resourceSpans": {}}', "resourceSpans: expected an array, got an object"),
    (b'{"resourceSpans": ["x"]}', "resourceSpans[0]: expected an object, got string"),
    (b'{"resourceSpans": [{"scopeSpans": 5}]}', "resourceSpans[0].scopeSpans: expected an array"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}',
     "resourceSpans[0].scopeSpans[0].spans: expected an array, got number 5"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{}, "x"]}]}]}',
     "resourceSpans[0].scopeSpans[0].spans[1]: expected an object, got string"),
    (b'{"resourceSpans": [{"resource": {"attributes": 1}, "scopeSpans": []}]}',
     "resourceSpans[0].resource.attributes: expected an array"),
]


@pytest.mark.parametrize(("body", "message"), NOT_OTLP, ids=[message for _, message in NOT_OTLP])
def test_a_body_that_is_not_otlp_is_still_refused_whole(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayloadError) as raised:
        decode_traces_keeping_valid_spans(body)
    assert message in str(raised.value)


def test_the_strict_decoder_still_refuses_a_bad_span_naming_it() -> None:
    with pytest.raises(MalformedPayloadError,
                       match=r"resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[2\]\.traceId: invalid hex"):
        decode_traces(body_of(good_span(1), good_span(2), good_span(3, traceId="abc")))
