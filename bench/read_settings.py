"""What the read path's settings and checks cost: `python -m bench.read_settings [--batches 20]`.
The README's search (`status=error&attribute=gen_ai.request.model=gpt-4o`) on the benchmark
traces, with ClickHouse's direct read from the text index on and off, on merged parts and on a
mix of merged and fresh parts; and the statement check that `query(readonly=True)` makes."""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import clickhouse_connect

from bench.otlp_bodies import otlp_protobuf
from bench.traces import build_body
from spanhouse.collector.core.component import Traces
from spanhouse.collector.read.queries import load_query, placeholders
from spanhouse.exporters.clickhouse.columns import COLUMN_NAMES, COLUMN_TYPES, to_columns
from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.clickhouse.read_only import TEXT_INDEX_DIRECT_READ, readonly_statement
from spanhouse.exporters.clickhouse.schema import schema_statements

BASE_TIME_NS: Final = 1_764_000_000_000_000_000
SPANS_PER_BATCH: Final = 10_000
REPEAT: Final = 7
SEARCH_PARAMETERS: Final[dict[str, Any]] = {
    "database": "otel", "traces_table": "otel_traces", "lookup_table": "otel_traces_trace_id_ts",
    "tenant": "default", "start_ns": 0, "end_ns": 2**62, "service": "", "span_name": "", "agent": "",
    "status_codes": ["Error"], "min_duration_ns": 0, "max_duration_ns": 2**63 - 1,
    "attribute_items": ["gen_ai.request.model=gpt-4o"], "name_pattern": "", "limit": 20}


def best_ms(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=20, help=f"inserts of {SPANS_PER_BATCH} spans each")
    args = parser.parse_args()
    client = clickhouse_connect.get_client(dsn=f"chdb://{tempfile.mkdtemp()}")
    for statement in schema_statements(ClickHouseConfig(), client.server_version):
        client.command(statement.sql, settings=dict(statement.settings) or None)
    context = client.create_insert_context(
        table="otel_traces", database="otel", column_names=list(COLUMN_NAMES),
        column_type_names=list(COLUMN_TYPES), column_oriented=True)

    def insert(batch: int) -> None:
        bodies = [otlp_protobuf(build_body(1, batch * 20 + index, 500, BASE_TIME_NS + batch * 10**9), index)
                  for index in range(SPANS_PER_BATCH // 500)]
        context.settings = {"async_insert": 0, "materialize_skip_indexes_on_insert": 0,
                            "insert_deduplication_token": uuid.uuid4().hex}
        context.data = to_columns(Traces.FromString(b"".join(bodies))).columns
        client.insert(context=context)

    search = load_query("search_traces")
    parameters = {name: SEARCH_PARAMETERS[name] for name in placeholders(search)}

    any_status = {**parameters, "status_codes": []}

    def run(direct_read: int, given: dict[str, Any] = parameters) -> Callable[[], Any]:
        return lambda: client.query(search, parameters=given,
                                    settings={TEXT_INDEX_DIRECT_READ: direct_read, "readonly": 1})

    for batch in range(args.batches):
        insert(batch)
    client.command("OPTIMIZE TABLE otel.otel_traces FINAL")
    spans = client.query("SELECT count() FROM otel.otel_traces").result_rows[0][0]
    print(f"{spans} spans in one merged part; the README's search matches {len(run(0)().result_rows)} traces, "
          f"without status=error {len(run(0, any_status)().result_rows)} (limit 20)")
    print(f"search, merged part, direct read on          {best_ms(run(1)):7.1f} ms")
    print(f"search, merged part, direct read off         {best_ms(run(0)):7.1f} ms")
    print(f"  without status=error, on                   {best_ms(run(1, any_status)):7.1f} ms")
    print(f"  without status=error, off                  {best_ms(run(0, any_status)):7.1f} ms")
    client.command("SYSTEM STOP MERGES otel.otel_traces")
    for batch in range(args.batches, args.batches + 3):
        insert(batch)
    print(f"search, merged + 3 fresh parts, off          {best_ms(run(0)):7.1f} ms")
    print(f"  without status=error, off                  {best_ms(run(0, any_status)):7.1f} ms")
    try:
        run(1)()
        print("search, merged + 3 fresh parts, on           answers")
    except Exception as error:
        print(f"search, merged + 3 fresh parts, on           fails: {str(error)[:60]}")
    trace_id = client.query("SELECT any(TraceId) FROM otel.otel_traces").result_rows[0][0]
    spans_sql = load_query("trace_spans")
    lookup = {"database": "otel", "traces_table": "otel_traces", "lookup_table": "otel_traces_trace_id_ts",
              "tenant": "default", "trace_id": trace_id, "max_spans": 1000}

    def spans_of_trace(direct_read: int) -> Callable[[], Any]:
        return lambda: client.query(spans_sql, parameters=lookup, settings={TEXT_INDEX_DIRECT_READ: direct_read})

    print(f"trace_spans of one trace, mixed parts, on    {best_ms(spans_of_trace(1)):7.1f} ms")
    print(f"trace_spans of one trace, mixed parts, off   {best_ms(spans_of_trace(0)):7.1f} ms")
    print(f"statement check (formatQuerySingleLine)      {best_ms(lambda: readonly_statement(client, search)):7.2f} ms")
    client.close()


if __name__ == "__main__":
    main()
