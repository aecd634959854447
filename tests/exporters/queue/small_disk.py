"""A real small filesystem for disk-full tests: a tmpfs of a few hundred KiB mounted on a test's
directory (the tests run as root), filled with a filler file and freed again."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

PAGE_BYTES = 4096


@contextlib.contextmanager
def tmpfs(directory: Path, size_bytes: int) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "tmpfs", str(directory)],
                   check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path, leave_bytes: int = 0) -> Path:
    """Fills the filesystem of `directory` to the last page, then frees `leave_bytes` (rounded
    down to whole pages, tmpfs's unit) again. Returns the filler, to delete when space returns."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        chunk = b"\xa5" * PAGE_BYTES
        while True:
            try:
                os.write(descriptor, chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
        if leave_bytes:
            size = os.fstat(descriptor).st_size
            os.ftruncate(descriptor, max(0, size - (leave_bytes // PAGE_BYTES) * PAGE_BYTES))
    finally:
        os.close(descriptor)
    return filler


def free_bytes(directory: Path) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize
