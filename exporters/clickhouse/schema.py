"""The DDL of the traces schema, rendered from the templates in `sql/` for one config and server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Final

from spanhouse.collector.core.storage import FEEDBACK_TABLE
from spanhouse.exporters.clickhouse.config import TABLE_ENGINE, ClickHouseConfig

SQL_DIR: Final = Path(__file__).parent / "sql"
# Text indexes (tokenizer 'array') are usable from ClickHouse 26.2 on; older servers get the
# bloom filter indexes the contrib exporter used before.
TEXT_INDEX_MIN_VERSION: Final = (26, 2)
# Settings that gate text indexes on the versions where they were experimental or beta.
# 26.9 (the embedded chdb) has both on by default; they are set per statement only when the
# server knows them and has them off.
TEXT_INDEX_SETTINGS: Final = ("enable_full_text_index", "allow_experimental_full_text_index")
# The database that always exists and is never created.
DEFAULT_DATABASE: Final = "default"

_DAY_S: Final = 86_400
_HOUR_S: Final = 3_600
_MINUTE_S: Final = 60


@dataclass(frozen=True, slots=True)
class Statement:
    """One DDL statement and the settings it must run with."""

    name: str
    sql: str
    settings: tuple[tuple[str, int], ...] = ()


@cache
def load_template(name: str) -> Template:
    """A template from `sql/`, without its full-line `--` comments."""
    text = (SQL_DIR / name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return Template("\n".join(lines).strip("\n") + "\n")


def parse_version(version: str) -> tuple[int, ...]:
    """(26, 9, 2, 1) from '26.9.2.1'; trailing non-numeric parts (e.g. 'altinitystable') dropped."""
    numbers: list[int] = []
    for part in version.strip().split("."):
        match = re.match(r"\d+", part)
        if not match:
            break
        numbers.append(int(match.group()))
    return tuple(numbers)


def supports_text_index(server_version: str) -> bool:
    return parse_version(server_version)[:2] >= TEXT_INDEX_MIN_VERSION


def ttl_expression(ttl_s: float, time_column: str) -> str:
    """The TTL clause, in the largest whole unit as the contrib exporter writes it; '' for no TTL."""
    seconds = int(ttl_s)
    if seconds <= 0:
        return ""
    if seconds % _DAY_S == 0:
        return f"TTL {time_column} + toIntervalDay({seconds // _DAY_S})"
    if seconds % _HOUR_S == 0:
        return f"TTL {time_column} + toIntervalHour({seconds // _HOUR_S})"
    if seconds % _MINUTE_S == 0:
        return f"TTL {time_column} + toIntervalMinute({seconds // _MINUTE_S})"
    return f"TTL {time_column} + toIntervalSecond({seconds})"


def table_engine(config_engine: str) -> str:
    """The spans table's engine, with the `()` ClickHouse prints when no parameters are given."""
    match = TABLE_ENGINE.match(config_engine.strip())
    if match is None:
        raise ValueError(f"not a MergeTree-family engine: {config_engine!r}")
    return match.group("name") + (match.group("params") or "()")


def lookup_table_engine(config_engine: str) -> str:
    """The AggregatingMergeTree variant that matches the spans table's engine.

    Parameters are not copied: for a Replicated engine they name the table's own Keeper path,
    which a second table must not share, so the lookup table takes the server's default
    replica path and name (default_replica_path, default_replica_name)."""
    match = TABLE_ENGINE.match(config_engine.strip())
    name = match.group("name") if match else "MergeTree"
    for prefix in ("Replicated", "Shared"):
        if name.startswith(prefix):
            return f"{prefix}AggregatingMergeTree()"
    return "AggregatingMergeTree()"


def replacing_table_engine(config_engine: str, version_column: str) -> str:
    """The ReplacingMergeTree variant that matches the spans table's engine, for side tables
    where the row with the highest `version_column` of a key wins (parameters as above)."""
    match = TABLE_ENGINE.match(config_engine.strip())
    name = match.group("name") if match else "MergeTree"
    for prefix in ("Replicated", "Shared"):
        if name.startswith(prefix):
            return f"{prefix}ReplacingMergeTree({version_column})"
    return f"ReplacingMergeTree({version_column})"


