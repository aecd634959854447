"""The persistent sending queue in front of an exporter.

`consume` appends the spans to the queue and returns once they are durable there, so the
receiver's answer to its sender means "kept across a crash". Consumers read batches back in
order, insert them with a deduplication token made of the queue's id and the batch's record
range, retry retryable failures with backoff, set bad batches aside in a dead-letter file, and
remove a batch from the queue only once ClickHouse confirmed its insert. Its background tasks
outlive I/O errors on their own files: logged when they happen, reported to the health check,
retried with backoff, and export resumes by itself once the disk has room again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from spanhouse.collector.core.component import CreateSettings, Host, Traces, span_count
from spanhouse.collector.core.errors import PermanentError, ResourceExhaustedError, RetryableError
from spanhouse.collector.core.metrics import Metrics
from spanhouse.exporters.queue.config import RetryConfig, SendingQueueConfig
from spanhouse.exporters.queue.dead_letter import write_dead_letter
from spanhouse.exporters.queue.persistent_queue import Entry, InflightBatch, PersistentQueue
from spanhouse.exporters.queue.problems import QueueProblems, describe
from spanhouse.exporters.queue.record_log import Record
from spanhouse.exporters.queue.retry import Backoff

logger = logging.getLogger(__name__)

# On a clean stop, what the queue holds is exported for at most this long while ClickHouse
# answers; the rest stays on disk and goes out first on the next start.
DRAIN_ON_SHUTDOWN_S: Final = 5.0
FULL_RETRY_AFTER_S: Final = 5
DISK_RETRY_AFTER_S: Final = 5
# A background task that failed for a reason nobody foresaw starts again after this long.
TASK_RESTART_S: Final = 1.0


class Exporter(Protocol):
    async def start(self, host: Host) -> None: ...

    async def shutdown(self) -> None: ...

    async def export_encoded(self, payload: bytes, spans: int, dedup_token: str | None) -> None:
        """Stores the serialized export requests `payload`; PermanentError when it cannot."""


class _Counters:
    def __init__(self, metrics: Metrics | None, exporter: str) -> None:
        metrics = metrics or Metrics()
        self.enqueue_failed = metrics.counter(
            "otelcol_exporter_enqueue_failed_spans", "Spans refused because the sending queue was full",
            exporter=exporter)
        self.retries = metrics.counter("spanhouse_exporter_retries", "Insert attempts that failed and were retried",
                                       exporter=exporter)
        self.dead_letter = metrics.counter("spanhouse_exporter_dead_letter_spans",
                                           "Spans set aside in the dead-letter file", exporter=exporter)
        self.corrupt = metrics.counter("spanhouse_queue_corrupt_regions",
                                       "Damaged regions of the queue files skipped (kept in damaged/)",
                                       exporter=exporter)
        self.write_errors = metrics.counter("spanhouse_queue_write_errors",
                                            "Failed writes of the queue's files (each retried or refused)",
                                            exporter=exporter)


class QueuedExporter:
    def __init__(self, settings: CreateSettings, queue_config: SendingQueueConfig, retry_config: RetryConfig,
                 inner: Exporter, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self._id = settings.component_id
        self._config = queue_config
        self._retry = retry_config
        self._clock = clock
        directory = settings.config_dir / queue_config.directory / settings.component_id.replace("/", "_")
        self.queue = PersistentQueue(directory, queue_config.fsync, queue_config.fsync_interval)
        # What is degraded now, by where: for the health check.
        self._problems = QueueProblems(settings.status, f"exporter/{settings.component_id}", self._id, self.queue)
        self._counters = _Counters(None, self._id)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(queue_config.num_consumers)
        self._inflight: dict[int, InflightBatch] = {}  # by first seq
        self._done: set[int] = set()  # first seqs of batches stored, not yet committed
        self._workers: set[asyncio.Task[None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._opened = False
        self._stopping = False
        self._failing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._progress = asyncio.Event()  # set on every commit and every failed attempt
        # Orders the writes of `inflight.json` and `committed`: each write must describe the
        # latest state, or a crash could forget a batch that is being inserted.
        self._persist_lock = asyncio.Lock()
        self._resent_recovered = False

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        metrics = host.telemetry
        self._counters = _Counters(metrics, self._id)
        self._problems.write_errors = self._counters.write_errors
        if metrics is not None:
            metrics.gauge("otelcol_exporter_queue_size", "Requests in the sending queue",
                          reader=lambda: float(self.queue.pending_records), exporter=self._id)
            metrics.gauge("otelcol_exporter_queue_capacity", "Capacity of the sending queue (in its sizer's unit)",
                          reader=lambda: float(self._config.queue_size), exporter=self._id)
            metrics.gauge("spanhouse_exporter_queue_spans", "Spans in the sending queue",
                          reader=lambda: float(self.queue.pending_spans), exporter=self._id)
            metrics.gauge("spanhouse_exporter_queue_degraded", "1 while the queue cannot write its files",
                          reader=lambda: float(bool(self._problems)), exporter=self._id)
        recovery = await asyncio.to_thread(self.queue.open)
        self._opened = True
        if recovery.corrupt_regions:
            self._counters.corrupt.add(recovery.corrupt_regions)
            logger.warning("exporter %s: skipped %d damaged region(s) (%d bytes) of the queue in %s; copies in "
                           "its damaged/ directory", self._id, recovery.corrupt_regions, recovery.skipped_bytes,
                           self.queue.directory)
        if recovery.pending_records:
            logger.info("exporter %s: %d request(s), %d span(s) in the queue from before; exporting them first",
                        self._id, recovery.pending_records, recovery.pending_spans)
        await self.inner.start(host)
        self._start_dispatcher()

    def _start_dispatcher(self) -> None:
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name=f"{self._id} queue")
        self._dispatcher.add_done_callback(self._dispatcher_done)

    def _dispatcher_done(self, task: asyncio.Task[None]) -> None:
        """The dispatcher never dies silently: an unforeseen failure is logged, reported, and the
        dispatcher started again (its state is the queue's, so it picks up where it was)."""
        if task.cancelled() or self._stopping or task is not self._dispatcher:
            return
        error = task.exception()
        logger.error("exporter %s: the queue dispatcher stopped; starting it again in %.0f s", self._id,
                     TASK_RESTART_S, exc_info=error)
        self._problems.set("dispatcher", f"queue dispatcher failed: {type(error).__name__}")
        asyncio.get_running_loop().call_later(TASK_RESTART_S, self._restart_dispatcher)

    def _restart_dispatcher(self) -> None:
        if not self._stopping and self._opened:
            self._problems.set("dispatcher", None)
            self._start_dispatcher()

    async def shutdown(self) -> None:
        if self._dispatcher is not None:
            # Give what is queued a short chance to go out while ClickHouse answers.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_ON_SHUTDOWN_S):
                    while self.queue.pending_records and not self._failing:
                        self._progress.clear()
                        await self._progress.wait()
            self._stopping = True
            self._dispatcher.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        for worker in list(self._workers):
            worker.cancel()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)
        await self.inner.shutdown()
        if self._opened:
            await asyncio.to_thread(self.queue.close)
            self._opened = False

    async def wait_idle(self) -> None:
        """Until the queue holds nothing that is not stored (for tests and the drain on stop)."""
        while self.queue.pending_records:
            self._idle.clear()
            await self._idle.wait()

    # ---- the write side -------------------------------------------------------------------

    async def consume(self, traces: Traces) -> None:
        spans = span_count(traces)
        if not spans:
            return
        if not self._opened:
            raise ResourceExhaustedError(f"exporter {self._id} is not running", FULL_RETRY_AFTER_S)
        payload = traces.SerializeToString()
        if self._would_overflow(len(payload), spans):
            self._counters.enqueue_failed.add(spans)
            raise ResourceExhaustedError(
                f"the sending queue of exporter {self._id} is full ({self.queue.pending_records} requests, "
                f"{self.queue.pending_spans} spans, {self.queue.pending_bytes} bytes); retry later",
                FULL_RETRY_AFTER_S)
        try:
            await self.queue.append(payload, spans)
        except OSError as error:
            # The queue is as it was before this request (record_log.append_or_rollback): the
            # sender is told to retry, and the next request that fits is taken again.
            self._counters.write_errors.add()
            self._counters.enqueue_failed.add(spans)
            reason = f"cannot write to the queue: {describe(error)}"
            if "append" not in self._problems:
                logger.error("exporter %s: %s (%s); refusing requests with 503 until it can", self._id, reason,
                             self.queue.directory)
            self._problems.set("append", reason)
            raise RetryableError(f"exporter {self._id} {reason}; retry later", DISK_RETRY_AFTER_S) from None
        if "append" in self._problems:
            logger.warning("exporter %s: the queue takes requests again", self._id)
            self._problems.set("append", None)
        self._idle.clear()
        self._wake.set()

    def _would_overflow(self, size: int, spans: int) -> bool:
        queue, limit = self.queue, self._config.queue_size
        if queue.pending_records == 0:
            return False  # one request larger than the whole queue still goes through
        if self._config.sizer == "bytes":
            return queue.pending_bytes + size > limit
        if self._config.sizer == "spans":
            return queue.pending_spans + spans > limit
        return queue.pending_records + 1 > limit

    # ---- the read side --------------------------------------------------------------------

    async def _dispatch(self) -> None:
        if not self._resent_recovered:
            await self._resend_recovered()
            self._resent_recovered = True
        batch_config = self._config.batch
        while not self._stopping:
            if not self.queue.has_pending():
                if not self._workers and self.queue.pending_records == 0:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.queue.unsent_spans < batch_config.min_size and batch_config.flush_timeout > 0:
                # Wait a little for a fuller batch: fewer, larger inserts are what ClickHouse likes.
                # (asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with the event, and shutdown would then wait for ever.)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(batch_config.flush_timeout):
                        while self.queue.unsent_spans < batch_config.min_size:
                            self._wake.clear()
                            await self._wake.wait()
            await self._slots.acquire()
            await self._launch_new(self.queue.take(batch_config.max_size))

    async def _resend_recovered(self) -> None:
        """Batches sent before the restart go first, each with exactly its range and so its token;
        records before one of them that no batch holds (never sent) go out as new batches."""
        for batch in self.queue.inflight:
            while True:
                await self._slots.acquire()
                if not await self._launch_new(self.queue.take(self._config.batch.max_size, below=batch.first)):
                    break
            entries = self.queue.take_range(batch.first, batch.last)
            if entries:
                await self._slots.acquire()
                self._launch(batch, entries)

    async def _launch_new(self, entries: list[Entry]) -> bool:
        """Starts a new batch of `entries` (a slot held); False, slot released, when there are none."""
        if not entries:
            self._slots.release()
            return False
        batch = InflightBatch(entries[0].seq, entries[-1].seq)
        try:
            # Written before the insert: after a crash, this exact range is re-sent with this token.
            await self._save_inflight(batch)
        except BaseException:
            self._inflight.pop(batch.first, None)
            self.queue.untake(entries)
            self._slots.release()
            raise
        self._launch(batch, entries)
        return True

    def _launch(self, batch: InflightBatch, entries: list[Entry]) -> None:
        self._inflight[batch.first] = batch
        task = asyncio.get_running_loop().create_task(self._run_batch(batch, entries))
        self._workers.add(task)
        task.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self._workers.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            logger.error("exporter %s: queue worker failed", self._id, exc_info=task.exception())
        self._wake.set()

    async def _run_batch(self, batch: InflightBatch, entries: list[Entry]) -> None:
        """A batch is tried until it is stored or set aside: an unforeseen failure is logged,
        reported and the batch run again (with its token, so nothing is stored twice)."""
        while True:
            try:
                await self._export_batch(batch, entries)
            except Exception as error:
                logger.error("exporter %s: batch %d-%d failed unexpectedly; retrying it in %.0f s", self._id,
                             batch.first, batch.last, TASK_RESTART_S, exc_info=error)
                self._problems.set("worker", f"queue worker failed: {type(error).__name__}")
                await asyncio.sleep(TASK_RESTART_S)
                batch = self._inflight.get(batch.first, batch)
                continue
            self._problems.set("worker", None)
            return

    async def _read_records(self, entries: list[Entry]) -> list[Record]:
        records = []
        for entry in entries:
            record = self.queue.read(entry)
            if record is None:
                # Damaged on disk after it was acknowledged: not silently skipped, but nothing
                # can bring the payload back.
                self._counters.corrupt.add()
                copy = await asyncio.to_thread(self.queue.keep_damaged, entry)
                logger.error("exporter %s: queued request %d (%d spans) no longer reads back from its segment; "
                             "skipped, its bytes kept as %s", self._id, entry.seq, entry.spans, copy)
                continue
            records.append(record)
        return records

    async def _export_batch(self, batch: InflightBatch, entries: list[Entry]) -> None:
        records = await self._read_records(entries)
        if records and not batch.split:
            try:
                # Serialized requests concatenated are one request holding them all: the bytes
                # go to the exporter as they were queued, decoded only where they are converted.
                stored = await self._export_with_retry(b"".join(record.payload for record in records),
                                                       sum(record.spans for record in records),
                                                       self._token(batch.first, batch.last))
            except PermanentError as error:
                stored = False
                if len(records) == 1:
                    await self._dead_letter(records, error)
                    stored = True
                else:
                    logger.warning("exporter %s: batch %d-%d refused (%s); retrying its %d requests one by one",
                                   self._id, batch.first, batch.last, error, len(records))
                    batch = InflightBatch(batch.first, batch.last, split=True)
                    await self._save_inflight(batch)
            if not stored and not batch.split:
                await self._dead_letter(records, RuntimeError("retries exhausted (max_elapsed_time)"))
        if batch.split:
            for record in records:
                try:
                    stored = await self._export_with_retry(record.payload, record.spans,
                                                           self._token(record.seq, record.seq))
                    if not stored:
                        await self._dead_letter([record], RuntimeError("retries exhausted (max_elapsed_time)"))
                except PermanentError as error:
                    await self._dead_letter([record], error)
        self._done.add(batch.first)
        await self._advance_commit()

    async def _export_with_retry(self, payload: bytes, spans: int, token: str) -> bool:
        """True once stored; False when retries ran out. Permanent errors propagate."""
        backoff = Backoff(self._retry, self._clock)
        while True:
            try:
                await self.inner.export_encoded(payload, spans, token)
                self._failing = False
                return True
            except PermanentError:
                raise
            except Exception as error:
                self._failing = True
                self._progress.set()
                delay = backoff.next_delay() if self._retry.enabled else None
                if delay is None:
                    logger.error("exporter %s: giving up on a batch after retries: %s", self._id, error)
                    return False
                self._counters.retries.add()
                await asyncio.sleep(delay)

    def _token(self, first: int, last: int) -> str:
        return f"spanhouse-{self.queue.queue_id}-{first}-{last}"

    async def _save_inflight(self, batch: InflightBatch) -> None:
        async with self._persist_lock:
            self._inflight[batch.first] = batch
            await self._problems.persist("batches.log", self.queue.record_batch, batch)

    async def _advance_commit(self) -> None:
        async with self._persist_lock:
            through = None
            for first in sorted(self._inflight):
                if first not in self._done:
                    break
                through = self._inflight.pop(first).last
                self._done.discard(first)
            if through is None:
                return
            await self._problems.persist("commit point", self.queue.commit, through)
        self._progress.set()
        if self.queue.pending_records == 0:
            self._idle.set()

    async def _dead_letter(self, records: list[Record], error: BaseException) -> None:
        spans = sum(record.spans for record in records)
        self._counters.dead_letter.add(spans)
        logger.error("exporter %s: %d span(s) set aside in the dead-letter file: %s", self._id, spans, error)
        await self._problems.persist("dead letter", write_dead_letter, self.queue.directory / "dead-letter", records,
                            str(error))


def queued(settings: CreateSettings, queue_config: SendingQueueConfig, retry_config: RetryConfig,
           inner: Any) -> Any:
    """The exporter as the pipeline sees it: behind the queue when the queue is enabled."""
    if not queue_config.enabled:
        return inner
    return QueuedExporter(settings, queue_config, retry_config, inner)
