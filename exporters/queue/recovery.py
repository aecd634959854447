"""Starting from whatever the queue directory holds: segments scanned, each damaged region logged
with its file and offsets, counted and copied into `damaged/` before anything is deleted, and the
commit point chosen conservatively when `committed` cannot be trusted."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from spanhouse.exporters.queue.batch_journal import JournalState
from spanhouse.exporters.queue.metadata import MAX_SEQ, read_committed
from spanhouse.exporters.queue.record_log import ScanResult, list_segments, scan_segment

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Recovery:
    pending_records: int = 0
    pending_spans: int = 0
    corrupt_regions: int = 0
    skipped_bytes: int = 0
    inflight_batches: int = 0
    committed_recovered: bool = False  # `committed` was damaged and the commit point rebuilt
    meta_recovered: bool = False  # `meta.json` was damaged and rewritten


@dataclass(slots=True)
class RecoverResult:
    recovery: Recovery
    segments: list[tuple[int, Path, int]] = field(default_factory=list)  # (first seq, path, good size)
    entries: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # seq, segment, offset, length, spans
    committed: int = 0
    highest_seq: int = 0
    last_sealed: bool = False  # the last segment's torn tail could not be cut: append to a new one


def keep_damaged_bytes(directory: Path, source: Path, offset: int, data: bytes) -> Path | None:
    """Copies damaged bytes aside as `damaged/<file>-<offset>.bin`, for inspection; best effort."""
    target = directory / "damaged" / f"{source.name}-{offset}.bin"
    try:
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(data)
    except OSError as error:
        logger.error("queue %s: cannot keep a copy of damaged bytes of %s at %d: %s",
                     directory, source.name, offset, os.strerror(error.errno or 0))
        return None
    return target


def _damaged(directory: Path, source: Path, data: bytes, start: int, end: int, recovery: Recovery) -> None:
    copy = keep_damaged_bytes(directory, source, start, data[start:end])
    recovery.corrupt_regions += 1
    recovery.skipped_bytes += end - start
    logger.warning("queue %s: %s has a damaged region at bytes %d-%d (%d bytes) that no record could be read "
                   "from; skipped, copy kept as %s", directory, source.name, start, end, end - start,
                   copy.relative_to(directory) if copy else "(none)")


def recover(directory: Path, journal: JournalState) -> RecoverResult:
    result = RecoverResult(Recovery())
    journal_path = directory / "batches.log"
    if journal.damaged_regions:
        data = journal_path.read_bytes()
        for start, end in journal.damaged_regions:
            _damaged(directory, journal_path, data, start, end, result.recovery)
    segments = list_segments(directory)
    for index, (first_seq, path) in enumerate(segments):
        data = path.read_bytes()
        scan = ScanResult()
        for offset, record in scan_segment(data, scan):
            result.entries.append((record.seq, first_seq, offset, len(record.payload), record.spans))
            result.highest_seq = max(result.highest_seq, record.seq)
        good_size = len(data)
        is_last = index == len(segments) - 1
        for start, end in scan.regions:
            at_tail = end == len(data) and start == scan.end_offset
            next_seq = scan.last_seq + 1 if scan.records else first_seq
            if at_tail and not is_last and segments[index + 1][0] == next_seq:
                # An append that failed and could not be cut back: the segment was sealed there
                # and the same record went, or was refused, elsewhere. Not damage.
                logger.info("queue %s: %s ends in %d bytes of a refused append; cut", directory, path.name,
                            end - start)
                good_size = start
                _truncate(path, start)
                continue
            _damaged(directory, path, data, start, end, result.recovery)
            if at_tail:
                good_size = start
                # A torn tail (a crash mid-append): cut so that new records follow the last good one.
                if is_last and not _truncate(path, start):
                    result.last_sealed = True
        result.segments.append((first_seq, path, good_size))
    bound = max(result.highest_seq, segments[-1][0] - 1) if segments else MAX_SEQ
    file_value, file_damaged = read_committed(directory / "committed", bound)
    journal_value = journal.committed if journal.committed is not None and journal.committed <= bound else None
    candidates = [value for value in (file_value, journal_value) if value is not None]
    if candidates:
        # The lower one: a batch re-sent with its journaled token is dropped by ClickHouse, a
        # record wrongly taken as stored would be lost.
        result.committed = min(candidates)
        if file_damaged:
            result.recovery.committed_recovered = True
            logger.warning("queue %s: commit point %d recovered from batches.log", directory, result.committed)
    elif file_damaged:
        result.recovery.committed_recovered = True
        result.committed = segments[0][0] - 1 if segments else 0
        logger.warning("queue %s: commit point unknown; every record still in the segments (from %d on) is "
                       "re-sent, each batch with the token it had", directory, result.committed + 1)
    return result


def _truncate(path: Path, size: int) -> bool:
    try:
        with open(path, "r+b") as handle:
            handle.truncate(size)
            os.fsync(handle.fileno())
    except OSError as error:
        logger.error("queue segment %s: cannot cut its torn tail (%s)", path.name, os.strerror(error.errno or 0))
        return False
    return True
