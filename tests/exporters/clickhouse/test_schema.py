"""The created schema against the reference (docs: clickhouse-schema.md), on the real engine."""

from __future__ import annotations

import asyncio
from typing import Any

from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.clickhouse.exporter import ClickHouseExporter
from spanhouse.exporters.clickhouse.schema import (
    lookup_table_engine,
    parse_version,
    schema_statements,
    supports_text_index,
    table_engine,
    ttl_expression,
)

from .conftest import MakeExporter, StubHost
from .otlp_samples import TRACE_A, TRACE_B, full_request

ATTRIBUTES = "Map(LowCardinality(String), String)"
ZSTD = "CODEC(ZSTD(1))"
ITEMS = "arrayMap(kv -> concat(kv.1, '=', kv.2), CAST({}, 'Array(Tuple(String, String))'))"

# (name, type, codec, default kind, default expression) in table order.
EXPECTED_COLUMNS = [
    ("Timestamp", "DateTime64(9)", "CODEC(Delta(8), ZSTD(1))", "", ""),
    ("TraceId", "String", ZSTD, "", ""),
    ("SpanId", "String", ZSTD, "", ""),
    ("ParentSpanId", "String", ZSTD, "", ""),
    ("TraceState", "String", ZSTD, "", ""),
    ("SpanName", "LowCardinality(String)", ZSTD, "", ""),
    ("SpanKind", "LowCardinality(String)", ZSTD, "", ""),
    ("ServiceName", "LowCardinality(String)", ZSTD, "", ""),
    ("ResourceAttributes", ATTRIBUTES, ZSTD, "", ""),
    ("ScopeName", "String", ZSTD, "", ""),
    ("ScopeVersion", "String", ZSTD, "", ""),
    ("SpanAttributes", ATTRIBUTES, ZSTD, "", ""),
    ("Duration", "UInt64", "CODEC(T64, ZSTD(1))", "", ""),
    ("StatusCode", "LowCardinality(String)", ZSTD, "", ""),
    ("StatusMessage", "String", ZSTD, "", ""),
    ("Events.Timestamp", "Array(DateTime64(9))", ZSTD, "", ""),
    ("Events.Name", "Array(LowCardinality(String))", ZSTD, "", ""),
    ("Events.Attributes", f"Array({ATTRIBUTES})", ZSTD, "", ""),
    ("Links.TraceId", "Array(String)", ZSTD, "", ""),
    ("Links.SpanId", "Array(String)", ZSTD, "", ""),
    ("Links.TraceState", "Array(String)", ZSTD, "", ""),
    ("Links.Attributes", f"Array({ATTRIBUTES})", ZSTD, "", ""),
    ("ResourceAttributeItems", "Array(String)", "", "ALIAS", ITEMS.format("ResourceAttributes")),
    ("SpanAttributeItems", "Array(String)", "", "ALIAS", ITEMS.format("SpanAttributes")),
    ("TenantId", "LowCardinality(String)", ZSTD, "DEFAULT", "'default'"),
]
TEXT = ("text", "text(tokenizer = 'array')", 100_000_000)  # GRANULARITY defaults to 100000000
COMMON_INDEXES = [
    ("idx_duration", "minmax", "minmax", "Duration", 1),
    ("idx_lower_span_name", "tokenbf_v1", "tokenbf_v1(32768, 3, 0)", "lower(SpanName)", 8),
]
# (name, type, full type, expression, granularity) in table order.
EXPECTED_TEXT_INDEXES = [
    ("idx_trace_id", TEXT[0], TEXT[1], "TraceId", TEXT[2]),
    ("idx_res_attr_key", TEXT[0], TEXT[1], "mapKeys(ResourceAttributes)", TEXT[2]),
    ("idx_res_attr_items", TEXT[0], TEXT[1], ITEMS.format("ResourceAttributes"), TEXT[2]),
    ("idx_span_attr_key", TEXT[0], TEXT[1], "mapKeys(SpanAttributes)", TEXT[2]),
    ("idx_span_attr_items", TEXT[0], TEXT[1], ITEMS.format("SpanAttributes"), TEXT[2]),
    *COMMON_INDEXES,
]
EXPECTED_BLOOM_FILTER_INDEXES = [
    ("idx_trace_id", "bloom_filter", "bloom_filter(0.001)", "TraceId", 1),
    ("idx_res_attr_key", "bloom_filter", "bloom_filter(0.01)", "mapKeys(ResourceAttributes)", 1),
    ("idx_res_attr_value", "bloom_filter", "bloom_filter(0.01)", "mapValues(ResourceAttributes)", 1),
    ("idx_span_attr_key", "bloom_filter", "bloom_filter(0.01)", "mapKeys(SpanAttributes)", 1),
    ("idx_span_attr_value", "bloom_filter", "bloom_filter(0.01)", "mapValues(SpanAttributes)", 1),
    *COMMON_INDEXES,
]
TRACES_KEYS = ("toDate(Timestamp)", "ServiceName, SpanName, toDateTime(Timestamp)",
               "ServiceName, SpanName, toDateTime(Timestamp), Timestamp")
