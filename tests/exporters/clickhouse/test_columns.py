"""The OTLP to columns conversion, without the engine."""

from __future__ import annotations

import math
import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.exporters.clickhouse.columns import (
    COLUMN_NAMES,
    COLUMN_TYPES,
    MAX_TIMESTAMP_NS,
    hex_id,
    to_columns,
)
from spanhouse.exporters.clickhouse.values import any_value_to_string, attributes_to_map, format_double

from .otlp_samples import (
    EVERY_VALUE_TYPE,
    SPAN_1,
    attributes,
    expected_rows,
    full_request,
    simple_request,
    value,
)


@pytest.mark.parametrize(("number", "text"), [
    (0.0, "0"), (-0.0, "-0"), (1.0, "1"), (-2.5, "-2.5"), (0.1, "0.1"), (1 / 3, "0.3333333333333333"),
    (123456789.125, "123456789.125"), (1e15, "1000000000000000"), (1.5e16, "15000000000000000"),
    (1e20, "100000000000000000000"), (1e21, "1e+21"), (-1.25e300, "-1.25e+300"),
    (1e-4, "0.0001"), (1e-5, "0.00001"), (1e-6, "0.000001"), (9.99e-7, "9.99e-7"),
    (1.5e-10, "1.5e-10"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (math.nan, "json: unsupported value: NaN"), (math.inf, "json: unsupported value: +Inf"),
    (-math.inf, "json: unsupported value: -Inf"),
])
def test_doubles_format_as_go_does(number: float, text: str) -> None:
    assert format_double(number) == text


@pytest.mark.parametrize("key", sorted(EVERY_VALUE_TYPE))
def test_every_value_type_becomes_the_contrib_string(key: str) -> None:
    raw, text = EVERY_VALUE_TYPE[key]
    assert any_value_to_string(value(raw)) == text


def test_json_escapes_as_go_encoding_json() -> None:
    # <, >, & and the JavaScript line separators are escaped; control characters short
    # where JSON has a short form (\b and \f since Go 1.22), else \u00XX; non-ASCII kept.
    text = any_value_to_string(value(["<a href='x'>&</a>", "\u2028\u2029", "\b\f\n\r\t\x1f\x7f", "ü\"\\"]))
    assert text == ('["\\u003ca href=\'x\'\\u003e\\u0026\\u003c/a\\u003e","\\u2028\\u2029",'
                    '"\\b\\f\\n\\r\\t\\u001f\x7f","ü\\"\\\\"]')


def test_map_keys_sorted_and_later_duplicates_win() -> None:
    kvlist = value({})
    kvlist.kvlist_value.values.extend(attributes({"b": 1, "a": 2}) + attributes({"b": 3}))
    assert any_value_to_string(kvlist) == '{"a":2,"b":3}'


def test_attributes_keep_their_order() -> None:
    converted = attributes_to_map(attributes({"z": "1", "a": 2, "m": None}))
    assert list(converted.items()) == [("z", "1"), ("a", "2"), ("m", "")]


def test_ids_are_lowercase_hex_or_empty() -> None:
    assert hex_id(SPAN_1) == "b7ad6b7169203331"
    assert hex_id(bytes.fromhex("ABCDEF0000000001")) == "abcdef0000000001"
    assert hex_id(b"") == ""
    assert hex_id(bytes(16)) == ""
    assert hex_id(bytes(8)) == ""


def test_columns_match_the_expected_rows() -> None:
    batch = to_columns(full_request())
    assert len(batch.columns) == len(COLUMN_NAMES) == len(COLUMN_TYPES)
    rows = sorted(zip(*batch.columns, strict=True), key=lambda row: row[5])
    expected = expected_rows()  # TenantId 'default': the fixture's spans carry no spanhouse.tenant
    assert batch.span_count == len(expected)
    for row, want in zip(rows, expected, strict=True):
        row = tuple(list(cell) if isinstance(cell, tuple) else cell for cell in row)
        assert row == want


def test_resource_and_scope_values_are_shared_not_recomputed() -> None:
    batch = to_columns(simple_request(3))
    resource_maps = batch.columns[COLUMN_NAMES.index("ResourceAttributes")]
    assert resource_maps[0] is resource_maps[1] is resource_maps[2]


def test_times_beyond_datetime64_are_clamped() -> None:
    request = simple_request(1)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.start_time_unix_nano = 2**64 - 1
    span.end_time_unix_nano = 2**64 - 1
    span.events.add(time_unix_nano=2**64 - 1, name="late")
    batch = to_columns(request)
    assert batch.columns[COLUMN_NAMES.index("Timestamp")] == [MAX_TIMESTAMP_NS]
    assert batch.columns[COLUMN_NAMES.index("Events.Timestamp")] == [[MAX_TIMESTAMP_NS]]


def test_empty_request_has_no_rows() -> None:
    batch = to_columns(ExportTraceServiceRequest())
    assert batch.span_count == 0
    assert all(column == [] for column in batch.columns)


def test_conversion_throughput() -> None:
    """Spans/s for spans with 10 string attributes; the figure is quoted in columns.py."""
    request = simple_request(5_000)
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        to_columns(request)
        best = max(best, 5_000 / (time.perf_counter() - started))
    print(f"\nconversion: {best:,.0f} spans/s (10 string attributes per span)")
    assert best > 10_000  # a floor that only a pathological regression breaks
