"""The persistent queue: records appended durably before a sender is answered, read back in
order by the exporter, removed only once their insert is confirmed.

Beside the segment files (record_log.py) the directory holds `meta.json` (the queue's id, part of
every deduplication token), `committed` (the highest sequence number whose insert ClickHouse
confirmed) and `inflight.json` (the batches handed to ClickHouse and not yet confirmed, with
their exact record ranges, so that a restart re-sends exactly those batches with the same
tokens and ClickHouse drops what it already holds)."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import orjson

from exporters.queue.record_log import (
    HEADER_BYTES,
    Record,
    ScanResult,
    _parse_at,
    encode_record,
    fsync_directory,
    list_segments,
    scan_segment,
    segment_path,
    write_atomically,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION: Final = 1
FsyncMode = Literal["always", "batch", "never"]


@dataclass(frozen=True, slots=True)
class Entry:
    """Where a pending record lies; the payload stays on disk until it is read for export."""

    seq: int
    segment: int  # first seq of its segment
    offset: int
    length: int  # payload bytes
    spans: int


@dataclass(frozen=True, slots=True)
class InflightBatch:
    first: int
    last: int
    split: bool = False  # exported record by record after a permanent error


@dataclass(slots=True)
class Recovery:
    pending_records: int = 0
    pending_spans: int = 0
    corrupt_regions: int = 0
    skipped_bytes: int = 0
    inflight_batches: int = 0


class QueueFullError(Exception):
    pass


class PersistentQueue:
    def __init__(self, directory: Path, fsync: FsyncMode = "batch", fsync_interval_s: float = 0.005,
                 segment_bytes: int = 32 * 1024 * 1024) -> None:
        self.directory = directory
        self._fsync = fsync
        self._fsync_interval_s = fsync_interval_s
        self._segment_bytes = segment_bytes
        self.queue_id = ""
        self.committed = 0
        self.inflight: list[InflightBatch] = []
        self._pending: deque[Entry] = deque()  # appended, not yet taken for export
        self._outstanding: dict[int, Entry] = {}  # taken, not yet committed, by seq
        self._segments: dict[int, int] = {}  # first seq -> file descriptor (open for reading)
        self._active_first = 0
        self._active_fd = -1
        self._active_size = 0
        self._next_seq = 1
        self._flush_waiters: list[asyncio.Future[None]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._dirty_fds: set[int] = set()
        self._retired_fds: list[int] = []
        self.pending_bytes = 0
        self.pending_spans = 0
        self.pending_records = 0
        self.unsent_spans = 0  # pending and not yet taken for export

    # ---- opening and recovery (blocking; run in a thread) -----------------------------

    def open(self) -> Recovery:
        self.directory.mkdir(parents=True, exist_ok=True)
        meta_path = self.directory / "meta.json"
        if meta_path.exists():
            meta = orjson.loads(meta_path.read_bytes())
            self.queue_id = str(meta["queue_id"])
        else:
            self.queue_id = uuid.uuid4().hex
            write_atomically(meta_path, orjson.dumps({"queue_id": self.queue_id, "format_version": FORMAT_VERSION}))
        committed_path = self.directory / "committed"
        if committed_path.exists():
            text = committed_path.read_text().strip()
            self.committed = int(text) if text.isdigit() else 0
        inflight_path = self.directory / "inflight.json"
        if inflight_path.exists():
            try:
                self.inflight = [InflightBatch(**item) for item in orjson.loads(inflight_path.read_bytes())]
            except (orjson.JSONDecodeError, TypeError):
                self.inflight = []
        recovery = Recovery(inflight_batches=len(self.inflight))
        highest = self.committed
        segments = list_segments(self.directory)
        for index, (first_seq, path) in enumerate(segments):
            data = path.read_bytes()
            scan = ScanResult()
            for offset, record in scan_segment(data, scan):
                highest = max(highest, record.seq)
                if record.seq > self.committed:
                    self._add_pending(Entry(record.seq, first_seq, offset, len(record.payload), record.spans))
            recovery.corrupt_regions += scan.corrupt_regions
            recovery.skipped_bytes += scan.skipped_bytes
            is_last = index == len(segments) - 1
            if is_last and scan.end_offset < len(data):
                # A torn tail from a crash mid-append: cut it so new records follow the last good one.
                with open(path, "r+b") as handle:
                    handle.truncate(scan.end_offset)
                    os.fsync(handle.fileno())
            self._segments[first_seq] = os.open(path, os.O_RDONLY)
            if is_last:
                self._active_first, self._active_size = first_seq, min(scan.end_offset, len(data))
        self._next_seq = highest + 1
        recovery.pending_records = self.pending_records
        recovery.pending_spans = self.pending_spans
        # Ranges whose records were lost to corruption cannot be re-sent; keep the rest.
        self.inflight = [batch for batch in self.inflight if batch.last > self.committed]
        if self._segments and self._active_size < self._segment_bytes:
            path = segment_path(self.directory, self._active_first)
            self._active_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._delete_consumed_segments()
        return recovery

    def _add_pending(self, entry: Entry) -> None:
        self._pending.append(entry)
        self.pending_records += 1
        self.pending_spans += entry.spans
        self.pending_bytes += entry.length + HEADER_BYTES
        self.unsent_spans += entry.spans

    def close(self) -> None:
        for descriptor in self._retired_fds:
            os.close(descriptor)
        self._retired_fds.clear()
        if self._active_fd >= 0:
            if self._fsync != "never":
                os.fsync(self._active_fd)
            os.close(self._active_fd)
            self._active_fd = -1
        for descriptor in self._segments.values():
            os.close(descriptor)
        self._segments.clear()

    # ---- the write side ----------------------------------------------------------------

    async def append(self, payload: bytes, spans: int) -> int:
        """Appends one record; returns once it is as durable as the fsync mode promises."""
        # Nothing in here awaits until the record is written: sequence numbers and offsets are
        # taken and used in one step, so concurrent appends cannot share or reorder them.
        record_bytes = HEADER_BYTES + len(payload)
        if self._active_fd < 0 or (self._active_size and self._active_size + record_bytes > self._segment_bytes):
            self._roll_segment(self._next_seq)
        seq = self._next_seq
        self._next_seq = seq + 1
        data = encode_record(seq, payload, spans)
        offset = self._active_size
        written = 0
        view = memoryview(data)
        while written < len(data):  # page-cache writes: microseconds, so on the loop thread
            written += os.write(self._active_fd, view[written:])
        self._active_size += len(data)
        self._dirty_fds.add(self._active_fd)
        # Pending at once, so records stay in sequence order; exporting a record before its
        # fsync completes is harmless (its sender is answered only after the fsync).
        self._add_pending(Entry(seq, self._active_first, offset, len(payload), spans))
        if self._fsync == "always":
            await asyncio.to_thread(os.fsync, self._active_fd)
        elif self._fsync == "batch":
            await self._group_fsync()
        return seq

    def _roll_segment(self, first_seq: int) -> None:
        """Starts a new segment. Blocking, on purpose: the old segment's fsync covers only the
        last few milliseconds of writes (group commit), and doing it inline means no record
        written to the old file can be answered before that file is durable."""
        if self._active_fd >= 0:
            old = self._active_fd
            if self._fsync != "never":
                os.fsync(old)
            self._dirty_fds.discard(old)
            if self._flush_task is None:
                os.close(old)
            else:  # a group fsync running in a thread may hold it: closed when that one ends
                self._retired_fds.append(old)
        path = segment_path(self.directory, first_seq)
        self._active_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segments[first_seq] = os.open(path, os.O_RDONLY)
        self._active_first, self._active_size = first_seq, 0
        if self._fsync != "never":
            fsync_directory(self.directory)

    async def _group_fsync(self) -> None:
        """One fsync for every append of the last few milliseconds (group commit)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flush_waiters.append(waiter)
        if self._flush_handle is None and self._flush_task is None:
            self._flush_handle = asyncio.get_running_loop().call_later(self._fsync_interval_s, self._start_flush)
        await waiter

    def _start_flush(self) -> None:
        self._flush_handle = None
        self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        waiters, self._flush_waiters = self._flush_waiters, []
        descriptors, self._dirty_fds = list(self._dirty_fds), set()
        try:
            for descriptor in descriptors:
                await asyncio.to_thread(os.fsync, descriptor)
        except OSError as error:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
        else:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        finally:
            self._flush_task = None
            for descriptor in self._retired_fds:
                os.close(descriptor)
            self._retired_fds.clear()
            if self._flush_waiters:  # appends that arrived during the fsync
                self._flush_handle = asyncio.get_running_loop().call_later(self._fsync_interval_s, self._start_flush)

    # ---- the read side -----------------------------------------------------------------

    def has_pending(self) -> bool:
        return bool(self._pending)

    def take(self, max_spans: int, max_records: int = 10_000) -> list[Entry]:
        """The next records in order, at least one, up to `max_spans` spans in all."""
        taken: list[Entry] = []
        spans = 0
        while self._pending and len(taken) < max_records:
            entry = self._pending[0]
            if taken and max_spans > 0 and spans + entry.spans > max_spans:
                break
            self._pending.popleft()
            taken.append(entry)
            self._outstanding[entry.seq] = entry
            spans += entry.spans
        self.unsent_spans -= spans
        return taken

    def take_range(self, first: int, last: int) -> list[Entry]:
        """The pending records with first <= seq <= last (re-sending a recovered batch)."""
        taken = []
        while self._pending and self._pending[0].seq <= last:
            entry = self._pending.popleft()
            if entry.seq >= first:
                taken.append(entry)
                self._outstanding[entry.seq] = entry
                self.unsent_spans -= entry.spans
            else:  # older than the batch yet not committed: cannot happen; keep it pending
                self._pending.appendleft(entry)
                break
        return taken

    def read(self, entry: Entry) -> Record | None:
        """The record's payload from disk, checked again; None if it went bad since."""
        descriptor = self._segments.get(entry.segment)
        if descriptor is None:
            return None
        data = os.pread(descriptor, HEADER_BYTES + entry.length, entry.offset)
        record = _parse_at(data, 0)
        return record if record is not None and record.seq == entry.seq else None

    # ---- acknowledgement ---------------------------------------------------------------

    def save_inflight(self, batches: list[InflightBatch]) -> None:
        """Blocking: persists the batches about to be inserted (before the insert starts)."""
        self.inflight = list(batches)
        write_atomically(self.directory / "inflight.json",
                         orjson.dumps([{"first": b.first, "last": b.last, "split": b.split} for b in batches]),
                         durable=self._fsync != "never")

    def commit(self, through_seq: int) -> None:
        """Blocking: records up to `through_seq` are stored in ClickHouse and leave the queue."""
        for seq in [seq for seq in self._outstanding if seq <= through_seq]:
            entry = self._outstanding.pop(seq)
            self.pending_records -= 1
            self.pending_spans -= entry.spans
            self.pending_bytes -= entry.length + HEADER_BYTES
        self.committed = max(self.committed, through_seq)
        write_atomically(self.directory / "committed", str(self.committed).encode(),
                         durable=self._fsync != "never")
        self._delete_consumed_segments()

    def _delete_consumed_segments(self) -> None:
        firsts = sorted(self._segments)
        for index, first in enumerate(firsts[:-1]):
            if firsts[index + 1] - 1 <= self.committed:
                os.close(self._segments.pop(first))
                segment_path(self.directory, first).unlink(missing_ok=True)
