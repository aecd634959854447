"""OTLP/JSON for traces, straight to and from opentelemetry-proto messages (no json_format).

This module walks a request down to its spans (resourceSpans, scopeSpans, spans), where a defect
of one span can cost that span alone; the field setters are in proto/otlp_json_fields.py and the
encoder in proto/otlp_json_encode.py."""

from __future__ import annotations

from typing import Any, Final

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from spanhouse.proto.errors import MalformedPayloadError
from spanhouse.proto.otlp_json_encode import encode_message_json, encode_traces
from spanhouse.proto.otlp_json_fields import MAX_ANY_VALUE_DEPTH, DecodeError, describe, fields_for, fill

__all__ = ["MAX_ANY_VALUE_DEPTH", "SpanDefects", "decode_traces", "decode_traces_keeping_valid_spans",
           "encode_message_json", "encode_traces"]

# (resource_spans index, scope_spans index, spans index) -> why that span could not be decoded.
SpanDefects = dict[tuple[int, int, int], str]

_RESOURCE_SPANS_KEYS: Final = ("resourceSpans", "resource_spans")
_SCOPE_SPANS_KEYS: Final = ("scopeSpans", "scope_spans")
_SPANS_KEY: Final = "spans"  # the same in both spellings
# The tables of the levels above a span, without the lists walked here.
_RESOURCE_SPANS_FIELDS: Final = {key: setter for key, setter in fields_for(ResourceSpans.DESCRIPTOR).items()
                                 if key not in _SCOPE_SPANS_KEYS}
_SCOPE_SPANS_FIELDS: Final = {key: setter for key, setter in fields_for(ScopeSpans.DESCRIPTOR).items()
                              if key != _SPANS_KEY}
_SPAN_FIELDS: Final = fields_for(Span.DESCRIPTOR)


def decode_traces(body: bytes) -> ExportTraceServiceRequest:
    """An OTLP/JSON ExportTraceServiceRequest; MalformedPayloadError naming the field when malformed,
    inside a span too. An empty body is an empty request, as it is in the protobuf encoding."""
    return _decode(body, None)


def decode_traces_keeping_valid_spans(body: bytes) -> tuple[ExportTraceServiceRequest, SpanDefects]:
    """Like decode_traces, except that a span object whose own fields are malformed (an id that
    is not hex, a time that is not an integer, an unknown enum name, a bad attribute...) is a
    defect of that span alone: it is left in place empty and named in the defects, for
    proto.validate.drop_invalid_spans to remove and count like a protobuf span with a bad id.
    A body that is not JSON or not OTLP's shape above the spans is still a MalformedPayloadError."""
    defects: SpanDefects = {}
    return _decode(body, defects), defects


def _decode(body: bytes, defects: SpanDefects | None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    if not body or body.isspace():
        return request
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedPayloadError(f"request body is not valid JSON: {error}") from None
    try:
        _fill_request(request, document, defects)
    except DecodeError as error:
        raise MalformedPayloadError(f"invalid OTLP/JSON: {error.render()}") from None
    except Exception as error:  # bad input must never surface as anything but a 400
        raise MalformedPayloadError(f"invalid OTLP/JSON: {type(error).__name__}: {error}") from None
    return request


def _fill_request(request: ExportTraceServiceRequest, document: Any, defects: SpanDefects | None) -> None:
    if type(document) is not dict:
        raise DecodeError(f"expected an object, got {describe(document)}")
    for key in _RESOURCE_SPANS_KEYS:  # the only field of the request; unknown keys are ignored
        items = document.get(key)
        if items is None:
            continue
        try:
            _fill_list(request.resource_spans, items, _fill_resource_spans, defects, ())
        except DecodeError as error:
            error.path.append(key)
            raise


def _fill_list(container: Any, items: Any, fill_item: Any, defects: SpanDefects | None,
               position: tuple[int, ...]) -> None:
    """Appends one message per item of a JSON array; `position` is the enclosing indexes."""
    if type(items) is not list:
        raise DecodeError(f"expected an array, got {describe(items)}")
    add = container.add
    base = len(container)  # both spellings of a key may be present: indexes go on
    for index, item in enumerate(items):
        try:
            fill_item(add(), item, defects, (*position, base + index))
        except DecodeError as error:
            error.path.append(index)
            raise


def _fill_resource_spans(message: Any, item: Any, defects: SpanDefects | None, position: tuple[int, ...]) -> None:
    fill(message, item, _RESOURCE_SPANS_FIELDS)  # refuses a non-object
    for key in _SCOPE_SPANS_KEYS:
        items = item.get(key)
        if items is not None:
            try:
                _fill_list(message.scope_spans, items, _fill_scope_spans, defects, position)
            except DecodeError as error:
                error.path.append(key)
                raise


def _fill_scope_spans(message: Any, item: Any, defects: SpanDefects | None, position: tuple[int, ...]) -> None:
    fill(message, item, _SCOPE_SPANS_FIELDS)
    items = item.get(_SPANS_KEY)
    if items is None:
        return
    if type(items) is not list:
        raise DecodeError(f"expected an array, got {describe(items)}", _SPANS_KEY)
    resource_index, scope_index = position
    add = message.spans.add
    for index, span_object in enumerate(items):
        span = add()
        if type(span_object) is not dict:  # not a span at all: the request's shape is wrong
            raise DecodeError(f"expected an object, got {describe(span_object)}", index, _SPANS_KEY)
        try:
            fill(span, span_object, _SPAN_FIELDS)
        except DecodeError as error:
            if defects is None:
                error.path += (index, _SPANS_KEY)
                raise
            # The span's own defect: an empty placeholder keeps later spans' indexes, so that
            # drop_invalid_spans names every rejected span by its place in the request.
            span.Clear()
            defects[(resource_index, scope_index, index)] = error.render()
