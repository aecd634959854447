"""Validation of one AgentVista trace (its header and its spans): each trace of a batch is
checked on its own, so that a bad one is rejected with a message naming the field while the
valid ones of the same batch are kept, as the vendor documents."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from spanhouse.adapters.common.attributes import to_json
from spanhouse.adapters.common.messages import describe, quote
from spanhouse.adapters.common.times import MAX_TIME_NS, checked_ns

# The trace statuses AgentVista documents (GET /dashboard/traces/{trace_id}). Span statuses
# are not documented, so any string is accepted for them.
TRACE_STATUSES: Final = ("running", "completed", "failed", "timed_out")
# Money arrives as a plain decimal string ("0.004500"). No sign, no exponent: "1e999" or
# "-1" is not an amount, and the digit caps keep the text within what a double can hold.
_DECIMAL: Final = re.compile(r"[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30}")
# OTLP times and ClickHouse DateTime64(9) are int64 nanoseconds: they end in April 2262.
_MAX_COUNT: Final = 2**63 - 1
# A UUID already in its canonical text (as SDKs send them) is kept without parsing it.
_CANONICAL_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A UUID is 36 characters (38 with braces, 45 as a URN); longer text is not looked at.
_MAX_UUID_CHARS: Final = 45


class InvalidTraceError(ValueError):
    """One trace of the batch does not validate; the message names the field."""


@dataclass(frozen=True, slots=True)
class Money:
    """A USD amount: the text as sent (exact) and the nearest double (for sums and charts)."""

    text: str
    value: float


@dataclass(frozen=True, slots=True)
class ValidSpan:
    span_id: str  # canonical (lowercase, hyphenated) UUID text
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    cost: Money | None
    fields: Mapping[str, Any]  # the span object as sent


@dataclass(frozen=True, slots=True)
class ValidTrace:
    trace_id: str  # canonical UUID text
    agent: str
    start_ns: int
    end_ns: int
    total_cost: Money | None
    fields: Mapping[str, Any]  # the trace header as sent
    spans: tuple[ValidSpan, ...]




def canonical_uuid(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidTraceError(f"{path}: expected a UUID string, got {describe(value)}")
    if _CANONICAL_UUID.fullmatch(value):
        return value  # what str(uuid.UUID(value)) gives, at a fifth of the cost
    try:
        if len(value) > _MAX_UUID_CHARS:
            raise ValueError(value)
        # Canonical text, so that "550E8400-..." and "550e8400-..." are one id for
        # deduplication and for span ids, which are hashed from the text.
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidTraceError(f'{path}: "{quote(value)}" is not a UUID') from None


def _optional(fields: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...],
              expected: str) -> Any:
    value = fields.get(key)
    if value is None:
        return None
    # bool is an int in Python but not a number in JSON.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InvalidTraceError(f"{path}.{key}: expected {expected}, got {describe(value)}")
    return value


def _required_text(fields: Mapping[str, Any], key: str, path: str) -> str:
    if fields.get(key) is None:
        raise InvalidTraceError(f"{path}.{key}: field required")
    value: str = _optional(fields, key, path, str, "a string")
    if not value.strip():
        raise InvalidTraceError(f"{path}.{key}: must not be empty")
    return value


def _count(fields: Mapping[str, Any], key: str, path: str) -> None:
    value = _optional(fields, key, path, int, "an integer")
    if value is not None and not 0 <= value <= _MAX_COUNT:
        # The value is not quoted: it may have thousands of digits (str() refuses past 4300).
        raise InvalidTraceError(f"{path}.{key}: must be an integer between 0 and {_MAX_COUNT}")


def _money(fields: Mapping[str, Any], key: str, path: str) -> Money | None:
    value = _optional(fields, key, path, (str, int, float), "a decimal string")
    if value is None:
        return None
    # A JSON number is taken too (the read API answers numbers), as the text it reads as.
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
    elif isinstance(value, int):
        # Not str(value): Python refuses to format integers of more than 4300 digits.
        text = str(value) if -(10**30) < value < 10**30 else "(an integer of more than 30 digits)"
    else:
        text = value
    if not _DECIMAL.fullmatch(text):
        raise InvalidTraceError(f'{path}.{key}: "{quote(text)}" is not a non-negative decimal string like "0.004500"')
    return Money(text=text, value=float(Decimal(text)))


def _time(value: Any, path: str) -> int:
    try:
        return checked_ns(value)
    except ValueError as error:
        raise InvalidTraceError(f"{path}: {error}") from None


def _times(fields: Mapping[str, Any], path: str) -> tuple[int, int]:
    """Start and end: `ended_at`, else `started_at + duration_ms`, else the start (a trace
    still running has no end yet)."""
    if fields.get("started_at") is None:
        raise InvalidTraceError(f"{path}.started_at: field required")
    start_ns = _time(fields["started_at"], f"{path}.started_at")
    duration_ms = _optional(fields, "duration_ms", path, (int, float), "a number")
    if duration_ms is not None and not 0 <= duration_ms <= MAX_TIME_NS / 1e6:
        raise InvalidTraceError(f"{path}.duration_ms: must be a non-negative number of milliseconds")
    if fields.get("ended_at") is not None:
        end_ns = _time(fields["ended_at"], f"{path}.ended_at")
        if end_ns < start_ns:
            raise InvalidTraceError(f"{path}.ended_at: is before started_at")
        return start_ns, end_ns
    if duration_ms is not None:
        end_ns = start_ns + round(duration_ms * 1_000_000)
        if end_ns > MAX_TIME_NS:
            raise InvalidTraceError(f"{path}.duration_ms: ends after 2262")
        return start_ns, end_ns
    return start_ns, start_ns


def _check_storable(fields: Mapping[str, Any], path: str) -> None:
    """Every value must encode as JSON, since structured values are stored as JSON text: this
    refuses nesting deeper than the encoder allows (orjson: 254 levels), integers beyond 64
    bits and text that is not valid Unicode (lone surrogates), without recursing here."""
    try:
        to_json(fields)  # one call when all is well; the field is looked for only when not
        return
    except TypeError:
        pass
    for key, value in fields.items():
        try:
            to_json({key: value})
        except TypeError as error:  # orjson.JSONEncodeError is a TypeError
            raise InvalidTraceError(f"{path}.{quote(str(key))}: cannot be stored: {error}") from None


def _check_types(fields: Mapping[str, Any], path: str, texts: tuple[str, ...], counts: tuple[str, ...]) -> None:
    """Documented fields have their documented types; fields the page does not name are
    kept whatever their type."""
    for key in texts:
        _optional(fields, key, path, str, "a string")
    for key in counts:
        _count(fields, key, path)
    _optional(fields, "metadata", path, dict, "an object")


def _validate_span(index: int, value: Any, trace_id: str) -> ValidSpan:
    path = f"spans[{index}]"
    if not isinstance(value, dict):
        raise InvalidTraceError(f"{path}: expected an object, got {describe(value)}")
    if value.get("span_id") is None:
        raise InvalidTraceError(f"{path}.span_id: field required")
    span_id = canonical_uuid(value["span_id"], f"{path}.span_id")
    if value.get("trace_id") is not None:
        own_trace_id = canonical_uuid(value["trace_id"], f"{path}.trace_id")
        if own_trace_id != trace_id:
            raise InvalidTraceError(f"{path}.trace_id: {own_trace_id} is not the id of its trace ({trace_id})")
    parent_span_id = None
    if value.get("parent_span_id") is not None:
        parent_span_id = canonical_uuid(value["parent_span_id"], f"{path}.parent_span_id")
        if parent_span_id == span_id:
            raise InvalidTraceError(f"{path}.parent_span_id: a span cannot be its own parent")
    _required_text(value, "type", path)
    _check_types(value, path, ("name", "status", "model", "error_message"),
                 ("input_tokens", "output_tokens", "total_tokens"))
    start_ns, end_ns = _times(value, path)
    cost = _money(value, "cost_usd", path)
    _check_storable(value, path)
    return ValidSpan(span_id, parent_span_id, start_ns, end_ns, cost, value)


def _check_no_cycles(spans: tuple[ValidSpan, ...]) -> None:
    """Readers build the waterfall from parent links; a loop would hang or hide the spans in
    it. At most 100 spans per request, so walking up from each span is cheap."""
    parents: dict[str, str | None] = {}
    for span in spans:
        parents.setdefault(span.span_id, span.parent_span_id)
    for start in parents:
        current: str | None = start
        for _ in range(len(parents) + 1):
            current = parents.get(current) if current is not None else None
            if current is None:
                break
            if current == start:
                raise InvalidTraceError(f"spans: parent_span_id links form a loop through span {start}")


def validate_trace(item: Any) -> ValidTrace:
    """The trace and its spans, checked; raises InvalidTraceError naming the first bad field."""
    if not isinstance(item, dict):
        raise InvalidTraceError(f'expected an object with "trace" and "spans", got {describe(item)}')
    header = item.get("trace")
    if header is None:
        raise InvalidTraceError("trace: field required")
    if not isinstance(header, dict):
        raise InvalidTraceError(f"trace: expected an object, got {describe(header)}")
    if header.get("trace_id") is None:
        raise InvalidTraceError("trace.trace_id: field required")
    trace_id = canonical_uuid(header["trace_id"], "trace.trace_id")
    agent = _required_text(header, "agent", "trace")
    status = _optional(header, "status", "trace", str, "a string")
    if status is not None and status not in TRACE_STATUSES:
        raise InvalidTraceError(f'trace.status: "{quote(status)}" is not one of {", ".join(TRACE_STATUSES)}')
    _check_types(header, "trace", ("outcome", "error_message"), ("total_tokens",))
    _optional(header, "success", "trace", bool, "a boolean")
    start_ns, end_ns = _times(header, "trace")
    total_cost = _money(header, "total_cost_usd", "trace")
    _check_storable(header, "trace")
    raw_spans = item.get("spans")
    if raw_spans is None:
        raw_spans = []
    if not isinstance(raw_spans, list):
        raise InvalidTraceError(f"spans: expected an array, got {describe(raw_spans)}")
    spans = tuple(_validate_span(index, span, trace_id) for index, span in enumerate(raw_spans))
    _check_no_cycles(spans)
    return ValidTrace(trace_id, agent, start_ns, end_ns, total_cost, header, spans)
