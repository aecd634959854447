"""Limits on what one request may hold, checked on the OTLP every receiver hands on:
counts beyond a limit refuse the request (413), over-long attribute values are truncated
with a marker and counted. Each limit is a receiver setting (`limits:`) with a safe default."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spanhouse.collector.core.component import Traces
from spanhouse.collector.core.config.types import DURATION
from spanhouse.collector.core.errors import PayloadTooLargeError, PermanentError

# The Go collector allows 20 MiB; the security issue settles on 16 MiB for every receiver
# (before and after decompression).
DEFAULT_MAX_REQUEST_BODY_BYTES: Final = 16 * 1024 * 1024
DEFAULT_MAX_SPANS_PER_REQUEST: Final = 100_000
# The OpenTelemetry SDKs drop beyond 128 by default; a sender past 1024 is broken or hostile.
DEFAULT_MAX_ATTRIBUTES: Final = 1024
DEFAULT_MAX_EVENTS_PER_SPAN: Final = 1024
DEFAULT_MAX_LINKS_PER_SPAN: Final = 1024
DEFAULT_MAX_ATTRIBUTE_VALUE_CHARS: Final = 64 * 1024
DEFAULT_MAX_JSON_DEPTH: Final = 64
DEFAULT_HEADER_READ_TIMEOUT_S: Final = 10.0
DEFAULT_BODY_READ_TIMEOUT_S: Final = 30.0
DEFAULT_MAX_CONNECTIONS: Final = 1024
# A health check is polled by an orchestrator or two, metrics by a scraper or two.
DEFAULT_SMALL_LISTENER_MAX_CONNECTIONS: Final = 64
# One request or header line (aiohttp's default, made explicit): longer is answered 400.
MAX_HEADER_LINE_BYTES: Final = 8190
# Appended to a truncated string value (and counted in
# spanhouse_receiver_truncated_attribute_values), so a reader knows the value is not whole.
TRUNCATION_MARKER: Final = "...[truncated by spanhouse]"


def _described(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_spans_per_request: int = field(default=DEFAULT_MAX_SPANS_PER_REQUEST, metadata=_described(
        "Spans one request may carry; more is refused with 413."))
    max_attributes_per_span: int = field(default=DEFAULT_MAX_ATTRIBUTES, metadata=_described(
        "Attributes of one span, resource, event or link; more is refused with 413."))
    max_events_per_span: int = field(default=DEFAULT_MAX_EVENTS_PER_SPAN, metadata=_described(
        "Events of one span; more is refused with 413."))
    max_links_per_span: int = field(default=DEFAULT_MAX_LINKS_PER_SPAN, metadata=_described(
        "Links of one span; more is refused with 413."))
    max_attribute_value_length: int = field(default=DEFAULT_MAX_ATTRIBUTE_VALUE_CHARS, metadata=_described(
        "Characters (bytes for bytes values) an attribute value keeps; longer ones are truncated with a marker."))
    max_json_depth: int = field(default=DEFAULT_MAX_JSON_DEPTH, metadata=_described(
        "Nesting of arrays and objects in a JSON body; deeper is refused with 400."))
    header_read_timeout: Annotated[float, DURATION] = field(default=DEFAULT_HEADER_READ_TIMEOUT_S, metadata=_described(
        "Time a connection gets to send a request's headers (also the idle keep-alive time; the TLS "
        "handshake time)."))
    body_read_timeout: Annotated[float, DURATION] = field(default=DEFAULT_BODY_READ_TIMEOUT_S, metadata=_described(
        "Time a request gets to send its whole body; slower is answered 408."))
    max_connections: int = field(default=DEFAULT_MAX_CONNECTIONS, metadata=_described(
        "Open connections per listening address; more are answered 503 and closed."))

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        for name in ("max_spans_per_request", "max_attributes_per_span", "max_events_per_span",
                     "max_links_per_span", "max_attribute_value_length", "max_json_depth", "max_connections"):
            if getattr(self, name) <= 0:
                problems.append((name, "must be greater than 0"))
        for name in ("header_read_timeout", "body_read_timeout"):
            if getattr(self, name) <= 0:
                problems.append((name, "must be greater than 0"))
        return problems


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """`limits:` of a listener that takes no spans (the query API, the health check): the
    connection protections every listener of the collector has (docs/security.md)."""

    header_read_timeout: Annotated[float, DURATION] = field(default=DEFAULT_HEADER_READ_TIMEOUT_S, metadata=_described(
        "Time a connection gets to send a request's headers (also the idle keep-alive time)."))
    body_read_timeout: Annotated[float, DURATION] = field(default=DEFAULT_BODY_READ_TIMEOUT_S, metadata=_described(
        "Time a request's body gets to arrive before the connection is closed."))
    max_connections: int = field(default=DEFAULT_MAX_CONNECTIONS, metadata=_described(
        "Open connections at once; more are answered 503 and closed."))

    def validate(self) -> list[tuple[str, str]]:
        return [(name, "must be greater than 0") for name in ("header_read_timeout", "body_read_timeout",
                                                             "max_connections") if getattr(self, name) <= 0]


def small_listener_limits() -> ListenerLimits:
    return ListenerLimits(max_connections=DEFAULT_SMALL_LISTENER_MAX_CONNECTIONS)


def check_json_depth(document: Any, max_depth: int) -> None:
    """PermanentError when arrays and objects nest deeper than `max_depth`."""
    if json_deeper_than(document, max_depth):
        raise PermanentError(f"the JSON body nests deeper than {max_depth} levels")


def json_deeper_than(document: Any, max_depth: int) -> bool:
    """Whether the arrays and objects of a decoded JSON document (plain dicts and lists, as
    orjson makes them) nest deeper than `max_depth` levels. It walks one level at a time, not
    recursively, so no depth reaches Python's recursion limit, and keeps only containers: this
    costs ~1.3 us per Dynamiq span where a stack of (value, depth) pairs filled by a generator
    cost ~5 us (bench.adapters bodies)."""
    level = [document] if type(document) is dict or type(document) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        nested: list[Any] = []
        append = nested.append
        for container in level:
            for child in container.values() if type(container) is dict else container:
                if type(child) is dict or type(child) is list:
                    append(child)
        level = nested
    return False


def enforce_limits(traces: Traces, limits: InputLimits, span_total: int) -> int:
    """Refuses `traces` (PayloadTooLargeError, 413) when a count is over its limit; truncates
    over-long attribute values in place. Returns how many values were truncated."""
    if span_total > limits.max_spans_per_request:
        raise PayloadTooLargeError(f"the request has {span_total} spans; the limit is "
                                   f"{limits.max_spans_per_request} (limits.max_spans_per_request): send "
                                   "smaller batches")
    max_attributes = limits.max_attributes_per_span
    max_events = limits.max_events_per_span
    max_links = limits.max_links_per_span
    max_length = limits.max_attribute_value_length
    # Every attribute, event and link takes at least 2 encoded bytes (tag and length), so a span
    # smaller than this cannot be over a count limit, and one no larger than max_length cannot
    # hold a value to truncate: most spans cost one size computation in C (~0.7 us), not a walk.
    countable_bytes = 2 * min(max_attributes, max_events, max_links)
    truncated = 0
    for resource_index, resource_spans in enumerate(traces.resource_spans):
        resource = resource_spans.resource
        _check_count(len(resource.attributes), max_attributes, f"resource_spans[{resource_index}].resource",
                     "attributes", "max_attributes_per_span")
        if resource.ByteSize() > max_length:
            truncated += _truncate_attributes(resource.attributes, max_length)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                size = span.ByteSize()
                if size >= countable_bytes:
                    _check_span_counts(span, max_attributes, max_events, max_links)
                if size > max_length:
                    truncated += _truncate_attributes(span.attributes, max_length)
                    for item in (*span.events, *span.links):
                        truncated += _truncate_attributes(item.attributes, max_length)
    return truncated


def _check_span_counts(span: Span, max_attributes: int, max_events: int, max_links: int) -> None:
    events, links = span.events, span.links
    if (len(span.attributes) <= max_attributes and len(events) <= max_events and len(links) <= max_links
            and not events and not links):
        return  # the common case, without building the messages below (once per span)
    where = f"span {span.span_id.hex() or '(no id)'}"
    _check_count(len(span.attributes), max_attributes, where, "attributes", "max_attributes_per_span")
    _check_count(len(span.events), max_events, where, "events", "max_events_per_span")
    _check_count(len(span.links), max_links, where, "links", "max_links_per_span")
    for index, event in enumerate(span.events):
        _check_count(len(event.attributes), max_attributes, f"{where} event {index}", "attributes",
                     "max_attributes_per_span")
    for index, link in enumerate(span.links):
        _check_count(len(link.attributes), max_attributes, f"{where} link {index}", "attributes",
                     "max_attributes_per_span")


def _check_count(count: int, limit: int, where: str, what: str, setting: str) -> None:
    if count > limit:
        raise PayloadTooLargeError(f"{where} has {count} {what}; the limit is {limit} (limits.{setting})")


def _truncate_attributes(attributes: Iterable[KeyValue], max_length: int) -> int:
    return sum(_truncate_value(attribute.value, max_length) for attribute in attributes)


def _truncate_value(value: AnyValue, max_length: int) -> int:
    # Nesting is bounded by protobuf's own recursion limit (100) well below Python's.
    kind = value.WhichOneof("value")
    if kind == "string_value":
        text = value.string_value
        if len(text) > max_length:
            value.string_value = text[:max_length] + TRUNCATION_MARKER
            return 1
        return 0
    if kind == "bytes_value":
        if len(value.bytes_value) > max_length:
            value.bytes_value = value.bytes_value[:max_length]
            return 1
        return 0
    if kind == "array_value":
        return sum(_truncate_value(item, max_length) for item in value.array_value.values)
    if kind == "kvlist_value":
        return _truncate_attributes(value.kvlist_value.values, max_length)
    return 0
