"""The `memory_limiter` processor: refuses new data while the process is above its soft limit,
so that receivers answer with a retryable error instead of the process growing without bound."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from spanhouse.collector.core.component import Consumer, CreateSettings, Factory, Host, Kind, Traces, span_count
from spanhouse.collector.core.config.types import DURATION
from spanhouse.collector.core.errors import ResourceExhaustedError
from spanhouse.collector.core.metrics import Counter, process_rss_bytes

logger = logging.getLogger(__name__)

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MemoryLimiterConfig:
    check_interval: Annotated[float, DURATION] = field(default=1.0, metadata={
        "description": "How often the memory use is measured."})
    limit_mib: int = field(default=0, metadata={
        "description": "Hard limit of the process's resident memory in MiB (required)."})
    spike_limit_mib: int = field(default=0, metadata={
        "description": "Headroom below the hard limit; data is refused above limit - spike "
                       "(0: 20% of limit_mib)."})

    def validate(self) -> list[tuple[str, str]]:
        problems = []
        if self.check_interval <= 0:
            problems.append(("check_interval", "must be greater than 0"))
        if self.limit_mib <= 0:
            problems.append(("limit_mib", "must be greater than 0"))
        if self.spike_limit_mib < 0 or (self.limit_mib > 0 and self.spike_limit_mib >= self.limit_mib):
            problems.append(("spike_limit_mib", "must be at least 0 and less than limit_mib"))
        return problems

    @property
    def soft_limit_bytes(self) -> int:
        spike = self.spike_limit_mib or self.limit_mib // 5
        return (self.limit_mib - spike) * MIB


class MemoryLimiter:
    mutates_data = False  # it only refuses or passes on

    def __init__(self, settings: CreateSettings, config: MemoryLimiterConfig, next_consumer: Consumer,
                 read_rss: Callable[[], float] = process_rss_bytes) -> None:
        self._settings = settings
        self._config = config
        self._next = next_consumer
        self._read_rss = read_rss
        self._refusing = False
        self._task: asyncio.Task[None] | None = None
        self._refused: Counter | None = None

    @property
    def refusing(self) -> bool:
        return self._refusing

    async def start(self, host: Host) -> None:
        if host.telemetry is not None:
            self._refused = host.telemetry.counter(
                "otelcol_processor_refused_spans", "Spans refused by a processor",
                processor=self._settings.component_id)
        self.check()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def check(self) -> None:
        rss = self._read_rss()
        if rss > self._config.limit_mib * MIB:
            # Above the hard limit: give the garbage collector a chance before refusing more.
            gc.collect()
            rss = self._read_rss()
        refusing = rss > self._config.soft_limit_bytes
        if refusing != self._refusing:
            logger.warning("memory limiter %s: rss %.0f MiB, %s new data", self._settings.component_id,
                           rss / MIB, "refusing" if refusing else "accepting again")
        self._refusing = refusing

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._config.check_interval)
            self.check()

    async def consume(self, traces: Traces) -> None:
        if self._refusing:
            if self._refused is not None:
                self._refused.add(span_count(traces))
            raise ResourceExhaustedError("memory usage is above the memory limiter's soft limit; retry later",
                                         retry_after_s=max(1, round(self._config.check_interval)))
        await self._next.consume(traces)

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


def _create(settings: CreateSettings, config: Any, next_consumer: Consumer) -> MemoryLimiter:
    return MemoryLimiter(settings, config, next_consumer)


FACTORY = Factory(type="memory_limiter", kind=Kind.PROCESSOR, config_class=MemoryLimiterConfig,
                  create=_create, description="Refuses data while memory use is above a limit.")
