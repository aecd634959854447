"""The persistent queue on disk: order, commit, reopen, and starting from damaged files."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from spanhouse.exporters.queue.persistent_queue import InflightBatch, PersistentQueue
from spanhouse.exporters.queue.record_log import encode_record, segment_path


async def filled(directory: Path, count: int, segment_bytes: int = 1 << 20) -> PersistentQueue:
    queue = PersistentQueue(directory, fsync="batch", fsync_interval_s=0.001, segment_bytes=segment_bytes)
    queue.open()
    for index in range(count):
        await queue.append(f"request {index}".encode() * 10, spans=2)
    return queue


async def test_append_take_commit_reopen(tmp_path: Path) -> None:
    queue = await filled(tmp_path, 5)
    assert (queue.pending_records, queue.pending_spans) == (5, 10)
    entries = queue.take(max_spans=4)
    assert [entry.seq for entry in entries] == [1, 2]
    record = queue.read(entries[0])
    assert record is not None and record.payload == b"request 0" * 10
    queue.commit(2)
    assert (queue.pending_records, queue.pending_spans) == (3, 6)
    queue.record_batch(InflightBatch(3, 4))
    queue.close()

    reopened = PersistentQueue(tmp_path)
    recovery = reopened.open()
    assert (recovery.pending_records, recovery.corrupt_regions, recovery.inflight_batches) == (3, 0, 1)
    assert reopened.committed == 2
    assert reopened.inflight == [InflightBatch(3, 4)]
    assert [entry.seq for entry in reopened.take_range(3, 4)] == [3, 4]
    seq = await reopened.append(b"after restart", 1)
    assert seq == 6  # sequence numbers continue
    reopened.close()


async def test_segments_roll_and_consumed_ones_are_deleted(tmp_path: Path) -> None:
    queue = await filled(tmp_path, 50, segment_bytes=1000)
    assert len(list(tmp_path.glob("*.seg"))) > 5
    entries = queue.take(max_spans=0, max_records=50)
    queue.commit(entries[-1].seq)
    assert len(list(tmp_path.glob("*.seg"))) == 1  # only the active segment is kept
    queue.close()


async def test_truncated_and_flipped_files_start_with_the_good_records(tmp_path: Path) -> None:
    queue = await filled(tmp_path, 10)
    queue.close()
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[200] ^= 0xFF  # damages one record in the middle
    segment.write_bytes(bytes(data[:-30]))  # and tears the last one
    reopened = PersistentQueue(tmp_path)
    recovery = reopened.open()
    assert recovery.corrupt_regions == 2
    assert recovery.pending_records == 8
    # The torn tail is cut, so new records follow the last good one and read back fine.
    seq = await reopened.append(b"new", 1)
    entries = reopened.take(max_spans=0, max_records=100)
    assert entries[-1].seq == seq
    assert all(reopened.read(entry) is not None for entry in entries)
    reopened.close()
    again = PersistentQueue(tmp_path)
    assert again.open().corrupt_regions == 1  # the middle damage is still there, counted, harmless
    again.close()


async def test_concurrent_appends_across_segment_rolls_get_distinct_sequence_numbers(tmp_path: Path) -> None:
    # Regression: a segment roll awaited between taking a sequence number and using it, so two
    # concurrent appends could share one and a restart then counted a record twice.
    queue = PersistentQueue(tmp_path, fsync="batch", fsync_interval_s=0.001, segment_bytes=600)
    queue.open()
    seqs = await asyncio.gather(*(queue.append(b"x" * 100, 1) for _ in range(200)))
    assert sorted(seqs) == list(range(1, 201))
    queue.close()
    reopened = PersistentQueue(tmp_path)
    recovery = reopened.open()
    assert (recovery.pending_records, recovery.corrupt_regions) == (200, 0)
    assert [entry.seq for entry in reopened.take(max_spans=0, max_records=1000)] == list(range(1, 201))
    reopened.close()


async def test_a_damaged_region_is_logged_with_its_offsets_counted_and_kept_aside(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    queue = await filled(tmp_path, 10)
    queue.close()
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    record_bytes = len(data) // 10
    data[record_bytes * 3 + 40] ^= 0xFF  # inside the fourth record
    segment.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        reopened = PersistentQueue(tmp_path)
        recovery = reopened.open()
    assert (recovery.corrupt_regions, recovery.pending_records) == (1, 9)
    start, end = record_bytes * 3, record_bytes * 4
    kept = tmp_path / "damaged" / f"{segment.name}-{start}.bin"
    assert kept.read_bytes() == bytes(data[start:end])
    assert any(segment.name in record.getMessage() and f"{start}-{end}" in record.getMessage()
               for record in caplog.records)
    reopened.close()


async def test_a_sealed_segment_tail_from_a_refused_append_is_not_damage(tmp_path: Path) -> None:
    # What a failed append whose cut-back also failed leaves: torn bytes at the end of a segment,
    # and the same sequence number starting the next one.
    first = b"".join(encode_record(seq, b"a" * 50, 1) for seq in (1, 2, 3))
    segment_path(tmp_path, 1).write_bytes(first + encode_record(4, b"lost" * 30, 1)[:70])
    segment_path(tmp_path, 4).write_bytes(b"".join(encode_record(seq, b"b" * 50, 1) for seq in (4, 5)))
    queue = PersistentQueue(tmp_path)
    recovery = queue.open()
    assert (recovery.corrupt_regions, recovery.pending_records) == (0, 5)
    assert segment_path(tmp_path, 1).stat().st_size == len(first)
    assert [entry.seq for entry in queue.take(max_spans=0)] == [1, 2, 3, 4, 5]
    queue.close()
