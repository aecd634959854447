"""One bad span of an OTLP/JSON request costs that span only, on a running collector with the
embedded ClickHouse (issue 12, point 9); a body that is not OTLP/JSON is still a 400."""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from spanhouse.proto.status import decode_status
from tests.conftest import BASIC_CONFIG, StartCollector
from tests.receivers.test_otlp_http_protocol import post

TRACE_ID = "5b8efff798038103d269b633813fc60c"


def span(number: int, **fields: Any) -> dict[str, Any]:
    return {"traceId": TRACE_ID, "spanId": f"{number:016x}", "name": f"span-{number}",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000000000100", **fields}


def body_of(*spans: dict[str, Any]) -> bytes:
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]})


async def test_third_span_with_a_bad_trace_id_is_rejected_alone(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    status, body, headers = await post(collector, body_of(span(1), span(2), span(3, traceId="abc")),
                                       "application/json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    reply = json_format.Parse(body, ExportTraceServiceResponse())
    assert reply.partial_success.rejected_spans == 1
    assert reply.partial_success.error_message == (
        '1 span rejected: resource_spans[0].scope_spans[0].spans[2]: traceId: invalid hex (odd length): '
        'string "abc"')
    rows = await collector.aquery("SELECT SpanName, SpanId FROM otel.otel_traces ORDER BY SpanName")
    assert rows == [("span-1", f"{1:016x}"), ("span-2", f"{2:016x}")]


async def test_time_and_enum_defects_are_counted_with_the_protobuf_rules(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    spans = [span(1, startTimeUnixNano="soon"), span(2), span(3, kind="SPAN_KIND_BOGUS"), span(4, spanId="0102")]
    status, body, _ = await post(collector, body_of(*spans), "application/json")
    assert status == 200
    reply = json_format.Parse(body, ExportTraceServiceResponse())
    assert reply.partial_success.rejected_spans == 3
    message = reply.partial_success.error_message
    assert message.startswith("3 spans rejected: resource_spans[0].scope_spans[0].spans[0]: startTimeUnixNano:")
    assert "spans[2]: kind: expected an integer or one of" in message
    assert "spans[3]: span_id must be 8 bytes, got 2" in message  # the protobuf path's own wording
    assert await collector.aquery("SELECT SpanName FROM otel.otel_traces") == [("span-2",)]


async def test_a_body_that_is_not_otlp_json_is_still_refused_whole(start_collector: StartCollector) -> None:
    collector = await start_collector(BASIC_CONFIG)
    for body, reason in ((b"{not json", "not valid JSON"), (b'{"resourceSpans": 5}', "resourceSpans"),
                         (b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}', "spans[0]: expected an object")):
        status, answer, _ = await post(collector, body, "application/json")
        assert status == 400
        code, message = decode_status(answer, as_json=True)
        assert code == 3 and reason in message
    status, _, _ = await post(collector, body_of(span(9)), "application/json")
    assert status == 200
    assert await collector.aquery("SELECT SpanName FROM otel.otel_traces") == [("span-9",)]
