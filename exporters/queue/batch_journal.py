"""The batch journal (`batches.log`): the record range of every insert, appended durably before
the insert starts, and every commit point, so that after a crash, or after `committed` or
`meta.json` is damaged, a re-sent batch gets exactly its original deduplication token.

Format (little-endian, 28-byte entries; docs/queue.md):
    header  magic b"SHJ1" | queue id (16 bytes) | reserved u32 (0) | crc32 u32 of bytes 0-23
    entry   magic b"SHJE" | kind u8 (1 sent, 2 sent split, 3 committed) | 3 bytes 0 |
            first u64 | last u64 (committed: both the commit point) | crc32 u32 of bytes 0-23"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from spanhouse.exporters.queue.record_log import AppendFailedError, append_or_rollback, write_atomically

logger = logging.getLogger(__name__)

HEADER_MAGIC: Final = b"SHJ1"
ENTRY_MAGIC: Final = b"SHJE"
HEADER: Final = struct.Struct("<4s16sI")
ENTRY: Final = struct.Struct("<4sB3xQQ")
CRC: Final = struct.Struct("<I")
ENTRY_BYTES: Final = ENTRY.size + CRC.size
SENT: Final = 1
SENT_SPLIT: Final = 2
COMMITTED: Final = 3


@dataclass(frozen=True, slots=True)
class InflightBatch:
    first: int
    last: int
    split: bool = False  # exported record by record after a permanent error


@dataclass(slots=True)
class JournalState:
    queue_id: str | None = None  # None: no journal, or its header is damaged
    batches: dict[int, InflightBatch] = field(default_factory=dict)  # by first seq, latest entry wins
    committed: int | None = None  # the highest commit point recorded
    damaged_regions: list[tuple[int, int]] = field(default_factory=list)


def _sealed(body: bytes) -> bytes:
    return body + CRC.pack(zlib.crc32(body))


def _header(queue_id: str) -> bytes:
    return _sealed(HEADER.pack(HEADER_MAGIC, bytes.fromhex(queue_id), 0))


def _entry(kind: int, first: int, last: int) -> bytes:
    return _sealed(ENTRY.pack(ENTRY_MAGIC, kind, first, last))


def _checks_out(data: bytes, offset: int) -> bool:
    end = offset + ENTRY_BYTES
    return end <= len(data) and CRC.unpack_from(data, end - CRC.size)[0] == zlib.crc32(data[offset:end - CRC.size])


def parse(data: bytes) -> JournalState:
    state = JournalState()
    if _checks_out(data, 0) and data[:4] == HEADER_MAGIC:
        state.queue_id = HEADER.unpack_from(data, 0)[1].hex()
    elif data:
        state.damaged_regions.append((0, min(len(data), ENTRY_BYTES)))
    offset = ENTRY_BYTES
    while offset + ENTRY_BYTES <= len(data):
        if data[offset:offset + 4] == ENTRY_MAGIC and _checks_out(data, offset):
            _, kind, first, last = ENTRY.unpack_from(data, offset)
            if kind == COMMITTED:
                state.committed = max(state.committed or 0, first)
            elif kind in (SENT, SENT_SPLIT) and first <= last:
                state.batches[first] = InflightBatch(first, last, kind == SENT_SPLIT)
            offset += ENTRY_BYTES
            continue
        resync = data.find(ENTRY_MAGIC, offset + 1)
        while resync != -1 and not _checks_out(data, resync):
            resync = data.find(ENTRY_MAGIC, resync + 1)
        end = len(data) if resync == -1 else resync
        state.damaged_regions.append((offset, end))
        offset = end
    # A shorter tail is an append cut short by a crash: nothing was acknowledged on it.
    return state


class BatchJournal:
    """Blocking: every call runs in a thread, and the caller orders them (one at a time)."""

    def __init__(self, path: Path, durable: bool) -> None:
        self.path = path
        self._durable = durable
        self._fd = -1
        self._size = 0
        self._queue_id = ""
        self._broken = False  # an append could not be rolled back: rewrite before the next one

    def load(self) -> JournalState:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return JournalState()
        return parse(data)

    def rewrite(self, queue_id: str, batches: list[InflightBatch], committed: int) -> None:
        """Replaces the journal with what is still needed: the given batches and the commit point."""
        body = [_header(queue_id)]
        body += [_entry(SENT_SPLIT if batch.split else SENT, batch.first, batch.last) for batch in batches]
        body.append(_entry(COMMITTED, committed, committed))
        data = b"".join(body)
        write_atomically(self.path, data, durable=self._durable)
        self.close()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._size, self._queue_id, self._broken = len(data), queue_id, False

    def reopen(self) -> bool:
        """After a failed rewrite: appends go on to the journal as it is, when it is whole."""
        if self._fd >= 0:
            return not self._broken
        try:
            data = self.path.read_bytes()
        except OSError:
            return False
        state = parse(data)
        if state.queue_id is None:
            return False
        size = len(data) - len(data) % ENTRY_BYTES  # a torn last entry is cut
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            os.ftruncate(self._fd, size)
        except OSError:
            self.close()
            return False
        self._size, self._queue_id, self._broken = size, state.queue_id, False
        return True

    def record_sent(self, batch: InflightBatch) -> None:
        self._append(_entry(SENT_SPLIT if batch.split else SENT, batch.first, batch.last))

    def record_committed(self, through: int) -> None:
        self._append(_entry(COMMITTED, through, through))

    def _append(self, data: bytes) -> None:
        if self._fd < 0 or self._broken:
            raise OSError("the batch journal is not open")
        try:
            append_or_rollback(self._fd, data, self._size)
        except AppendFailedError as error:
            self._broken = not error.rolled_back
            raise
        self._size += len(data)
        if self._durable:
            os.fsync(self._fd)

    @property
    def broken(self) -> bool:
        return self._broken

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
