"""The queue on a real full disk (a small tmpfs): a failed append leaves the segment as it was,
the sender is refused with a retryable error, and everything acknowledged afterwards is stored
once; the dispatcher outlives ENOSPC on its own files and resumes by itself."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest

from spanhouse.collector.core.component import CreateSettings
from spanhouse.collector.core.errors import RetryableError
from spanhouse.exporters.queue.batch_journal import ENTRY_BYTES
from spanhouse.exporters.queue.config import QueueBatchConfig
from spanhouse.exporters.queue.persistent_queue import PersistentQueue
from spanhouse.exporters.queue.sending_queue import QueuedExporter
from tests.conftest import StubHost
from tests.exporters.queue.small_disk import PAGE_BYTES, fill, tmpfs
from tests.exporters.queue.test_sending_queue import FAST_RETRY, ScriptedExporter, named, names, queue_config


async def test_a_failed_append_leaves_the_segment_as_it_was_and_later_records_read_back(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "fs", 1024 * 1024) as disk:
        queue = PersistentQueue(disk / "queue", fsync="batch", fsync_interval_s=0.001)
        queue.open()
        for index in range(3):
            await queue.append(f"before {index} ".encode() * 40, 1)
        segment = next((disk / "queue").glob("*.seg"))
        size_before = segment.stat().st_size
        filler = fill(disk, leave_bytes=2 * PAGE_BYTES)
        with pytest.raises(OSError) as refused:
            await queue.append(b"x" * 20_000, 5)  # part of it fits: a short write, then ENOSPC
        assert refused.value.errno == errno.ENOSPC
        assert segment.stat().st_size == size_before
        filler.unlink()
        seqs = [await queue.append(f"after {index} ".encode() * 40, 2) for index in range(20)]
        assert seqs == list(range(4, 24))  # the refused record took no sequence number
        entries = queue.take(max_spans=0, max_records=100)
        assert all(queue.read(entry) is not None for entry in entries)
        queue.close()
        reopened = PersistentQueue(disk / "queue")
        recovery = reopened.open()
        assert (recovery.pending_records, recovery.corrupt_regions) == (23, 0)
        reopened.close()


async def test_a_full_disk_refuses_with_503_and_every_later_request_is_stored_once(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "fs", 512 * 1024) as disk:
        inner = ScriptedExporter()
        settings = CreateSettings("clickhouse", disk)
        exporter = QueuedExporter(settings, queue_config(), FAST_RETRY, inner)
        await exporter.start(StubHost())
        accepted = ["before"]
        await exporter.consume(named("before"))
        await asyncio.wait_for(exporter.wait_idle(), 5)
        filler = fill(disk)
        refusal: RetryableError | None = None
        for index in range(200):  # the segment's last page may still take a few
            try:
                await exporter.consume(named(f"full-{index}", 30))
            except RetryableError as error:
                refusal = error
                break
            accepted.append(f"full-{index}")
        assert refusal is not None and refusal.http_status == 503 and refusal.retry_after_s > 0
        assert "No space left on device" in str(refusal) and str(disk) not in str(refusal)
        assert [item.component for item in settings.status.degraded()] == ["exporter/clickhouse"]
        filler.unlink()
        for index in range(20):
            await exporter.consume(named(f"after-{index}", 20))
            accepted.append(f"after-{index}")
        await asyncio.wait_for(exporter.wait_idle(), 15)
        stored = names(inner)
        assert sorted(set(stored)) == sorted(accepted) and len(stored) == sum(
            30 if name.startswith("full") else 20 if name.startswith("after") else 1 for name in accepted)
        assert settings.status.degraded() == []
        await exporter.shutdown()

        again = QueuedExporter(CreateSettings("clickhouse", disk), queue_config(), FAST_RETRY, ScriptedExporter())
        await again.start(StubHost())
        assert again.queue.pending_records == 0
        assert again._counters.corrupt.value == 0
        await again.shutdown()


async def test_the_dispatcher_resumes_by_itself_after_enospc_on_its_batch_file(tmp_path: Path) -> None:
    """The range of a batch is written to batches.log before its insert; with the disk full that
    write fails. The dispatcher logs it, reports it to health, retries, and exports once space is
    back, without a restart (it used to die, and nothing was exported until a restart)."""
    with tmpfs(tmp_path / "fs", 512 * 1024) as disk:
        first = QueuedExporter(CreateSettings("clickhouse", disk), queue_config(), FAST_RETRY, ScriptedExporter())
        await first.start(StubHost())
        # So many one-record batches that, rewritten on the next start (a header, a range per
        # batch and the commit point), the journal ends a few bytes short of a page: the next
        # entry needs a new page, which a full tmpfs does not have.
        batches = PAGE_BYTES // ENTRY_BYTES - 2
        for index in range(batches):
            await first.consume(named(f"early-{index}"))
            await asyncio.wait_for(first.wait_idle(), 5)
        await first.shutdown()

        inner = ScriptedExporter()
        settings = CreateSettings("clickhouse", disk)
        exporter = QueuedExporter(settings, queue_config(batch=QueueBatchConfig(min_size=1000, flush_timeout=0.5)),
                                  FAST_RETRY, inner)
        await exporter.start(StubHost())
        journal = disk / "queue" / "clickhouse" / "batches.log"
        assert journal.stat().st_size % PAGE_BYTES + ENTRY_BYTES > PAGE_BYTES
        await exporter.consume(named("late"))  # stored in the segment, acknowledged
        (journal.parent / "reserve").unlink()  # as if its reserve had already been used up
        filler = fill(disk)
        await asyncio.sleep(1.5)  # the dispatcher has tried to start the batch, and failed
        assert inner.stored == []
        degraded = settings.status.degraded()
        assert len(degraded) == 1 and "batches.log" in degraded[0].reason and "No space" in degraded[0].reason
        assert exporter._dispatcher is not None and not exporter._dispatcher.done()
        filler.unlink()
        await asyncio.wait_for(exporter.wait_idle(), 15)
        assert names(inner) == ["late"]
        assert settings.status.degraded() == []
        await exporter.shutdown()

        again = QueuedExporter(CreateSettings("clickhouse", disk), queue_config(), FAST_RETRY, ScriptedExporter())
        await again.start(StubHost())
        assert again.queue.pending_records == 0 and again._counters.corrupt.value == 0
        await again.shutdown()


async def test_a_disk_filled_by_the_queue_itself_is_freed_by_exporting_without_a_restart(tmp_path: Path) -> None:
    """During an outage the queue's own records fill its disk. Once ClickHouse is back, the
    queue must still write batches.log and committed (from its reserve) to free anything; the
    full segment takes no more records, so it is deleted once stored, and requests are taken again."""
    with tmpfs(tmp_path / "fs", 1024 * 1024) as disk:
        inner = ScriptedExporter(failures=[RetryableError("down")] * 10_000)
        settings = CreateSettings("clickhouse", disk)
        exporter = QueuedExporter(settings, queue_config(batch=QueueBatchConfig(min_size=1, flush_timeout=0)),
                                  FAST_RETRY, inner)
        await exporter.start(StubHost())
        accepted = []
        for index in range(2000):
            try:
                await exporter.consume(named(f"r{index}", 20))
            except RetryableError:
                break
            accepted.append(f"r{index}")
        else:
            raise AssertionError("the disk never filled")
        inner.failures.clear()  # ClickHouse is back
        await asyncio.wait_for(exporter.wait_idle(), 20)
        for index in range(5):  # taken again, without a restart
            await exporter.consume(named(f"later{index}", 20))
            accepted.append(f"later{index}")
        await asyncio.wait_for(exporter.wait_idle(), 20)
        assert sorted(set(names(inner))) == sorted(accepted) and len(names(inner)) == 20 * len(accepted)
        assert settings.status.degraded() == []
        await exporter.shutdown()