def on_cluster(cluster_name: str) -> str:
    return f"ON CLUSTER `{cluster_name}`" if cluster_name else ""


# How many recent inserts a (non-replicated) MergeTree remembers to drop a repeated
# insert_deduplication_token: the persistent queue re-sends a batch of unknown outcome with its
# token, and the re-send must fall within this window (Replicated tables default to 1000 too).
DEDUP_WINDOW_BLOCKS: Final = 1000
# ClickHouse confirms an insert before its part is on disk unless told otherwise; the queue
# forgets a batch once confirmed. Merged parts replace parts already on disk (kept 8 minutes
# after a merge), so fsyncing them is about the queue's latency rather than durability: without
# it, the queue's fsync can wait for the journal to write out merges' dirty pages (ext4).
FSYNC_SETTINGS: Final = (("fsync_after_insert", 1), ("fsync_part_directory", 1),
                         ("min_compressed_bytes_to_fsync_after_merge", 1))


def spanhouse_table_settings(config: ClickHouseConfig) -> list[tuple[str, int]]:
    """Settings of the spans table beyond the contrib exporter's (readers of the layout do not
    see them): the deduplication window and, with fsync_parts, the fsyncs."""
    replicated = "Replicated" in config.table_engine or "Shared" in config.table_engine
    settings = [] if replicated else [("non_replicated_deduplication_window", DEDUP_WINDOW_BLOCKS)]
    if config.fsync_parts:
        settings.extend(FSYNC_SETTINGS)
    return settings


def schema_statements(config: ClickHouseConfig, server_version: str,
                      text_index_settings: tuple[str, ...] = ()) -> list[Statement]:
    """The statements that create the schema, in order. `text_index_settings` are the gating
    settings the server has turned off (see TEXT_INDEX_SETTINGS)."""
    cluster = on_cluster(config.cluster_name)
    extra_settings = spanhouse_table_settings(config)
    common = {"database": config.database, "table": config.traces_table_name, "on_cluster": cluster}
    statements: list[Statement] = []
    if config.database != DEFAULT_DATABASE:
        statements.append(Statement("create_database",
                                    load_template("create_database.sql").substitute(common)))
    text_index = supports_text_index(server_version)
    indexes = load_template("traces_indexes_text.sql" if text_index else "traces_indexes_bloom_filter.sql")
    statements.append(Statement(
        "traces_table",
        load_template("traces_table.sql").substitute(
            common,
            engine=table_engine(config.table_engine),
            ttl=ttl_expression(config.ttl, "toDateTime(Timestamp)"),
            attribute_indexes=indexes.template.rstrip("\n"),
            spanhouse_settings="".join(f", {name} = {value}" for name, value in extra_settings),
        ),
        tuple((name, 1) for name in text_index_settings) if text_index else (),
    ))
    statements.append(Statement(
        "traces_id_ts_lookup_table",
        load_template("traces_id_ts_lookup_table.sql").substitute(
            common,
            engine=lookup_table_engine(config.table_engine),
            ttl=ttl_expression(config.ttl, "toDateTime(Start)"),
        ),
    ))
    statements.append(Statement("traces_id_ts_lookup_mv",
                                load_template("traces_id_ts_lookup_mv.sql").substitute(common)))
    statements.append(Statement("trace_feedback_table", load_template("trace_feedback_table.sql").substitute(
        common, feedback_table=FEEDBACK_TABLE, engine=replacing_table_engine(config.table_engine, "UpdatedAt"),
        ttl=ttl_expression(config.ttl, "toDateTime(UpdatedAt)"))))
    if extra_settings:
        statements.append(Statement("traces_settings", load_template("traces_settings.sql").substitute(
            common, settings=", ".join(f"{name} = {value}" for name, value in extra_settings))))
    return statements
