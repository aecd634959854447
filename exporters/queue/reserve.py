"""Space held back for the queue's own bookkeeping: a `reserve` file that is deleted when the disk
is full (of the queue's own records, say), so that exporting can still write batches.log and
committed and so free whole segments; new records wait until it is back."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

RESERVE_BYTES: Final = 256 * 1024


class DiskReserve:
    def __init__(self, directory: Path, size_bytes: int = RESERVE_BYTES) -> None:
        self._directory = directory
        self._path = directory / "reserve"
        self._size_bytes = size_bytes
        self.released = False  # appends are refused until it is restored

    def release(self) -> None:
        if not self.released:
            logger.warning("queue %s: the disk is full; its reserve is freed for the queue's own files and "
                           "new requests are refused until there is room again", self._directory)
        self.released = True
        self._path.unlink(missing_ok=True)

    def has_room_for(self, record_bytes: int) -> bool:
        stats = os.statvfs(self._directory)  # microseconds: fine for each refused request
        return stats.f_bavail * stats.f_frsize >= self._size_bytes + record_bytes

    def restore(self) -> bool:
        """Blocking (short: one write into the page cache). True once the reserve is in place."""
        try:
            if not self._path.exists() or self._path.stat().st_size < self._size_bytes:
                with open(self._path, "wb") as handle:
                    handle.write(bytes(self._size_bytes))
        except OSError:
            self._path.unlink(missing_ok=True)
            self.released = True
            return False
        if self.released:
            logger.warning("queue %s: there is room again; requests are taken", self._directory)
        self.released = False
        return True
