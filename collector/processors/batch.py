"""The `batch` processor: groups spans into larger batches before they reach the exporters.

Same knobs and semantics as the OpenTelemetry Collector's batch processor, with one
difference that matters: a sender's `consume` returns only once the batch holding its spans
was taken by the next stage, so an acknowledgement never covers data that only sits here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

from spanhouse.collector.core.component import Consumer, CreateSettings, Factory, Host, Kind, Traces, span_count
from spanhouse.collector.core.config.types import DURATION
from spanhouse.collector.core.metrics import Histogram


@dataclass(frozen=True, slots=True)
class BatchConfig:
    send_batch_size: int = field(default=8192, metadata={
        "description": "Number of spans after which a batch is sent regardless of the timeout."})
    timeout: Annotated[float, DURATION] = field(default=0.2, metadata={
        "description": "Time after which a batch is sent regardless of its size (0: send at once)."})
    send_batch_max_size: int = field(default=0, metadata={
        "description": "Upper limit of a batch in spans; larger batches are split (0: no limit)."})

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        if self.send_batch_size < 0:
            problems.append(("send_batch_size", "must not be negative"))
        if self.send_batch_max_size < 0:
            problems.append(("send_batch_max_size", "must not be negative"))
        elif 0 < self.send_batch_max_size < self.send_batch_size:
            problems.append(("send_batch_max_size", "must be 0 or at least send_batch_size"))
        return problems


def split_traces(traces: Traces, max_spans: int) -> list[Traces]:
    """Split into pieces of at most `max_spans` spans, keeping resource and scope with each."""
    if max_spans <= 0 or span_count(traces) <= max_spans:
        return [traces]
    pieces: list[Traces] = []
    current, room = Traces(), max_spans
    for resource_spans in traces.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            start = 0
            while start < len(spans):
                take = min(room, len(spans) - start)
                target_resource = current.resource_spans.add()
                target_resource.resource.CopyFrom(resource_spans.resource)
                target_resource.schema_url = resource_spans.schema_url
                target_scope = target_resource.scope_spans.add()
                target_scope.scope.CopyFrom(scope_spans.scope)
                target_scope.schema_url = scope_spans.schema_url
                target_scope.spans.extend(spans[start:start + take])
                start += take
                room -= take
                if room == 0:
                    pieces.append(current)
                    current, room = Traces(), max_spans
    if room != max_spans:
        pieces.append(current)
    return pieces


@dataclass(slots=True)
class _Pending:
    parts: list[Traces] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    spans: int = 0


class BatchProcessor:
    # Merging and splitting build new messages (protobuf's extend copies), the input is not changed.
    mutates_data = False

    def __init__(self, settings: CreateSettings, config: BatchConfig, next_consumer: Consumer) -> None:
        self._settings = settings
        self._config = config
        self._next = next_consumer
        self._pending = _Pending()
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._send_size: Histogram | None = None
        self._stopped = False

    async def start(self, host: Host) -> None:
        if host.telemetry is not None:
            self._send_size = host.telemetry.histogram(
                "otelcol_processor_batch_batch_send_size", "Number of spans in a batch that was sent",
                processor=self._settings.component_id)

    async def consume(self, traces: Traces) -> None:
        count = span_count(traces)
        if count == 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = self._pending
        pending.parts.append(traces)
        pending.waiters.append(waiter)
        pending.spans += count
        if self._stopped or self._config.timeout == 0 or pending.spans >= self._config.send_batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._config.timeout, self._flush)
        await waiter

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, _Pending()
        if not pending.parts:
            return
        task = asyncio.get_running_loop().create_task(self._send(pending))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, pending: _Pending) -> None:
        if len(pending.parts) == 1:
            merged = pending.parts[0]
        else:
            merged = Traces()
            for part in pending.parts:
                merged.resource_spans.extend(part.resource_spans)
        error: BaseException | None = None
        try:
            for piece in split_traces(merged, self._config.send_batch_max_size):
                if self._send_size is not None:
                    self._send_size.observe(span_count(piece))
                await self._next.consume(piece)
        except Exception as exc:  # handed back to every sender of this batch
            error = exc
        for waiter in pending.waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    async def shutdown(self) -> None:
        """Send what is pending and wait for every batch in flight."""
        self._stopped = True
        self._flush()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)


def _create(settings: CreateSettings, config: Any, next_consumer: Consumer) -> BatchProcessor:
    return BatchProcessor(settings, config, next_consumer)


FACTORY = Factory(type="batch", kind=Kind.PROCESSOR, config_class=BatchConfig, create=_create,
                  description="Groups spans into batches by size and time.")
