"""The sending queue's promises with a scripted exporter behind it: answer once durable,
retry with the same token, set bad requests aside, re-send in-flight batches after a restart."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import DecodeError

from spanhouse.collector.core.component import CreateSettings, Traces, span_count
from spanhouse.collector.core.errors import PermanentError, ResourceExhaustedError, RetryableError
from spanhouse.exporters.queue.config import QueueBatchConfig, RetryConfig, SendingQueueConfig
from spanhouse.exporters.queue.sending_queue import QueuedExporter
from tests.conftest import StubHost
from tests.processors.test_batch import traces_with

FAST_RETRY = RetryConfig(initial_interval=0.01, max_interval=0.02, randomization_factor=0)


@dataclass
class ScriptedExporter:
    """Stores what it is given, or fails as told: `failures` errors are raised first."""

    failures: list[Exception] = field(default_factory=list)
    refuse_names: set[str] = field(default_factory=set)
    stored: list[tuple[str, Traces]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    async def start(self, host: object) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def export_encoded(self, payload: bytes, spans: int, dedup_token: str | None) -> None:
        assert dedup_token is not None
        self.tokens.append(dedup_token)
        if self.failures:
            raise self.failures.pop(0)
        try:  # as the clickhouse exporter does where it converts
            traces = Traces.FromString(payload)
        except DecodeError as error:
            raise PermanentError(f"cannot decode: {error}") from error
        assert span_count(traces) == spans
        names = {span.name for rs in traces.resource_spans for ss in rs.scope_spans for span in ss.spans}
        if names & self.refuse_names:
            raise PermanentError(f"refused {sorted(names & self.refuse_names)}")
        self.stored.append((dedup_token, traces))

    @property
    def spans(self) -> int:
        return sum(span_count(traces) for _, traces in self.stored)


def names(exporter: ScriptedExporter) -> list[str]:
    return sorted(span.name for _, traces in exporter.stored for resource in traces.resource_spans
                  for scope in resource.scope_spans for span in scope.spans)


def named(name: str, spans: int = 1) -> Traces:
    traces = traces_with([spans])
    for span in traces.resource_spans[0].scope_spans[0].spans:
        span.name = name
    return traces


def queue_config(**overrides: object) -> SendingQueueConfig:
    settings: dict[str, object] = {"directory": "queue", "batch": QueueBatchConfig(min_size=1, flush_timeout=0)}
    settings.update(overrides)
    return SendingQueueConfig(**settings)  # type: ignore[arg-type]


async def started(tmp_path: Path, inner: ScriptedExporter, **overrides: object) -> QueuedExporter:
    exporter = QueuedExporter(CreateSettings("clickhouse", tmp_path), queue_config(**overrides), FAST_RETRY, inner)
    await exporter.start(StubHost())
    return exporter


async def test_retryable_failures_are_retried_with_the_same_token(tmp_path: Path) -> None:
    inner = ScriptedExporter(failures=[RetryableError("down"), TimeoutError("lost ack")])
    exporter = await started(tmp_path, inner)
    await exporter.consume(named("a", 3))
    await asyncio.wait_for(exporter.wait_idle(), 5)
    assert inner.spans == 3
    assert len(inner.tokens) == 3 and len(set(inner.tokens)) == 1
    await exporter.shutdown()


async def test_a_bad_request_is_set_aside_and_the_rest_stored(tmp_path: Path) -> None:
    inner = ScriptedExporter(refuse_names={"bad"})
    exporter = await started(tmp_path, inner, batch=QueueBatchConfig(min_size=100, flush_timeout=0.2))
    for name in ("good-1", "bad", "good-2"):
        await exporter.consume(named(name))
    await asyncio.wait_for(exporter.wait_idle(), 5)
    assert names(inner) == ["good-1", "good-2"]
    dead = exporter.queue.directory / "dead-letter"
    assert "refused" in (dead / "errors.jsonl").read_text()
    assert (dead / "records.seg").stat().st_size > 0
    await exporter.shutdown()


async def test_full_queue_refuses_with_resource_exhausted(tmp_path: Path) -> None:
    inner = ScriptedExporter(failures=[RetryableError("down")] * 1000)
    exporter = await started(tmp_path, inner, sizer="requests", queue_size=3)
    for index in range(3):
        await exporter.consume(named(f"r{index}"))
    with pytest.raises(ResourceExhaustedError) as refused:
        await exporter.consume(named("one too many"))
    assert refused.value.retry_after_s > 0
    inner.failures.clear()
    await asyncio.wait_for(exporter.wait_idle(), 5)
    await exporter.consume(named("after the outage"))  # room again
    await asyncio.wait_for(exporter.wait_idle(), 5)
    assert inner.spans == 4
    await exporter.shutdown()


async def test_restart_resends_the_in_flight_batch_with_its_token_and_then_the_rest(tmp_path: Path) -> None:
    hanging = ScriptedExporter(failures=[RetryableError("down")] * 1000)
    first = await started(tmp_path, hanging, batch=QueueBatchConfig(min_size=2, flush_timeout=0.5))
    await first.consume(named("x"))
    await first.consume(named("y"))
    for _ in range(100):
        if hanging.tokens:
            break
        await asyncio.sleep(0.01)
    token = hanging.tokens[0]
    await first.consume(named("z"))
    await first.shutdown()  # the insert never succeeded: everything stays queued

    inner = ScriptedExporter()
    second = await started(tmp_path, inner)
    await asyncio.wait_for(second.wait_idle(), 5)
    assert inner.tokens[0] == token  # the same batch, the same deduplication identity
    assert names(inner) == ["x", "y", "z"]
    await second.shutdown()
    third = await started(tmp_path, ScriptedExporter())
    assert third.queue.pending_records == 0
    await third.shutdown()


async def test_answers_only_after_the_record_is_on_disk(tmp_path: Path) -> None:
    inner = ScriptedExporter(failures=[RetryableError("down")] * 1000)
    exporter = await started(tmp_path, inner, fsync="always")
    await exporter.consume(named("durable", 2))
    segment = next((tmp_path / "queue" / "clickhouse").glob("*.seg"))
    assert b"durable" in segment.read_bytes()
    await exporter.shutdown()


async def test_a_record_that_went_bad_on_disk_is_logged_counted_and_kept_not_skipped_silently(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inner = ScriptedExporter()
    exporter = await started(tmp_path, inner, batch=QueueBatchConfig(min_size=100, flush_timeout=0.5))
    for name in ("first", "second", "third"):
        await exporter.consume(named(name))
    segment = next((tmp_path / "queue" / "clickhouse").glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the second record, after it was acknowledged
    segment.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(exporter.wait_idle(), 5)
    assert names(inner) == ["first", "third"]
    assert exporter._counters.corrupt.value == 1
    assert list((tmp_path / "queue" / "clickhouse" / "damaged").glob(f"{segment.name}-*.bin"))
    assert any("no longer reads back" in record.getMessage() for record in caplog.records)
    await exporter.shutdown()


async def test_a_dispatcher_that_fails_unexpectedly_is_logged_and_started_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inner = ScriptedExporter()
    exporter = await started(tmp_path, inner)
    take = exporter.queue.take
    failures = [RuntimeError("a bug")]

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return take(*args, **kwargs)

    exporter.queue.take = failing_once  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        await exporter.consume(named("after the failure"))
        await asyncio.wait_for(exporter.wait_idle(), 5)
    assert names(inner) == ["after the failure"]
    assert any("dispatcher stopped" in record.getMessage() for record in caplog.records)
    await exporter.shutdown()
