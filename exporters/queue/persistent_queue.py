"""The persistent queue: records appended durably before a sender is answered, read back in
order by the exporter, removed only once their insert is confirmed.

Beside the segment files (record_log.py) the directory holds `meta.json` (the queue's id, part of
every deduplication token), `committed` (the highest sequence number whose insert ClickHouse
confirmed) and `batches.log` (batch_journal.py: the record range of every insert and every commit
point, so that a restart re-sends exactly those batches with the same tokens and ClickHouse drops
what it already holds). Damaged metadata is handled by metadata.py, damaged segments by
recovery.py, a full disk with the help of reserve.py."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import orjson

from spanhouse.exporters.queue.batch_journal import BatchJournal, InflightBatch
from spanhouse.exporters.queue.metadata import read_legacy_inflight, read_meta
from spanhouse.exporters.queue.record_log import (
    HEADER_BYTES,
    AppendFailedError,
    Record,
    _parse_at,
    append_or_rollback,
    encode_record,
    fsync_directory,
    segment_path,
    write_atomically,
)
from spanhouse.exporters.queue.recovery import Recovery, keep_damaged_bytes, recover
from spanhouse.exporters.queue.reserve import RESERVE_BYTES, DiskReserve

logger = logging.getLogger(__name__)

FORMAT_VERSION: Final = 2
FsyncMode = Literal["always", "batch", "never"]
__all__ = ["Entry", "InflightBatch", "PersistentQueue", "Recovery"]


@dataclass(frozen=True, slots=True)
class Entry:
    """Where a pending record lies; the payload stays on disk until it is read for export."""

    seq: int
    segment: int  # first seq of its segment
    offset: int
    length: int  # payload bytes
    spans: int


class PersistentQueue:
    def __init__(self, directory: Path, fsync: FsyncMode = "batch", fsync_interval_s: float = 0.005,
                 segment_bytes: int = 32 * 1024 * 1024, reserve_bytes: int = RESERVE_BYTES) -> None:
        self.directory = directory
        self.reserve = DiskReserve(directory, reserve_bytes)
        self._fsync = fsync
        self._fsync_interval_s = fsync_interval_s
        self._segment_bytes = segment_bytes
        self.queue_id = ""
        self.committed = 0
        self.inflight: list[InflightBatch] = []  # found on open: to re-send first, with their ranges
        self._journal = BatchJournal(directory / "batches.log", durable=fsync != "never")
        self._journal_batches: dict[int, InflightBatch] = {}  # since the last rewrite, by first seq
        self._journal_stale = False  # rewrite it before the next append
        self._pending: deque[Entry] = deque()  # appended, not yet taken for export
        self._outstanding: dict[int, Entry] = {}  # taken, not yet committed, by seq
        self._segments: dict[int, int] = {}  # first seq -> file descriptor (open for reading)
        self._active_first = 0
        self._active_fd = -1  # -1: no segment to append to (none yet, or the last one is sealed)
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
        meta = read_meta(meta_path)
        journal = self._journal.load()
        result = recover(self.directory, journal)
        recovery = result.recovery
        self.queue_id = meta.queue_id or journal.queue_id or ""
        if meta.queue_id and journal.queue_id and meta.queue_id != journal.queue_id:
            logger.warning("queue %s: meta.json and batches.log name different queue ids; using meta.json's",
                           self.directory)
        if not self.queue_id:
            self.queue_id = uuid.uuid4().hex
            if meta.damaged and result.entries:
                logger.error("queue %s: the queue id is lost (meta.json and batches.log damaged): the %d "
                             "record(s) still queued are re-sent under new deduplication tokens, and those "
                             "already stored are stored again", self.directory, len(result.entries))
        if meta.queue_id is None:
            recovery.meta_recovered = meta.damaged
            try:
                write_atomically(meta_path, orjson.dumps({"queue_id": self.queue_id,
                                                          "format_version": FORMAT_VERSION}))
            except OSError as error:  # a full disk; batches.log carries the id meanwhile
                logger.error("queue %s: cannot write meta.json (%s); written on the next start",
                             self.directory, os.strerror(error.errno or 0))
        self.committed = result.committed
        for first_seq, path, good_size in result.segments:
            self._segments[first_seq] = os.open(path, os.O_RDONLY)
            self._active_first, self._active_size = first_seq, good_size
        for entry_seq, segment, offset, length, spans in result.entries:
            if entry_seq > self.committed:
                self._add_pending(Entry(entry_seq, segment, offset, length, spans))
        self._next_seq = max(result.highest_seq, self.committed) + 1
        recovery.pending_records = self.pending_records
        recovery.pending_spans = self.pending_spans
        legacy_path = self.directory / "inflight.json"
        known = {batch.first: batch for batch in read_legacy_inflight(legacy_path)}
        known.update(journal.batches)
        self.inflight = sorted((batch for batch in known.values() if batch.last > self.committed),
                               key=lambda batch: batch.first)
        recovery.inflight_batches = len(self.inflight)
        if self._segments and self._active_size < self._segment_bytes and not result.last_sealed:
            path = segment_path(self.directory, self._active_first)
            self._active_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._delete_consumed_segments()
        oldest = min(self._segments, default=self._next_seq)
        self._journal_batches = {batch.first: batch for batch in known.values() if batch.last >= oldest}
        self._rewrite_journal()
        if not self._journal_stale:
            legacy_path.unlink(missing_ok=True)
        self.reserve.restore()
        return recovery


    def _add_pending(self, entry: Entry) -> None:
        self._pending.append(entry)
        self.pending_records += 1
        self.pending_spans += entry.spans
        self.pending_bytes += entry.length + HEADER_BYTES
        self.unsent_spans += entry.spans

    def close(self) -> None:
        self._retire_active()
        for descriptor in self._retired_fds:
            os.close(descriptor)
        self._retired_fds.clear()
        for descriptor in self._segments.values():
            os.close(descriptor)
        self._segments.clear()
        self._journal.close()

    # ---- the write side ----------------------------------------------------------------

    async def append(self, payload: bytes, spans: int) -> int:
        """Appends one record; returns once it is as durable as the fsync mode promises. An
        OSError (a full disk, an I/O error) leaves the segment as it was before the call."""
        # Nothing in here awaits until the record is written: sequence numbers and offsets are
        # taken and used in one step, so concurrent appends cannot share or reorder them.
        if self.reserve.released and not (self.reserve.has_room_for(HEADER_BYTES + len(payload))
                                          and self.reserve.restore()):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        record_bytes = HEADER_BYTES + len(payload)
        if self._active_fd < 0 or (self._active_size and self._active_size + record_bytes > self._segment_bytes):
            self._roll_segment(self._next_seq)
        seq = self._next_seq
        data = encode_record(seq, payload, spans)
        offset = self._active_size
        try:
            append_or_rollback(self._active_fd, data, offset)
        except AppendFailedError as error:
            if error.rolled_back and error.errno == errno.ENOSPC and offset:
                # Whatever fills the disk, this segment will not grow any more: the next record
                # starts a new one, so that this one can be deleted once its records are stored.
                self._retire_active()
            elif not error.rolled_back:
                # The torn bytes stay: nothing more goes into this file, so they stay its tail,
                # which a restart recognises (the next segment starts at this very seq).
                logger.error("queue segment %s: a failed append could not be cut back (%s); sealed at %d "
                             "bytes, new records go to a new segment",
                             segment_path(self.directory, self._active_first).name, error, offset)
                self._retire_active()
            raise
        self._next_seq = seq + 1
        self._active_size += len(data)
        self._dirty_fds.add(self._active_fd)
        # Pending at once, so records stay in sequence order; exporting a record before its
        # fsync completes is harmless (its sender is answered only after the fsync).
        self._add_pending(Entry(seq, self._active_first, offset, len(payload), spans))
        if self._fsync == "always":
            descriptor = self._active_fd
            try:
                await asyncio.to_thread(os.fsync, descriptor)
            except OSError as error:
                self._fsync_failed([descriptor], error)
                raise
        elif self._fsync == "batch":
            await self._group_fsync()
        return seq

    def _roll_segment(self, first_seq: int) -> None:
        """Starts a new segment. Blocking, on purpose: the old segment's fsync covers only the
        last few milliseconds of writes (group commit), and doing it inline means no record
        written to the old file can be answered before that file is durable."""
        path = segment_path(self.directory, first_seq)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        if first_seq in self._segments:  # sealed before its first record: only torn bytes in it
            flags |= os.O_TRUNC
        descriptor = os.open(path, flags, 0o600)
        try:
            reader = os.open(path, os.O_RDONLY)
            if self._fsync != "never":
                fsync_directory(self.directory)
        except OSError:
            os.close(descriptor)
            raise
        self._retire_active()
        old_reader = self._segments.pop(first_seq, None)  # an empty segment left by a failed roll
        if old_reader is not None:
            os.close(old_reader)
        self._active_fd = descriptor
        self._segments[first_seq] = reader
        self._active_first, self._active_size = first_seq, 0

    def _retire_active(self) -> None:
        """Stops appending to the active segment, its records made durable first."""
        old, self._active_fd = self._active_fd, -1
        if old < 0:
            return
        if old in self._dirty_fds and self._fsync != "never":
            try:
                os.fsync(old)
            except OSError as error:
                self._fsync_failed([], error)
        self._dirty_fds.discard(old)
        if self._flush_task is None:
            os.close(old)
        else:  # a group fsync running in a thread may hold it: closed when that one ends
            self._retired_fds.append(old)

    def _fsync_failed(self, descriptors: list[int], error: OSError) -> None:
        """After a failed fsync the kernel may have dropped the written pages: nobody waiting is
        answered "stored", and the segment takes no more records."""
        logger.error("queue %s: fsync failed (%s); the requests waiting for it are refused and a new "
                     "segment is started", self.directory, error)
        waiters, self._flush_waiters = self._flush_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)
        if self._active_fd in descriptors:
            self._dirty_fds.discard(self._active_fd)
            self._retire_active()

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
        except Exception as error:  # nobody waits for ever, whatever went wrong
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            if isinstance(error, OSError):
                self._fsync_failed(descriptors, error)
            else:
                logger.error("queue %s: group fsync failed", self.directory, exc_info=error)
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

    def take(self, max_spans: int, max_records: int = 10_000, below: int | None = None) -> list[Entry]:
        """The next records in order, at least one, up to `max_spans` spans in all (and only
        those with seq < `below`, when given)."""
        taken: list[Entry] = []
        spans = 0
        while self._pending and len(taken) < max_records:
            entry = self._pending[0]
            if taken and max_spans > 0 and spans + entry.spans > max_spans:
                break
            if below is not None and entry.seq >= below:
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
            else:  # older than the batch: the caller takes those first (take(below=first))
                self._pending.appendleft(entry)
                break
        return taken

    def untake(self, entries: list[Entry]) -> None:
        """Puts taken records back at the front, in order (their batch was never started)."""
        for entry in reversed(entries):
            if self._outstanding.pop(entry.seq, None) is not None:
                self._pending.appendleft(entry)
                self.unsent_spans += entry.spans

    def read(self, entry: Entry) -> Record | None:
        """The record's payload from disk, checked again; None if it went bad since."""
        descriptor = self._segments.get(entry.segment)
        if descriptor is None:
            return None
        data = os.pread(descriptor, HEADER_BYTES + entry.length, entry.offset)
        record = _parse_at(data, 0)
        return record if record is not None and record.seq == entry.seq else None

    def keep_damaged(self, entry: Entry) -> Path | None:
        """Blocking: copies the bytes of a record that no longer reads back into `damaged/`."""
        descriptor = self._segments.get(entry.segment)
        if descriptor is None:
            return None
        data = os.pread(descriptor, HEADER_BYTES + entry.length, entry.offset)
        return keep_damaged_bytes(self.directory, segment_path(self.directory, entry.segment), entry.offset, data)

    # ---- acknowledgement ---------------------------------------------------------------

    def record_batch(self, batch: InflightBatch) -> None:
        """Blocking: persists a batch's range before its insert starts (its token after a crash)."""
        self._journal_batches[batch.first] = batch
        if self._journal_stale or self._journal.broken:
            self._rewrite_journal(strict=True)
            return  # the rewrite holds it
        self._journal.record_sent(batch)

    def commit(self, through_seq: int) -> None:
        """Blocking: records up to `through_seq` are stored in ClickHouse and leave the queue."""
        for seq in [seq for seq in self._outstanding if seq <= through_seq]:
            entry = self._outstanding.pop(seq)
            self.pending_records -= 1
            self.pending_spans -= entry.spans
            self.pending_bytes -= entry.length + HEADER_BYTES
        self.committed = max(self.committed, through_seq)
        durable = self._fsync != "never"
        # The journal first: `committed` is never ahead of it, which recovery relies on.
        if self._journal_stale or self._journal.broken:
            self._rewrite_journal(strict=True)
        else:
            self._journal.record_committed(self.committed)
        write_atomically(self.directory / "committed", str(self.committed).encode(), durable=durable)
        if self._delete_consumed_segments():
            oldest = min(self._segments, default=self._next_seq)
            self._journal_batches = {first: batch for first, batch in self._journal_batches.items()
                                     if batch.last >= oldest}
            self._rewrite_journal()
            if self.reserve.released:
                self.reserve.restore()

    def _rewrite_journal(self, strict: bool = False) -> None:
        try:
            self._journal.rewrite(self.queue_id, sorted(self._journal_batches.values(), key=lambda b: b.first),
                                  self.committed)
            self._journal_stale = False
        except OSError as error:
            if not strict and self._journal.reopen():
                return  # the journal as it was is still whole: keep appending to it
            self._journal_stale = True
            if strict:
                raise
            logger.warning("queue %s: cannot rewrite batches.log (%s); retried with the next batch",
                           self.directory, os.strerror(error.errno or 0))

    def _delete_consumed_segments(self) -> bool:
        deleted = False
        firsts = sorted(self._segments)
        for index, first in enumerate(firsts):
            if index + 1 < len(firsts):
                last_seq = firsts[index + 1] - 1
            elif self._active_fd < 0 and first < self._next_seq:  # the last one, retired
                last_seq = self._next_seq - 1
            else:
                continue  # the segment being appended to
            if last_seq <= self.committed:
                os.close(self._segments.pop(first))
                segment_path(self.directory, first).unlink(missing_ok=True)
                deleted = True
        return deleted
