"""Query-string parameters of the read API: times, windows, durations, limits, filters, ids."""

from __future__ import annotations

import pytest

from spanhouse.collector.read.params import (
    MAX_BUCKETS,
    NANOS_PER_SECOND,
    BadParameterError,
    Window,
    iso_time,
    like_pattern,
    parse_attributes,
    parse_limit,
    parse_positive_duration,
    parse_status,
    parse_time,
    parse_trace_id,
    parse_window,
    step_ns_for,
    trace_id_as_uuid,
)

NOW_NS = 1_705_312_800 * NANOS_PER_SECOND  # 2024-01-15T10:00:00Z


def test_times_iso_and_unix_seconds() -> None:
    assert parse_time("start", "2024-01-15T10:00:00Z") == NOW_NS
    assert parse_time("start", "2024-01-15T11:00:00+01:00") == NOW_NS
    assert parse_time("start", "2024-01-15T10:00:00") == NOW_NS  # no zone: UTC
    assert parse_time("start", "2024-01-15T10:00:00.123456Z") == NOW_NS + 123_456_000
    assert parse_time("start", "1705312800.5") == NOW_NS + NANOS_PER_SECOND // 2
    assert iso_time(NOW_NS + 100_000_000) == "2024-01-15T10:00:00.100000Z"


@pytest.mark.parametrize(("text", "message"), [
    ("yesterday", "start: expected an ISO 8601 time (2024-01-15T10:00:00Z) or Unix seconds, got 'yesterday'"),
    ("-5", "start: '-5' is outside 1970..2262"),
    ("1e30", "start: '1e30' is outside 1970..2262"),
])
def test_bad_times_name_the_parameter(text: str, message: str) -> None:
    with pytest.raises(BadParameterError) as raised:
        parse_time("start", text)
    assert str(raised.value) == message


def test_windows() -> None:
    assert parse_window({}, NOW_NS) == Window(NOW_NS - 24 * 3600 * NANOS_PER_SECOND, NOW_NS)
    assert parse_window({}, NOW_NS, default_lookback_s=None) == Window(0, NOW_NS)
    assert parse_window({"lookback": "1h"}, NOW_NS) == Window(NOW_NS - 3600 * NANOS_PER_SECOND, NOW_NS)
    assert parse_window({"start": "0", "end": "10"}, NOW_NS) == Window(0, 10 * NANOS_PER_SECOND)
    with pytest.raises(BadParameterError, match="start: must not be after end"):
        parse_window({"start": "20", "end": "10"}, NOW_NS)


def test_durations_limits_statuses_attributes_patterns() -> None:
    assert parse_positive_duration("min_duration", "250ms") == 0.25
    assert parse_positive_duration("min_duration", "1.5s") == 1.5
    assert parse_positive_duration("min_duration", "300") == 0.3  # plain numbers are milliseconds
    with pytest.raises(BadParameterError, match="min_duration: expected a duration like 250ms"):
        parse_positive_duration("min_duration", "soon")
    with pytest.raises(BadParameterError, match="must be 0 or more"):
        parse_positive_duration("min_duration", "-1")
    assert parse_limit(None) == 20 and parse_limit("5") == 5
    for bad in ("0", "1001", "x"):
        with pytest.raises(BadParameterError, match="limit: "):
            parse_limit(bad)
    assert parse_status("ERROR") == ["Error", "STATUS_CODE_ERROR"] and parse_status("") == []
    with pytest.raises(BadParameterError, match="status: expected one of error, ok, unset"):
        parse_status("broken")
    assert parse_attributes(["gen_ai.tool.name=lookup", "a=b=c"]) == ["gen_ai.tool.name=lookup", "a=b=c"]
    with pytest.raises(BadParameterError, match="attribute: expected key=value"):
        parse_attributes(["novalue"])
    assert like_pattern("GPT-4o") == "%gpt-4o%"
    assert like_pattern("100%_a\\b") == "%100\\%\\_a\\\\b%"  # LIKE's wildcards match themselves
    assert like_pattern("  ") == ""


def test_trace_ids_in_either_form() -> None:
    hex_id = "550e8400e29b41d4a716446655440000"
    assert parse_trace_id(hex_id) == hex_id
    assert parse_trace_id("550E8400-E29B-41D4-A716-446655440000") == hex_id
    assert trace_id_as_uuid(hex_id) == "550e8400-e29b-41d4-a716-446655440000"
    for bad in ("zzz", "550e8400", "0" * 32, "'; DROP TABLE otel.otel_traces; --"):
        with pytest.raises(BadParameterError, match="trace_id: "):
            parse_trace_id(bad)


def test_time_series_steps() -> None:
    hour = Window(NOW_NS, NOW_NS + 3600 * NANOS_PER_SECOND)
    assert step_ns_for(hour, None) == 60 * NANOS_PER_SECOND
    assert step_ns_for(hour, "5m") == 300 * NANOS_PER_SECOND
    assert step_ns_for(hour, "1ms") == 3600 * NANOS_PER_SECOND // MAX_BUCKETS  # at most MAX_BUCKETS
    minute = Window(NOW_NS, NOW_NS + 60 * NANOS_PER_SECOND)
    assert step_ns_for(minute, "1ms") == NANOS_PER_SECOND  # never under a second
    year = Window(0, 365 * 86400 * NANOS_PER_SECOND)
    assert year.end_ns // step_ns_for(year, "1s") <= MAX_BUCKETS
