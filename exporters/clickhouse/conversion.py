"""Where inserts are converted: worker processes, or a thread of the collector's process.

Converting spans to Native columns is about 15 us of Python per span, and a thread doing it
holds the GIL that the receivers' event loop needs: senders' latency then follows the size of
the batch being converted. A worker process takes that work onto another core; the collector's
process keeps the network, the queue and the engine calls (which release the GIL).

The workers are plain child processes (`python -m exporters.clickhouse.conversion_worker`)
speaking a framed protocol on their stdin and stdout, not multiprocessing: nothing of the
collector's own start-up (its main module, its config) runs again in them, and the bytes go
through a pipe without pickling. Pipe reads and writes run in threads and release the GIL."""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO, Final

from spanhouse.collector.core.errors import PermanentError, RetryableError
from spanhouse.exporters.clickhouse.native import NativeInsert, encode_native

# request: u32 payload length, u8 compression (index in COMPRESSIONS), payload
# answer:  u8 status, u32 span count, u32 length, then the Native bytes (status OK) or an
#          error message in UTF-8 (status PERMANENT)
REQUEST_HEADER: Final = struct.Struct("<IB")
ANSWER_HEADER: Final = struct.Struct("<BII")
COMPRESSIONS: Final = (None, "lz4", "zstd")
STATUS_OK: Final = 0
STATUS_PERMANENT: Final = 1
WORKER_MODULE: Final = "spanhouse.exporters.clickhouse.conversion_worker"
MAX_PIPE_BYTES: Final = 4 * 1024 * 1024


class WorkerStoppedError(RetryableError):
    """A worker process ended (killed, out of memory) while converting: the batch stays
    queued and is retried on a new worker."""


class _Worker:
    def __init__(self) -> None:
        # The collector's own import path, so that the worker finds the same code however the
        # collector was started (installed, or from a checkout).
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        self.process = subprocess.Popen([sys.executable, "-m", WORKER_MODULE], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, bufsize=0, env=environment)
        for pipe in (self.process.stdin, self.process.stdout):
            _enlarge(pipe)

    def convert(self, payload: bytes, compression: str | None) -> NativeInsert:
        """Blocking: one request and its answer."""
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(REQUEST_HEADER.pack(len(payload), COMPRESSIONS.index(compression)))
            process.stdin.write(payload)
            status, spans, length = ANSWER_HEADER.unpack(read_exactly(process.stdout, ANSWER_HEADER.size))
            body = read_exactly(process.stdout, length)
        except (OSError, EOFError) as error:
            raise WorkerStoppedError(f"the conversion worker process stopped (exit code "
                                     f"{process.poll()}): {error}") from error
        if status != STATUS_OK:
            raise PermanentError(body.decode("utf-8", "replace"))
        return NativeInsert(body, spans, compression)

    def stop(self) -> None:
        """Closing stdin ends the worker's loop; it is killed if it does not end soon."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _enlarge(pipe: IO[bytes] | None) -> None:
    """Pipe buffers as large as the system allows (Linux: 1 MiB by default, against 64 KiB):
    a batch then crosses in tens of system calls instead of hundreds. Each call gives up and
    takes back the GIL, and taking it back can wait for the event loop's thread to yield it."""
    if pipe is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, min(limit, MAX_PIPE_BYTES))
    except (OSError, ValueError):
        pass  # the default size works, only with more calls


def read_exactly(stream: IO[bytes], size: int) -> bytearray:
    """`size` bytes read straight into one buffer (no joining of pieces); EOFError if the
    stream ends first."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        count = stream.readinto(view[done:])  # type: ignore[attr-defined]
        if not count:
            raise EOFError(f"the stream ended after {done} of {size} bytes")
        done += count
    return buffer


class Converter:
    """`encode(payload)` → NativeInsert, in one of `workers` processes (0: in a thread)."""

    def __init__(self, workers: int, compression: str | None) -> None:
        self._workers = workers
        self._compression = compression
        self._idle: list[_Worker] = []  # started on first use: no I/O before start
        self._available: asyncio.Semaphore | None = None
        self._closed = False

    async def start(self) -> None:
        """Starts the workers, so that the first batch does not wait for them."""
        while len(self._idle) < self._workers:
            self._idle.append(await asyncio.to_thread(_Worker))

    async def encode(self, payload: bytes) -> NativeInsert:
        if self._workers == 0:
            return await asyncio.to_thread(encode_native, payload, self._compression)
        if self._available is None:
            self._available = asyncio.Semaphore(self._workers)
        async with self._available:
            worker = self._idle.pop() if self._idle else await asyncio.to_thread(_Worker)
            conversion = asyncio.ensure_future(asyncio.to_thread(worker.convert, payload, self._compression))
            try:
                rows = await asyncio.shield(conversion)
            except asyncio.CancelledError:
                # The thread is still talking to the worker, which cannot be reused: ending
                # it ends the thread's conversation too.
                worker.process.kill()
                conversion.add_done_callback(lambda done: done.cancelled() or done.exception())
                raise
            except WorkerStoppedError:
                await asyncio.to_thread(worker.stop)
                raise
            except BaseException:
                self._idle.append(worker)
                raise
            if self._closed:
                await asyncio.to_thread(worker.stop)
            else:
                self._idle.append(worker)
            return rows

    async def close(self) -> None:
        self._closed = True
        workers, self._idle = self._idle, []
        for worker in workers:
            await asyncio.to_thread(worker.stop)
