"""An append-only log of checksummed records in segment files: the on-disk half of the
persistent sending queue.

Format (version 1), documented in docs/queue.md:
    segment file  <first seq, 20 digits>.seg, a sequence of records
    record        header (28 bytes, little-endian) then payload
    header        magic b"SHQ1" | seq u64 | payload length u32 | span count u32 |
                  crc32 u32 (zlib, of seq..span count and the payload) | reserved u32 (0)
Records carry consecutive sequence numbers across segments. A torn or corrupt record is found
by its magic, length or checksum; reading skips to the next valid header and reports the region
it skipped, so a damaged file never stops the queue from starting. An append that fails is cut
back (`append_or_rollback`), so a full disk never leaves a torn record in front of later ones."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

MAGIC: Final = b"SHQ1"
HEADER: Final = struct.Struct("<4sQIIII")
HEADER_BYTES: Final = HEADER.size
# A length above this is taken as corruption, not as a record to allocate for.
MAX_RECORD_BYTES: Final = 256 * 1024 * 1024
SEGMENT_SUFFIX: Final = ".seg"


def encode_record(seq: int, payload: bytes, spans: int) -> bytes:
    meta = struct.pack("<QII", seq, len(payload), spans)
    crc = zlib.crc32(payload, zlib.crc32(meta))
    return HEADER.pack(MAGIC, seq, len(payload), spans, crc, 0) + payload


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    spans: int
    payload: bytes

    @property
    def size(self) -> int:
        return HEADER_BYTES + len(self.payload)


@dataclass(slots=True)
class ScanResult:
    records: int = 0
    skipped_bytes: int = 0
    corrupt_regions: int = 0
    end_offset: int = 0  # just after the last valid record
    regions: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of each skipped region
    last_seq: int = 0  # of the last valid record


def _parse_at(data: bytes | memoryview, offset: int) -> Record | None:
    if offset + HEADER_BYTES > len(data):
        return None
    magic, seq, length, spans, crc, _ = HEADER.unpack_from(data, offset)
    if magic != MAGIC or length > MAX_RECORD_BYTES or offset + HEADER_BYTES + length > len(data):
        return None
    start = offset + HEADER_BYTES
    payload = bytes(data[start:start + length])
    meta = struct.pack("<QII", seq, length, spans)
    if zlib.crc32(payload, zlib.crc32(meta)) != crc:
        return None
    return Record(seq, spans, payload)


def scan_segment(data: bytes, result: ScanResult | None = None) -> Iterator[tuple[int, Record]]:
    """Valid records of a segment with their offsets; corrupt regions are skipped (and counted
    in `result`) by searching for the next header that checks out."""
    result = result if result is not None else ScanResult()
    offset = 0
    while offset < len(data):
        record = _parse_at(data, offset)
        if record is None:
            next_offset = _resync(data, offset + 1)
            if next_offset is None:
                # A torn tail (or garbage to the end): everything after the last good record.
                result.skipped_bytes += len(data) - offset
                result.corrupt_regions += 1
                result.regions.append((offset, len(data)))
                return
            result.skipped_bytes += next_offset - offset
            result.corrupt_regions += 1
            result.regions.append((offset, next_offset))
            offset = next_offset
            continue
        yield offset, record
        result.records += 1
        offset += record.size
        result.end_offset = offset
        result.last_seq = record.seq


def _resync(data: bytes, start: int) -> int | None:
    position = data.find(MAGIC, start)
    while position != -1:
        if _parse_at(data, position) is not None:
            return position
        position = data.find(MAGIC, position + 1)
    return None


def segment_path(directory: Path, first_seq: int) -> Path:
    return directory / f"{first_seq:020d}{SEGMENT_SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.glob(f"*{SEGMENT_SUFFIX}"):
        stem = path.name[: -len(SEGMENT_SUFFIX)]
        if stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)


class AppendFailedError(OSError):
    """An append did not complete; `rolled_back` says whether the file is as it was before it
    (False: truncating failed too, and the file must not be appended to any more)."""

    def __init__(self, cause: OSError, rolled_back: bool) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.rolled_back = rolled_back


def append_or_rollback(descriptor: int, data: bytes, size_before: int) -> None:
    """Appends `data` to an O_APPEND file of `size_before` bytes, all of it or nothing: on any
    error (ENOSPC, EIO, a short write followed by an error) the file is cut back to its size
    before, so no torn record stays in front of the records appended after it."""
    written = 0
    view = memoryview(data)
    try:
        while written < len(data):  # page-cache writes: microseconds, so callers may be on the loop
            written += os.write(descriptor, view[written:])
    except OSError as error:
        try:
            os.ftruncate(descriptor, size_before)
        except OSError:
            raise AppendFailedError(error, rolled_back=False) from error
        raise AppendFailedError(error, rolled_back=True) from error


def write_atomically(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)  # a half-written copy would hold space on a full disk
        raise
    if durable:
        fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
