"""Configuration of the `clickhouse` exporter: where the spans go and how the tables are made."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from spanhouse.collector.core.config.types import DURATION
from spanhouse.exporters.queue.config import RetryConfig, SendingQueueConfig

ENDPOINT_SCHEMES: Final = ("chdb", "http", "https")
EMBEDDED_PREFIX: Final = "chdb://"
# The embedded engine without a directory: nothing survives the process (tests, trials).
EMBEDDED_IN_MEMORY: Final = ":memory:"
# Unquoted ClickHouse identifiers; names are also backquoted in the DDL, but keeping them
# plain means every reader can type them without quoting.
IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Cluster names may also hold dashes and dots (they come from remote_servers in the server
# config); a backquote would end the quoted name in the DDL.
CLUSTER_NAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
# A MergeTree-family engine, with optional parameters: ReplicatedMergeTree('/path', '{replica}').
TABLE_ENGINE: Final = re.compile(r"^(?P<name>[A-Za-z]*MergeTree)\s*(?P<params>\(.*\))?$", re.DOTALL)
# ClickHouse caps identifiers only by memory, but the lookup table and view append
# "_trace_id_ts_mv" to the table name, and file systems cap a path component at 255 bytes.
MAX_TABLE_NAME_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    endpoint: str = field(default="chdb://./data/clickhouse", metadata={
        "description": "Where ClickHouse is: chdb://<path> for the embedded engine (a relative path is "
                       "relative to the config file's directory), or http://host:8123 / https://host:8443 "
                       "for a server."})
    username: str = field(default="default", metadata={
        "description": "User for a ClickHouse server (ignored by the embedded engine)."})
    password: str = field(default="", metadata={
        "description": "Password for a ClickHouse server (ignored by the embedded engine)."})
    database: str = field(default="otel", metadata={
        "description": "Database that holds the traces tables; created when create_schema is true."})
    traces_table_name: str = field(default="otel_traces", metadata={
        "description": "Spans table. The trace-id lookup table <name>_trace_id_ts and its materialized "
                       "view <name>_trace_id_ts_mv are named after it."})
    create_schema: bool = field(default=True, metadata={
        "description": "Create the database, tables and view at start (IF NOT EXISTS). Turn off when "
                       "the collector's user has no DDL rights and the schema is managed elsewhere."})
    ttl: Annotated[float, DURATION] = field(default=0.0, metadata={
        "description": "How long spans are kept (e.g. 72h, 30m); 0 keeps them forever. Written as days "
                       "when whole days, else hours, minutes or seconds, as the contrib exporter does."})
    compress: Literal["lz4", "zstd", "none"] = field(default="lz4", metadata={
        "description": "Compression of inserts sent over HTTP(S); the embedded engine has no transport."})
    async_insert: bool = field(default=True, metadata={
        "description": "Ask a ClickHouse server to buffer inserts (async_insert=1, waiting for the "
                       "flush so that success still means stored). The embedded engine always inserts "
                       "synchronously: it has a single writer and buffering would only add latency."})
    timeout: Annotated[float, DURATION] = field(default=5.0, metadata={
        "description": "Connect and send/receive timeout for a ClickHouse server."})
    table_engine: str = field(default="MergeTree", metadata={
        "description": "Engine of the spans table, a MergeTree-family engine with optional parameters, "
                       "e.g. ReplicatedMergeTree. The lookup table uses the matching "
                       "AggregatingMergeTree variant."})
    cluster_name: str = field(default="", metadata={
        "description": "When set, every DDL statement runs ON CLUSTER this cluster."})
    conversion_workers: int = field(default=1, metadata={
        "description": "Processes that convert spans into ClickHouse's Native format before each insert "
                       "(about 15 us of Python per span), so that this work runs on another core than "
                       "the receivers. 0 converts in a thread of the collector's process."})
    materialize_skip_indexes_on_insert: bool = field(default=False, metadata={
        "description": "Build the tables' skip indexes on every insert. Off by default: ClickHouse then "
                       "builds them when it merges parts (which rebuilds them anyway), saving about a "
                       "third of the insert's cost; parts not merged yet are read without them."})
    fsync_parts: bool = field(default=True, metadata={
        "description": "Have ClickHouse fsync each part of the spans table it writes (the table settings "
                       "fsync_after_insert, fsync_part_directory, min_compressed_bytes_to_fsync_after_merge) "
                       "before it confirms an insert: the persistent queue forgets a batch once ClickHouse "
                       "confirmed it, so a power cut must not lose a confirmed part. It also keeps the "
                       "queue's own fsyncs short (see docs/queue.md)."})
    sending_queue: SendingQueueConfig = field(default_factory=SendingQueueConfig, metadata={
        "description": "The persistent queue between the pipeline and the inserts (on by default)."})
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig, metadata={
        "description": "Backoff of retried inserts."})

    def validate(self) -> list[tuple[str, str]]:
        """Problems as (YAML path relative to this component, what is wrong and what to do)."""
        problems: list[tuple[str, str]] = []
        problems.extend(_endpoint_problems(self.endpoint))
        for key, value in (("database", self.database), ("traces_table_name", self.traces_table_name)):
            if not IDENTIFIER.match(value):
                problems.append((key, f'"{value}" is not a valid name: use letters, digits and '
                                      f"underscores, not starting with a digit"))
        if len(self.traces_table_name) > MAX_TABLE_NAME_CHARS:
            problems.append(("traces_table_name", f"is {len(self.traces_table_name)} characters long; "
                                                  f"use at most {MAX_TABLE_NAME_CHARS}"))
        if self.ttl < 0:
            problems.append(("ttl", "must not be negative; use 0 to keep spans forever"))
        elif 0 < self.ttl < 1:
            problems.append(("ttl", "must be at least 1s, or 0 to keep spans forever"))
        if not 0 <= self.conversion_workers <= 64:
            problems.append(("conversion_workers", f"{self.conversion_workers} is out of range: use 0 (convert "
                                                   f"in the collector's process) to 64"))
        if self.timeout <= 0:
            problems.append(("timeout", "must be greater than 0, e.g. 5s"))
        if self.compress not in ("lz4", "zstd", "none"):
            problems.append(("compress", f'"{self.compress}" is not one of lz4, zstd, none'))
        if not TABLE_ENGINE.match(self.table_engine.strip()):
            problems.append(("table_engine", f'"{self.table_engine}" is not a MergeTree-family engine, '
                                             f"e.g. MergeTree or ReplicatedMergeTree"))
        if self.cluster_name and not CLUSTER_NAME.match(self.cluster_name):
            problems.append(("cluster_name", f'"{self.cluster_name}" is not a valid cluster name: use '
                                             f"letters, digits, underscores, dashes and dots"))
        problems.extend(self.sending_queue.problems())
        problems.extend(self.retry_on_failure.problems())
        return problems

    @property
    def is_embedded(self) -> bool:
        return self.endpoint.startswith(EMBEDDED_PREFIX)


def resolve_endpoint(config: ClickHouseConfig, config_dir: Path) -> str:
    """The endpoint with an embedded engine's directory made absolute (chdb:///abs/path),
    a relative one being relative to the config file's directory. Servers' URLs unchanged."""
    if not config.is_embedded:
        return config.endpoint
    location = config.endpoint[len(EMBEDDED_PREFIX):]
    if location == EMBEDDED_IN_MEMORY:
        return config.endpoint
    directory = Path(location).expanduser()
    if not directory.is_absolute():
        directory = config_dir / directory
    # Normalised because the engine compares paths literally: one directory, one spelling.
    return EMBEDDED_PREFIX + str(directory.resolve())


def _endpoint_problems(endpoint: str) -> list[tuple[str, str]]:
    scheme, separator, rest = endpoint.partition("://")
    if not separator or scheme not in ENDPOINT_SCHEMES:
        return [("endpoint", f'"{endpoint}" must start with chdb://, http:// or https://, '
                             f"e.g. chdb://./data/clickhouse or http://localhost:8123")]
    if endpoint.startswith(EMBEDDED_PREFIX):
        if not rest:
            return [("endpoint", "chdb:// needs a directory, e.g. chdb://./data/clickhouse")]
        return []
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as error:
        return [("endpoint", f'"{endpoint}" is not a valid URL: {error}')]
    if not parts.hostname:
        return [("endpoint", f'"{endpoint}" has no host, e.g. http://localhost:8123')]
    if port == 0:
        return [("endpoint", f'"{endpoint}" has port 0')]
    return []
