"""How fast the embedded ClickHouse parses OTLP protobuf itself: `python -m bench.clickhouse_protobuf`.

The route to closing most of the Python conversion cost (bench/RESULTS.md, run 3): instead of
decoding and converting spans in Python (about 16 us per span in the conversion worker),
ClickHouse reads the queued ExportTraceServiceRequest bytes with FORMAT ProtobufSingle and a
flattened copy of the OTLP trace schema (otlp_trace_flat.proto: the same field numbers, one
file, AnyValue without its recursive array/kvlist cases), then flattens resource, scope and
span levels with arrayJoin and builds the attribute maps and hex ids in SQL. This measures that
read and flattening on the benchmark traces; it is not wired into the exporter."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import chdb

from bench.otlp_bodies import otlp_protobuf
from bench.traces import build_body

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
    args = parser.parse_args()
    schema = (Path(__file__).parent / "otlp_trace_flat.proto").read_text().replace("'", "\\'")
    payload = b"".join(otlp_protobuf(build_body(1, index, 500, BASE_TIME_NS), index)
                       for index in range(args.spans // 500))
    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)  # chdb caches the schema in ./__cache__
        path = Path(directory) / "batch.bin"
        path.write_bytes(payload)
        session = chdb.session.Session()
        sql = FLATTEN.format(path=path, structure=STRUCTURE, schema=schema)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            result = str(session.query(sql, "TSV")).strip()
            timings.append(time.perf_counter() - started)
        session.close()
    spans = args.spans
    print(f"{spans} spans ({len(payload) / spans:.0f} bytes each): rows, map entries, ids = {result}")
    print(f"ClickHouse protobuf read + flatten + maps + hex ids: {min(timings) / spans * 1e6:.2f} us/span "
          f"(best of {len(timings)})")


if __name__ == "__main__":
    main()
