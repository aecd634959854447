"""Dropping spans with unusable ids, and the partial-success message that names them."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.proto.validate import drop_invalid_spans

TRACE_ID = bytes(range(1, 17))
SPAN_ID = bytes(range(1, 9))


def request_with(*spans: dict[str, object]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for index, fields in enumerate(spans):
        scope_spans.spans.add(**{"trace_id": TRACE_ID, "span_id": SPAN_ID, "name": str(index), **fields})
    return request


def names(request: ExportTraceServiceRequest) -> list[str]:
    return [span.name for resource in request.resource_spans for scope in resource.scope_spans
            for span in scope.spans]


def test_valid_spans_are_left_alone() -> None:
    request = request_with({}, {"parent_span_id": b""}, {"parent_span_id": SPAN_ID})
    before = request.SerializeToString()
    assert drop_invalid_spans(request) == (0, "")
    assert request.SerializeToString() == before
    assert drop_invalid_spans(ExportTraceServiceRequest()) == (0, "")


@pytest.mark.parametrize(("fields", "reason"), [
    ({"trace_id": b"abc"}, "trace_id must be 16 bytes, got 3"),
    ({"trace_id": b""}, "trace_id must be 16 bytes, got 0"),
    ({"trace_id": bytes(16)}, "trace_id must not be all zeros"),
    ({"span_id": TRACE_ID}, "span_id must be 8 bytes, got 16"),
    ({"span_id": b""}, "span_id must be 8 bytes, got 0"),
    ({"span_id": bytes(8)}, "span_id must not be all zeros"),
    ({"parent_span_id": b"\x01\x02\x03\x04"}, "parent_span_id must be empty or 8 bytes, got 4"),
])
def test_each_rule(fields: dict[str, object], reason: str) -> None:
    request = request_with({}, fields, {})
    assert drop_invalid_spans(request) == (
        1, f"1 span rejected: resource_spans[0].scope_spans[0].spans[1]: {reason}")
    assert names(request) == ["0", "2"]


def test_message_lists_the_first_few_and_counts_the_rest() -> None:
    request = request_with({"trace_id": b"abc"}, {}, {"span_id": bytes(8)}, {"trace_id": bytes(16)},
                           {}, {"span_id": b""}, {"parent_span_id": b"x"})
    second = request.resource_spans.add().scope_spans.add()
    second.spans.add(trace_id=TRACE_ID, span_id=SPAN_ID, name="kept")
    second.spans.add(trace_id=b"", span_id=SPAN_ID, name="dropped")
    rejected, message = drop_invalid_spans(request)
    assert rejected == 6
    assert message == (
        "6 spans rejected: "
        "resource_spans[0].scope_spans[0].spans[0]: trace_id must be 16 bytes, got 3; "
        "resource_spans[0].scope_spans[0].spans[2]: span_id must not be all zeros; "
        "resource_spans[0].scope_spans[0].spans[3]: trace_id must not be all zeros; "
        "and 3 more")
    assert names(request) == ["1", "4", "kept"]


def test_every_span_invalid_leaves_empty_scopes() -> None:
    request = request_with(*({"trace_id": b""} for _ in range(1000)))
    rejected, message = drop_invalid_spans(request)
    assert rejected == 1000 and message.startswith("1000 spans rejected: ")
    assert names(request) == []
    assert len(request.resource_spans[0].scope_spans) == 1
