"""The clickhouse exporter's config: defaults, field metadata and validation messages."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from spanhouse.collector.core.config.types import DURATION, parse_duration
from spanhouse.exporters.clickhouse.config import ClickHouseConfig
from spanhouse.exporters.queue.config import RetryConfig, SendingQueueConfig

TESTDATA = Path(__file__).parent / "testdata"


def config_from(mapping: dict[str, Any]) -> ClickHouseConfig:
    """Reads a YAML mapping as the config loader does: duration fields from Go durations."""
    hints = typing.get_type_hints(ClickHouseConfig, include_extras=True)
    values = {}
    for key, raw in mapping.items():
        metadata = getattr(hints[key], "__metadata__", ())
        values[key] = parse_duration(raw) if DURATION in metadata else raw
    return ClickHouseConfig(**values)


def load(name: str) -> Any:
    return yaml.safe_load((TESTDATA / name).read_text(encoding="utf-8"))


def test_defaults() -> None:
    config = ClickHouseConfig()
    assert dataclasses.asdict(config) == {
        "endpoint": "chdb://./data/clickhouse", "username": "default", "password": "",
        "database": "otel", "traces_table_name": "otel_traces", "create_schema": True, "ttl": 0.0,
        "compress": "lz4", "async_insert": True, "timeout": 5.0, "table_engine": "MergeTree",
        "cluster_name": "", "conversion_workers": 1, "materialize_skip_indexes_on_insert": False,
        "fsync_parts": True,
        "sending_queue": dataclasses.asdict(SendingQueueConfig()),
        "retry_on_failure": dataclasses.asdict(RetryConfig()),
    }
    assert config.validate() == []
    assert config.is_embedded


def test_every_field_is_described() -> None:
    for field in dataclasses.fields(ClickHouseConfig):
        assert field.metadata.get("description"), field.name


def test_valid_file() -> None:
    config = config_from(load("valid.yaml"))
    assert config.validate() == []
    assert config.ttl == 72 * 3600 and config.timeout == 10.0
    assert not config.is_embedded


def test_invalid_file_reports_every_problem() -> None:
    assert config_from(load("invalid.yaml")).validate() == [
        ("endpoint", '"clickhouse://localhost:9000" must start with chdb://, http:// or https://, '
                     "e.g. chdb://./data/clickhouse or http://localhost:8123"),
        ("database", '"otel-prod" is not a valid name: use letters, digits and underscores, '
                     "not starting with a digit"),
        ("traces_table_name", '"1traces" is not a valid name: use letters, digits and underscores, '
                              "not starting with a digit"),
        ("ttl", "must be at least 1s, or 0 to keep spans forever"),
        ("timeout", "must be greater than 0, e.g. 5s"),
        ("compress", '"gzip" is not one of lz4, zstd, none'),
        ("table_engine", '"Log" is not a MergeTree-family engine, e.g. MergeTree or ReplicatedMergeTree'),
        ("cluster_name", '"bad`name" is not a valid cluster name: use letters, digits, underscores, '
                         "dashes and dots"),
    ]


@pytest.mark.parametrize(("mapping", "message"), list(zip(load("invalid_urls.yaml"), [
    '"http://:8123" has no host, e.g. http://localhost:8123',
    "chdb:// needs a directory, e.g. chdb://./data/clickhouse",
    "\"http://localhost:notaport\" is not a valid URL: Port could not be cast to integer value as 'notaport'",
    '"http://localhost:0" has port 0',
], strict=True)))
def test_invalid_endpoints(mapping: dict[str, Any], message: str) -> None:
    assert config_from(mapping).validate() == [("endpoint", message)]


def test_negative_ttl_and_long_table_name() -> None:
    problems = ClickHouseConfig(ttl=-1.0, traces_table_name="t" * 201).validate()
    assert problems == [
        ("traces_table_name", "is 201 characters long; use at most 200"),
        ("ttl", "must not be negative; use 0 to keep spans forever"),
    ]


@pytest.mark.parametrize("workers", [-1, 65])
def test_conversion_workers_out_of_range(workers: int) -> None:
    assert ClickHouseConfig(conversion_workers=workers).validate() == [
        ("conversion_workers", f"{workers} is out of range: use 0 (convert in the collector's process) to 64")]
