"""Per-span cost of each exporter stage on the benchmark traces, one stage at a time:
`python -m bench.stages [--spans 10000]`. Prints one line per stage in microseconds per span.

The stages: protobuf decode, conversion to columns, clickhouse-connect's Native encoding, and the
embedded engine's insert with the contrib schema and with the same table without skip indexes."""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import clickhouse_connect

from bench.otlp_bodies import otlp_protobuf
from bench.traces import build_body
from spanhouse.collector.core.component import Traces
from spanhouse.exporters.clickhouse.columns import COLUMN_NAMES, COLUMN_TYPES, to_columns
from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.clickhouse.schema import schema_statements

BASE_TIME_NS = 1_764_000_000_000_000_000


def timed(label: str, spans: int, work: Callable[[], object], repeat: int = 3) -> None:
    best = min(_once(work) for _ in range(repeat))
    print(f"{label:<44} {best / spans * 1e6:7.2f} us/span")


def _once(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=10_000, help="spans per batch (multiple of 500)")
    args = parser.parse_args()
    bodies = [otlp_protobuf(build_body(1, index, 500, BASE_TIME_NS), index) for index in range(args.spans // 500)]
    payload = b"".join(bodies)
    spans = len(bodies) * 500
    request = Traces.FromString(payload)
    print(f"{spans} spans, {len(payload) / spans:.0f} bytes per span encoded")
    timed("protobuf decode", spans, lambda: Traces.FromString(payload))
    timed("conversion to columns", spans, lambda: to_columns(request))
    client = clickhouse_connect.get_client(dsn=f"chdb://{tempfile.mkdtemp()}")
    try:
        measure_inserts(client, request, spans, "contrib schema")
        measure_inserts(client, request, spans, "no skip indexes")
    finally:
        client.close()


def measure_inserts(client: Any, request: Traces, spans: int, variant: str) -> None:
    database = "bench_" + variant.split()[0]
    for statement in schema_statements(ClickHouseConfig(database=database), client.server_version):
        sql = statement.sql if variant == "contrib schema" else re.sub(r"\n\s*INDEX [^\n]*", "", statement.sql)
        client.command(sql, settings=dict(statement.settings) or None)
    context = client.create_insert_context(
        table="otel_traces", database=database, column_names=list(COLUMN_NAMES),
        column_type_names=list(COLUMN_TYPES), column_oriented=True, settings={"async_insert": 0})
    columns = to_columns(request).columns

    def encode() -> None:
        context.data = columns
        list(client._transform.build_insert(context))  # the encoding stage alone
        context.data = None

    def insert() -> None:
        # A fresh token each time: the tables drop a block that repeats a recent one.
        context.settings = {"async_insert": 0, "insert_deduplication_token": uuid.uuid4().hex}
        context.data = columns
        client.insert(context=context)

    if variant == "contrib schema":
        timed("clickhouse-connect Native encoding", spans, encode)
    timed(f"encoding + engine insert ({variant})", spans, insert)

if __name__ == "__main__":
    main()
