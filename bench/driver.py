"""Drives load: `concurrency` asyncio senders per process, either flat out or paced to a rate
in spans/s, for a fixed duration, recording every request. With several processes (one
Python process saturates one core), each builds the same pool, takes its share of the
concurrency and rate and a disjoint set of seqs (so ids stay unique), and the results merge."""

from __future__ import annotations

import asyncio
import itertools
import math
import multiprocessing
import time
from dataclasses import dataclass, field, replace
from typing import Any, Final

from bench.senders import OK, TOO_MANY_REQUESTS, UNAVAILABLE, make_sender
from bench.templates import PROTOCOLS, BodyTemplate, Protocol, build_pool

HOUR_NS: Final = 3_600_000_000_000
# A refused request (429/503) is not re-sent: it is counted, and that sender pauses for the
# Retry-After the collector asked (as OTLP exporters do), within these bounds.
DEFAULT_BACKOFF_S: Final = 0.1
MAX_BACKOFF_S: Final = 1.0
PREPARE_TIMEOUT_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class LoadOptions:
    protocol: str
    target: str
    duration_s: float = 10.0
    concurrency: int = 4
    rate: float | None = None  # spans/s over all processes; None: flat out
    spans_per_request: int | None = None  # None: the protocol's default
    pool_size: int = 32
    seed: int = 1
    processes: int = 1
    base_time_ns: int = 0  # 0: the start of the current hour (UTC)
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 30.0
    # Ids derive from (seed, seq): a second run against the same store needs another seed or
    # a first_seq past the copies of the first run, or its ids repeat the first run's.
    first_seq: int = 0

    @property
    def spec(self) -> Protocol:
        return PROTOCOLS[self.protocol]

    @property
    def body_spans(self) -> int:
        return self.spans_per_request or self.spec.default_spans_per_request

    def resolved(self) -> LoadOptions:
        """With the defaults that depend on the clock or the protocol filled in."""
        base = self.base_time_ns or time.time_ns() // HOUR_NS * HOUR_NS
        return replace(self, base_time_ns=base, spans_per_request=self.body_spans)


@dataclass(slots=True)
class LoadStats:
    requests: int = 0
    spans_sent: int = 0
    spans_acknowledged: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    first_send_s: float = math.inf  # Unix time of the first request
    last_ack_s: float = 0.0  # Unix time of the last acknowledgement
    last_reply_s: float = 0.0  # Unix time of the last answer of any kind
    cpu_s: float = 0.0  # CPU the generator itself used while sending

    def merge(self, other: LoadStats) -> None:
        self.requests += other.requests
        self.spans_sent += other.spans_sent
        self.spans_acknowledged += other.spans_acknowledged
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.latencies_ms.extend(other.latencies_ms)
        self.first_send_s = min(self.first_send_s, other.first_send_s)
        self.last_ack_s = max(self.last_ack_s, other.last_ack_s)
        self.last_reply_s = max(self.last_reply_s, other.last_reply_s)
        self.cpu_s += other.cpu_s


async def drive(options: LoadOptions, pool: list[BodyTemplate], worker_index: int = 0, workers: int = 1,
                concurrency: int | None = None) -> LoadStats:
    """Sends for options.duration_s from now; copy k of this process gets seq
    `first_seq + worker_index + k * workers`, so processes never share an id."""
    concurrency = concurrency or options.concurrency
    sender = make_sender(options.target, options.spec, concurrency, dict(options.headers), options.timeout_s)
    stats = LoadStats()
    copies = itertools.count()
    spans_per_body = pool[0].span_count
    interval_s = spans_per_body / (options.rate / workers) if options.rate else None
    start = time.perf_counter()
    end = start + options.duration_s
    cpu_start = time.process_time()

    async def send_loop() -> None:
        while True:
            copy = next(copies)
            if interval_s is not None:
                # Paced: copy k is due at start + k * interval. A collector that answers too
                # slowly for the rate delays the copies behind it (at most `concurrency` wait).
                due = start + copy * interval_s
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if time.perf_counter() >= end:
                return
            template = pool[copy % len(pool)]
            body = template.render(options.first_seq + worker_index + copy * workers)
            sent_at = time.time()
            began = time.perf_counter()
            result = await sender.send(body, template.span_count)
            latency_ms = (time.perf_counter() - began) * 1000
            stats.requests += 1
            stats.spans_sent += template.span_count
            stats.statuses[result.status] = stats.statuses.get(result.status, 0) + 1
            stats.latencies_ms.append(latency_ms)
            stats.first_send_s = min(stats.first_send_s, sent_at)
            stats.last_reply_s = time.time()
            if result.acknowledged:
                stats.spans_acknowledged += result.acknowledged
                stats.last_ack_s = stats.last_reply_s
            if result.status in TOO_MANY_REQUESTS or result.status in UNAVAILABLE:
                asked_s = DEFAULT_BACKOFF_S if result.retry_after_s is None else result.retry_after_s
                await asyncio.sleep(min(asked_s, MAX_BACKOFF_S))

    try:
        await asyncio.gather(*(send_loop() for _ in range(concurrency)))
    finally:
        await sender.close()
    stats.cpu_s = time.process_time() - cpu_start
    return stats


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def _child(options: LoadOptions, index: int, concurrency: int, ready: Any, go: Any, results: Any) -> None:
    pool = build_pool(options.spec, options.seed, options.pool_size, options.body_spans, options.base_time_ns)
    ready.put(index)
    go.wait()
    results.put(asyncio.run(drive(options, pool, index, options.processes, concurrency)))


