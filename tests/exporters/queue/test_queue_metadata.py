"""Damaged queue metadata (`committed`, `batches.log`, `meta.json`, a legacy `inflight.json`):
named in the log, set aside, and recovered from without dropping an acknowledged record, the
re-sent batches carrying their original deduplication tokens so that they are stored once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spanhouse.collector.core.errors import RetryableError
from spanhouse.exporters.queue.batch_journal import COMMITTED, ENTRY_BYTES
from spanhouse.exporters.queue.config import QueueBatchConfig
from tests.exporters.queue.test_sending_queue import ScriptedExporter, named, names, started


@dataclass
class ClickHouseLike(ScriptedExporter):
    """Drops an insert whose token it has stored before, as ClickHouse's deduplication does."""

    seen: set[str] = field(default_factory=set)

    async def export_encoded(self, payload: bytes, spans: int, dedup_token: str | None) -> None:
        if dedup_token in self.seen:
            self.tokens.append(f"{dedup_token} (dropped)")
            return
        await super().export_encoded(payload, spans, dedup_token)
        assert dedup_token is not None
        self.seen.add(dedup_token)


def queue_dir(tmp_path: Path) -> Path:
    return tmp_path / "queue" / "clickhouse"


async def stored_then_queued(tmp_path: Path, store: ClickHouseLike) -> list[str]:
    """Nine requests stored in batches of three, then three more queued behind an outage."""
    exporter = await started(tmp_path, store, batch=QueueBatchConfig(min_size=3, flush_timeout=0.2))
    for index in range(9):
        await exporter.consume(named(f"a{index}"))
    await asyncio.wait_for(exporter.wait_idle(), 5)
    store.failures = [RetryableError("down")] * 1000
    for index in range(3):
        await exporter.consume(named(f"b{index}"))
    await exporter.shutdown()
    store.failures = []
    return [f"a{index}" for index in range(9)] + [f"b{index}" for index in range(3)]


async def test_an_out_of_range_commit_point_drops_nothing_and_new_requests_are_taken(tmp_path: Path) -> None:
    first = await started(tmp_path, ScriptedExporter(failures=[RetryableError("down")] * 1000))
    for index in range(5):
        await first.consume(named(f"r{index}"))
    await first.shutdown()
    (queue_dir(tmp_path) / "committed").write_text("99999999999999999999999")
    store = ClickHouseLike()
    second = await started(tmp_path, store)
    await second.consume(named("new"))  # was refused for ever: "argument out of range"
    await asyncio.wait_for(second.wait_idle(), 5)
    assert names(store) == ["new", "r0", "r1", "r2", "r3", "r4"]
    assert len(list(queue_dir(tmp_path).glob("committed.damaged-*"))) == 1
    await second.shutdown()


async def test_a_garbage_commit_point_is_rebuilt_and_nothing_is_stored_twice(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = ClickHouseLike()
    expected = await stored_then_queued(tmp_path, store)
    (queue_dir(tmp_path) / "committed").write_text("garbage")
    with caplog.at_level(logging.WARNING):
        again = await started(tmp_path, store)
        await asyncio.wait_for(again.wait_idle(), 5)
    assert names(store) == sorted(expected)  # once each: 12 rows for 12 requests
    assert any("committed" in record.getMessage() and "damaged" in record.getMessage() for record in caplog.records)
    await again.shutdown()


async def test_without_any_commit_point_everything_is_resent_under_its_original_tokens(tmp_path: Path) -> None:
    store = ClickHouseLike()
    expected = await stored_then_queued(tmp_path, store)
    original_tokens = set(store.seen)
    directory = queue_dir(tmp_path)
    (directory / "committed").write_text("garbage")
    journal = directory / "batches.log"
    data = journal.read_bytes()  # and the journal's commit points lost: only the ranges remain
    entries = [data[offset:offset + ENTRY_BYTES] for offset in range(0, len(data), ENTRY_BYTES)]
    journal.write_bytes(entries[0] + b"".join(entry for entry in entries[1:] if entry[4] != COMMITTED))
    again = await started(tmp_path, store)
    await asyncio.wait_for(again.wait_idle(), 5)
    resent = [token for token in store.tokens if token.endswith("(dropped)")]
    assert len(resent) == 3  # the three stored batches came again, each under its own token ...
    assert {token.removesuffix(" (dropped)") for token in resent} <= original_tokens
    assert names(store) == sorted(expected)  # ... and were dropped: every request stored once
    await again.shutdown()


async def test_a_garbage_meta_json_is_named_set_aside_and_the_queue_id_kept(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    failing = ScriptedExporter(failures=[RetryableError("down")] * 1000)
    first = await started(tmp_path, failing)
    await first.consume(named("x"))
    for _ in range(200):
        if failing.tokens:
            break
        await asyncio.sleep(0.01)
    await first.shutdown()
    (queue_dir(tmp_path) / "meta.json").write_text("{not json")
    store = ClickHouseLike()
    with caplog.at_level(logging.WARNING):
        again = await started(tmp_path, store)  # used to refuse to start, naming no file
        await asyncio.wait_for(again.wait_idle(), 5)
    assert store.tokens == [failing.tokens[0]]  # the same queue id, so the same token
    assert names(store) == ["x"]
    assert any("meta.json" in record.getMessage() for record in caplog.records)
    assert len(list(queue_dir(tmp_path).glob("meta.json.damaged-*"))) == 1
    await again.shutdown()


async def test_a_garbage_legacy_inflight_file_is_set_aside(tmp_path: Path) -> None:
    first = await started(tmp_path, ScriptedExporter(failures=[RetryableError("down")] * 1000))
    await first.consume(named("y"))
    await first.shutdown()
    (queue_dir(tmp_path) / "inflight.json").write_text("[{]")
    store = ClickHouseLike()
    again = await started(tmp_path, store)
    await asyncio.wait_for(again.wait_idle(), 5)
    assert names(store) == ["y"]
    assert len(list(queue_dir(tmp_path).glob("inflight.json.damaged-*"))) == 1
    await again.shutdown()
