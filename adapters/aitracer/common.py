"""What every AITracer route shares: the error body, field validation that names the field,
and the ids that join one vendor trace across routes (native traces, the Agents SDK, tool
calls, guardrails, feedback)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from spanhouse.adapters.common.attributes import to_json
from spanhouse.adapters.common.ids import derived_span_id, trace_id_from
from spanhouse.adapters.common.messages import describe, quote
from spanhouse.adapters.common.times import checked_ns
from spanhouse.collector.core.adapter_api import AdapterResponse, AdapterResult

SCOPE_NAME: Final = "spanhouse.aitracer"
SERVICE_NAME: Final = "aitracer"
# OTLP times and ClickHouse DateTime64(9) are int64 nanoseconds: they end in April 2262.
MAX_COUNT: Final = 2**63 - 1
_HEX: Final = frozenset("0123456789abcdefABCDEF")

# The page documents no error body. AITracer's proxy speaks OpenAI's API, whose clients read
# `{"error": {"message", "type", "code", "param"}}`, so every route answers in that shape.
ERROR_TYPES: Final = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                      404: "not_found_error", 413: "invalid_request_error", 415: "invalid_request_error",
                      422: "invalid_request_error", 429: "rate_limit_error"}


class InvalidRequestError(ValueError):
    """The request cannot be taken; the message names the field."""


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    error_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": error_type, "code": code, "param": None}}


def error_response(status: int, code: str, message: str, retry_after_s: int | None = None) -> AdapterResponse:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    return AdapterResponse(status, error_body(status, code, message), headers)


def bad_request(message: str) -> AdapterResult:
    return AdapterResult(error_response(400, "invalid_request", message))


def link_trace_id(vendor_trace_id: str) -> bytes:
    """The OTLP trace id of an AITracer or Agents SDK trace id, the same on every route: the
    Agents SDK's `trace_<32 hex>` is its 16 bytes, any other id goes through ids.trace_id_from."""
    text = vendor_trace_id.strip()
    digits = text[6:] if text.startswith("trace_") else ""
    if len(digits) == 32 and _HEX.issuperset(digits):
        value = bytes.fromhex(digits)
        if any(value):
            return value
    return trace_id_from(text)


def root_span_id(vendor_trace_id: str) -> bytes:
    """The span that stands for a whole trace (a native trace's span, an Agents SDK trace's
    root): tool calls and guardrail results linked to the trace hang under it."""
    return derived_span_id("aitracer", "trace", vendor_trace_id.strip())




def require_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{path}: expected a JSON object, got {describe(value)}")
    return value


def pick(fields: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    """The first of `names` (aliases: camelCase and snake_case) present with a non-null value."""
    for name in names:
        value = fields.get(name)
        if value is not None:
            return name, value
    return names[0], None


def text(fields: Mapping[str, Any], path: str, *names: str, required: bool = False) -> str | None:
    name, value = pick(fields, *names)
    if value is None:
        if required:
            raise InvalidRequestError(f"{path}.{name}: field required")
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"{path}.{name}: expected a string, got {describe(value)}")
    if required and not value.strip():
        raise InvalidRequestError(f"{path}.{name}: must not be empty")
    return value


def number(fields: Mapping[str, Any], path: str, *names: str) -> float | None:
    """A finite, non-negative JSON number."""
    name, value = pick(fields, *names)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"{path}.{name}: expected a number, got {describe(value)}")
    if isinstance(value, int) and not 0 <= value <= MAX_COUNT:
        raise InvalidRequestError(f"{path}.{name}: must be a number between 0 and {MAX_COUNT}")
    if not math.isfinite(value) or value < 0 or value > MAX_COUNT:
        raise InvalidRequestError(f"{path}.{name}: must be a finite number of at least 0")
    return float(value)


def count(fields: Mapping[str, Any], path: str, *names: str) -> int | None:
    name, value = pick(fields, *names)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{path}.{name}: expected an integer, got {describe(value)}")
    if not 0 <= value <= MAX_COUNT:
        raise InvalidRequestError(f"{path}.{name}: must be an integer between 0 and {MAX_COUNT}")
    return value


def boolean(fields: Mapping[str, Any], path: str, *names: str) -> bool | None:
    name, value = pick(fields, *names)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{path}.{name}: expected a boolean, got {describe(value)}")
    return value


def time_ns(fields: Mapping[str, Any], path: str, *names: str) -> int | None:
    """An ISO 8601 date-time or an epoch number (s, ms, us or ns), between 1970 and 2262."""
    name, value = pick(fields, *names)
    if value is None:
        return None
    try:
        return checked_ns(value)
    except ValueError as error:
        raise InvalidRequestError(f"{path}.{name}: {error}") from None


def trace_link(fields: Mapping[str, Any], path: str) -> str | None:
    """The trace a record belongs to (`traceId`, `trace_id` or `requestId`), if given."""
    value = text(fields, path, "traceId", "trace_id", "requestId", "request_id")
    if value is not None and not value.strip():
        raise InvalidRequestError(f"{path}: the trace id must not be empty")
    return value.strip() if value is not None else None


def check_storable(value: Any, path: str) -> None:
    """Structured values are stored as JSON text: nesting deeper than the encoder allows
    (254 levels), integers beyond 64 bits and lone surrogates are refused here, by field."""
    if isinstance(value, dict):
        for key, item in value.items():
            try:
                to_json({key: item})
            except TypeError as error:  # orjson.JSONEncodeError is a TypeError
                raise InvalidRequestError(f"{path}.{quote(str(key))}: cannot be stored: {error}") from None
        return
    try:
        to_json(value)
    except TypeError as error:
        raise InvalidRequestError(f"{path}: cannot be stored: {error}") from None
