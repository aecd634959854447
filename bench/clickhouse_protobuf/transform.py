"""The whole span-row conversion done by ClickHouse, for `python -m bench.clickhouse_protobuf --full`.

An experiment, not used by the exporter: the queued request bytes read with FORMAT ProtobufSingle
(otlp_trace_full.proto: OTLP's field numbers, AnyValue one level deep, oneof presence on) and
turned into the spans table's rows by the SQL functions of functions.sql, which follow
exporters/clickhouse/columns.py and values.py. Spans with values those functions do not format
as Go does (kvlists, doubles outside [1e-4, 1e15), array strings that JSON would escape,
duplicate keys) are counted by check.sql; a real implementation would convert them in Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from spanhouse.exporters.clickhouse.columns import COLUMN_NAMES

HERE: Final = Path(__file__).parent
_PRESENCE = ("Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4, "
             "'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7)")
_SCALARS = "string_value String, bool_value Bool, int_value Int64, double_value Float64"
_LEAF = f"Tuple(value {_PRESENCE}, {_SCALARS}, array_value String, kvlist_value String, bytes_value String)"
_VALUE = (f"Tuple(value {_PRESENCE}, {_SCALARS}, array_value Tuple(values Array({_LEAF})), "
          f"kvlist_value String, bytes_value String)")
_KEY_VALUES = f"Array(Tuple(key String, value {_VALUE}))"
STRUCTURE: Final = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {_KEY_VALUES}), scope_spans Array(Tuple("
    f"scope Tuple(name String, version String), spans Array(Tuple(trace_id String, span_id String, "
    f"trace_state String, parent_span_id String, name String, kind Int32, start_time_unix_nano UInt64, "
    f"end_time_unix_nano UInt64, attributes {_KEY_VALUES}, events Array(Tuple(time_unix_nano UInt64, "
    f"name String, attributes {_KEY_VALUES})), links Array(Tuple(trace_id String, span_id String, "
    f"trace_state String, attributes {_KEY_VALUES})), status Tuple(message String, code Int32)))))))")


def quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class Engine:
    def __init__(self, client: Any, database: str, table: str) -> None:
        self.client, self.database, self.table = client, database, table
        for statement in (HERE / "functions.sql").read_text().split(";\n"):
            statement = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
            if statement:
                client.command(statement.rstrip(";"))
        self._values = {"schema": quote((HERE / "otlp_trace_full.proto").read_text()),
                        "structure": quote(STRUCTURE)}

    def check(self, path: str) -> int:
        """Spans whose values the SQL cannot format exactly."""
        sql = (HERE / "check.sql").read_text().format(path=path, **self._values)
        return int(self.client.command(sql))

    def insert(self, path: str, token: str) -> None:
        sql = (HERE / "insert.sql").read_text().format(
            path=path, database=self.database, table=self.table,
            columns=", ".join(f"`{column}`" for column in COLUMN_NAMES), **self._values)
        self.client.command(sql, settings={"insert_deduplication_token": token, "async_insert": 0})
