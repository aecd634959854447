"""The file exporter: OTLP/JSON lines that decode back, rotation by size, and its lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanhouse.collector.core.component import CreateSettings, Kind
from spanhouse.collector.core.errors import RetryableError
from spanhouse.exporters.file import FACTORY, MIB, FileConfig, FileExporter
from spanhouse.proto.otlp_json import decode_traces
from tests.support.doubles import StubHost


def batch(number: int, padding: int = 0) -> ExportTraceServiceRequest:
    traces = ExportTraceServiceRequest()
    resource_spans = traces.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "checkout"
    scope = resource_spans.scope_spans.add()
    for index in range(3):
        span = scope.spans.add(trace_id=number.to_bytes(16, "big"), span_id=(index + 1).to_bytes(8, "big"),
                               name=f"batch {number} span {index}", kind=2,
                               start_time_unix_nano=1_700_000_000_000_000_000 + index)
        span.attributes.add(key="padding").value.string_value = "x" * padding
        span.attributes.add(key="index").value.int_value = index
    return traces


def read_lines(path: Path) -> list[ExportTraceServiceRequest]:
    return [decode_traces(line) for line in path.read_bytes().splitlines()]


def exporter_in(directory: Path, **config: Any) -> FileExporter:
    exporter = FACTORY.create(CreateSettings("file/test", config_dir=directory), FileConfig(**config))
    assert isinstance(exporter, FileExporter)
    return exporter


async def test_writes_one_line_per_batch_that_decodes_back(tmp_path: Path) -> None:
    exporter = exporter_in(tmp_path)
    host = StubHost()
    await exporter.start(host)
    batches = [batch(number) for number in range(1, 4)]
    for traces in batches:
        await exporter.consume(traces)
    # Flushed per batch: readable before shutdown.
    path = tmp_path / "data" / "spans.jsonl"
    assert exporter.path == path
    assert read_lines(path) == batches
    await exporter.shutdown()
    assert host.telemetry.value("otelcol_exporter_sent_spans", exporter="file/test") == 9


async def test_appends_across_restarts_and_skips_empty_batches(tmp_path: Path) -> None:
    for number in (1, 2):
        exporter = exporter_in(tmp_path, path="out.jsonl")
        await exporter.start(StubHost())
        await exporter.consume(batch(number))
        await exporter.consume(ExportTraceServiceRequest())
        await exporter.shutdown()
    assert read_lines(tmp_path / "out.jsonl") == [batch(1), batch(2)]


async def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "spans.jsonl"
    exporter = exporter_in(tmp_path / "config", path=str(target))
    assert exporter.path == target


async def test_rotation_by_size_keeps_max_backups(tmp_path: Path) -> None:
    exporter = exporter_in(tmp_path, path="spans.jsonl", max_megabytes=1, max_backups=2)
    await exporter.start(StubHost())
    batches = [batch(number, padding=100_000) for number in range(1, 21)]  # ~300 kB a line
    for traces in batches:
        await exporter.consume(traces)
    await exporter.shutdown()
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["spans.jsonl", "spans.jsonl.1", "spans.jsonl.2"]
    kept: list[ExportTraceServiceRequest] = []
    for name in ("spans.jsonl.2", "spans.jsonl.1", "spans.jsonl"):
        assert (tmp_path / name).stat().st_size <= MIB
        kept.extend(read_lines(tmp_path / name))
    # Oldest first, newest last, nothing lost inside the files kept.
    assert kept == batches[-len(kept):]
    assert len(read_lines(tmp_path / "spans.jsonl.1")) == 3


async def test_without_backups_rotation_starts_over(tmp_path: Path) -> None:
    exporter = exporter_in(tmp_path, path="spans.jsonl", max_megabytes=1, max_backups=0)
    await exporter.start(StubHost())
    batches = [batch(number, padding=100_000) for number in range(1, 5)]
    for traces in batches:
        await exporter.consume(traces)
    await exporter.shutdown()
    assert [path.name for path in tmp_path.iterdir()] == ["spans.jsonl"]
    assert read_lines(tmp_path / "spans.jsonl") == batches[3:]


async def test_a_line_larger_than_the_limit_gets_its_own_file(tmp_path: Path) -> None:
    exporter = exporter_in(tmp_path, path="spans.jsonl", max_megabytes=1)
    await exporter.start(StubHost())
    await exporter.consume(batch(1))
    await exporter.consume(batch(2, padding=400_000))
    await exporter.consume(batch(3))
    await exporter.shutdown()
    assert read_lines(tmp_path / "spans.jsonl.2") == [batch(1)]
    assert read_lines(tmp_path / "spans.jsonl.1") == [batch(2, padding=400_000)]
    assert read_lines(tmp_path / "spans.jsonl") == [batch(3)]


async def test_lifecycle(tmp_path: Path) -> None:
    exporter = exporter_in(tmp_path)
    await exporter.shutdown()  # before start
    assert not (tmp_path / "data").exists()  # no I/O before start
    with pytest.raises(RetryableError, match="not started"):
        await exporter.consume(batch(1))
    await exporter.start(StubHost())
    await exporter.start(StubHost())  # a second start keeps the open file
    await exporter.consume(batch(1))
    await exporter.shutdown()
    await exporter.shutdown()
    with pytest.raises(RetryableError, match="not started"):
        await exporter.consume(batch(2))
    assert read_lines(tmp_path / "data" / "spans.jsonl") == [batch(1)]


def test_config() -> None:
    assert FACTORY.type == "file" and FACTORY.kind is Kind.EXPORTER and FACTORY.config_class is FileConfig
    assert FileConfig() == FileConfig(path="./data/spans.jsonl", max_megabytes=100, max_backups=3)
    assert FileConfig().validate() == []
    assert FileConfig(path=" ", max_megabytes=-1, max_backups=-2).validate() == [
        ("path", "must not be empty"),
        ("max_megabytes", "must not be negative (0 disables rotation)"),
        ("max_backups", "must not be negative"),
    ]
