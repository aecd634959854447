"""Query-string parameters of the read API into typed query parameters: times, durations,
trace ids, limits. Pure functions; a bad value raises BadParameterError naming the parameter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from spanhouse.collector.core.config.types import parse_duration

NANOS_PER_SECOND: Final = 1_000_000_000
NANOS_PER_MILLISECOND: Final = 1_000_000
# ClickHouse's DateTime64(9) ends at 2262-04-11; OTLP timestamps too.
MAX_TIME_NS: Final = 2**63 - 1
MAX_UINT64: Final = 2**64 - 1
DEFAULT_LOOKBACK_S: Final = 24 * 3600.0
DEFAULT_SEARCH_LIMIT: Final = 20
MAX_SEARCH_LIMIT: Final = 1000
MAX_ATTRIBUTE_FILTERS: Final = 16
# A time series has at most this many buckets; a smaller step is widened to fit.
MAX_BUCKETS: Final = 1000
STATUS_CODES: Final[Mapping[str, tuple[str, ...]]] = {
    # The names very old contrib exporter versions wrote are matched too.
    "error": ("Error", "STATUS_CODE_ERROR"),
    "ok": ("Ok", "STATUS_CODE_OK"),
    "unset": ("Unset", "STATUS_CODE_UNSET"),
}


class BadParameterError(ValueError):
    """A query parameter the API cannot use; the message names it and says what is expected."""


@dataclass(frozen=True, slots=True)
class Window:
    start_ns: int
    end_ns: int


def iso_time(nanos: int) -> str:
    """ISO 8601 UTC with microseconds, as AgentVista writes times (`2024-01-15T10:00:00.100000Z`)."""
    moment = datetime.fromtimestamp(nanos // NANOS_PER_SECOND, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos % NANOS_PER_SECOND // 1000:06d}Z"


def parse_time(name: str, text: str) -> int:
    """Unix nanoseconds from ISO 8601 (a time without zone is UTC) or from Unix seconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not 0 <= seconds <= MAX_TIME_NS / NANOS_PER_SECOND:
            raise BadParameterError(f"{name}: {text!r} is outside 1970..2262")
        return round(seconds * NANOS_PER_SECOND)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadParameterError(f"{name}: expected an ISO 8601 time (2024-01-15T10:00:00Z) or Unix seconds, "
                                f"got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    nanos = int(moment.timestamp()) * NANOS_PER_SECOND + moment.microsecond * 1000
    if not 0 <= nanos <= MAX_TIME_NS:
        raise BadParameterError(f"{name}: {text!r} is outside 1970..2262")
    return nanos


def parse_window(query: Mapping[str, str], now_ns: int, default_lookback_s: float | None = DEFAULT_LOOKBACK_S
                 ) -> Window:
    """`start` and `end` (default: now), or `lookback` before `end` (default: 24h; None: all time)."""
    end_ns = parse_time("end", query["end"]) if query.get("end") else now_ns
    if query.get("start"):
        start_ns = parse_time("start", query["start"])
    elif query.get("lookback"):
        start_ns = max(0, end_ns - round(parse_positive_duration("lookback", query["lookback"]) * NANOS_PER_SECOND))
    elif default_lookback_s is None:
        start_ns = 0
    else:
        start_ns = max(0, end_ns - round(default_lookback_s * NANOS_PER_SECOND))
    if start_ns > end_ns:
        raise BadParameterError("start: must not be after end")
    return Window(start_ns, end_ns)


def parse_positive_duration(name: str, text: str) -> float:
    """Seconds from a Go duration (`250ms`, `1.5s`, `2m`) or a plain number of milliseconds."""
    try:
        seconds = float(text) / 1000
    except ValueError:
        try:
            seconds = parse_duration(text)
        except ValueError:
            raise BadParameterError(f"{name}: expected a duration like 250ms, 1.5s or 2m (or milliseconds), "
                                    f"got {text!r}") from None
    if not 0 <= seconds < MAX_UINT64 / NANOS_PER_SECOND:
        raise BadParameterError(f"{name}: must be 0 or more, got {text!r}")
    return seconds


def parse_limit(text: str | None, default: int = DEFAULT_SEARCH_LIMIT, maximum: int = MAX_SEARCH_LIMIT) -> int:
    if not text:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise BadParameterError(f"limit: expected a whole number, got {text!r}") from None
    if not 1 <= limit <= maximum:
        raise BadParameterError(f"limit: must be between 1 and {maximum}, got {limit}")
    return limit


def parse_status(text: str | None) -> list[str]:
    """The StatusCode values a `status` filter matches; [] for none."""
    if not text:
        return []
    codes = STATUS_CODES.get(text.strip().lower())
    if codes is None:
        raise BadParameterError(f"status: expected one of {', '.join(STATUS_CODES)}, got {text!r}")
    return list(codes)


def parse_attributes(values: Sequence[str]) -> list[str]:
    """`key=value` equality filters as the `key=value` items of SpanAttributeItems."""
    if len(values) > MAX_ATTRIBUTE_FILTERS:
        raise BadParameterError(f"attribute: at most {MAX_ATTRIBUTE_FILTERS} filters, got {len(values)}")
    items = []
    for value in values:
        key, separator, _ = value.partition("=")
        if not separator or not key:
            raise BadParameterError(f"attribute: expected key=value, got {value!r}")
        items.append(value)
    return items


def like_pattern(text: str | None) -> str:
    """A case-insensitive substring match for LIKE on lower(SpanName); '' matches everything.
    LIKE's own wildcards in the text are escaped, so they match themselves."""
    if not text or not text.strip():
        return ""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def parse_trace_id(text: str) -> str:
    """The TraceId column's form (32 lowercase hex digits) of a trace id given as 32 hex digits
    or as a UUID (AgentVista's form of the same 16 bytes)."""
    try:
        value = uuid.UUID(text.strip())
    except ValueError:
        raise BadParameterError(f"trace_id: expected 32 hex digits or a UUID, got {text[:80]!r}") from None
    if not value.int:
        raise BadParameterError("trace_id: the all-zero id is not a trace id")
    return value.hex


def trace_id_as_uuid(trace_id_hex: str) -> str:
    return str(uuid.UUID(hex=trace_id_hex))


def step_ns_for(window: Window, step_text: str | None) -> int:
    """The bucket width of a time series: `step` (a duration) or about 60 buckets, never more
    than MAX_BUCKETS, never under a second."""
    span_ns = max(1, window.end_ns - window.start_ns)
    wanted_ns = round(parse_positive_duration("step", step_text) * NANOS_PER_SECOND) if step_text else span_ns // 60
    return max(wanted_ns, NANOS_PER_SECOND, -(-span_ns // MAX_BUCKETS))