class LoadGenerator:
    """prepare() builds the pools (in every process) before the clock starts; run() sends."""

    def __init__(self, options: LoadOptions) -> None:
        self.options = options.resolved()
        if self.options.processes < 1 or self.options.concurrency < self.options.processes:
            raise ValueError("need 1 <= processes <= concurrency")
        self._pool: list[BodyTemplate] = []
        self._processes: list[Any] = []
        self._go: Any = None
        self._results: Any = None

    def prepare(self) -> None:
        options = self.options
        if options.processes == 1:
            self._pool = build_pool(options.spec, options.seed, options.pool_size, options.body_spans,
                                    options.base_time_ns)
            return
        # spawn, not fork: the caller may already run threads (the runner, pytest).
        context = multiprocessing.get_context("spawn")
        ready, self._go, self._results = context.Queue(), context.Event(), context.Queue()
        for index, share in enumerate(_shares(options.concurrency, options.processes)):
            process = context.Process(target=_child, args=(options, index, share, ready, self._go, self._results),
                                      daemon=True)
            process.start()
            self._processes.append(process)
        for _ in self._processes:
            ready.get(timeout=PREPARE_TIMEOUT_S)

    def run(self) -> LoadStats:
        if not self._processes:
            if not self._pool:
                self.prepare()
            return asyncio.run(drive(self.options, self._pool))
        self._go.set()
        merged = LoadStats()
        for _ in self._processes:
            merged.merge(self._results.get(timeout=self.options.duration_s + self.options.timeout_s + 60))
        for process in self._processes:
            process.join()
        self._processes.clear()
        return merged

    def run_again(self, duration_s: float, rate: float | None, before: LoadStats) -> LoadStats:
        """A second load right after run(), with its own duration and rate and ids past the
        first load's (single process only: the pool is this process's)."""
        if self._processes or not self._pool:
            raise ValueError("run_again needs a single-process generator that has run")
        options = replace(self.options, duration_s=duration_s, rate=rate,
                          first_seq=self.options.first_seq + before.requests + self.options.concurrency + 1)
        return asyncio.run(drive(options, self._pool))

    def close(self) -> None:
        """Stops child processes left behind by a failed run (they are ours: started above)."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)
        self._processes.clear()


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return round(sorted_values[rank - 1], 2)


def summarize(stats: LoadStats) -> dict[str, Any]:
    latencies = sorted(stats.latencies_ms)
    refused_429 = sum(count for status, count in stats.statuses.items() if status in TOO_MANY_REQUESTS)
    refused_503 = sum(count for status, count in stats.statuses.items() if status in UNAVAILABLE)
    succeeded = sum(count for status, count in stats.statuses.items() if status in OK)
    acked_window_s = stats.last_ack_s - stats.first_send_s if stats.spans_acknowledged else 0.0
    return {
        "requests": stats.requests,
        "spans_sent": stats.spans_sent,
        "spans_acknowledged": stats.spans_acknowledged,
        "acknowledged_spans_per_s": round(stats.spans_acknowledged / acked_window_s) if acked_window_s > 0 else None,
        "latency_ms": {"p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
                       "p99": percentile(latencies, 0.99), "max": round(latencies[-1], 2) if latencies else None},
        "count_429": refused_429,
        "count_503": refused_503,
        "other_errors": stats.requests - succeeded - refused_429 - refused_503,
        "statuses": dict(sorted(stats.statuses.items())),
        "send_window_s": round(stats.last_reply_s - stats.first_send_s, 3) if stats.requests else 0.0,
        "loadgen_cpu_s": round(stats.cpu_s, 2),
    }
