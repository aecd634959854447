"""Fan-out of one stream of traces to several consumers (pipelines, or a pipeline's exporters)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from collector.core.component import Consumer, Traces


class FanOut:
    """Hands the same traces to every consumer and succeeds only if all of them took it.

    Consumers must not modify what they receive (processors that modify data copy first), so
    no copy is made here. On failure the first error is raised; the sender retries, and the
    exporters' insert deduplication keeps the stores that already succeeded free of duplicates."""

    def __init__(self, consumers: Sequence[Consumer]) -> None:
        self._consumers = tuple(consumers)

    async def consume(self, traces: Traces) -> None:
        if len(self._consumers) == 1:
            await self._consumers[0].consume(traces)
            return
        results = await asyncio.gather(*(consumer.consume(traces) for consumer in self._consumers),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


def fan_out(consumers: Sequence[Consumer]) -> Consumer:
    return consumers[0] if len(consumers) == 1 else FanOut(consumers)