# The contrib settings, plus the deduplication window the persistent queue's re-sends rely on
# and the fsyncs that make a confirmed insert durable (table settings: readers of the contrib
# layout do not see them).
CONTRIB_SETTINGS = "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"
SETTINGS = CONTRIB_SETTINGS + (", non_replicated_deduplication_window = 1000, fsync_after_insert = 1, "
                               "fsync_part_directory = 1, min_compressed_bytes_to_fsync_after_merge = 1")


def rows(exporter: ClickHouseExporter, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
    return exporter.storage_client().query(sql, parameters)[1]


def columns_of(exporter: ClickHouseExporter, table: str) -> list[tuple[Any, ...]]:
    return rows(exporter, "SELECT name, type, compression_codec, default_kind, default_expression "
                          "FROM system.columns WHERE database = 'otel' AND table = {table:String} "
                          "ORDER BY position", table=table)


def indexes_of(exporter: ClickHouseExporter, table: str) -> list[tuple[Any, ...]]:
    return rows(exporter, "SELECT name, type, type_full, expr, granularity FROM system.data_skipping_indices "
                          "WHERE database = 'otel' AND table = {table:String}", table=table)


def table_info(exporter: ClickHouseExporter, table: str) -> tuple[Any, ...]:
    return rows(exporter, "SELECT engine, partition_key, primary_key, sorting_key, engine_full "
                          "FROM system.tables WHERE database = 'otel' AND name = {table:String}",
                table=table)[0]


async def test_created_schema_matches_the_reference(started: ClickHouseExporter) -> None:
    assert started.server_version is not None and supports_text_index(started.server_version)
    assert columns_of(started, "otel_traces") == EXPECTED_COLUMNS
    assert indexes_of(started, "otel_traces") == EXPECTED_TEXT_INDEXES
    engine, *keys, engine_full = table_info(started, "otel_traces")
    assert (engine, *keys) == ("MergeTree", *TRACES_KEYS)
    assert "TTL" not in engine_full  # ttl 0: kept forever
    assert engine_full.endswith(SETTINGS)

    assert columns_of(started, "otel_traces_trace_id_ts") == [
        ("TraceId", "String", ZSTD, "", ""),
        ("Start", "SimpleAggregateFunction(min, DateTime)", ZSTD, "", ""),
        ("End", "SimpleAggregateFunction(max, DateTime)", ZSTD, "", ""),
    ]
    engine, *keys, engine_full = table_info(started, "otel_traces_trace_id_ts")
    assert (engine, *keys) == ("AggregatingMergeTree", "toStartOfWeek(Start)", "(TraceId)", "(TraceId)")
    assert engine_full.endswith(CONTRIB_SETTINGS)

    engine, *_ = table_info(started, "otel_traces_trace_id_ts_mv")
    assert engine == "MaterializedView"
    view = rows(started, "SELECT as_select FROM system.tables WHERE database = 'otel' "
                         "AND name = 'otel_traces_trace_id_ts_mv'")[0][0]
    assert view == ("SELECT TraceId, min(toDateTime(Timestamp)) AS Start, max(toDateTime(Timestamp)) AS End "
                    "FROM otel.otel_traces WHERE TraceId != '' GROUP BY TraceId")


async def test_lookup_table_is_filled_by_the_view(started: ClickHouseExporter) -> None:
    await started.consume(full_request())
    assert rows(started, "SELECT TraceId, toUnixTimestamp(min(Start)), toUnixTimestamp(max(End)) "
                         "FROM otel.otel_traces_trace_id_ts GROUP BY TraceId ORDER BY TraceId") == [
        (TRACE_A.hex(), 1_700_000_000, 1_700_000_000),
        (TRACE_B.hex(), 1_700_000_000, 1_700_086_400),  # the all-zero trace id is left out
    ]


async def test_ttl_is_written_in_the_largest_whole_unit(make_exporter: MakeExporter, host: StubHost) -> None:
    # Three tables in one engine directory: one directory per process at a time.
    for table, ttl_s, expected in (("traces_72h", 72 * 3600.0, "toIntervalDay(3)"),
                                   ("traces_90m", 90 * 60.0, "toIntervalMinute(90)"),
                                   ("traces_none", 0.0, None)):
        exporter = make_exporter(traces_table_name=table, ttl=ttl_s)
        await exporter.start(host)
        spans_engine = table_info(exporter, table)[-1]
        lookup_engine = table_info(exporter, f"{table}_trace_id_ts")[-1]
        if expected is None:
            assert "TTL" not in spans_engine and "TTL" not in lookup_engine
        else:
            assert f"TTL toDateTime(Timestamp) + {expected} SETTINGS" in spans_engine
            assert f"TTL toDateTime(Start) + {expected} SETTINGS" in lookup_engine
        await exporter.shutdown()


async def test_creating_the_schema_twice_is_harmless(make_exporter: MakeExporter, host: StubHost) -> None:
    first = make_exporter()
    await first.start(host)
    await first.consume(full_request())
    await first.shutdown()

    second = make_exporter()
    await second.start(host)  # the same directory, the same DDL: IF NOT EXISTS everywhere
    assert columns_of(second, "otel_traces") == EXPECTED_COLUMNS
    assert indexes_of(second, "otel_traces") == EXPECTED_TEXT_INDEXES
    assert rows(second, "SELECT count() FROM otel.otel_traces") == [(7,)]


async def test_older_servers_get_bloom_filter_indexes(started: ClickHouseExporter) -> None:
    config = ClickHouseConfig(database="legacy")
    for statement in schema_statements(config, "25.8.3.1"):
        assert statement.settings == ()
        started.storage_client().query(statement.sql, readonly=False)
    assert indexes_of_database(started, "legacy") == EXPECTED_BLOOM_FILTER_INDEXES


def indexes_of_database(exporter: ClickHouseExporter, database: str) -> list[tuple[Any, ...]]:
    return rows(exporter, "SELECT name, type, type_full, expr, granularity FROM system.data_skipping_indices "
                          "WHERE database = {database:String} AND table = 'otel_traces'", database=database)


def test_ttl_expression_units() -> None:
    assert ttl_expression(0, "toDateTime(Timestamp)") == ""
    assert ttl_expression(72 * 3600, "toDateTime(Start)") == "TTL toDateTime(Start) + toIntervalDay(3)"
    assert ttl_expression(5 * 3600, "t") == "TTL t + toIntervalHour(5)"
    assert ttl_expression(90 * 60, "t") == "TTL t + toIntervalMinute(90)"
    assert ttl_expression(45.9, "t") == "TTL t + toIntervalSecond(45)"


def test_engines_and_cluster_in_the_ddl() -> None:
    assert table_engine("MergeTree") == "MergeTree()"
    assert table_engine("ReplicatedMergeTree('/t/{shard}/traces', '{replica}')") == \
        "ReplicatedMergeTree('/t/{shard}/traces', '{replica}')"
    assert lookup_table_engine("MergeTree") == "AggregatingMergeTree()"
    assert lookup_table_engine("ReplicatedMergeTree('/t/{shard}/traces', '{replica}')") == \
        "ReplicatedAggregatingMergeTree()"
    assert lookup_table_engine("SharedMergeTree") == "SharedAggregatingMergeTree()"

    config = ClickHouseConfig(cluster_name="main-cluster", table_engine="ReplicatedMergeTree")
    statements = {statement.name: statement.sql for statement in schema_statements(config, "26.9.1.1")}
    assert statements["create_database"].startswith(
        "CREATE DATABASE IF NOT EXISTS `otel` ON CLUSTER `main-cluster`")
    assert statements["traces_table"].startswith(
        "CREATE TABLE IF NOT EXISTS `otel`.`otel_traces` ON CLUSTER `main-cluster` (")
    assert ") ENGINE = ReplicatedMergeTree()\n" in statements["traces_table"]
    assert ") ENGINE = ReplicatedAggregatingMergeTree()\n" in statements["traces_id_ts_lookup_table"]
    assert "`otel_traces_trace_id_ts_mv` ON CLUSTER `main-cluster`\n" in statements["traces_id_ts_lookup_mv"]


def test_default_database_is_not_created() -> None:
    names = [statement.name for statement in schema_statements(ClickHouseConfig(database="default"), "26.9")]
    assert names == ["traces_table", "traces_id_ts_lookup_table", "traces_id_ts_lookup_mv", "trace_feedback_table",
                     "traces_settings"]


def test_text_index_gating_settings_are_passed_on() -> None:
    statements = schema_statements(ClickHouseConfig(), "26.2.1.1", ("enable_full_text_index",))
    table = next(statement for statement in statements if statement.name == "traces_table")
    assert table.settings == (("enable_full_text_index", 1),)


def test_version_parsing() -> None:
    assert parse_version("26.9.2.1") == (26, 9, 2, 1)
    assert parse_version("22.8.15.25.altinitystable") == (22, 8, 15, 25)
    assert supports_text_index("26.2.1.1") and supports_text_index("27.1")
    assert not supports_text_index("26.1.9.9") and not supports_text_index("25.12.1")


async def test_settings_reach_a_table_created_without_them(make_exporter: MakeExporter, host: StubHost) -> None:
    """A spans table made by another tool (the contrib exporter's DDL) gets spanhouse's table
    settings on start; with fsync_parts off only the deduplication window."""
    plain = make_exporter(fsync_parts=False)
    await plain.start(host)
    assert table_info(plain, "otel_traces")[-1].endswith(
        CONTRIB_SETTINGS + ", non_replicated_deduplication_window = 1000")
    await asyncio.to_thread(plain.storage_client().command, "ALTER TABLE otel.otel_traces RESET SETTING "
                            "non_replicated_deduplication_window")
    assert table_info(plain, "otel_traces")[-1].endswith(CONTRIB_SETTINGS)
    await plain.shutdown()
    again = make_exporter()
    await again.start(host)
    assert table_info(again, "otel_traces")[-1].endswith(SETTINGS)
