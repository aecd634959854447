"""How fast the embedded ClickHouse parses OTLP protobuf itself: `python -m bench.clickhouse_protobuf`.

The route to closing most of the Python conversion cost (bench/RESULTS.md, run 3): instead of
decoding and converting spans in Python (about 16 us per span in the conversion worker),
ClickHouse reads the queued ExportTraceServiceRequest bytes with FORMAT ProtobufSingle and a
flattened copy of the OTLP trace schema (otlp_trace_flat.proto: the same field numbers, one
file, AnyValue without its recursive array/kvlist cases), then flattens resource, scope and
span levels with arrayJoin and builds the attribute maps and hex ids in SQL. This measures that
read and flattening on the benchmark traces; it is not wired into the exporter.

With --full, the whole conversion (transform.py: check.sql, then insert.sql into the contrib
schema) is timed against the exporter's own path (Python conversion, then a Native insert), and
the two tables' rows are compared."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import clickhouse_connect

from bench.clickhouse_protobuf.transform import Engine
from bench.otlp_bodies import otlp_protobuf
from bench.traces import build_body
from spanhouse.exporters.clickhouse.columns import COLUMN_NAMES
from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.clickhouse.native import encode_native
from spanhouse.exporters.clickhouse.schema import schema_statements

BASE_TIME_NS = 1_764_000_000_000_000_000
_KEY_VALUES = ("Array(Tuple(key String, value Tuple(string_value String, bool_value Bool, int_value Int64, "
               "double_value Float64, bytes_value String)))")
STRUCTURE = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {_KEY_VALUES}), scope_spans Array(Tuple("
    f"scope Tuple(name String, version String), spans Array(Tuple(trace_id String, span_id String, "
    f"trace_state String, parent_span_id String, name String, kind Int32, start_time_unix_nano UInt64, "
    f"end_time_unix_nano UInt64, attributes {_KEY_VALUES}, events Array(Tuple(time_unix_nano UInt64, "
    f"name String, attributes {_KEY_VALUES})), links Array(Tuple(trace_id String, span_id String, "
    f"trace_state String, attributes {_KEY_VALUES})), status Tuple(message String, code Int32)))))))")
FLATTEN = """SELECT count(), sum(length(attributes)), countIf(trace_id != '') FROM (
  SELECT arrayJoin(arrayFlatten(arrayMap(rs -> arrayMap(ss -> arrayMap(sp -> (sp, rs.resource.attributes,
           ss.scope), ss.spans), rs.scope_spans), resource_spans))) AS row,
         row.1 AS span,
         CAST((arrayMap(kv -> kv.key, span.attributes),
               arrayMap(kv -> if(kv.value.string_value != '', kv.value.string_value,
                                 toString(kv.value.int_value)), span.attributes)),
              'Map(String, String)') AS attributes,
         lower(hex(span.trace_id)) AS trace_id
  FROM file('{path}', 'ProtobufSingle', '{structure}'))
SETTINGS format_schema_source = 'string', format_schema = '{schema}',
         format_schema_message_name = 'ExportTraceServiceRequest'"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=16_000, help="spans per batch (multiple of 500)")
    parser.add_argument("--full", action="store_true", help="also the whole conversion in SQL, against Python's")
    args = parser.parse_args()
    schema = (Path(__file__).parent / "otlp_trace_flat.proto").read_text().replace("'", "\\'")
    payload = b"".join(otlp_protobuf(build_body(1, index, 500, BASE_TIME_NS), index)
                       for index in range(args.spans // 500))
    client = clickhouse_connect.get_client(dsn=f"chdb://{tempfile.mkdtemp()}")
    try:
        with tempfile.TemporaryDirectory() as directory:
            os.chdir(directory)  # chdb caches the schema in ./__cache__
            path = Path(directory) / "batch.bin"
            path.write_bytes(payload)
            sql = FLATTEN.format(path=path, structure=STRUCTURE, schema=schema)
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                result = client.query(sql).result_rows[0]
                timings.append(time.perf_counter() - started)
            spans = args.spans
            print(f"{spans} spans ({len(payload) / spans:.0f} bytes each): rows, map entries, ids = {result}")
            print(f"ClickHouse protobuf read + flatten + maps + hex ids: {min(timings) / spans * 1e6:.2f} us/span "
                  f"(best of {len(timings)})")
            if args.full:
                compare_full(client, str(path), payload, spans)
    finally:
        client.close()


def compare_full(client: Any, path: str, payload: bytes, spans: int) -> None:
    for database in ("by_sql", "by_python"):
        for statement in schema_statements(ClickHouseConfig(database=database), client.server_version):
            client.command(statement.sql, settings=dict(statement.settings) or None)
    engine = Engine(client, "by_sql", "otel_traces")
    check = best(lambda: engine.check(path))
    insert = best(lambda: engine.insert(path, uuid.uuid4().hex))
    client.command("TRUNCATE TABLE by_sql.otel_traces")
    engine.insert(path, uuid.uuid4().hex)
    convert = best(lambda: encode_native(payload))
    rows = encode_native(payload)
    native = best(lambda: client.raw_insert(
        "by_python.otel_traces", COLUMN_NAMES, rows.data, fmt="Native",
        settings={"insert_deduplication_token": uuid.uuid4().hex, "materialize_skip_indexes_on_insert": 0}))
    client.command("TRUNCATE TABLE by_python.otel_traces")
    client.raw_insert("by_python.otel_traces", COLUMN_NAMES, rows.data, fmt="Native")
    columns = ", ".join(f"`{column}`" for column in COLUMN_NAMES)
    same = [client.query(f"SELECT {columns} FROM {database}.otel_traces ORDER BY SpanId, Timestamp").result_rows
            for database in ("by_sql", "by_python")]
    per_span = {name: round(seconds / spans * 1e6, 2) for name, seconds in
                (("sql check", check), ("sql insert", insert), ("python conversion", convert),
                 ("native insert", native))}
    print(f"whole conversion, us/span: {per_span}; rows identical: {same[0] == same[1]} ({len(same[0])} rows)")


def best(work: Callable[[], object], repeat: int = 3) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


if __name__ == "__main__":
    main()
